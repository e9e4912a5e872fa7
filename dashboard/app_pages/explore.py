"""Catalogue & embeddings: the learned embedding space, a song's nearest neighbours, search, genres, activity."""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from dashboard import resources, state
from dashboard.components import charts, controls, tables, theme
from dashboard.components.text import md, plural

if TYPE_CHECKING:  # importing recsys.Recommender imports torch (seconds): only when loading a model
    from recsys import Recommender

SAMPLES = [500, 1000, 2000, 5000]
HOW_TO_READ = """
- **Embedding space**: every dot is a song (or a listener) placed by the model's learned vectors, flattened to two
  dimensions (PCA): close dots are songs the model treats alike. Colour is the (main) genre.
- **Nearest songs**: the songs whose vectors point the most the same way (cosine similarity, -1 to 1).
- **Catalogue**: search by title, artist or ID; *listeners* counts training listeners per song.
- **Listeners**: how many songs each listener has in training, and the most active ones.
"""


def pick_track(rec: Recommender) -> str | None:
    """Search the catalogue and pick one song (the shared track is preselected when the model knows it)."""
    query = st.text_input("Find a song", key="w.track_query", placeholder="title, artist or ID")
    found = rec.search_tracks(query, limit=50)
    labels = {r.track_id: f"{r.title} · {r.artist} ({plural(int(r.listeners), 'listener')})"
              for r in found.itertuples()}
    track = state.get("track")
    if track is not None and track not in labels:
        label = controls.track_label(rec, track, "Pick a song from the catalogue instead.")
        labels, track = ({track: label, **labels}, track) if label else (labels, None)
    if not labels:
        st.caption(f"No song matches “{md(query)}”.")
        return None
    st.session_state["w.explore_track"] = track if track in labels else next(iter(labels))
    chosen = st.selectbox("Song", list(labels), format_func=labels.get, key="w.explore_track")
    state.put("track", chosen)
    return chosen


st.title("Catalogue & embeddings")
st.markdown("The catalogue as the model sees it: which songs it places together, what is in the catalogue, and "
            "how active the listeners are.")
loaded = resources.current()
rec = loaded.rec
with st.expander("How to read this page", icon=":material/help:"):
    st.markdown(HOW_TO_READ)
palette = theme.genre_colors(rec.genres())
space, catalogue, listeners = st.tabs(["Embedding space", "Catalogue", "Listeners"])

with space:
    controls_col, chart_col = st.columns([1, 2], gap="large")
    with controls_col:
        track = pick_track(rec)
        if track is not None:
            st.markdown("**Nearest songs** (cosine of the final embeddings)")
            tables.tracks(rec.similar_tracks(track, k=10)[["title", "artist", "similarity"]],
                          rec.genres(), palette, value="similarity")
    with chart_col:
        kind_col, sample_col = st.columns(2)
        node_type = kind_col.segmented_control("Show", ["song", "user"], default="song", key="w.proj_type",
                                               format_func=lambda t: {"song": "Songs", "user": "Listeners"}[t])
        sample = sample_col.select_slider("Sample", SAMPLES, value=2000, key="w.proj_sample")
        frame = resources.projection(rec, loaded.key, node_type or "song", sample)
        st.plotly_chart(charts.embedding_scatter(frame, palette, highlight=track), key="projection",
                        config=charts.CONFIG)
        st.caption("PCA of the model's final embeddings, coloured by (main) genre; the star is the chosen song "
                   "when it is in the sample.")

with catalogue:
    query = st.text_input("Search songs", key="w.catalogue_query", placeholder="title, artist or ID")
    tables.tracks(rec.search_tracks(query, limit=200), rec.genres(), palette, value="listeners")
    st.caption("Most listened first (training listeners); at most 200 rows.")
    rollup = st.toggle("Roll up to parent genres", key="w.catalogue_rollup",
                       help="Add each sub-genre (e.g. Indie Rock) into its top-level genre (Rock)")
    distribution = rec.genre_distribution(rollup=rollup)
    if distribution.empty:
        st.info(theme.NO_GENRES, icon=":material/label_off:")
    else:
        st.plotly_chart(charts.genre_bars(distribution, palette, "songs", top=35, height=620), key="catalogue-genres",
                        config=charts.CONFIG)

with listeners:
    users = rec.search_users("", limit=len(rec.users()))
    left, right = st.columns([3, 2], gap="large")
    left.plotly_chart(charts.activity_histogram(users["interactions"].tolist()), key="activity",
                      config=charts.CONFIG)
    right.dataframe(users.head(100), hide_index=True, width="stretch", column_config={
        "interactions": st.column_config.ProgressColumn("songs", format="%d", min_value=0,
                                                        max_value=int(users["interactions"].max() or 1))})
    right.caption("The 100 most active listeners")
