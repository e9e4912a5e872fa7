"""Cached loaders: the Recommender (one per checkpoint file version and dataset), explanations, reports.

`st.cache_resource` objects are shared by every session, so nothing here or in a page mutates a Recommender;
its own lazily-filled caches (baselines, score rows) are internal to the service and thread-safe.
The cache key holds the checkpoint's mtime and size and the dataset folder's file stamps, so a file replaced on
disk while the app runs is loaded afresh on the next click (or reported, when the new one is bad).
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

import streamlit as st
from streamlit.logger import get_logger

from dashboard import state
from dashboard.components.errors import DashboardError
from recsys import CheckpointError, RecsysError

if TYPE_CHECKING:  # importing recsys.Recommender imports torch (seconds): only when loading a model
    from recsys import Recommender

ROOT = Path(__file__).resolve().parent.parent
CHECKPOINT_DIR_ENV = "RECSYS_CHECKPOINT_DIR"  # tests and deployments point the app at another folder
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
def _load(checkpoint: str, stamp: Stamp, data: str | None, data_stamp: Stamp | None) -> Loaded:
    """Load once per (checkpoint file version, dataset folder version); the stamps only key the cache."""
    from recsys import Recommender  # torch loads here, under the page's spinner, not before the first paint

    try:
        rec = Recommender.load(checkpoint, data)
    except RecsysError:
        raise
    except Exception as exc:  # a file the unpickler chokes on (KeyError, IndexError, ...) is still a bad checkpoint
        log.warning("loading %s failed", checkpoint, exc_info=True)
        raise CheckpointError(f"cannot read checkpoint {Path(checkpoint).name}: truncated or corrupted "
                              f"({type(exc).__name__}: {str(exc)[:200]})") from exc
    _freeze_long_lived_objects()
    return Loaded(rec, f"{checkpoint}|{stamp}|{rec.data_path}|{data_stamp}", folder_stamp(Path(rec.data_path)))


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
        raise DashboardError(f"dataset folder not found: {data}")
    stamp = file_stamp(checkpoint)
    loaded = _load(str(checkpoint), stamp, None if data is None else str(data),
                   None if data is None else folder_stamp(Path(data)))
    now = folder_stamp(Path(loaded.rec.data_path))
    if now is None:
        raise DashboardError(f"the dataset folder {loaded.rec.data_path} of {checkpoint.name} has disappeared; "
                             "restore it or choose another dataset folder in the sidebar")
    if now != loaded.data_stamp:  # files changed under the model: rebuild from the new files (or report them)
        loaded = _load(str(checkpoint), stamp, str(loaded.rec.data_path), now)
    return loaded


def preload() -> None:
    """Load the default model and import the pages' libraries, so the first visitor finds them ready.

    Runs in a background thread while the server starts; a page asking for the same model meanwhile waits on
    the cache's per-key lock instead of loading it twice. A failure is only logged: the page that needs the
    model shows the error in its own words.
    """
    started = time.perf_counter()
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
    get_logger("dashboard.preload").info("preloaded %s in %.1f s", files[0].name if files else "no checkpoint",
                                         time.perf_counter() - started)


@asynccontextmanager
async def preload_on_start(_app: Any) -> AsyncIterator[None]:
    """The st.App lifespan: start `preload` in the background as the server starts (it answers meanwhile)."""
    threading.Thread(target=preload, name="recsys-preload", daemon=True).start()
    yield


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
    data = st.session_state.get("view.data") or None
    try:
        with st.spinner(f"Loading {checkpoint.name} and its dataset…", show_time=True):
            loaded = load(checkpoint, data)
    except RecsysError:
        st.session_state["_model_status"] = (False, f"{checkpoint.name} could not be loaded")
        raise
    st.session_state["_model_status"] = (True, loaded.rec.describe())
    return loaded


def recommender() -> Recommender:
    return current().rec


@st.cache_resource(max_entries=16, show_spinner=False)
def _companion(checkpoint: str, stamp: Stamp, data: str, data_stamp: Stamp | None) -> Loaded | str:
    """Another checkpoint on a given dataset, or why it does not load there (cached too: failing costs seconds)."""
    try:
        return load(Path(checkpoint), data)
    except RecsysError as exc:
        return str(exc).splitlines()[0]


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
