"""Compare models: every checkpoint that loads on this dataset and the baselines, for one listener, side by side."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from dashboard import resources, state
from dashboard.components import charts, controls, errors, report, theme
from dashboard.components.text import esc, md

if TYPE_CHECKING:  # importing recsys.Recommender imports torch (seconds): only when loading a model
    from recsys import Recommender

BASELINES = {"popularity": "Popularity", "ease": "EASE", "bprmf": "BPR-MF (tens of seconds)",
             "lightgcn": "LightGCN (tens of seconds)"}
PER_ROW = 3


def gat_lists(loaded: resources.Loaded, user: str, k: int) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """Top-k of the current model and of every other checkpoint on its dataset; why the others were skipped."""
    setting = state.get("genre_weight")
    lists = {_name(loaded.rec): loaded.rec.recommend(user, k, genre_weight=setting)}
    with st.spinner("Loading the other checkpoints (once)…", show_time=True):
        others = resources.companions(loaded)
    skipped = {}
    for file, other in others.items():
        if isinstance(other, str):
            skipped[file] = other
        else:
            lists[_name(other.rec)] = other.rec.recommend(user, k, genre_weight=setting)
    return lists, skipped


def _name(rec: Recommender) -> str:
    return f"{rec.model_type}_gat ({Path(rec.checkpoint).name})"


def baseline_lists(rec: Recommender, names: list[str], user: str, k: int) -> dict[str, pd.DataFrame]:
    """Top-k of each chosen baseline (fitted on first use, then cached inside the service)."""
    lists = {}
    for name in names:
        with errors.boundary(f"the {name} baseline"):
            started = time.perf_counter()
            with st.spinner(f"Fitting {BASELINES[name]} on the training graph (once per model)…", show_time=True):
                lists[name] = rec.recommend_baseline(name, user, k)
            lists[name].attrs["seconds"] = time.perf_counter() - started
    return lists


def side_by_side(lists: dict[str, pd.DataFrame]) -> None:
    """One compact table per list; 'shared' counts the other lists holding the same song."""
    colors = theme.model_colors(lists)
    names = list(lists)
    for start in range(0, len(names), PER_ROW):
        for column, name in zip(st.columns(min(PER_ROW, len(names))), names[start:start + PER_ROW], strict=False):
            frame = lists[name]
            others = [set(lists[o]["track_id"]) for o in names if o != name]
            shared = [sum(t in s for s in others) for t in frame["track_id"]]
            column.html(f"<b><span style='color:{colors[name]}'>●</span> {esc(name)}</b>")
            column.dataframe(frame.assign(shared=shared)[["rank", "title", "artist", "shared"]], hide_index=True,
                             width="stretch", column_config={
                                 "rank": st.column_config.NumberColumn("#", width=40),
                                 "shared": st.column_config.NumberColumn(
                                     "shared", width=60, help="How many of the other lists also hold this song")})


def _keep_baselines() -> None:
    """Remember the chosen baselines for the session (they are not part of the link: fitting can take long)."""
    st.session_state["view.baselines"] = st.session_state["w.baselines"]


st.title("Compare models")
loaded = resources.current()
rec = loaded.rec
user = controls.user_picker(rec)
k_col, base_col = st.columns([1, 3], vertical_alignment="bottom")
k = controls.k_input(k_col)
st.session_state["w.baselines"] = st.session_state.get("view.baselines", [])
chosen = base_col.multiselect("Baselines", list(BASELINES), format_func=BASELINES.get, key="w.baselines",
                              on_change=_keep_baselines, placeholder="add baselines (fitted on demand)")
lists, skipped = gat_lists(loaded, user, k)
lists.update(baseline_lists(rec, chosen, user, k))
for file, why in skipped.items():
    st.caption(f":material/block: {md(file)} skipped: {md(why)}")
side_by_side(lists)

st.subheader("Overlap between the lists", anchor=False)
common = set.intersection(*(set(f["track_id"]) for f in lists.values()))
st.caption(f"{len(common)} song(s) appear in all {len(lists)} lists; the diagonal is each list's length.")
if len(lists) > 1:
    st.plotly_chart(charts.overlap_heatmap({n: list(f["track_id"]) for n, f in lists.items()}), key="overlap")

st.subheader("Offline evaluation", anchor=False)
report.evaluation_section(Path(rec.checkpoint))
