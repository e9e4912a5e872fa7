"""The real thing: `streamlit run dashboard/app.py` driven by headless Chromium through Playwright.

Opens the recommendations page, picks a listener, moves the genre-weight slider with the keyboard, opens the
explanation of the first recommendation (waiting for the attention graph's canvas), then the compare page.
Screenshots go to artifacts/screenshots/, timings to artifacts/dashboard_timings.json. The server is always
terminated. By default the app serves the test session's small checkpoints; set RECSYS_BROWSER_CHECKPOINT_DIR
(e.g. to `checkpoints`) to measure on the real models.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from recsys.bench.dashboard import running

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
SHOTS = ARTIFACTS / "screenshots"
START_TIMEOUT = 90
STEP_TIMEOUT = 60_000  # ms, per browser wait

pytestmark = [pytest.mark.browser, pytest.mark.slow]
playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is missing", allow_module_level=True)


@pytest.fixture
def server(checkpoint_dir: Path, tmp_path: Path) -> Iterator[tuple[str, float]]:
    """(base URL, start time) of a fresh streamlit process; terminated whatever happens."""
    env = {**os.environ, "RECSYS_CHECKPOINT_DIR": os.environ.get("RECSYS_BROWSER_CHECKPOINT_DIR",
                                                                 str(checkpoint_dir))}
    with (tmp_path / "streamlit.log").open("w") as log, running(env=env, log=log, timeout=START_TIMEOUT) as srv:
        yield srv.url, srv.started


def _settled(page) -> None:
    """Wait until the script run finished: the page has a title and no skeleton or spinner is left."""
    page.wait_for_selector("[data-testid='stMain'] h1", timeout=STEP_TIMEOUT)
    page.wait_for_function("() => !document.querySelector(\"[data-testid='stSkeleton'], [data-testid='stSpinner']\")",
                           timeout=STEP_TIMEOUT)


def _assert_no_errors(page) -> None:
    assert page.locator("[data-testid='stException']").count() == 0, "a Streamlit exception box is shown"
    assert "Traceback" not in page.locator("[data-testid='stMain']").inner_text()


def _shoot(page, name: str) -> Path:
    """A full-length screenshot (the app scrolls inside its own container, so the viewport is made tall)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.mouse.move(0, 0)  # no hover toolbars in the picture
    height = page.evaluate("() => document.querySelector(\"[data-testid='stMainBlockContainer']\").scrollHeight")
    page.set_viewport_size({"width": 1440, "height": min(max(int(height) + 40, 900), 4000)})
    time.sleep(0.8)  # let charts re-layout
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    page.set_viewport_size({"width": 1440, "height": 900})
    return path


