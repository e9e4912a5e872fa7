"""Cached loaders: the Recommender (one per checkpoint file version and dataset), explanations, reports.

`st.cache_resource` objects are shared by every session, so nothing here or in a page mutates a Recommender;
its own lazily-filled caches (baselines, score rows) are internal to the service and thread-safe.
The cache key holds the checkpoint's mtime and size and the dataset folder's file stamps, so a file replaced on
disk while the app runs is loaded afresh on the next click (or reported, when the new one is bad). Failures are
cached by the same stamps: a bad 300 MB dataset is parsed once, not on every rerun.

The sidebar's "Dataset folder" serves only folders under the dataset roots (``RECSYS_DATA_ROOTS``, else the
project's ``data/``, plus the dataset each checkpoint was trained on): a path elsewhere gets the same answer
whether or not it exists, and messages name folders relative to their root, never as absolute server paths.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import streamlit as st
from streamlit.logger import get_logger

from dashboard import state
from dashboard.components.errors import DashboardError
from recsys import CheckpointError, ModelCard, RecsysError, card_path, read_model_card

if TYPE_CHECKING:  # importing recsys.Recommender imports torch (seconds): only when loading a model
    from recsys import Recommender

ROOT = Path(__file__).resolve().parent.parent
CHECKPOINT_DIR_ENV = "RECSYS_CHECKPOINT_DIR"  # tests and deployments point the app at another folder
DATA_ROOTS_ENV = "RECSYS_DATA_ROOTS"  # os.pathsep-separated folders whose datasets the sidebar may load
DEFAULT_CHECKPOINT = "default.pt"
Stamp = tuple[Any, ...]
log = logging.getLogger("dashboard")


def checkpoint_dir() -> Path:
    return Path(os.environ.get(CHECKPOINT_DIR_ENV) or ROOT / "checkpoints")


def checkpoint_files() -> list[Path]:
    """Every ``*.pt`` in the checkpoint folder, ``default.pt`` first."""
    folder = checkpoint_dir()
    files = sorted(folder.glob("*.pt")) if folder.is_dir() else []
    return sorted(files, key=lambda p: (p.name != DEFAULT_CHECKPOINT, p.name))


def file_stamp(path: Path) -> Stamp:
    stat = path.stat()
    return (stat.st_mtime_ns, stat.st_size)


def folder_stamp(path: Path) -> Stamp | None:
    """(name, mtime, size) of the folder's files, or None when the folder is gone."""
    if not path.is_dir():
        return None
    return tuple(sorted((p.name, *file_stamp(p)) for p in path.iterdir() if p.is_file()))


@dataclass(frozen=True)
class Loaded:
    """A Recommender and the stamp of the dataset it was built from."""

    rec: Recommender
    key: str  # identifies this model version in st.cache_data keys
    data_stamp: Stamp | None


@st.cache_resource(max_entries=6, show_spinner=False)
def _load(checkpoint: str, stamp: Stamp, data: str | None, data_stamp: Stamp | None) -> Loaded | RecsysError:
    """Load once per (checkpoint file version, dataset folder version); the stamps only key the cache.

    A failure on a given dataset folder is returned (and so cached by the folder's stamp) rather than raised:
    Streamlit caches no exception, and re-reading a bad 300 MB dataset on every rerun cost 24 s and 1.5 GB each
    time (issue 10). Without a folder (the checkpoint's own, whose stamp is unknown here) a failure is raised, so
    that restoring the folder is noticed on the next rerun.
    """
    from recsys import Recommender  # torch loads here, under the page's spinner, not before the first paint

    try:
        rec = Recommender.load(checkpoint, data)
    except RecsysError as exc:
        if data is None:
            raise
        return _bare(exc)
    except Exception as exc:  # a file the unpickler chokes on (KeyError, IndexError, ...) is still a bad checkpoint
        log.warning("loading %s failed", checkpoint, exc_info=True)
        return CheckpointError(f"cannot read checkpoint {Path(checkpoint).name}: truncated or corrupted "
                               f"({type(exc).__name__}: {str(exc)[:200]})")
    rec.warm_up()  # the first what-if edit and explanation then cost what the later ones do (0.3 s less)
    _freeze_long_lived_objects()
    return Loaded(rec, f"{checkpoint}|{stamp}|{rec.data_path}|{data_stamp}", folder_stamp(Path(rec.data_path)))


