"""Bring-your-own-history in a real browser (Chromium through Playwright, a real `streamlit run`):

(a) upload a Spotify export on the New listener page, see the match report, get recommendations, open an
    explanation (and its attention graph);
(b) edit a listener's history on Recommendations (remove a song), see the list change with the "edited" badge and
    the edit in the URL, carry it to Why this song?, and reset it. As a baseline for the edit's latency, the same run
    times a change of k (one more song to show: a full page rerun without fold-in).

Screenshots go to artifacts/screenshots/, the edit-to-update latencies to artifacts/history_timings.json.
"""

from __future__ import annotations

import json
import os
import time

import pytest
from test_browser import ARTIFACTS, CHROMIUM, STEP_TIMEOUT, _assert_no_errors, _settled, _shoot, server  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.slow]
playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TIMINGS = ARTIFACTS / "history_timings.json"


@pytest.fixture(scope="module")
def rec(enhanced_run):
    from recsys import Recommender

    return Recommender.load(enhanced_run.checkpoint)


def _record(**values: float) -> None:
    """Merge timings into artifacts/history_timings.json (each test adds its own)."""
    ARTIFACTS.mkdir(exist_ok=True)
    old = json.loads(TIMINGS.read_text(encoding="utf-8")) if TIMINGS.is_file() else {}
    checkpoints = os.environ.get("RECSYS_BROWSER_CHECKPOINT_DIR", "test fixtures")
    TIMINGS.write_text(json.dumps({**old, **values, "checkpoints": checkpoints}, indent=2) + "\n", encoding="utf-8")


def _spotify_export(rec) -> bytes:
    """Eight full plays of the catalogue's most listened songs, and one name the catalogue lacks."""
    songs = rec.search_tracks("", limit=8)
    rows = [{"endTime": f"2024-03-0{1 + i} 20:15", "artistName": a, "trackName": t, "msPlayed": 215_000}
            for i, (a, t) in enumerate(zip(songs["artist"], songs["title"], strict=True))]
    rows.append({"endTime": "2024-03-09 21:00", "artistName": "Nobody <b>Known</b>", "trackName": "Unheard Of",
                 "msPlayed": 180_000})
    return json.dumps(rows).encode()


def _text(page, selector: str) -> str:
    return page.locator(selector).first.inner_text()


def _changed(page, selector: str, before: str, started: float) -> float:
    """Seconds from ``started`` until the element's text differs from ``before``."""
    page.wait_for_function("([sel, old]) => { const e = document.querySelector(sel); "
                           "return e && e.innerText !== old; }", arg=[selector, before], timeout=STEP_TIMEOUT)
    return time.perf_counter() - started


def _browser(p):
    return p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)


def test_upload_a_spotify_export_and_explain_a_recommendation(server, rec) -> None:  # noqa: F811
    url, _ = server
    with playwright_api.sync_playwright() as p:
        browser = _browser(p)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(f"{url}/cold_start?start=upload")
            _settled(page)
            page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(files=[{
                "name": "StreamingHistory0.json", "mimeType": "application/json", "buffer": _spotify_export(rec)}])
            started = time.perf_counter()
            page.locator(".st-key-foldin-list").wait_for(timeout=STEP_TIMEOUT)
            report = page.locator(".st-key-match-report")
            report.wait_for(timeout=STEP_TIMEOUT)
            _settled(page)
            upload_s = time.perf_counter() - started
            text = report.inner_text()  # the unmatched names are in a canvas table (AppTest checks its cells)
            assert "Plays matched\n\n8 (89%)" in text and "Songs matched\n\n8" in text
            assert "1 name(s) not in the catalogue" in text
            first = _text(page, ".st-key-foldin-explanation [data-testid='stAlertContentInfo']")
            assert first.strip()
            _assert_no_errors(page)
            _shoot(page, "new_listener_upload")

            page.get_by_label("Explain a recommendation", exact=True).click()
            page.keyboard.press("ArrowDown")  # from the first recommendation to the second
            page.keyboard.press("Enter")
            started = time.perf_counter()
            explain_s = _changed(page, ".st-key-foldin-explanation [data-testid='stAlertContentInfo']", first, started)
            page.get_by_text("Attention subgraph").click()
            page.frame_locator("iframe[title='Attention subgraph']").locator("canvas").first.wait_for(
                timeout=STEP_TIMEOUT)
            _settled(page)
            _assert_no_errors(page)
            time.sleep(1.0)
            _shoot(page, "new_listener_upload_explanation")
        finally:
            browser.close()
    _record(upload_to_recommendations_s=round(upload_s, 3), pick_to_new_explanation_s=round(explain_s, 3))


def test_edit_a_listeners_history_and_see_the_list_change(server, users) -> None:  # noqa: F811
    url, _ = server
    ranking = ".st-key-ranking [role='grid']"  # the data grid's accessible table holds the cells' text
    with playwright_api.sync_playwright() as p:
        browser = _browser(p)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(f"{url}/recommendations?user={users[1]}")
            _settled(page)
            page.locator(".st-key-ranking").wait_for(timeout=STEP_TIMEOUT)
            assert page.locator(".st-key-edited-badge").count() == 0
            # baseline in the same run: one more song to show, a full page rerun without fold-in
            before = _text(page, ranking)
            page.get_by_label("Songs to show", exact=True).focus()
            started = time.perf_counter()
            page.keyboard.press("ArrowUp")
            rerun_s = _changed(page, ranking, before, started)
            page.wait_for_function("() => new URLSearchParams(location.search).get('k') === '11'", timeout=STEP_TIMEOUT)
            _settled(page)
            before = _text(page, ranking)

            page.get_by_text("What if… edit this listener's history").click()
            page.get_by_label("Remove songs", exact=True).click()
            page.get_by_role("option").first.click()
            started = time.perf_counter()
            page.locator(".st-key-edited-badge").wait_for(timeout=STEP_TIMEOUT)
            remove_s = _changed(page, ranking, before, started)
            page.wait_for_function("() => new URLSearchParams(location.search).has('drop')", timeout=STEP_TIMEOUT)
            page.keyboard.press("Escape")
            _settled(page)
            _assert_no_errors(page)
            assert "1 removed" in page.locator(".st-key-edited-badge").inner_text()
            _shoot(page, "recommendations_edited")

            page.get_by_role("button", name="Why this song?").click()
            page.wait_for_url("**/explanation**", timeout=STEP_TIMEOUT)
            _settled(page)
            page.frame_locator("iframe[title='Attention subgraph']").locator("canvas").first.wait_for(
                timeout=STEP_TIMEOUT)
            assert "drop=" in page.url and page.locator(".st-key-edited-badge").count() == 1
            _assert_no_errors(page)
            time.sleep(1.0)
            _shoot(page, "explanation_edited")

            page.get_by_role("button", name="Reset to the real history").click()
            page.wait_for_function("() => !new URLSearchParams(location.search).has('drop')", timeout=STEP_TIMEOUT)
            _settled(page)
            assert page.locator(".st-key-edited-badge").count() == 0
        finally:
            browser.close()
    _record(remove_song_to_list_update_s=round(remove_s, 3), baseline_k_change_to_list_update_s=round(rerun_s, 3),
            remove_song_vs_k_change_ratio=round(remove_s / rerun_s, 2))
