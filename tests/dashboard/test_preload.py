"""The start-up preload: it loads the default model from server start, but lets a first visitor's page be drawn
first (the Overview needs no model), and only page requests, not health checks, count as a visitor."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from dashboard import resources


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The checkpoints the preload loads (recorded instead of loaded), with fresh start-up events."""
    loaded: list[Path] = []
    monkeypatch.setattr(resources, "checkpoint_files", lambda: [Path("default.pt")])
    monkeypatch.setattr(resources, "load", loaded.append)
    monkeypatch.setattr(resources, "_visited", threading.Event())
    monkeypatch.setattr(resources, "_page_drawn", threading.Event())
    monkeypatch.setattr(resources, "_last_request", [0.0])
    return loaded


def test_with_a_visitor_the_preload_waits_for_the_first_page(loads: list[Path]):
    resources._visited.set()
    thread = threading.Thread(target=resources.preload)
    thread.start()
    thread.join(timeout=0.5)
    assert thread.is_alive() and not loads  # still waiting: no page drawn yet
    resources.page_drawn()
    thread.join(timeout=30)
    assert loads == [Path("default.pt")]


def test_after_the_first_page_the_preload_waits_for_the_browser_to_stop_fetching(loads: list[Path]):
    resources._visited.set()
    resources.page_drawn()
    resources._last_request[0] = time.monotonic()  # the browser just asked for the page's chart code
    thread = threading.Thread(target=resources.preload)
    thread.start()
    thread.join(timeout=resources.PRELOAD_QUIET_S / 2)
    assert thread.is_alive() and not loads
    thread.join(timeout=30)
    assert loads == [Path("default.pt")]


def test_without_a_visitor_the_preload_starts_after_the_grace(loads: list[Path], monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(resources, "PRELOAD_GRACE_S", 0.01)
    resources.preload()
    assert loads == [Path("default.pt")]


@pytest.mark.parametrize(("path", "visitor"), [("/_stcore/health", False), ("/_stcore/host-config", False),
                                               ("/", True), ("/recommendations", True), ("/static/js/index.js", True)])
def test_only_page_requests_count_as_a_visitor(loads: list[Path], path: str, visitor: bool):
    async def app(scope, receive, send) -> None:
        return None

    asyncio.run(resources.VisitorSignal(app)({"type": "http", "path": path}, None, None))
    assert resources._visited.is_set() is visitor
