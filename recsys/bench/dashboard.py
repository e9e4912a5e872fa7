"""Dashboard benchmark: wall clock from starting the Streamlit server to its first page.

The server is started as a user would (``streamlit run dashboard/app.py --server.headless true ...``); its health
endpoint is polled until it answers, then ``/`` is fetched. The same is measured for a one-line Streamlit app in
the same run, so the ratio shows what the dashboard itself adds to Streamlit's own start-up.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DASHBOARD_APP = PROJECT_ROOT / "dashboard" / "app.py"
POLL_INTERVAL = 0.05


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, timeout: float = 2.0) -> int:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # a local server we started
        response.read()
        return response.status


def answers(url: str) -> bool:
    """True when ``url`` answers 200 now (connection errors and timeouts are 'not yet')."""
    try:
        return _get(url) == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


@dataclass
class Server:
    """A running ``streamlit run`` process: its base URL and when it was launched."""

    process: subprocess.Popen
    url: str
    started: float

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def launch(app: Path = DASHBOARD_APP, *, cwd: Path = PROJECT_ROOT, env: dict[str, str] | None = None,
           log: IO | None = None, timeout: float = 90.0) -> Server:
    """Start ``streamlit run app`` headless on a free local port and wait until its health endpoint answers.

    The server is started as a user would (127.0.0.1, headless, no usage statistics). Output goes to ``log``
    (discarded when None).

    Raises:
        TimeoutError: the server did not answer within ``timeout`` seconds.
        RuntimeError: the server exited before answering.
    """
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", str(app), "--server.headless", "true",
               "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false"]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=log or subprocess.DEVNULL,
                               stderr=subprocess.STDOUT if log else subprocess.DEVNULL)
    server = Server(process, f"http://127.0.0.1:{port}", started)
    while not answers(f"{server.url}/_stcore/health"):
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {process.returncode} before answering")
        if time.perf_counter() - started > timeout:
            server.stop()
            raise TimeoutError(f"streamlit did not answer on port {port} within {timeout:.0f}s")
        time.sleep(POLL_INTERVAL)
    return server


@contextlib.contextmanager
def running(app: Path = DASHBOARD_APP, **kwargs: Any) -> Iterator[Server]:
    """`launch`, and stop the server whatever happens in the block."""
    server = launch(app, **kwargs)
    try:
        yield server
    finally:
        server.stop()


def start_to_first_page(app: Path, timeout: float = 90.0, cwd: Path = PROJECT_ROOT) -> float:
    """Seconds from launching ``streamlit run app`` until ``/`` answers 200; the server is stopped afterwards."""
    with running(app, cwd=cwd, timeout=timeout) as server:
        while not answers(f"{server.url}/"):
            time.sleep(POLL_INTERVAL)
        return time.perf_counter() - server.started


def bench_dashboard(report, app: Path = DASHBOARD_APP, log=print) -> None:
    """Add the dashboard rows: start-up of an empty Streamlit app (baseline) and of the dashboard."""
    if not app.is_file():
        report.add("dashboard", "server start to first page", None, "s", note="not available (no dashboard/app.py)")
        return
    log("dashboard: start-up of an empty Streamlit app, then of the dashboard")
    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp) / "empty_app.py"
        empty.write_text("import streamlit as st\n\nst.write('hello')\n", encoding="utf-8")
        try:
            baseline = start_to_first_page(empty, cwd=Path(tmp))
        except (TimeoutError, RuntimeError, OSError) as exc:
            report.add("dashboard", "empty Streamlit app: start to first page", None, "s", note=str(exc)[:120])
            baseline = None
        else:
            report.add("dashboard", "empty Streamlit app: start to first page", baseline, "s")
    try:
        seconds = start_to_first_page(app)
    except (TimeoutError, RuntimeError, OSError) as exc:
        report.add("dashboard", "server start to first page", None, "s", note=str(exc)[:120])
        return
    report.add("dashboard", "server start to first page", seconds, "s",
               baseline="dashboard/empty Streamlit app: start to first page" if baseline is not None else None,
               note="HTTP: health endpoint, then GET / (the page's script runs when a browser connects)")
