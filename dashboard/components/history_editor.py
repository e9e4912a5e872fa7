"""What-if editing: a trained listener's history with songs removed or added, answered by fold-in (no retraining).

The edit lives in the shared view state (``add`` / ``drop``, in the URL as ``?user=u1&add=t1,t2&drop=t3``) and
belongs to ``view.edit_user``. Pages call the drop-ins below instead of the trained-listener calls: with no edit they
are exactly ``rec.recommend`` / ``rec.explain`` / ``rec.attention_subgraph`` / ``rec.user_profile`` (cached);
with an edit they go through ``recommend_for_history`` and friends with the edited history.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import pandas as pd
import streamlit as st

from dashboard import resources, state
from dashboard.components.labels import song_label, visible
from dashboard.components.text import md

if TYPE_CHECKING:  # importing recsys.Recommender imports torch (seconds): only when loading a model
    from recsys import Recommender

MATCHES = 50  # songs offered by the add picker per search; the search box reaches the whole catalogue
_warmed: set[str] = set()  # model keys whose fold-in has been warmed up (one per server and model)


def _own(user: str) -> None:
    """Edits belong to one listener: choosing another one starts from their real history."""
    if st.session_state.get("view.edit_user") != user:
        for name in state.EDIT_PARAMS:
            state.put(name, ())
        st.session_state["view.edit_user"] = user


def _checked_edit(rec: Recommender, key: str, user: str) -> tuple[pd.DataFrame, tuple[str, ...], tuple[str, ...]]:
    """(the listener's training history, songs to add, songs to drop), with impossible edits removed and reported."""
    _own(user)
    base = resources.user_history(rec, key, user)
    known = resources.catalogue(rec, key)
    heard = set(base["track_id"])
    add, drop = state.get("add"), state.get("drop")
    unknown = [t for t in add if t not in known.index]
    strays = [t for t in drop if t not in heard]
    if unknown:
        st.warning(f"Ignored {len(unknown)} unknown song ID(s) in the edit: {md(visible(', '.join(unknown), 120))}.",
                   icon=":material/music_off:")
    if strays:
        st.warning(f"Ignored {len(strays)} song(s) to remove that this listener never played: "
                   f"{md(visible(', '.join(strays), 120))}.", icon=":material/music_off:")
    add = tuple(t for t in add if t in known.index and t not in heard)
    drop = tuple(t for t in drop if t in heard)
    if len(drop) == len(base) and not add:  # an empty history has nothing to fold in
        st.warning("A listener needs at least one song: the last one stays.", icon=":material/info:")
        drop = drop[:-1]
    state.put("add", add)
    state.put("drop", drop)
    return base, add, drop


def edited_history(rec: Recommender, key: str, user: str) -> resources.History | None:
    """The edited history as (track_id, plays) pairs, or None when the listener is unedited.

    An added song counts as many plays as the listener's median song, so it weighs like a typical listen.
    """
    _own(user)
    add, drop = state.get("add"), state.get("drop")
    if not add and not drop:
        return None
    base = resources.user_history(rec, key, user)
    kept = base[~base["track_id"].isin(drop)]
    weight = float(max(1.0, base["plays"].median())) if len(base) else 1.0
    return (*((str(t), float(p)) for t, p in zip(kept["track_id"], kept["plays"], strict=True)),
            *((t, weight) for t in add if t not in set(base["track_id"])))


def _warm_up(rec: Recommender, key: str, track: str) -> None:
    """Fold in a one-song history in the background while the listener reads the page: the first fold-in of a model
    computes its per-layer representations (615 ms at the default scale, then about 80 ms per new history), so
    the first edit does not pay for it. The Recommender is thread-safe; the result is only cached by the service."""
    if key not in _warmed:
        _warmed.add(key)
        threading.Thread(target=rec.recommend_for_history, args=([track], 1), daemon=True).start()


def _reset() -> None:
    for name in state.EDIT_PARAMS:
        state.put(name, ())


def _store_drop() -> None:
    state.put("drop", tuple(st.session_state["w.drop"]))


def _store_add() -> None:
    state.put("add", tuple(st.session_state["w.add"]))


def badge(add: tuple[str, ...], drop: tuple[str, ...]) -> None:
    """The "edited" badge and the reset button, or an empty slot for a real history.

    The slot is there either way, so that a first edit fills it instead of shifting every element after it
    (Streamlit addresses elements by position, and the browser re-creates shifted ones).
    """
    with st.container(key="edit-status"):
        if not add and not drop:
            return
        with st.container(key="edited-badge", horizontal=True, vertical_alignment="center"):
            st.badge(f"Edited history: {len(add)} added, {len(drop)} removed", icon=":material/edit:",
                     color="orange")
            st.caption("Answers come from folding the edited history into the trained model (no retraining).")
            st.button("Reset to the real history", icon=":material/restart_alt:", on_click=_reset, key="w.edit_reset")


def editor(rec: Recommender, key: str, user: str) -> None:
    """Remove songs from and add songs to the listener's history; every answer on the page follows the edit."""
    base, add, drop = _checked_edit(rec, key, user)
    if len(base):
        _warm_up(rec, key, str(base["track_id"].iat[0]))
    badge(add, drop)
    known = resources.catalogue(rec, key)
    with st.expander(f"What if… edit this listener's history ({len(base):,} songs)", icon=":material/edit_note:",
                     expanded=bool(add or drop)):
        remove_col, add_col = st.columns(2, gap="large")
        labels = {str(r.track_id): song_label(r.title, r.artist, f"{r.plays:g} plays") for r in base.itertuples()}
        st.session_state["w.drop"] = list(drop)
        remove_col.multiselect("Remove songs", list(labels), format_func=labels.get, key="w.drop", select_all=False,
                               on_change=_store_drop, max_selections=max(len(base) - 1 + len(add), 1),
                               placeholder="songs they had not played", help="The listener's training history")
        query = add_col.text_input("Find songs to add", key="w.add_query", placeholder="title, artist or ID")
        found = rec.search_tracks(query, limit=MATCHES + len(base))
        offered = [t for t in found["track_id"] if t not in labels][:MATCHES]
        options = list(dict.fromkeys([*add, *offered]))
        st.session_state["w.add"] = list(add)
        add_col.multiselect("Add songs", options, key="w.add", on_change=_store_add, max_selections=state.MAX_EDITS,
                            select_all=False,
                            format_func=lambda t: song_label(known.at[t, "title"], known.at[t, "artist"]),
                            placeholder="songs they might have played",
                            help=f"Up to {MATCHES} matches of the search; each counts like a typical listen")
        if query and not offered:
            add_col.caption(f"No song matches “{md(visible(query, 60))}”.")


# ---- drop-ins for the trained-listener calls ------------------------------------------------------------------------
def recommend(rec: Recommender, key: str, user: str, k: int, genre_weight: float | None,
              half_life_days: float | None = None) -> pd.DataFrame:
    """The top-k; "recent taste" (``half_life_days``) needs play dates, so an edited history says it is ignored."""
    history = edited_history(rec, key, user)
    if history is None:
        return rec.recommend(user, k, genre_weight=genre_weight, half_life_days=half_life_days)
    if half_life_days is not None:
        st.caption("Recent taste applies to the real history only: the edited one is folded in as a whole.")
    return resources.history_recommendations(rec, key, history, k, genre_weight)


def explanation(rec: Recommender, key: str, user: str, track: str, genre_weight: float | None,
                counterfactual: bool = False) -> dict[str, Any]:
    history = edited_history(rec, key, user)
    if history is None:
        return resources.explanation(rec, key, user, track, genre_weight, counterfactual=counterfactual)
    return resources.history_explanation(rec, key, history, track, genre_weight, counterfactual=counterfactual)


def subgraph(rec: Recommender, key: str, user: str, track: str, max_nodes: int, genre_weight: float | None = None,
             focus: bool = False) -> dict[str, Any]:
    history = edited_history(rec, key, user)
    if history is None:
        return resources.subgraph(rec, key, user, track, max_nodes, genre_weight, focus)
    return resources.history_subgraph(rec, key, history, track, max_nodes, genre_weight, focus)


def profile(rec: Recommender, key: str, user: str) -> dict[str, Any]:
    """The listener's profile; for an edited history the counts, genre shares and top artists of the edit."""
    real = resources.profile(rec, key, user)
    history = edited_history(rec, key, user)
    if history is None:
        return real
    dropped = set(state.get("drop"))
    return {**real, **history_summary(rec, key, history),
            "recent": [song for song in real["recent"] if song["track_id"] not in dropped]}


def history_summary(rec: Recommender, key: str, history: resources.History, top: int = 10) -> dict[str, Any]:
    """Counts, genre shares of plays (a song's plays split evenly over its genres) and top artists of a history."""
    songs = resources.catalogue(rec, key).loc[[t for t, _ in history]].reset_index(drop=True)
    songs["plays"] = [p for _, p in history]
    genres = songs.rename(columns={"genres": "genre"}).explode("genre").dropna(subset=["genre"])
    genres["share"] = genres["plays"] / genres.groupby(level=0)["genre"].transform("size")
    shares = genres.groupby("genre")["share"].sum()
    shares = (shares / shares.sum()).sort_values(ascending=False).head(top) if len(shares) else shares
    artists = songs.groupby("artist", sort=False)["plays"].sum().sort_values(ascending=False).head(top)
    used = resources.history_recommendations(rec, key, history, 1, None)
    return {"interactions": len(songs), "plays": round(songs["plays"].sum()), "artists": songs["artist"].nunique(),
            "top_genres": [{"genre": g, "parent": rec.genre_parent(g), "share": float(s)} for g, s in shares.items()],
            "top_artists": [{"artist": a, "plays": round(p)} for a, p in artists.items()],
            "adaptive_genre_weight": float(used["genre_weight"].iat[0]) if len(used) else 0.0}

