"""The real thing: `streamlit run dashboard/app.py` driven by headless Chromium through Playwright.

One walk through the app as a presenter would: the browser is open when the server starts and opens the overview as
soon as the server answers (timed from server start: the overview reads the stored model card while the server
preloads the model, whose log line is timed too), then again in a new session; the
recommendations page with the drift chart and its roll-up toggle, the live genre-weight slider; the explanation
with the attention graph at its default size (node count and on-screen label size read from the graph's page),
focus mode; the Basic model's explanation (no parts it lacks); Compare with every stored baseline; and the
recommendations and explanation pages at 420 px. Screenshots go to artifacts/screenshots/, timings to
artifacts/dashboard_timings.json (reported, not asserted: speed goals live in `python -m recsys bench`). The server
is always terminated. By default the app serves the test session's small checkpoints; set
RECSYS_BROWSER_CHECKPOINT_DIR (e.g. to `checkpoints`) to measure on the real models.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dashboard.components import theme
from recsys.bench.dashboard import running

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
SHOTS = ARTIFACTS / "screenshots"
START_TIMEOUT = 90
STEP_TIMEOUT = 60_000  # ms, per browser wait
# the script run is over (Streamlit's own state on the app root) and no skeleton or spinner is left
SETTLED = ("() => { const app = document.querySelector(\"[data-testid='stApp']\"); return app && "
           "app.dataset.testScriptState === 'notRunning' && "
           "!document.querySelector(\"[data-testid='stSkeleton'], [data-testid='stSpinner']\"); }")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
WIDE, NARROW = {"width": 1440, "height": 900}, {"width": 420, "height": 900}

pytestmark = [pytest.mark.browser, pytest.mark.slow]
playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is missing", allow_module_level=True)


@pytest.fixture
def server(checkpoint_dir: Path, tmp_path: Path) -> Iterator[tuple[str, float, Path]]:
    """(base URL, start time, log file) of a fresh streamlit process; terminated whatever happens."""
    env = {**os.environ, "RECSYS_CHECKPOINT_DIR": os.environ.get("RECSYS_BROWSER_CHECKPOINT_DIR",
                                                                 str(checkpoint_dir))}
    log_path = tmp_path / "streamlit.log"
    with log_path.open("w") as log, running(env=env, log=log, timeout=START_TIMEOUT) as srv:
        yield srv.url, srv.started, log_path


def _settled(page) -> None:
    """Wait until the script run finished: the page has a title and no skeleton or spinner is left."""
    page.wait_for_selector("[data-testid='stMain'] h1", timeout=STEP_TIMEOUT)
    page.wait_for_function(SETTLED, timeout=STEP_TIMEOUT)


def _assert_no_errors(page) -> None:
    assert page.locator("[data-testid='stException']").count() == 0, "a Streamlit exception box is shown"
    assert "Traceback" not in page.locator("[data-testid='stMain']").inner_text()


def _shoot(page, name: str, viewport: dict[str, int] = WIDE) -> Path:
    """A full-length screenshot (the app scrolls inside its own container, so the viewport is made tall)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.mouse.move(0, 0)  # no hover toolbars in the picture
    height = page.evaluate("() => document.querySelector(\"[data-testid='stMainBlockContainer']\").scrollHeight")
    page.set_viewport_size({"width": viewport["width"], "height": min(max(int(height) + 40, 900), 5000)})
    time.sleep(0.8)  # let charts re-layout
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    page.set_viewport_size(viewport)
    return path


def _texts(page, selector: str) -> set[str]:
    """The text of every element matching ``selector`` (SVG text too, which has no innerText)."""
    return set(page.eval_on_selector_all(selector, "els => els.map(e => e.textContent)"))


def _wait_for_preload(log_path: Path, started: float, timeout: float = START_TIMEOUT) -> float:
    """Seconds from server start until its log says the model is loaded."""
    while "preloaded" not in log_path.read_text(encoding="utf-8"):
        assert time.perf_counter() - started < timeout, log_path.read_text(encoding="utf-8")[-2000:]
        time.sleep(0.05)
    return time.perf_counter() - started


def _open(page, url: str) -> float:
    """Open a page and wait until it is complete; seconds taken."""
    began = time.perf_counter()
    page.goto(url)
    _settled(page)
    return time.perf_counter() - began


