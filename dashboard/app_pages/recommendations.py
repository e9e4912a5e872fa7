"""Recommendations: pick a listener, see their profile and a top-k list that re-ranks live with the genre weight."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd
import streamlit as st

from dashboard import resources, state
from dashboard.components import charts, controls, errors, history_editor, tables, theme
from dashboard.components.text import md

if TYPE_CHECKING:  # importing recsys.Recommender imports torch (seconds): only when loading a model
    from recsys import Recommender

PAGE = "recommendations"


def profile_card(rec: Recommender, profile: dict[str, Any], colors: dict[str, str]) -> None:
    """Who the listener is: counts, favourite genres and artists, latest songs."""
    with st.container(border=True):
        st.markdown(f"#### {md(profile['name'])}")
        st.caption(f"Listener {md(profile['user_id'])}")
        cells = st.columns(5)
        cells[0].metric("Songs", f"{profile['interactions']:,}")
        cells[1].metric("Plays", f"{profile['plays']:,}")
        cells[2].metric("Artists", f"{profile['artists']:,}")
        cells[3].metric("Held out", f"{sum(profile['held_out'].values()):,}", help="valid + test songs, unseen")
        cells[4].metric("Adaptive genre weight", f"{profile['adaptive_genre_weight']:.2f}")
        genres, artists, recent = st.columns([2, 2, 3], gap="medium")
        if profile["top_genres"]:
            frame = pd.DataFrame(profile["top_genres"])
            genres.plotly_chart(charts.genre_bars(frame, colors, "share", top=8, height=260), key="profile-genres")
        genres.caption("Share of plays by genre")
        artists.dataframe(pd.DataFrame(profile["top_artists"], columns=["artist", "plays"]), hide_index=True,
                          height=260, width="stretch")
        artists.caption("Top artists")
        with recent:
            recent_frame = pd.DataFrame(profile["recent"], columns=["title", "artist", "genres", "plays"])
            tables.tracks(recent_frame, rec.genres(), colors)
            st.caption("Most recent songs")


def remember(context: tuple, setting: float | None, order: list[str]) -> tuple[list[str] | None, Any]:
    """The previous list and its genre-weight setting for this listener and k (None on the first view)."""
    last = st.session_state.get("_ranking")
    if last is None or last["context"] != context:
        last = {"context": context, "setting": setting, "order": order, "before": None, "before_setting": None}
    elif last["setting"] != setting:
        last = {**last, "before": last["order"], "before_setting": last["setting"], "setting": setting,
                "order": order}
    st.session_state["_ranking"] = last
    return last["before"], last["before_setting"]


def describe(setting: float | None, used: float) -> str:
    return f"adaptive ({used:.2f})" if setting is None else f"{setting:.2f}"


@st.fragment
def ranked_list(rec: Recommender, key: str, user: str, k: int, adaptive: float, colors: dict[str, str]) -> None:
    """The genre-weight control and the list it re-ranks; only this part reruns when the slider moves."""
    with errors.boundary("the recommendations"):
        setting = controls.genre_weight_control(adaptive)
        frame = history_editor.recommend(rec, key, user, k, setting)
        if frame.attrs.get("strategy", "personalised") != "personalised":
            st.info(f"Strategy: {md(frame.attrs['strategy'])}.", icon=":material/info:")
        if frame.attrs.get("note"):
            st.caption(md(frame.attrs["note"]))
        used = float(frame["genre_weight"].iat[0]) if len(frame) else 0.0
        before, before_setting = remember((key, user, k, history_editor.edited_history(rec, key, user)), setting,
                                          list(frame["track_id"]))
        moves = tables.rank_moves(list(frame["track_id"]), before)
        summary = f"Genre weight **{describe(setting, used)}**"
        if before is not None:
            summary += f" · against {'adaptive' if before_setting is None else f'{before_setting:.2f}'}: "
            summary += tables.move_summary(moves)
        with st.container(key="ranking"):  # a stable hook (.st-key-ranking) for browser tests
            st.markdown(summary)
            tables.recommendations(frame, rec.genres(), colors, moves)
        meta = {"user_id": user, "k": k, "genre_weight": setting if setting is not None else "adaptive",
                "genre_weight_used": used, "model": rec.model_type, "checkpoint": str(rec.checkpoint)}
        tables.download_list(frame, meta, f"recommendations_{user}", key="recs")
        if len(frame):
            labels = {r.track_id: f"#{r.rank} {r.title} · {r.artist}" for r in frame.itertuples()}
            pick, go = st.columns([4, 1], vertical_alignment="bottom")
            track = pick.selectbox("Explain a recommendation", list(labels), format_func=labels.get, key="w.explain")
            if go.button("Why this song?", icon=":material/psychology:", type="primary", width="stretch",
                         key="w.explain_go"):
                state.put("track", track)
                st.switch_page("app_pages/explanation.py")
        state.publish(PAGE)


st.title("Recommendations")
loaded = resources.current()
rec = loaded.rec
user = controls.user_picker(rec)
history_editor.editor(rec, loaded.key, user)
profile = history_editor.profile(rec, loaded.key, user)
palette = theme.genre_colors(rec.genres())
profile_card(rec, profile, palette)
heading, k_col = st.columns([4, 1], vertical_alignment="bottom")
heading.subheader("Top songs", anchor=False)
k = controls.k_input(k_col)
ranked_list(rec, loaded.key, user, k, profile["adaptive_genre_weight"], palette)
