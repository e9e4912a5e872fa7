"""Widgets several pages share: the listener picker, k, the genre weight. Each is seeded from the shared view
state (`dashboard.state`) and writes back through an on_change callback, so a value survives page switches and
deep links. IDs from a link are checked against the model here, with a friendly warning and a fallback."""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from dashboard import state
from dashboard.components.text import clause, md, plural
from recsys import UnknownIdError

if TYPE_CHECKING:  # importing recsys.Recommender imports torch (seconds): only when loading a model
    from recsys import Recommender

USER_MATCHES = 50  # options shown by the picker; the search box reaches every user


def store(name: str, widget_key: str) -> None:
    """on_change callback: copy a widget's value into the shared view state."""
    state.put(name, st.session_state[widget_key])


def default_user(rec: Recommender) -> str:
    """The most active listener: a stable, interesting first view."""
    return str(rec.search_users("", limit=1)["user_id"].iat[0])


def current_user(rec: Recommender) -> str:
    """The shared user if the model knows it; otherwise a warning and the default listener."""
    user = state.get("user")
    if user is not None:
        try:
            rec.user_index(user)
            return str(user)
        except UnknownIdError as exc:
            st.warning(f"{md(clause(exc))}. Showing the most active listener instead.", icon=":material/person_off:")
    user = default_user(rec)
    state.put("user", user)
    return user


def _pick_user(widget_key: str) -> None:
    state.put("user", st.session_state[widget_key])
    state.put("track", None)  # a track chosen for the previous listener means nothing for this one


def _random_user(rec: Recommender) -> None:
    state.put("user", rec.random_user())
    state.put("track", None)


def user_picker(rec: Recommender) -> str:
    """Search box + matches + "random": works for 100K users (only USER_MATCHES options are ever built)."""
    user = current_user(rec)
    search, pick, dice = st.columns([2, 3, 1], vertical_alignment="bottom")
    query = search.text_input("Find a listener", key="w.user_query", placeholder="name or ID",
                              help="Type part of a name or ID; the list shows the most active matches.")
    matches = rec.search_users(query, limit=USER_MATCHES)
    labels = {str(r.user_id): f"{r.name} · {r.user_id} · {plural(r.interactions, 'song')}"
              for r in matches.itertuples()}
    if user not in labels:
        exact = rec.search_users(user, limit=USER_MATCHES)
        row = exact[exact["user_id"] == user]
        labels = {user: (f"{row['name'].iat[0]} · {user}" if len(row) else user), **labels}
    st.session_state["w.user"] = user
    pick.selectbox("Listener", list(labels), format_func=labels.get, key="w.user", on_change=_pick_user,
                   args=("w.user",), help=f"{plural(len(matches), 'match', 'matches')} shown" if query else None)
    dice.button("Random", icon=":material/casino:", on_click=_random_user, args=(rec,), width="stretch", key="w.random",
                help="Pick a random listener with history")
    if query and matches.empty:
        search.caption(f"No listener matches “{md(query)}”.")
    return user


def _store_k() -> None:
    """on_change of the k box: a number above MAX_K is kept at MAX_K, and the box says why (not just red)."""
    wanted = int(st.session_state["w.k"])
    st.session_state["_k_clamped"] = wanted if wanted > state.MAX_K else None
    state.put("k", min(wanted, state.MAX_K))


def k_input(container=st) -> int:
    """How many recommendations (1 to state.MAX_K; more is answered with a message and MAX_K)."""
    st.session_state["w.k"] = state.get("k")
    k = int(container.number_input("Songs to show", min_value=1, step=1, key="w.k", on_change=_store_k,
                                   help=f"1 to {state.MAX_K}"))
    asked = st.session_state.pop("_k_clamped", None)
    if asked is not None:
        st.warning(f"At most {state.MAX_K} songs can be shown (asked for {asked:,}); showing {state.MAX_K}.",
                   icon=":material/format_list_numbered:")
    return k


def _toggle_adaptive() -> None:
    state.put("genre_weight", None if st.session_state["w.gw_adaptive"] else float(st.session_state["w.gw"]))


def genre_weight_control(adaptive_weight: float, stacked: bool = False) -> float | None:
    """Adaptive toggle + slider. The slider always shows the weight in use; moving it sets a manual weight."""
    weight = state.get("genre_weight")
    st.session_state["w.gw_adaptive"] = weight is None
    st.session_state["w.gw"] = round(adaptive_weight if weight is None else weight, 2)
    toggle, slider = (st.container(), st.container()) if stacked else st.columns([1, 4], vertical_alignment="center")
    toggle.toggle("Adaptive", key="w.gw_adaptive", on_change=_toggle_adaptive,
                  help="Each listener's own genre weight, learned from how genre-focused their history is")
    slider.slider("Genre weight", 0.0, 1.0, step=0.05, key="w.gw", format="%.2f", on_change=store,
                  args=("genre_weight", "w.gw"),
                  help="0: collaborative signal only · 1: genre match counts fully. Re-ranks instantly.")
    return state.get("genre_weight")


def track_label(rec: Recommender, track: str, fallback: str) -> str | None:
    """'title · artist' of a track the model knows; for an unknown one a warning ending in ``fallback``, and None."""
    try:
        rec.track_index(track)
    except UnknownIdError as exc:
        st.warning(f"{md(clause(exc))}. {fallback}", icon=":material/music_off:")
        return None
    found = rec.search_tracks(track, limit=USER_MATCHES)
    row = found[found["track_id"] == track]
    return f"{row['title'].iat[0]} · {row['artist'].iat[0]}" if len(row) else track
