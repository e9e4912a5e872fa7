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


def number_format(values: pd.Series) -> str:
    """Counts as whole numbers ('201', not '201.000'); scores and shares with three decimals."""
    return "%d" if pd.api.types.is_integer_dtype(values) else "%.3f"


def _score_column(scores: pd.Series, label: str = "score", help: str | None = None, width: int | None = None) -> Any:
    """A bar from 0 (or the lowest negative value) to the highest value, formatted by kind."""
    fmt = number_format(scores)
    low, high = float(scores.min()), float(scores.max())
    if not (math.isfinite(low) and math.isfinite(high)) or high <= min(0.0, low):
        return st.column_config.NumberColumn(label, format=fmt, help=help, width=width)
    return st.column_config.ProgressColumn(label, format=fmt, min_value=min(0.0, low), max_value=high, help=help,
                                           width=width)


def with_genre_lists(frame: pd.DataFrame) -> pd.DataFrame:
    """Genre cells as plain lists of names (the service's lists, or arrays after a round trip), for the chips."""
    return frame.assign(genres=[[str(g) for g in cell] for cell in frame["genres"]])


SCORE_HELP = ("How strongly the model expects this listener to play the song: higher ranks first. Only the order "
              "matters; scores of different listeners or models are not on one scale.")


def recommendations(frame: pd.DataFrame, genres: Sequence[str], colors: Mapping[str, str],
                    moves: Sequence[str] | None = None, compact: bool = False, genre_part: bool = True) -> None:
    """A top-k list: rank, move, title, artist, genre chips, score bar and its parts.

    Widths add up to what fits beside the open sidebar at 1440 px; rank and title stay pinned when a narrow
    screen scrolls the table sideways. ``genre_part=False`` (a model without a genre term) leaves out the split
    of the score, which would be "all collaborative" on every row.
    """
    data = with_genre_lists(frame)
    columns = ["rank", "title", "artist"]
    if not compact:
        columns += ["genres", "score", *(("base_score", "genre_score") if genre_part else ())]
    if moves is not None and not compact:
        data = data.assign(move=list(moves))
        columns.insert(1, "move")
    config = {
        "rank": st.column_config.NumberColumn("#", width=36, pinned=True),
        "move": st.column_config.TextColumn("move", width=64, help="Places moved since the previous genre weight"),
        "title": st.column_config.TextColumn("title", width="medium", pinned=True),
        "artist": st.column_config.TextColumn("artist", width=140),
        "genres": _genre_column(genres, colors),
        "score": _score_column(data["score"], help=SCORE_HELP, width=130),
        "base_score": st.column_config.NumberColumn("without genres", format="%.3f", width=100,
                                                    help="The graph-embedding and listening-history parts"),
        "genre_score": st.column_config.NumberColumn("genre part", format="%+.3f", width=80,
                                                     help="Genre weight x genre influence"),
    }
    st.dataframe(data[columns], hide_index=True, column_config=config, width="stretch")


def tracks(frame: pd.DataFrame, genres: Sequence[str], colors: Mapping[str, str], value: str | None = None) -> None:
    """Any table of tracks (history, search results, neighbours), with genre chips and an optional value bar."""
    data = with_genre_lists(frame) if "genres" in frame else frame
    config: dict[str, Any] = {"genres": _genre_column(genres, colors), "track_id": st.column_config.TextColumn("ID"),
                              "artist_id": None}
    if value is not None and value in data and len(data):
        config[value] = _score_column(data[value], value)
    st.dataframe(data, hide_index=True, column_config=config, width="stretch")


def balanced_rows(names: Sequence[str], per_row: int) -> list[list[str]]:
    """Names in as few rows of at most ``per_row`` as possible, their lengths differing by at most one (4 lists:
    2 + 2, 10: 3 + 3 + 2 + 2), so no list sits alone on a row."""
    count = max(1, math.ceil(len(names) / per_row))
    size, longer = divmod(len(names), count)
    rows, start = [], 0
    for row in range(count):
        end = start + size + (row < longer)
        rows.append(list(names[start:end]))
        start = end
    return rows


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
