"""New listener: no trained history, only a few favourite genres, a few songs they love, or an uploaded listening
export. Songs and uploads are folded into the trained model (no retraining); genres blend popularity with genres."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from dashboard import resources, state
from dashboard.components import charts, controls, fold_in, tables, theme, upload
from dashboard.components.labels import song_label, visible
from dashboard.components.text import md

if TYPE_CHECKING:  # importing recsys.Recommender imports torch (seconds): only when loading a model
    from recsys import Recommender

STARTS = {"genres": "Genres they like", "songs": "Songs they love", "upload": "Their listening history (upload)"}
MATCHES = 50


def chosen_genres(known: list[str]) -> list[str]:
    """The shared genre choice, minus names this dataset does not have (with a warning)."""
    wanted = list(state.get("genres"))
    unknown = [g for g in wanted if g not in known]
    if unknown:
        st.warning(f"Unknown genre(s) {md(visible(', '.join(unknown), 120))} ignored; this dataset has {len(known)} "
                   "genres.", icon=":material/label_off:")
        state.put("genres", tuple(g for g in wanted if g in known))
    return [g for g in wanted if g in known]


def chosen_songs(rec: Recommender, key: str) -> tuple[str, ...]:
    """The shared song choice, minus IDs the catalogue does not have (with a warning)."""
    known = resources.catalogue(rec, key).index
    wanted = state.get("songs")
    unknown = [t for t in wanted if t not in known]
    if unknown:
        st.warning(f"Unknown song ID(s) {md(visible(', '.join(unknown), 120))} ignored.", icon=":material/music_off:")
        state.put("songs", tuple(t for t in wanted if t in known))
    return state.get("songs")


def _store(name: str, widget_key: str) -> None:
    state.put(name, tuple(st.session_state[widget_key]))


def from_genres(rec: Recommender, k: int, palette: dict[str, str]) -> None:
    genres = sorted(rec.genres())
    st.session_state["w.genres"] = chosen_genres(genres)
    picked = st.multiselect("Favourite genres", genres, key="w.genres", on_change=_store, args=("genres", "w.genres"),
                            max_selections=state.MAX_GENRES, placeholder="choose one or more genres")
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
    mix = Counter(g for cell in frame["genres"] for g in cell)
    if mix:
        mix_frame = pd.DataFrame({"genre": list(mix), "songs": list(mix.values())})
        st.plotly_chart(charts.genre_bars(mix_frame, palette, "songs", top=15, height=320), key="cold-mix",
                        config=charts.CONFIG)
        st.caption("How many of the recommended songs carry each genre (songs can have several).")


def from_songs(rec: Recommender, key: str, k: int, palette: dict[str, str]) -> None:
    known = resources.catalogue(rec, key)
    picked = chosen_songs(rec, key)
    search, pick = st.columns([2, 3], vertical_alignment="bottom")
    query = search.text_input("Find songs", key="w.songs_query", placeholder="title, artist or ID")
    offered = rec.search_tracks(query, limit=MATCHES)["track_id"].tolist()
    st.session_state["w.songs"] = list(picked)
    pick.multiselect("Songs they love", list(dict.fromkeys([*picked, *offered])), key="w.songs", on_change=_store,
                     select_all=False,
                     args=("songs", "w.songs"), max_selections=state.MAX_EDITS,
                     format_func=lambda t: song_label(known.at[t, "title"], known.at[t, "artist"]),
                     placeholder="pick three songs or more", help="The search shows the most listened matches first")
    if query and not offered:
        search.caption(f"No song matches “{md(visible(query, 60))}”.")
    if not picked:
        st.info("Pick a few songs they love: the model folds them in as this listener's history.",
                icon=":material/library_music:")
        return
    fold_in.results(rec, key, tuple((t, 1.0) for t in picked), k, palette, f"{len(picked)} picked songs")


def from_upload(rec: Recommender, key: str, k: int, palette: dict[str, str]) -> None:
    uploaded = upload.upload_box(rec, key)
    if uploaded is None:
        st.info("Upload an export (Spotify, Spotify extended, Last.fm CSV or ListenBrainz). It is read in memory, "
                "matched to this model's songs, and forgotten when the session ends.", icon=":material/upload_file:")
        return
    upload.match_report(uploaded)
    fold_in.results(rec, key, uploaded.history, k, palette, uploaded.name)


def _store_start() -> None:
    state.put("start", st.session_state["w.start"])


st.title("New listener")
st.caption("Someone who just signed up: name a few genres, pick songs they love, or upload their listening history "
           "from another service. Songs are folded into the trained model: no retraining.")
loaded = resources.current()
rec = loaded.rec
palette = theme.genre_colors(rec.genres())
start = state.get("start") or ("songs" if state.get("songs") else "genres")
st.session_state["w.start"] = start
mode_col, k_col = st.columns([4, 1], vertical_alignment="bottom")
mode_col.radio("Start from", list(STARTS), format_func=STARTS.get, key="w.start", horizontal=True,
               on_change=_store_start)
k = controls.k_input(k_col)
if start == "genres":
    from_genres(rec, k, palette)
elif start == "songs":
    from_songs(rec, loaded.key, k, palette)
else:
    from_upload(rec, loaded.key, k, palette)
