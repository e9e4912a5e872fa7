"""New listener: no history yet, only a few favourite genres. What would the model play first?"""

from __future__ import annotations

from collections import Counter

import pandas as pd
import streamlit as st

from dashboard import resources, state
from dashboard.components import charts, controls, tables, theme
from dashboard.components.text import md


def chosen_genres(known: list[str]) -> list[str]:
    """The shared genre choice, minus names this dataset does not have (with a warning)."""
    wanted = list(state.get("genres"))
    unknown = [g for g in wanted if g not in known]
    if unknown:
        st.warning(f"Unknown genre(s) {md(', '.join(unknown))} ignored; this dataset has {len(known)} genres.",
                   icon=":material/label_off:")
        state.put("genres", tuple(g for g in wanted if g in known))
    return [g for g in wanted if g in known]


def _store_genres() -> None:
    state.put("genres", tuple(st.session_state["w.genres"]))


st.title("New listener")
st.caption("A listener who just signed up names a few genres: the model blends popularity with the genres' "
           "learned embeddings and the songs' genre mix.")
loaded = resources.current()
rec = loaded.rec
genres = sorted(rec.genres())
palette = theme.genre_colors(genres)

pick_col, k_col = st.columns([4, 1], vertical_alignment="bottom")
st.session_state["w.genres"] = chosen_genres(genres)
picked = pick_col.multiselect("Favourite genres", genres, key="w.genres", on_change=_store_genres,
                              max_selections=state.MAX_GENRES, placeholder="choose one or more genres")
k = controls.k_input(k_col)

frame = rec.recommend_for_genres(picked, k)
if picked:
    st.markdown(" ".join(f":material/music_note: **{md(g)}**" for g in picked))
else:
    st.info("No genre chosen yet: these are the most popular songs. Pick genres to personalise.",
            icon=":material/trending_up:")
tables.recommendations(frame, genres, palette)
tables.download_list(frame, {"genres": picked, "k": k, "strategy": frame.attrs.get("strategy"),
                             "checkpoint": str(rec.checkpoint)}, "cold_start", key="cold")

st.subheader("Genre mix of this list", anchor=False)
mix = Counter(g for cell in frame["genres"] for g in str(cell).split(", ") if g)
if mix:
    mix_frame = pd.DataFrame({"genre": list(mix), "songs": list(mix.values())})
    st.plotly_chart(charts.genre_bars(mix_frame, palette, "songs", top=15, height=320), key="cold-mix")
    st.caption("How many of the recommended songs carry each genre (songs can have several).")
