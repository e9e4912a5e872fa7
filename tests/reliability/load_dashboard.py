"""Load test of the dashboard: N concurrent sessions click through listeners, move the genre-weight slider and open
explanations against a real `streamlit run dashboard/app.py` server.

    python tests/reliability/load_dashboard.py --sessions 20 --seconds 60
    python tests/reliability/load_dashboard.py --sessions 20 --seconds 60 --checkpoint-dir checkpoints --json out.json

Each session is a websocket client speaking Streamlit's own protocol (the `BackMsg` / `ForwardMsg` protobufs the
browser's JavaScript sends and receives): it opens a page with a query string, and "clicks" by sending the widget
states a browser would send after a click (a slider value with the fragment it lives in, a button trigger). A
response time is the time from sending a request to the server's `script_finished`, so it measures the server
(the model shared by every session, the page scripts, the session bookkeeping), not a browser's rendering. Why
not 20 Chromium tabs: on the 2-core machine this runs on, 20 renderers would saturate the CPU and measure
Chromium. The real-browser path is covered by tests/dashboard/test_browser.py.

Reported: p50/p95/max response time per action and overall, errors (exception boxes, red error boxes, failed or
timed-out runs, dropped connections), and the server's resident memory with 1 session and with N sessions (the
Recommender is loaded once per checkpoint and shared through st.cache_resource, so memory must not grow with
the session count like a model per session would). A probe session reads the same listener's top 20 before and
after the load: equal lists show that no session changed the shared model. Exit status 1 on any error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import platform
import random
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script from anywhere
from recsys.bench.dashboard import Server, launch  # noqa: E402 (after the path set-up)

START_TIMEOUT = 120  # s: server start (imports torch lazily, so this is quick; the first page loads the model)
REQUEST_TIMEOUT = 120  # s: one page run; a run slower than this counts as an error
PROBE_USER_QUERY = "k=20&genre_weight=0.3"
TIMELINE_S = 5.0  # RSS is recorded this often, to show whether memory levels off


# ---- the server -----------------------------------------------------------------------------------------------------
def start_server(checkpoint_dir: Path, log_path: Path) -> Server:
    """`streamlit run dashboard/app.py` on a free local port, once healthy (`recsys.bench.dashboard.launch`)."""
    env = {**os.environ, "RECSYS_CHECKPOINT_DIR": str(checkpoint_dir)}
    try:
        return launch(env=env, log=log_path.open("w"), timeout=START_TIMEOUT)
    except (RuntimeError, TimeoutError) as exc:
        raise RuntimeError(f"the dashboard server did not start ({exc}); see {log_path}") from None


class MemoryProbe:
    """Samples the server's resident set size (psutil) in the background: the peak since the last reset."""

    def __init__(self, pid: int) -> None:
        import psutil

        self.process = psutil.Process(pid)
        self.peak = 0
        self.timeline: list[tuple[float, int]] = []  # (seconds since start, RSS) every TIMELINE_S
        self._task: asyncio.Task | None = None

    def rss(self) -> int:
        return self.process.memory_info().rss

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server so far (all its threads)."""
        times = self.process.cpu_times()
        return times.user + times.system

    def reset(self) -> None:
        self.peak = self.rss()

    async def _sample(self) -> None:
        started, last = time.monotonic(), -TIMELINE_S
        while True:
            rss, now = self.rss(), time.monotonic() - started
            self.peak = max(self.peak, rss)
            if now - last >= TIMELINE_S:
                self.timeline.append((round(now, 1), rss))
                last = now
            await asyncio.sleep(0.25)

    def start(self) -> None:
        self.reset()
        self._task = asyncio.get_running_loop().create_task(self._sample())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


# ---- one session ----------------------------------------------------------------------------------------------------
@dataclass
class Run:
    """What one script run sent back."""

    seconds: float
    status: str
    widgets: dict[str, tuple[str, str]]  # widget key -> (widget id, fragment id)
    tables: list[bytes]  # Arrow bytes of every dataframe, in order
    errors: list[str]
    query: str | None  # the query string the app published, if it changed
    options: dict[str, list[str]] = field(default_factory=dict)  # selectbox key -> option labels


@dataclass
class Stats:
    times: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)
    cpu_seconds: float = 0.0  # the server's CPU time during the phase

    def add(self, action: str, run: Run) -> None:
        self.times[action].append(run.seconds)
        self.errors.extend(f"{action}: {e}" for e in run.errors)


class Session:
    """A browser tab reduced to its protocol: open pages, click widgets, wait for each run to finish."""

    def __init__(self, url: str) -> None:
        self.ws_url = url.replace("http", "ws", 1) + "/_stcore/stream"
        self.ws = None
        self.pages: dict[str, str] = {}  # url path -> page script hash
        self.page = "recommendations"
        self.query = ""
        self.widgets: dict[str, tuple[str, str]] = {}

    async def __aenter__(self) -> Session:
        from websockets.asyncio.client import connect

        self.ws = await connect(self.ws_url, subprotocols=["streamlit"], max_size=None, open_timeout=60,
                                ping_interval=None)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.ws.close()

    async def open(self, page: str, query: str) -> Run:
        """Open a page by its URL (a shared link): a fresh run with no widget values."""
        self.page, self.query = page, query
        return await self._rerun()

    async def set_widget(self, key: str, **value: Any) -> Run:
        """Change one widget (e.g. ``double_array_value=[0.3]``, ``trigger_value=True``), as a click does."""
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        widget_id, fragment = self.widgets[key]
        state = WidgetState(id=widget_id)
        for name, v in value.items():
            target = getattr(state, name)
            if isinstance(v, list):
                target.data.extend(v)
            else:
                setattr(state, name, v)
        return await self._rerun([state], fragment)

    async def _rerun(self, widget_states: list | None = None, fragment: str = "") -> Run:
        from streamlit.proto.BackMsg_pb2 import BackMsg

        msg = BackMsg()
        client = msg.rerun_script
        client.query_string = self.query
        client.page_name = self.page
        client.page_script_hash = self.pages.get(self.page, "")
        client.widget_states.widgets.extend(widget_states or [])
        if fragment:
            client.fragment_id = fragment
        started = time.perf_counter()
        await self.ws.send(msg.SerializeToString())
        try:
            run = await asyncio.wait_for(self._collect(started), REQUEST_TIMEOUT)
        except TimeoutError:
            return Run(time.perf_counter() - started, "timeout", {}, [], [f"no answer in {REQUEST_TIMEOUT} s"], None)
        if run.query is not None:
            self.query = run.query
        if fragment:
            self.widgets.update(run.widgets)
        else:
            self.widgets = run.widgets
        return run

    async def _collect(self, started: float) -> Run:
        """Read ForwardMsgs until the run finishes; note widgets, tables and anything that looks like an error."""
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        widgets: dict[str, tuple[str, str]] = {}
        tables: list[bytes] = []
        errors: list[str] = []
        options: dict[str, list[str]] = {}
        query = None
        while True:
            msg = ForwardMsg()
            msg.ParseFromString(await self.ws.recv())
            kind = msg.WhichOneof("type")
            if kind == "navigation":
                self.pages = {p.url_pathname or "overview": p.page_script_hash for p in msg.navigation.app_pages}
                current = [p.url_pathname for p in msg.navigation.app_pages
                           if p.page_script_hash == msg.navigation.page_script_hash]
                if current:
                    self.page = current[0] or "overview"
            elif kind == "page_info_changed":
                query = msg.page_info_changed.query_string
            elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                element = msg.delta.new_element
                name = element.WhichOneof("type")
                proto = getattr(element, name)
                widget_id = getattr(proto, "id", "")
                if widget_id.startswith("$$ID-"):
                    key = widget_id.split("-", 2)[-1]
                    widgets[key] = (widget_id, msg.delta.fragment_id)
                    if name == "selectbox":
                        options[key] = list(proto.options)
                if name == "exception":
                    errors.append(f"exception {proto.type}: {proto.message[:200]}")
                elif name == "alert" and proto.format == proto.ERROR:
                    errors.append(f"error box: {proto.body[:200]}")
                elif name == "dataframe":
                    tables.append(proto.arrow_data.data or proto.lazy_data.SerializeToString())
            elif kind == "script_finished":
                status = msg.script_finished
                if status == 2:  # FINISHED_EARLY_FOR_RERUN: a switch_page or rerun follows
                    continue
                names = {0: "ok", 1: "compile error", 3: "ok (fragment)"}
                if status == 1:
                    errors.append("the page script failed to compile")
                return Run(time.perf_counter() - started, names.get(status, str(status)), widgets, tables, errors,
                           query, options)


# ---- what a user does ----------------------------------------------------------------------------------------------
async def user_journey(url: str, users: list[str], deadline: float, stats: Stats, seed: int, think: float) -> None:
    """Open the recommendations of a listener, then until the deadline: move the slider, pick a random listener,
    open an explanation and come back, follow a link to another listener."""
    rng = random.Random(seed)
    try:
        async with Session(url) as tab:
            stats.add("open page", await tab.open("recommendations", f"user={rng.choice(users)}"))
            while time.monotonic() < deadline:
                await asyncio.sleep(rng.uniform(0.5, 1.5) * think)
                roll = rng.random()
                if roll < 0.5 and "w.gw" in tab.widgets:
                    weight = round(rng.randrange(0, 21) * 0.05, 2)
                    run = await tab.set_widget("w.gw", double_array_value=[weight])
                    # the link names the new weight (or none: a move onto the adaptive weight changes nothing)
                    shown = parse_qs(tab.query).get("genre_weight", [None])[0]
                    if not run.errors and shown is not None and float(shown) != weight:
                        run.errors.append(f"the slider moved to {weight:g} but the link says {tab.query!r}")
                    stats.add("slider", run)
                elif roll < 0.7 and "w.random" in tab.widgets:
                    stats.add("random listener", await tab.set_widget("w.random", trigger_value=True))
                elif roll < 0.85 and "w.explain_go" in tab.widgets:
                    stats.add("why this song", await tab.set_widget("w.explain_go", trigger_value=True))
                    await asyncio.sleep(rng.uniform(0.5, 1.5) * think)
                    query = "&".join(p for p in tab.query.split("&") if not p.startswith("track="))
                    stats.add("back to list", await tab.open("recommendations", query))
                else:
                    stats.add("open page", await tab.open("recommendations", f"user={rng.choice(users)}"))
    except Exception as exc:  # a dropped connection or a protocol surprise is a failure of the run, not a crash
        stats.errors.append(f"session {seed}: {type(exc).__name__}: {exc}")


async def probe(url: str, user: str) -> tuple[str, list[str]]:
    """A digest of one listener's top 20 at a fixed genre weight (and any errors on the way)."""
    async with Session(url) as tab:
        run = await tab.open("recommendations", f"user={user}&{PROBE_USER_QUERY}")
    digest = hashlib.sha256(b"".join(run.tables)).hexdigest()[:16] if run.tables else ""
    return digest, run.errors + ([] if run.tables else ["the probe saw no table"])


