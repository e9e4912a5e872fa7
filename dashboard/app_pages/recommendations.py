"""Recommendations: pick a listener, see their profile and a top-k list that re-ranks live with the genre weight."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd
import streamlit as st

from dashboard import resources, state
from dashboard.components import charts, controls, errors, tables, theme
from dashboard.components.text import md, plural
from recsys import RecsysError

if TYPE_CHECKING:  # importing recsys.Recommender imports torch (seconds): only when loading a model
    from recsys import Recommender

PAGE = "recommendations"
HALF_LIVES = [7, 14, 30, 60, 90, 180, 365]  # days; "recent taste" weighs a play from one half-life ago half
HOW_TO_READ = """
- **Score** is how strongly the model expects this listener to play a song; the list is sorted by it. Only the
  order matters: scores of different listeners or models are not on one scale.
- The bar's parts: *without genres* is what the model learned from who listens to what (the graph embedding and,
  where the model has it, the listening-history term); *genre part* is the genre weight times how well the song's
  genres match the listener's.
- **Genre weight** (models with a genre part): 0 ignores genres, 1 counts the genre match fully; *Adaptive* uses
  each listener's own weight, learned from how genre-focused their history is. Moving it re-ranks at once and
  marks each song ▲ up, ▼ down, = same place or ✦ new.
- **Recent taste** weighs the genre shares by how recently each song was played (half-life in days), so a
  listener whose taste moved gets more of what they play now.
- **Genre shares over time**: each month's plays split by genre (the listener's training history).
"""


def profile_card(rec: Recommender, profile: dict[str, Any], colors: dict[str, str], adaptive: bool) -> None:
    """Who the listener is: counts, favourite genres and artists, latest songs."""
    with st.container(border=True):
        st.markdown(f"#### {md(profile['name'])}")
        st.caption(f"Listener {md(profile['user_id'])}")
        cells = st.columns(5 if adaptive else 4)
        cells[0].metric("Songs", f"{profile['interactions']:,}", help="Distinct songs in the training history")
        cells[1].metric("Plays", f"{profile['plays']:,}", help="Plays of those songs")
        cells[2].metric("Artists", f"{profile['artists']:,}")
        cells[3].metric("Held out", f"{sum(profile['held_out'].values()):,}",
                        help="Songs kept aside for validation and test: the model never saw them")
        if adaptive:
            cells[4].metric("Adaptive genre weight", f"{profile['adaptive_genre_weight']:.2f}",
                            help="This listener's own genre weight (0-1), learned from how genre-focused they are")
        genres, artists, recent = st.columns([2, 2, 3], gap="medium")
        if profile["top_genres"]:
            frame = pd.DataFrame(profile["top_genres"])
            genres.plotly_chart(charts.genre_bars(frame, colors, "share", top=8, height=260), key="profile-genres",
                                config=charts.CONFIG)
        genres.caption("Share of plays by genre")
        artists.dataframe(pd.DataFrame(profile["top_artists"], columns=["artist", "plays"]), hide_index=True,
                          height=260, width="stretch")
        artists.caption("Top artists")
        with recent:
            recent_frame = pd.DataFrame(profile["recent"], columns=["title", "artist", "plays"])
            tables.tracks(recent_frame, rec.genres(), colors)
            st.caption("Most recent songs")


def drift_section(rec: Recommender, key: str, user: str, colors: dict[str, str]) -> None:
    """The listener's monthly genre shares (stacked areas), optionally rolled up to top-level genres."""
    with st.container(key="drift"):  # a stable hook (.st-key-drift) for browser tests
        _drift(rec, key, user, colors)


