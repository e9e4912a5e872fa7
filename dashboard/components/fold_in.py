"""Results for a listener given only by songs (picked or uploaded): their recommendations and, for any of them,
the explanation (sentence, score decomposition, the history songs behind it, the attention subgraph)."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from dashboard import resources
from dashboard.components import charts, network, tables
from dashboard.components.labels import song_label
from dashboard.components.text import md

if TYPE_CHECKING:  # importing recsys.Recommender imports torch (seconds): only when loading a model
    from recsys import Recommender

GRAPH_NODES = 24


def results(rec: Recommender, key: str, history: resources.History, k: int, colors: dict[str, str],
            name: str) -> None:
    """The top-k list for the history and an explanation of the song chosen from it."""
    frame = resources.history_recommendations(rec, key, history, k, None)
    with st.container(key="foldin-list"):  # a stable hook (.st-key-foldin-list) for browser tests
        st.markdown(f"**Top {len(frame)} for {md(name)}** · from {len(history):,} songs, no retraining")
        tables.recommendations(frame, rec.genres(), colors)
    tables.download_list(frame, {"history_songs": len(history), "k": k, "checkpoint": str(rec.checkpoint)},
                         "new_listener", key="foldin")
    mix = Counter(g for cell in frame["genres"] for g in cell)
    if mix:
        with st.expander("Genre mix of this list"):
            st.plotly_chart(charts.genre_bars(pd.DataFrame({"genre": list(mix), "songs": list(mix.values())}),
                                              colors, "songs", top=15, height=300), key="foldin-mix",
                            config=charts.CONFIG)
    if len(frame):
        explain(rec, key, history, frame)


def explain(rec: Recommender, key: str, history: resources.History, frame: pd.DataFrame) -> None:
    """'Why this song?' for one of the recommendations, answered for the folded-in listener."""
    st.subheader("Why this song?", anchor=False)
    labels = {r.track_id: f"#{r.rank} {song_label(r.title, r.artist)}" for r in frame.itertuples()}
    track = st.selectbox("Explain a recommendation", list(labels), format_func=labels.get, key="w.foldin_track")
    explanation = resources.history_explanation(rec, key, history, track, None)
    with st.container(key="foldin-explanation"):
        st.info(md(explanation["sentence"]), icon=":material/lightbulb:")
        left, right = st.columns(2, gap="large")
        left.plotly_chart(charts.score_waterfall(explanation["parts"], explanation["score"]), key="foldin-waterfall",
                          config=charts.CONFIG)
        if explanation.get("history_contributions"):
            right.plotly_chart(charts.history_bars(explanation["history_contributions"],
                                                   item_item=rec.capabilities["history"]), key="foldin-history",
                               config=charts.CONFIG)
            right.caption("The songs of this history that add most to the score")
        if st.toggle("Show the attention subgraph", key="w.foldin_graph"):  # drawn only when shown: vis.js lays
            graph = resources.history_subgraph(rec, key, history, track, GRAPH_NODES)  # out a hidden frame badly
            st.iframe(network.attention_graph_html(graph), height=520, alt="Attention subgraph")