async def listeners(url: str) -> list[str]:
    """Listener IDs offered by the picker (the 50 most active), read through the protocol like a browser."""
    async with Session(url) as tab:
        run = await tab.open("recommendations", "")
    if run.errors:
        raise RuntimeError("the recommendations page fails before any load: " + "; ".join(run.errors))
    return [label.split(" · ")[1] for label in run.options.get("w.user", []) if label.count(" · ") >= 1]


# ---- the whole test -------------------------------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def summarise(stats: Stats) -> dict[str, Any]:
    rows = {}
    everything = [t for times in stats.times.values() for t in times]
    for action, times in [*sorted(stats.times.items()), ("all", everything)]:
        if times:
            rows[action] = {"n": len(times), "p50_s": round(statistics.median(times), 3),
                            "p95_s": round(percentile(times, 95), 3), "max_s": round(max(times), 3)}
    return rows


async def run_phase(url: str, users: list[str], sessions: int, seconds: float, memory: MemoryProbe,
                    think: float, seed: int) -> tuple[Stats, float, int]:
    stats = Stats()
    memory.reset()
    cpu = memory.cpu_seconds()
    started = time.monotonic()
    deadline = started + seconds
    await asyncio.gather(*(user_journey(url, users, deadline, stats, seed + i, think) for i in range(sessions)))
    stats.cpu_seconds = memory.cpu_seconds() - cpu
    return stats, time.monotonic() - started, memory.peak


