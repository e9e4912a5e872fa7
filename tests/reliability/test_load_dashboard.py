"""The CI-sized load test: 3 concurrent sessions for 20 s against a real dashboard server (the documented long run is
`python tests/reliability/load_dashboard.py --sessions 20 --seconds 60`; see docs/reliability.md)."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("websockets", reason="the load test's clients need the websockets package")
pytest.importorskip("psutil", reason="the load test reads the server's memory with psutil")

import load_dashboard  # tests/reliability is on sys.path (conftest.py)

SESSIONS, SECONDS, SINGLE_SECONDS = 3, 20, 5


@pytest.mark.slow
def test_three_sessions_click_through_without_errors(enhanced_run, basic_run, tmp_path, capsys) -> None:
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    shutil.copy(enhanced_run.checkpoint, folder / "default.pt")
    shutil.copy(basic_run.checkpoint, folder / "basic.pt")
    server = load_dashboard.start_server(folder, tmp_path / "streamlit.log")
    try:
        report = asyncio.run(load_dashboard.load_test(server.url, server.process.pid, SESSIONS, SECONDS,
                                                      warmup_seconds=SINGLE_SECONDS))
    finally:
        server.stop()
    with capsys.disabled():
        print("\n" + load_dashboard.render(report))
    (tmp_path / "report.json").write_text(json.dumps(report, indent=2))
    assert not report["errors"], report["errors"][:10]
    assert report["probe_top20_digest"]["unchanged"]
    times = report["response_times"]
    assert times["all"]["n"] >= SESSIONS * 3 and "slider" in times, times
    # a full gc.collect() over torch's objects added 0.3 s of server CPU to every request; without it earlier CI
    # runs stayed under 0.15 s, and on 2026-12-06 a 2-core machine measured 0.16-0.19 s both at that day's change
    # and at the commit before it: the bound catches the regression, not a slower machine
    assert report["server_cpu"]["per_request_s"] < 0.3, report["server_cpu"]
    rss = report["rss_mb"]
    # the model is loaded once and shared: more sessions cost session state, not another model
    assert rss[f"{SESSIONS}_sessions_peak"] - rss["one_session_peak"] < 250, rss
    assert "Traceback" not in Path(tmp_path / "streamlit.log").read_text(encoding="utf-8", errors="replace")
