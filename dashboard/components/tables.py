"""Tables (st.dataframe escapes every cell) and exports: recommendation lists, rank moves, CSV/JSON downloads."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.components.theme import NO_GENRE_COLOR

UP, DOWN, SAME, NEW = "▲", "▼", "=", "✦ new"


def rank_moves(current: Sequence[str], previous: Sequence[str] | None) -> list[str]:
    """For each track of the current list: ▲n / ▼n places against the previous list, = (same place), or new."""
    if previous is None:
        return [""] * len(current)
    before = {track: rank for rank, track in enumerate(previous, start=1)}
    moves = []
    for rank, track in enumerate(current, start=1):
        if track not in before:
            moves.append(NEW)
        else:
            delta = before[track] - rank
            moves.append(f"{UP} {delta}" if delta > 0 else f"{DOWN} {-delta}" if delta < 0 else SAME)
    return moves


def move_summary(moves: Sequence[str]) -> str:
    """'2 up · 1 down · 1 new' (or 'same order')."""
    counts = {"up": sum(m.startswith(UP) for m in moves), "down": sum(m.startswith(DOWN) for m in moves),
              "new": sum(m == NEW for m in moves)}
    parts = [f"{n} {label}" for label, n in counts.items() if n]
    return " · ".join(parts) if parts else "same order"


def _genre_column(genres: Sequence[str], colors: Mapping[str, str]) -> Any:
    options = sorted(genres)
    return st.column_config.MultiselectColumn("genres", options=options, width="medium",
                                              color=[colors.get(g, NO_GENRE_COLOR) for g in options] or None)


def _score_column(scores: pd.Series, label: str = "score", help: str | None = None) -> Any:
    low, high = float(scores.min()), float(scores.max())
    if not (math.isfinite(low) and math.isfinite(high)) or high <= min(0.0, low):
        return st.column_config.NumberColumn(label, format="%.3f", help=help)
    return st.column_config.ProgressColumn(label, format="%.3f", min_value=min(0.0, low), max_value=high, help=help)


def with_genre_lists(frame: pd.DataFrame) -> pd.DataFrame:
    """The service's 'Rock, Pop' strings as lists, for coloured genre chips."""
    return frame.assign(genres=[[g for g in str(s).split(", ") if g] for s in frame["genres"]])


def recommendations(frame: pd.DataFrame, genres: Sequence[str], colors: Mapping[str, str],
                    moves: Sequence[str] | None = None, compact: bool = False) -> None:
    """A top-k list: rank, move, title, artist, genre chips, score bar and its parts."""
    data = with_genre_lists(frame)
    columns = ["rank", "title", "artist"] if compact else ["rank", "title", "artist", "genres", "score",
                                                           "base_score", "genre_score"]
    if moves is not None and not compact:
        data = data.assign(move=list(moves))
        columns.insert(1, "move")
    config = {
        "rank": st.column_config.NumberColumn("#", width=40),
        "move": st.column_config.TextColumn("move", width=70, help="Places moved since the previous genre weight"),
        "title": st.column_config.TextColumn("title", width="medium"),
        "artist": st.column_config.TextColumn("artist"),
        "genres": _genre_column(genres, colors),
        "score": _score_column(data["score"], help="Collaborative part + genre weight x genre influence"),
        "base_score": st.column_config.NumberColumn("collaborative", format="%.3f",
                                                    help="Graph embedding + item-item part of the score"),
        "genre_score": st.column_config.NumberColumn("genre part", format="%+.3f",
                                                     help="Genre weight x genre influence"),
    }
    st.dataframe(data[columns], hide_index=True, column_config=config, width="stretch")


def tracks(frame: pd.DataFrame, genres: Sequence[str], colors: Mapping[str, str], value: str | None = None) -> None:
    """Any table of tracks (history, search results, neighbours), with genre chips and an optional value bar."""
    data = with_genre_lists(frame) if "genres" in frame else frame
    config: dict[str, Any] = {"genres": _genre_column(genres, colors), "track_id": st.column_config.TextColumn("ID"),
                              "artist_id": None}
    if value is not None and value in data and len(data):
        config[value] = _score_column(data[value].astype(float), value)
    st.dataframe(data, hide_index=True, column_config=config, width="stretch")


def to_json(payload: Any) -> bytes:
    """JSON bytes for a download; NaN/inf become null, anything unknown becomes text."""
    def clean(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {str(k): clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        return value

    return json.dumps(clean(payload), indent=2, default=str, ensure_ascii=False).encode("utf-8")


def download_list(frame: pd.DataFrame, meta: Mapping[str, Any], stem: str, key: str) -> None:
    """CSV and JSON downloads of a recommendation list (JSON carries the settings that produced it)."""
    left, right = st.columns(2)
    left.download_button("Download CSV", frame.to_csv(index=False).encode("utf-8"), f"{stem}.csv", "text/csv",
                         key=f"{key}.csv", icon=":material/download:", on_click="ignore", width="stretch")
    records = json.loads(frame.to_json(orient="records"))
    right.download_button("Download JSON", to_json({**meta, "recommendations": records}), f"{stem}.json",
                          "application/json", key=f"{key}.json", icon=":material/data_object:", on_click="ignore",
                          width="stretch")