async def load_test(url: str, pid: int, sessions: int, seconds: float, think: float = 1.0,
                    warmup_seconds: float | None = None) -> dict[str, Any]:
    load_before = [round(x, 2) for x in os.getloadavg()]  # other work on the machine shares its CPUs
    memory = MemoryProbe(pid)
    memory.start()
    try:
        users = await listeners(url)
        if not users:
            raise RuntimeError("no listeners in the picker")
        before, errors_before = await probe(url, users[0])
        single_seconds = warmup_seconds if warmup_seconds is not None else max(10.0, seconds / 4)
        single, single_elapsed, rss_1 = await run_phase(url, users, 1, single_seconds, memory, think, seed=1000)
        rss_idle = memory.rss()
        many, elapsed, rss_n = await run_phase(url, users, sessions, seconds, memory, think, seed=0)
        after, errors_after = await probe(url, users[0])
        await asyncio.sleep(min(10.0, seconds / 4))  # the sessions have disconnected: is their memory returned?
        rss_closed = memory.rss()
    finally:
        await memory.stop()
    errors = errors_before + single.errors + many.errors + errors_after
    if before != after:
        errors.append(f"the probe listener's top 20 changed during the load ({before} -> {after}): a session "
                      "mutated the shared model")
    requests = sum(len(t) for t in many.times.values())
    return {
        "sessions": sessions, "seconds": round(elapsed, 1), "requests": requests,
        "throughput_per_s": round(requests / elapsed, 2) if elapsed else None,
        "response_times": summarise(many),
        "server_cpu": {"seconds": round(many.cpu_seconds, 1), "cores_busy": round(many.cpu_seconds / elapsed, 2),
                       "per_request_s": round(many.cpu_seconds / max(1, requests), 4)},
        "single_session": {"seconds": round(single_elapsed, 1), "response_times": summarise(single),
                           "server_cpu_cores_busy": round(single.cpu_seconds / single_elapsed, 2)},
        "rss_mb": {"one_session_peak": round(rss_1 / 2**20), "after_one_session": round(rss_idle / 2**20),
                   f"{sessions}_sessions_peak": round(rss_n / 2**20),
                   "growth_per_extra_session": round((rss_n - rss_1) / 2**20 / max(1, sessions - 1), 1),
                   "after_sessions_closed": round(rss_closed / 2**20),
                   "timeline": [(t, round(rss / 2**20)) for t, rss in memory.timeline]},
        "probe_top20_digest": {"before": before, "after": after, "unchanged": before == after},
        "errors": errors,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "load_average_before": load_before, "load_average_after": [round(x, 2) for x in os.getloadavg()]},
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
    }


