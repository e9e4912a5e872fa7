"""The dataset folder format as data: which tables exist, which columns they must and may have.

The human-readable version of this contract is docs/data-format.md; keep the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass

SPLIT_LABELS = ("train", "valid", "test")
TABLE_SUFFIXES = (".csv", ".parquet")


@dataclass(frozen=True)
class TableSpec:
    """One table of a dataset folder."""

    stem: str
    required: bool
    required_columns: tuple[str, ...]
    optional_columns: tuple[str, ...] = ()
    keep_extra: bool = False  # extra columns kept as metadata (tracks, users); dropped elsewhere

    @property
    def id_columns(self) -> tuple[str, ...]:
        """Columns read as text whatever their look: IDs and genre names."""
        names = ("user_id", "track_id", "artist_id", "genre", "parent")
        return tuple(c for c in (*self.required_columns, *self.optional_columns) if c in names)


TABLES: dict[str, TableSpec] = {
    spec.stem: spec
    for spec in (
        TableSpec("interactions", True, ("user_id", "track_id"), ("plays", "timestamp", "ms_played", "split")),
        TableSpec("tracks", True, ("track_id", "artist_id"), ("title", "duration_ms"), keep_extra=True),
        TableSpec("artists", True, ("artist_id",), ("name",)),
        TableSpec("track_genres", False, ("track_id", "genre"), ("weight",)),
        TableSpec("artist_genres", False, ("artist_id", "genre"), ("weight",)),
        TableSpec("genres", False, ("genre",), ("parent", "popularity")),
        TableSpec("users", False, ("user_id",), ("name",), keep_extra=True),
    )
}
