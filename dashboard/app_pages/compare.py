"""Compare models: every checkpoint that loads on this dataset and every stored baseline, for one listener."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from dashboard import resources, state
from dashboard.components import charts, controls, errors, report, tables, theme
from dashboard.components.text import esc, md, plural

if TYPE_CHECKING:  # importing recsys.Recommender imports torch (seconds): only when loading a model
    from recsys import Recommender

LABELS = {"popularity": "Popularity", "bprmf": "BPR-MF", "lightgcn": "LightGCN", "ease": "EASE",
          "lightgcn+ease": "LightGCN + EASE", "bprmf+ease": "BPR-MF + EASE",
          "enhanced_noattn": "Enhanced GAT, attention off"}
MAX_PER_ROW = 3  # three lists of title and artist fit beside the sidebar at 1440 px
HOW_TO_READ = """
- One list per model for the same listener: the loaded checkpoint, every other checkpoint in the folder that works
  on this dataset, and every baseline stored beside the checkpoint (`<checkpoint>.baselines.json`, written by the
  evaluation; nothing is trained here).
- **shared**: how many of the other lists hold the same song. A song every model agrees on is an easy pick; one
  only the GAT finds is where it differs.
- **Overlap**: songs shared by each pair of lists; the diagonal is each list's length.
- **Offline evaluation**: the same models' ranking quality on held-out songs.
"""


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


def baseline_lists(rec: Recommender, user: str, k: int) -> dict[str, pd.DataFrame]:
    """Top-k of every stored baseline (read from the checkpoint's baselines file; never fitted here)."""
    lists: dict[str, pd.DataFrame] = {}
    with errors.boundary("the stored baselines"):
        for name in rec.baseline_names():
            lists[LABELS.get(name, name)] = rec.recommend_baseline(name, user, k)
    return lists


def side_by_side(lists: dict[str, pd.DataFrame]) -> None:
    """One compact table per list; 'shared' counts the other lists holding the same song."""
    colors = theme.model_colors(lists)
    names = list(lists)
    rows = tables.balanced_rows(names, MAX_PER_ROW)
    for row in rows:
        for column, name in zip(st.columns(len(rows[0])), row, strict=False):
            frame = lists[name]
            others = [set(lists[o]["track_id"]) for o in names if o != name]
            shared = [sum(t in s for s in others) for t in frame["track_id"]]
            column.html(f"<b><span style='color:{colors[name]}'>●</span> {esc(name)}</b>")
            column.dataframe(frame.assign(shared=shared)[["rank", "title", "artist", "shared"]], hide_index=True,
                             width="stretch", column_config={
                                 "rank": st.column_config.NumberColumn("#", width=36),
                                 "shared": st.column_config.NumberColumn(
                                     "shared", width=60, help="How many of the other lists also hold this song")})


st.title("Compare models")
st.markdown("The same listener's top songs from every model side by side: where they agree, and where the graph "
            "attention model finds something the baselines do not.")
loaded = resources.current()
rec = loaded.rec
with st.expander("How to read this page", icon=":material/help:"):
    st.markdown(HOW_TO_READ)
user = controls.user_picker(rec)
k = controls.k_input(st.columns([1, 3])[0])
lists, skipped = gat_lists(loaded, user, k)
lists.update(baseline_lists(rec, user, k))
for file, why in skipped.items():
    st.caption(f":material/block: {md(file)} skipped: {md(why)}")
side_by_side(lists)

st.subheader("Overlap between the lists", anchor=False)
common = set.intersection(*(set(f["track_id"]) for f in lists.values()))
verb = "appears" if len(common) == 1 else "appear"
st.caption(f"{plural(len(common), 'song')} {verb} in all {plural(len(lists), 'list')}; the diagonal is each "
           "list's length.")
if len(lists) > 1:
    st.plotly_chart(charts.overlap_heatmap({n: list(f["track_id"]) for n, f in lists.items()}), key="overlap",
                    config=charts.CONFIG)

st.subheader("Offline evaluation", anchor=False)
report.evaluation_section(Path(rec.checkpoint))