def render(report: dict[str, Any]) -> str:
    lines = [f"{report['sessions']} sessions for {report['seconds']} s: {report['requests']} requests "
             f"({report['throughput_per_s']}/s), {len(report['errors'])} error(s)",
             f"{'action':<16} {'n':>5} {'p50 s':>7} {'p95 s':>7} {'max s':>7}"]
    for action, row in report["response_times"].items():
        lines.append(f"{action:<16} {row['n']:>5} {row['p50_s']:>7.3f} {row['p95_s']:>7.3f} {row['max_s']:>7.3f}")
    single = report["single_session"]["response_times"].get("all")
    if single:
        lines.append(f"one session alone: p50 {single['p50_s']:.3f} s, p95 {single['p95_s']:.3f} s "
                     f"({single['n']} requests)")
    machine, cpu = report["machine"], report["server_cpu"]
    lines.append(f"server CPU: {cpu['per_request_s']} s per request; {cpu['cores_busy']} "
                 f"cores busy on average with {report['sessions']} session(s), "
                 f"{report['single_session']['server_cpu_cores_busy']} with 1 (machine: "
                 f"{machine['cpus']} CPUs, 1/5/15-min load average before the test {machine['load_average_before']})")
    rss, n = report["rss_mb"], report["sessions"]
    lines.append(f"server RSS: {rss['one_session_peak']} MB peak with 1 session, "
                 f"{rss[f'{n}_sessions_peak']} MB peak with {n}; "
                 f"{rss['growth_per_extra_session']} MB per extra session; {rss['after_sessions_closed']} MB after "
                 "they closed")
    lines.append("RSS timeline (s: MB): " + ", ".join(f"{t:.0f}: {mb}" for t, mb in rss["timeline"]))
    probe_info = report["probe_top20_digest"]
    lines.append(f"shared model unchanged (same top 20 before and after): {probe_info['unchanged']}")
    for error in report["errors"][:10]:
        lines.append(f"ERROR {error}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=20, help="concurrent sessions (default 20)")
    parser.add_argument("--seconds", type=float, default=60, help="duration of the concurrent phase (default 60)")
    parser.add_argument("--think", type=float, default=1.0, help="mean pause between clicks in seconds (default 1)")
    parser.add_argument("--checkpoint-dir", default=os.environ.get("RECSYS_CHECKPOINT_DIR", str(ROOT / "checkpoints")),
                        help="the folder of *.pt files the app serves (default: $RECSYS_CHECKPOINT_DIR or checkpoints)")
    parser.add_argument("--url", help="test a server that is already running instead of starting one (no RSS)")
    parser.add_argument("--json", help="also write the report as JSON to this file")
    args = parser.parse_args(argv)
    if args.sessions < 1 or args.seconds <= 0:
        parser.error("--sessions must be >= 1 and --seconds > 0")
    log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"load_dashboard_{os.getpid()}.log"
    server = None
    try:
        if args.url:
            url, pid = args.url.rstrip("/"), os.getpid()  # RSS then is this process's: not meaningful
        else:
            server = start_server(Path(args.checkpoint_dir), log_path)
            url, pid = server.url, server.process.pid
        report = asyncio.run(load_test(url, pid, args.sessions, args.seconds, args.think))
    finally:
        if server is not None:
            server.stop()
    report["command"] = "python tests/reliability/load_dashboard.py " + " ".join(argv if argv is not None
                                                                                 else sys.argv[1:])
    report["checkpoint_dir"] = str(args.checkpoint_dir)
    print(render(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 1 if report["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