def test_dashboard_in_a_real_browser(server) -> None:
    url, started = server
    timings: dict[str, float | str] = {"checkpoints": os.environ.get("RECSYS_BROWSER_CHECKPOINT_DIR", "test fixtures")}
    external: list[str] = []
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.on("request", lambda r: external.append(r.url) if r.url.startswith("http")
                    and not r.url.startswith(url) else None)

            # first page: the overview, fully drawn (metrics present)
            page.goto(url)
            page.wait_for_selector("[data-testid='stMain'] h1", timeout=STEP_TIMEOUT)
            timings["server_start_to_first_paint_s"] = round(time.perf_counter() - started, 2)
            _settled(page)
            page.get_by_text("Listeners", exact=True).first.wait_for(timeout=STEP_TIMEOUT)
            timings["server_start_to_first_page_s"] = round(time.perf_counter() - started, 2)
            _assert_no_errors(page)

            # recommendations: search a listener (the second most active one) and pick them
            page.get_by_role("link", name="Recommendations").click()
            _settled(page)
            page.get_by_label("Listener", exact=True).click()
            label = page.get_by_role("option").nth(1).inner_text()  # "name · id · n songs"
            page.keyboard.press("Escape")
            user = label.split(" · ")[1].strip()
            search = page.get_by_label("Find a listener", exact=True)
            search.fill(user)
            search.press("Enter")
            time.sleep(0.5)
            _settled(page)
            page.get_by_label("Listener", exact=True).click()
            page.get_by_role("option", name=user).first.click(timeout=STEP_TIMEOUT)
            page.locator(".st-key-ranking").wait_for(timeout=STEP_TIMEOUT)
            page.wait_for_function("u => new URLSearchParams(location.search).get('user') === u", arg=user,
                                   timeout=STEP_TIMEOUT)
            _settled(page)

            # move the genre-weight slider with the keyboard; the list re-ranks in a fragment
            summary = page.locator(".st-key-ranking [data-testid='stMarkdownContainer']").first
            before = summary.inner_text()
            slider = page.locator("[data-testid='stSlider'] input[type='range'][aria-label='Genre weight']")
            slider.focus()
            moved = time.perf_counter()
            for _ in range(5):
                slider.press("ArrowRight")
            page.wait_for_function("old => { const e = document.querySelector('.st-key-ranking "
                                   "[data-testid=stMarkdownContainer]'); return e && e.innerText !== old "
                                   "&& e.innerText.includes('against'); }", arg=before, timeout=STEP_TIMEOUT)
            timings["slider_move_to_table_update_s"] = round(time.perf_counter() - moved, 3)
            page.wait_for_function("() => new URLSearchParams(location.search).has('genre_weight')",
                                   timeout=STEP_TIMEOUT)
            _settled(page)
            _assert_no_errors(page)
            _shoot(page, "recommendations")

            # explanation of the first recommendation, with its attention graph drawn
            opened = time.perf_counter()
            page.get_by_role("button", name="Why this song?").click()
            page.wait_for_url("**/explanation**", timeout=STEP_TIMEOUT)
            _settled(page)
            graph = page.frame_locator("iframe[title='Attention subgraph']")
            graph.locator("canvas").first.wait_for(timeout=STEP_TIMEOUT)
            timings["open_explanation_with_graph_s"] = round(time.perf_counter() - opened, 2)
            assert "#1 " in page.get_by_label("Song", exact=True).input_value()  # the first recommendation
            assert page.get_by_text("is recommended", exact=False).count() >= 1
            _assert_no_errors(page)
            time.sleep(1.5)  # the graph stabilises before the screenshot
            _shoot(page, "explanation")

            # compare: both checkpoints side by side
            opened = time.perf_counter()
            page.get_by_role("link", name="Compare models").click()
            _settled(page)
            page.get_by_text("Overlap between the lists").wait_for(timeout=STEP_TIMEOUT)
            timings["open_compare_s"] = round(time.perf_counter() - opened, 2)
            _assert_no_errors(page)
            _shoot(page, "compare")
        finally:
            browser.close()
    assert not external, f"the app fetched from outside: {external[:5]}"
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "dashboard_timings.json").write_text(json.dumps(timings, indent=2) + "\n", encoding="utf-8")
    print("dashboard timings:", json.dumps(timings))


def test_graph_hover_text_shows_names_literally() -> None:
    """A title full of HTML shows as text in the vis.js tooltip, and nothing in it runs (no alert dialog)."""
    from dashboard.components.network import attention_graph_html

    name = "<img src=x onerror=alert(1)> & <b>bold</b>"
    page_html = attention_graph_html({
        "nodes": [{"id": "user:u", "type": "user", "role": "user", "label": name, "title": f"user: {name}"},
                  {"id": "song:s", "type": "song", "role": "candidate", "label": name, "title": f"song: {name}\nok"}],
        "edges": [{"source": "user:u", "target": "song:s", "relation": "recommended", "weight": 1.0, "title": "x"}]})
    dialogs: list[str] = []
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 900, "height": 600})
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.on("request", lambda r: dialogs.append(f"request {r.url}") if r.url.startswith("http") else None)
            page.set_content(page_html)
            page.wait_for_function("() => typeof network !== 'undefined' && network.getPositions()['song:s']")
            time.sleep(1.0)
            point = page.evaluate("() => { const p = network.canvasToDOM(network.getPositions(['song:s'])['song:s']);"
                                  " const r = document.getElementById('mynetwork').getBoundingClientRect();"
                                  " return {x: p.x + r.left, y: p.y + r.top}; }")
            page.mouse.move(point["x"], point["y"])
            tooltip = page.locator("div.vis-tooltip")
            tooltip.wait_for(state="visible", timeout=10_000)
            assert tooltip.inner_text().strip() == f"song: {name}\nok"
            assert page.locator("div.vis-tooltip img, div.vis-tooltip b").count() == 0
        finally:
            browser.close()
    assert not dialogs