def _graph(page):
    """The attention graph's frame, once its layout settled (labels sized, data-min-label-px written)."""
    frame = page.frame_locator("iframe[title='Attention subgraph']")
    frame.locator("#mynetwork[data-min-label-px]").wait_for(timeout=STEP_TIMEOUT)
    return frame


def _graph_facts(page) -> dict[str, float]:
    """Node count, smallest on-screen label (px), and whether the legend sits clear of the drawing."""
    _graph(page)
    frame = page.locator("iframe[title='Attention subgraph']").element_handle().content_frame()
    return frame.evaluate("""() => {
        const box = document.getElementById("mynetwork");
        const legend = document.getElementById("legend").getBoundingClientRect();
        return {nodes: nodes.length, label_px: parseFloat(box.dataset.minLabelPx),
                legend_clear: legend.bottom <= box.getBoundingClientRect().top + 1,
                shapes: document.querySelectorAll("#legend svg :is(polygon, circle, rect)").length,
                lines: document.querySelectorAll("#legend svg line").length,
                node_shapes: new Set(nodes.get().map(n => n.shape)).size,
                edge_colours: new Set(edges.get().map(e => e.color.color)).size};
    }""")


@pytest.fixture
def browser():
    """Headless Chromium, started before the server (a presenter's browser is open when the server starts)."""
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def test_dashboard_in_a_real_browser(browser, server, checkpoint_dir: Path) -> None:
    url, started, log_path = server
    timings: dict[str, float | str] = {"checkpoints": os.environ.get("RECSYS_BROWSER_CHECKPOINT_DIR", "test fixtures")}
    external: list[str] = []
    page = browser.new_page(viewport=WIDE)
    page.on("request", lambda r: external.append(r.url) if r.url.startswith("http")
            and not r.url.startswith(url) else None)

    # first visitor, as soon as the server answers: the overview (from the stored card), timed from server start
    _open(page, url)
    page.get_by_text("Listeners", exact=True).first.wait_for(timeout=STEP_TIMEOUT)
    timings["server_start_to_first_page_s"] = round(time.perf_counter() - started, 2)
    _assert_no_errors(page)
    assert page.title().startswith("Overview")  # every tab is titled by its page
    timings["server_start_to_model_loaded_s"] = round(_wait_for_preload(log_path, started), 2)
    second = browser.new_context(viewport=WIDE).new_page()
    timings["new_session_to_complete_page_s"] = round(_open(second, url), 2)
    second.context.close()
    _shoot(page, "overview")

    _recommendations(page, url, timings)
    _explanation(page, timings)
    _basic_explanation(page, url)
    _compare(page, url, checkpoint_dir, timings)
    _narrow(page, url)
    assert not external, f"the app fetched from outside: {external[:5]}"
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "dashboard_timings.json").write_text(json.dumps(timings, indent=2) + "\n", encoding="utf-8")
    print("dashboard timings:", json.dumps(timings))


def _recommendations(page, url: str, timings: dict) -> None:
    """Search and pick a listener; the drift chart and its roll-up; the slider re-ranks in a fragment."""
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

    # the drift chart: stacked areas of genres; rolled up, sub-genres give way to their parents
    legend = ".st-key-drift .legendtext"
    page.locator(legend).first.wait_for(timeout=STEP_TIMEOUT)
    genres = _texts(page, legend)
    assert page.locator(".st-key-drift .js-plotly-plot .scatterlayer .trace").count() == len(genres) >= 1
    page.locator(".st-key-drift label").filter(has_text=re.compile(r"^Roll up to parent genres$")).click()
    page.locator(".st-key-drift input[type='checkbox']:checked").wait_for(state="attached", timeout=STEP_TIMEOUT)
    time.sleep(0.5)  # the rerun starts
    _settled(page)
    rolled = _texts(page, legend)
    assert rolled and "Alternative Rock" not in rolled and len(rolled) <= len(genres), (genres, rolled)

    # the genre-weight slider, moved with the keyboard, re-ranks the list
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
    page.wait_for_function("() => new URLSearchParams(location.search).has('genre_weight')", timeout=STEP_TIMEOUT)
    _settled(page)
    _assert_no_errors(page)
    _shoot(page, "recommendations")