def _bare(exc: RecsysError) -> RecsysError:
    """The error without its traceback and chained errors, whose frames would keep the parsed tables alive."""
    exc.__context__ = exc.__cause__ = None
    return exc.with_traceback(None)


def _loaded(result: Loaded | RecsysError) -> Loaded:
    if isinstance(result, RecsysError):
        raise result.with_traceback(None)
    return result


def _freeze_long_lived_objects() -> None:
    """Keep torch's, PyG's and the model's millions of objects out of every later garbage collection.

    A full collection walks every tracked object: with these in the heap it cost 0.27-0.38 s of CPU, and
    Streamlit ran one after each script run (`runner.postScriptGC`, now off in .streamlit/config.toml): 90% of
    a slider move. Measured by tests/reliability/load_dashboard.py, 20 sessions: 2.5 answers/s, p95 13 s
    before; 17/s, p95 0.65 s after (docs/reliability.md). Frozen objects are never collected, so freeze only
    what lives as long as the server: right after a model is loaded, with the garbage collected first.
    """
    gc.collect()
    gc.freeze()


def load(checkpoint: Path, data: str | Path | None = None) -> Loaded:
    """The cached Recommender for a checkpoint (and dataset folder), reloaded when either changed on disk."""
    if not checkpoint.is_file():
        raise CheckpointError(f"checkpoint {checkpoint.name} is no longer in {checkpoint.parent}; pick another one")
    if data is not None and not Path(data).is_dir():
        raise DashboardError(f"dataset folder not found: {shown(Path(data))}")
    stamp = file_stamp(checkpoint)
    loaded = _loaded(_load(str(checkpoint), stamp, None if data is None else str(data),
                           None if data is None else folder_stamp(Path(data))))
    if data is None:
        _OWN_DATASETS.add(Path(loaded.rec.data_path).resolve())
    now = folder_stamp(Path(loaded.rec.data_path))
    if now is None:
        raise DashboardError(f"the dataset folder {shown(Path(loaded.rec.data_path))} of {checkpoint.name} has "
                             "disappeared; restore it or choose another dataset folder in the sidebar")
    if now != loaded.data_stamp:  # files changed under the model: rebuild from the new files (or report them)
        loaded = _loaded(_load(str(checkpoint), stamp, str(loaded.rec.data_path), now))
    return loaded


PRELOAD_GRACE_S = 2.0  # the preload waits this long for a first visitor before starting anyway
PRELOAD_PAGE_WAIT_S = 10.0  # and at most this long for that visitor's first page to be drawn
PRELOAD_QUIET_S = 0.5  # ... and for the browser to have fetched the page's code (no request for this long)
_visited, _page_drawn = threading.Event(), threading.Event()
_last_request = [0.0]  # time.monotonic() of the latest request for a page or its assets


def page_drawn() -> None:
    """Called after every script run: a first page is on screen, the preload may take the CPU."""
    _page_drawn.set()