def _drift(rec: Recommender, key: str, user: str, colors: dict[str, str]) -> None:
    heading, toggle = st.columns([3, 2], vertical_alignment="center")
    heading.markdown("**Genre shares over time**")
    rollup = toggle.toggle("Roll up to parent genres", key="w.drift_rollup",
                           help="Add each sub-genre (e.g. Indie Rock) into its top-level genre (Rock)")
    try:
        frame, period = resources.drift(rec, key, user, rollup)
    except RecsysError as exc:  # a dataset without play dates (Last.fm) has no drift: said, not an error box
        st.caption(f"No genre shares over time: {md(exc)}.")
        return
    if frame.empty:
        st.caption("No dated plays with genres for this listener, so there is nothing to draw over time.")
        return
    st.plotly_chart(charts.genre_drift(frame, colors), key="drift-chart", config=charts.CONFIG)
    st.caption(f"Share of each {period}'s training plays by genre, over {plural(frame['period'].nunique(), period)}; "
               f"the {charts.DRIFT_GENRES} biggest genres by name, the rest as “{charts.OTHER}”.")


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


def recent_taste() -> float | None:
    """The "recent taste" toggle and its half-life (days), or None for all plays counted alike."""
    toggle, slider = st.columns([1, 4], vertical_alignment="center")
    if not toggle.toggle("Recent taste", key="w.recent",
                         help="Weigh the listener's genre shares by how recently they played each song"):
        return None
    return float(slider.select_slider("Half-life (days)", HALF_LIVES, value=30, key="w.half_life",
                                      help="A play this many days before the listener's last one counts half"))


@st.fragment
def ranked_list(rec: Recommender, key: str, user: str, k: int, adaptive: float, colors: dict[str, str]) -> None:
    """The genre-weight control and the list it re-ranks; only this part reruns when the slider moves."""
    with errors.boundary("the recommendations"):
        genre_part = rec.capabilities["genre"]
        setting = controls.genre_weight_control(adaptive) if genre_part else None
        half_life = recent_taste() if genre_part else None
        frame = rec.recommend(user, k, genre_weight=setting, half_life_days=half_life)
        if frame.attrs.get("strategy", "personalised") != "personalised":
            st.info(f"Strategy: {md(frame.attrs['strategy'])}.", icon=":material/info:")
        if frame.attrs.get("note"):
            st.caption(md(frame.attrs["note"]))
        used = float(frame["genre_weight"].iat[0]) if len(frame) else 0.0
        before, before_setting = remember((key, user, k, half_life), setting, list(frame["track_id"]))
        moves = tables.rank_moves(list(frame["track_id"]), before)
        if genre_part:
            summary = f"Genre weight **{describe(setting, used)}**"
            summary += f" · recent taste, half-life {half_life:.0f} days" if half_life else ""
            if before is not None:
                summary += f" · against {'adaptive' if before_setting is None else f'{before_setting:.2f}'}: "
                summary += tables.move_summary(moves)
        else:
            summary = "This model has no genre part: the list comes from the listening graph alone."
        with st.container(key="ranking"):  # a stable hook (.st-key-ranking) for browser tests
            st.markdown(summary)
            tables.recommendations(frame, rec.genres(), colors, moves, genre_part=genre_part)
        meta = {"user_id": user, "k": k, "genre_weight": setting if setting is not None else "adaptive",
                "genre_weight_used": used, "half_life_days": half_life, "model": rec.model_type,
                "checkpoint": str(rec.checkpoint)}
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
st.markdown("Pick a listener: who they are, how their taste moved, and the songs the model would play them next.")
loaded = resources.current()
rec = loaded.rec
with st.expander("How to read this page", icon=":material/help:"):
    st.markdown(HOW_TO_READ)
user = controls.user_picker(rec)
profile = resources.profile(rec, loaded.key, user)
palette = theme.genre_colors(rec.genres())
profile_card(rec, profile, palette, rec.capabilities["adaptive_weight"])
drift_section(rec, loaded.key, user, palette)
heading, k_col = st.columns([4, 1], vertical_alignment="bottom")
heading.subheader("Top songs", anchor=False)
k = controls.k_input(k_col)
ranked_list(rec, loaded.key, user, k, profile["adaptive_genre_weight"], palette)