def _explanation(page, timings: dict) -> None:
    """The first recommendation explained; the graph at its default size is legible; focus keeps fewer nodes."""
    opened = time.perf_counter()
    page.get_by_role("button", name="Why this song?").click()
    page.wait_for_url("**/explanation**", timeout=STEP_TIMEOUT)
    _settled(page)
    facts = _graph_facts(page)
    timings["open_explanation_with_graph_s"] = round(time.perf_counter() - opened, 2)
    assert "#1 " in page.get_by_label("Song", exact=True).input_value()  # the first recommendation
    assert page.get_by_text("is recommended", exact=False).count() >= 1
    assert 12 <= facts["nodes"] <= 15, facts  # the default size
    assert facts["label_px"] >= 12, facts  # the smallest label as drawn on screen, after the fit
    # the key sits above the drawing, with a glyph for each node shape and a line for each edge colour drawn
    assert facts["legend_clear"] and facts["shapes"] == facts["node_shapes"] >= 4, facts
    assert facts["lines"] == facts["edge_colours"] >= 3, facts
    timings["graph_default_nodes"], timings["graph_min_label_px"] = facts["nodes"], facts["label_px"]
    _assert_no_errors(page)
    _shoot(page, "explanation")
    page.locator("label").filter(has_text=re.compile(r"^Focus$")).click()
    page.get_by_text("focus: top paths only", exact=False).wait_for(timeout=STEP_TIMEOUT)
    _settled(page)
    focused = _graph_facts(page)
    assert focused["nodes"] < facts["nodes"] and focused["label_px"] >= 12, (facts, focused)
    _shoot(page, "explanation_focus")


def _basic_explanation(page, url: str) -> None:
    """The Basic model (graph part only): no genre weight, no history or genre part, the sentence says so."""
    _open(page, f"{url}/explanation?model=basic.pt")
    _graph(page)
    main = page.locator("[data-testid='stMain']")
    text = main.inner_text()
    assert page.locator("input[aria-label='Genre weight']").count() == 0
    assert "no genre part" in text
    cells = [m.inner_text() for m in page.locator("[data-testid='stMetricLabel']").all()]
    assert not any("history" in c.lower() or "genre" in c.lower() for c in cells), cells
    sentence = page.locator("[data-testid='stAlertContentInfo']").first.inner_text()
    assert "graph" in sentence.lower(), sentence  # the largest (and only) part, named
    _assert_no_errors(page)
    _shoot(page, "explanation_basic")


def _compare(page, url: str, checkpoint_dir: Path, timings: dict) -> None:
    """Compare shows both checkpoints and every stored baseline at once; nothing is trained on the request."""
    stored = json.loads((checkpoint_dir / "default.baselines.json").read_text(encoding="utf-8"))["models"]
    opened = time.perf_counter()
    _open(page, f"{url}/compare")
    page.get_by_text("Overlap between the lists").wait_for(timeout=STEP_TIMEOUT)
    timings["open_compare_s"] = round(time.perf_counter() - opened, 2)
    tables = page.locator("[data-testid='stMain'] [data-testid='stDataFrame']")
    assert tables.count() >= 2 + len(stored) + 1  # the GATs, every stored baseline, the evaluation table
    text = page.locator("[data-testid='stMain']").inner_text()
    for name in stored:
        assert theme.BASELINE_LABELS.get(name, name) in text
    _assert_no_errors(page)
    _shoot(page, "compare")


def _narrow(page, url: str) -> None:
    """At 420 px: nothing wider than the screen (wide tables scroll inside themselves), no plotly toolbar, the
    graph legend clear of the nodes."""
    page.set_viewport_size(NARROW)
    for name in ("overview", "recommendations", "explanation"):
        _open(page, url if name == "overview" else f"{url}/{name}")  # the default page lives at /
        assert page.get_by_text("Page not found").count() == 0
        if name == "explanation":
            assert _graph_facts(page)["legend_clear"]
        page.mouse.move(200, 400)
        wide = page.evaluate("() => document.querySelector(\"[data-testid='stMain']\").scrollWidth")
        assert wide <= NARROW["width"] + 1, wide
        assert page.locator(".modebar").count() == 0  # the toolbar that covered charts is off
        _assert_no_errors(page)
        _shoot(page, f"{name}_420", NARROW)
    page.set_viewport_size(WIDE)


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