class VisitorSignal:
    """ASGI middleware: notes the first request for a page or its assets (health checks aside)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not scope.get("path", "").startswith("/_stcore/"):
            _last_request[0] = time.monotonic()
            _visited.set()
        await self.app(scope, receive, send)


def preload() -> None:
    """Load the default model and import the pages' libraries, so that later pages find them ready.

    Runs in a background thread from server start. A first visitor's Overview needs no model (it reads the
    stored card), but importing torch and PyG in the same process while that page was served made it take 6.4 s
    instead of 3.4 s (2 cores, 2026-12-04): so when a visitor arrives within `PRELOAD_GRACE_S`, the preload
    waits until their first page's script has run and the browser has stopped fetching its code. A page asking
    for the model meanwhile loads it itself, and the preload then waits on the cache's per-key lock instead of
    loading it twice. A failure is only logged: the page that needs the model shows the error in its own words.
    """
    started = time.perf_counter()
    if _visited.wait(PRELOAD_GRACE_S):
        _page_drawn.wait(PRELOAD_PAGE_WAIT_S)
        while (time.monotonic() - _last_request[0] < PRELOAD_QUIET_S
               and time.perf_counter() - started < PRELOAD_PAGE_WAIT_S):
            time.sleep(0.05)  # the browser still fetches the page's charts code from this server
    waited = time.perf_counter() - started
    # st.cache_resource warns once per call outside a script run; this thread is one on purpose
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").setLevel(logging.ERROR)
    try:
        from dashboard.components import charts, network  # noqa: F401  plotly and pyvis: ~1 s of imports

        files = checkpoint_files()
        if files:
            load(files[0])
    except Exception:
        log.warning("preloading the default model failed", exc_info=True)
        return
    # Streamlit's logger prints to the server log at its default level (info): the browser test waits for this line
    get_logger("dashboard.preload").info("preloaded %s in %.1f s (%.1f s of it waiting for a first page)",
                                         files[0].name if files else "no checkpoint", time.perf_counter() - started,
                                         waited)


@asynccontextmanager
async def preload_on_start(_app: Any) -> AsyncIterator[None]:
    """The st.App lifespan: start `preload` in the background as the server starts (it answers meanwhile)."""
    threading.Thread(target=preload, name="recsys-preload", daemon=True).start()
    yield


# ---- dataset roots: the folders the sidebar may serve ---------------------------------------------------------------
_OWN_DATASETS: set[Path] = set()  # datasets the checkpoints were trained on, as found when loading them


def data_roots() -> list[Path]:
    """``RECSYS_DATA_ROOTS`` (else the project's data/), then the checkpoints' own dataset folders, resolved."""
    configured = [Path(p) for p in os.environ.get(DATA_ROOTS_ENV, "").split(os.pathsep) if p.strip()]
    roots = [p.resolve() for p in configured or [ROOT / "data"]]
    return list(dict.fromkeys([*roots, *sorted(_OWN_DATASETS)]))


def _label(root: Path) -> str:
    """How a root is named to users: relative to the project when inside it, else by its folder name."""
    return root.relative_to(ROOT.resolve()).as_posix() if root.is_relative_to(ROOT.resolve()) else root.name


def shown(path: Path) -> str:
    """A path as users see it: relative to its dataset root (or the project), never an absolute server path."""
    resolved = path.resolve()
    for root in [*data_roots(), ROOT.resolve()]:
        if resolved.is_relative_to(root):
            inside = resolved.relative_to(root).as_posix()
            label = _label(root)
            return label if inside == "." else inside if label == "." else f"{label}/{inside}"
    return path.name


def redact(text: str) -> str:
    """A message with every absolute root, checkpoint-folder and project path replaced by its short name."""
    places = {root: _label(root) for root in data_roots()}
    places |= {checkpoint_dir().resolve(): checkpoint_dir().name, ROOT.resolve(): "."}
    spelled = {str(form): label for path, label in places.items() for form in (path, Path(os.path.abspath(path)))}
    for absolute in sorted(spelled, key=len, reverse=True):
        text = text.replace(absolute + os.sep, "" if spelled[absolute] == "." else spelled[absolute] + "/")
        text = text.replace(absolute, spelled[absolute])
    return text


def dataset_folder(text: str) -> Path:
    """The dataset folder the sidebar names: absolute, or relative to the project or to a root, under a root.

    A path outside every root is refused with the same message whether or not it exists.
    """
    roots = data_roots()
    raw = Path(text.strip())
    candidates = [raw] if raw.is_absolute() else [ROOT / raw, *(root / raw for root in roots)]
    inside = [c.resolve() for c in candidates if any(c.resolve().is_relative_to(r) for r in roots)]
    found = next((c for c in inside if c.is_dir()), None)
    if found is not None:
        return found
    names = ", ".join(f"{_label(r)}/" for r in roots)
    if inside and raw.is_absolute():
        raise DashboardError(f"dataset folder not found: {shown(inside[0])}")
    if inside:
        raise DashboardError(f"dataset folder not found: {text.strip()!r} is in none of {names}")
    raise DashboardError(f"the dataset folder must be under {names}: this server serves no other folder. Set "
                         f"{DATA_ROOTS_ENV} to serve others.")


def selected_checkpoint() -> Path:
    """The checkpoint chosen in the sidebar (or the link), else default.pt, else the first one found."""
    files = checkpoint_files()
    if not files:
        raise DashboardError(f"no checkpoints (*.pt) in {checkpoint_dir()}. Train one with: python -m recsys "
                             "train --data data/synthetic --out checkpoints/default.pt")
    chosen = state.get("model")
    return next((f for f in files if f.name == chosen), files[0])


def current() -> Loaded:
    """The model the sidebar selected, loaded (with a spinner the first time)."""
    checkpoint = selected_checkpoint()
    try:
        with st.spinner(f"Loading {checkpoint.name} and its dataset…", show_time=True):
            data = st.session_state.get("view.data") or None
            loaded = load(checkpoint, None if data is None else dataset_folder(data))
    except RecsysError as exc:
        st.session_state["_model_status"] = (False, f"{checkpoint.name} could not be loaded")
        exc.args = (redact(str(exc)),)
        raise
    st.session_state["_model_status"] = (True, redact(loaded.rec.describe()))
    return loaded


def recommender() -> Recommender:
    return current().rec


@st.cache_data(max_entries=16, show_spinner=False)
def _stored_card(checkpoint: str, stamp: Stamp, card_stamp: Stamp) -> tuple[ModelCard, Stamp | None] | None:
    """The checkpoint's stored card (None: missing or stale) and its dataset folder's stamp when it was read."""
    card = read_model_card(checkpoint)
    return None if card is None else (card, folder_stamp(card.data_path))


def overview() -> ModelCard:
    """What the Overview shows: the stored card when it matches the checkpoint and its own dataset (no model
    load, no torch import: the landing page is drawn while the model loads), else the loaded model's card."""
    checkpoint = selected_checkpoint()
    stored = card_path(checkpoint)
    if not st.session_state.get("view.data") and stored.is_file():
        found = _stored_card(str(checkpoint), file_stamp(checkpoint), file_stamp(stored))
        if found is not None and folder_stamp(found[0].data_path) != found[1]:  # the data changed since: re-check
            _stored_card.clear()
            found = _stored_card(str(checkpoint), file_stamp(checkpoint), file_stamp(stored))
        if found is not None:
            st.session_state["_model_status"] = (True, redact(found[0].describe()))
            return found[0]
    return current().rec.card()


@st.cache_resource(max_entries=16, show_spinner=False)
def _companion(checkpoint: str, stamp: Stamp, data: str, data_stamp: Stamp | None) -> Loaded | str:
    """Another checkpoint on a given dataset, or why it does not load there (cached too: failing costs seconds)."""
    try:
        return load(Path(checkpoint), data)
    except RecsysError as exc:
        return redact(str(exc).splitlines()[0])


def companions(main: Loaded) -> dict[str, Loaded | str]:
    """Every other checkpoint in the folder, loaded on the main model's dataset, or why it cannot be."""
    data = str(main.rec.data_path)
    return {path.name: _companion(str(path), file_stamp(path), data, folder_stamp(Path(data)))
            for path in checkpoint_files() if path.resolve() != Path(main.rec.checkpoint).resolve()}


# ---- cached answers (keyed by the model's key; the Recommender itself is not hashed) ------------------------------
@st.cache_data(max_entries=256, show_spinner=False)
def explanation(_rec: Recommender, key: str, user: str, track: str, genre_weight: float | None,
                counterfactual: bool = False) -> dict[str, Any]:
    return _rec.explain(user, track, genre_weight=genre_weight, counterfactual=counterfactual)


@st.cache_data(max_entries=256, show_spinner=False)
def profile(_rec: Recommender, key: str, user: str) -> dict[str, Any]:
    return _rec.user_profile(user)


@st.cache_data(max_entries=256, show_spinner=False)
def subgraph(_rec: Recommender, key: str, user: str, track: str, max_nodes: int, genre_weight: float | None = None,
             focus: bool = False) -> dict[str, Any]:
    return _rec.attention_subgraph(user, track, max_nodes=max_nodes, genre_weight=genre_weight, focus=focus)


DRIFT_PERIODS = (("MS", "month"), ("W-MON", "week"))  # weeks when the plays span fewer than 3 months
MIN_DRIFT_PERIODS = 3


@st.cache_data(max_entries=256, show_spinner=False)
def drift(_rec: Recommender, key: str, user: str, rollup: bool):
    """(period, genre, share) frame and the period's name: monthly, or weekly for a short history."""
    for freq, name in DRIFT_PERIODS:
        frame = _rec.genre_drift(user, freq=freq, rollup=rollup)
        if frame["period"].nunique() >= MIN_DRIFT_PERIODS:
            return frame, name
    return frame, DRIFT_PERIODS[-1][1]


@st.cache_data(max_entries=64, show_spinner=False)
def projection(_rec: Recommender, key: str, node_type: str, sample: int):
    return _rec.embedding_projection(node_type, sample)


# ---- evaluation reports ---------------------------------------------------------------------------------------------
def eval_report_path(checkpoint: Path) -> Path | None:
    """``<checkpoint stem>.eval.json`` next to the checkpoint, else the folder's ``default.eval.json`` or any other."""
    folder = checkpoint.parent
    candidates = [folder / f"{checkpoint.stem}.eval.json", folder / "default.eval.json",
                  *sorted(folder.glob("*.eval.json"))]
    return next((p for p in candidates if p.is_file()), None)


@st.cache_data(max_entries=16, show_spinner=False)
def _read_report(path: str, stamp: Stamp) -> dict[str, Any]:
    try:
        report = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DashboardError(f"cannot read the evaluation report {Path(path).name}: {exc}") from None
    models = report.get("models") if isinstance(report, dict) else None
    if not isinstance(models, dict) or not all(isinstance(m, dict) for m in models.values()):
        raise DashboardError(f"{Path(path).name} is not an evaluation report: it needs "
                             '{"models": {"<name>": {"ndcg@10": ..., ...}}}')
    return report


def eval_report(checkpoint: Path) -> tuple[Path, dict[str, Any]] | None:
    """The evaluation report for a checkpoint, or None when there is none (a bad one raises DashboardError)."""
    path = eval_report_path(checkpoint)
    return None if path is None else (path, _read_report(str(path), file_stamp(path)))


# ---- fold-in: a listener given by songs (an edited history, picked songs, an upload) -------------------------------
History = tuple[tuple[str, float], ...]  # (track_id, plays), hashable for the cache keys


@st.cache_data(max_entries=64, show_spinner=False)
def user_history(_rec: Recommender, key: str, user: str) -> pd.DataFrame:
    return _rec.user_history(user)


@st.cache_resource(max_entries=4, show_spinner=False)
def catalogue(_rec: Recommender, key: str) -> pd.DataFrame:
    """Every track (track_id, title, artist, genres) indexed by track_id; shared read-only, never copied per run."""
    return _rec.catalogue().set_index("track_id", drop=False)


@st.cache_data(max_entries=256, show_spinner=False)
def history_recommendations(_rec: Recommender, key: str, history: History, k: int,
                            genre_weight: float | None) -> pd.DataFrame:
    return _rec.recommend_for_history(list(history), k, genre_weight=genre_weight)


@st.cache_data(max_entries=256, show_spinner=False)
def history_explanation(_rec: Recommender, key: str, history: History, track: str, genre_weight: float | None,
                        counterfactual: bool = False) -> dict[str, Any]:
    return _rec.explain_for_history(list(history), track, genre_weight=genre_weight, counterfactual=counterfactual)


@st.cache_data(max_entries=256, show_spinner=False)
def history_subgraph(_rec: Recommender, key: str, history: History, track: str, max_nodes: int,
                     genre_weight: float | None = None, focus: bool = False) -> dict[str, Any]:
    return _rec.attention_subgraph_for_history(list(history), track, max_nodes=max_nodes, genre_weight=genre_weight,
                                               focus=focus)
