"""The validated, normalised content of a dataset folder (pandas only; no torch here)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd


def _empty(columns: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in columns.items()})


def _fill_names(df: pd.DataFrame, column: str, id_column: str) -> pd.DataFrame:
    """Every entity gets a display name: its own, or its ID when the data has none."""
    names = df[column].fillna("").astype(str).str.strip() if column in df else pd.Series("", index=df.index)
    return df.assign(**{column: names.where(names != "", df[id_column])})


def _hash_columns(table: pd.DataFrame) -> np.ndarray:
    """Row hashes from typed columns (fast; the loader gives CSV and Parquet the same dtypes).

    Times are hashed in one unit, since equal instants in other units have other integers; list cells
    (Parquet metadata) are unhashable, so such a column is hashed by its text.
    """
    columns = {}
    for name, column in table.items():
        if column.dtype.kind == "M":
            column = column.dt.as_unit("ns")
        elif column.dtype == object and column.map(lambda v: not pd.api.types.is_scalar(v)).any():
            column = column.astype(str)
        columns[name] = column
    return pd.util.hash_pandas_object(pd.DataFrame(columns), index=False).to_numpy()


TABLE_NAMES = ("interactions", "tracks", "artists", "genres", "track_genres", "artist_genres", "users")


@dataclass(frozen=True, eq=False)  # generated == would compare DataFrames elementwise and raise
class Dataset:
    """Tables of one dataset, validated by `load_dataset`; repeated (user, track) rows already aggregated.

    Attributes:
        interactions: user_id, track_id, plays, and where known ms_played, first_ts, last_ts (UTC), split.
        tracks: track_id, artist_id, title (falls back to the ID), optional duration_ms and metadata.
        artists: artist_id, name (falls back to the ID).
        genres: genre, parent, popularity: the genre vocabulary (empty without genre files).
        track_genres, artist_genres: (id, genre, weight) rows as given.
        users: user_id, name: every user, including users without interactions listed in a users file.
        fingerprint: a hash of the content (not of the bytes), so CSV and Parquet copies match.
        events: where the data has timestamps, one row per input play row: pair (row of ``interactions``),
            timestamp, plays; derived from the same input, so not part of the fingerprint.
    """

    path: Path | None
    interactions: pd.DataFrame
    tracks: pd.DataFrame
    artists: pd.DataFrame
    genres: pd.DataFrame
    track_genres: pd.DataFrame
    artist_genres: pd.DataFrame
    users: pd.DataFrame
    fingerprint: str = field(default="", compare=False)
    events: pd.DataFrame | None = field(default=None, compare=False)

    @classmethod
    def from_tables(cls, path: Path | None, *, interactions: pd.DataFrame, tracks: pd.DataFrame,
                    artists: pd.DataFrame, track_genres: pd.DataFrame | None = None,
                    artist_genres: pd.DataFrame | None = None, genres: pd.DataFrame | None = None,
                    users: pd.DataFrame | None = None, events: pd.DataFrame | None = None) -> Dataset:
        """Normalise validated tables: defaults for optional columns, display names, the genre vocabulary."""
        track_genres = track_genres if track_genres is not None else _empty(
            {"track_id": "str", "genre": "str", "weight": "float64"})
        artist_genres = artist_genres if artist_genres is not None else _empty(
            {"artist_id": "str", "genre": "str", "weight": "float64"})
        if genres is None:
            names = pd.unique(pd.concat([track_genres["genre"], artist_genres["genre"]], ignore_index=True))
            genres = pd.DataFrame({"genre": pd.Series(sorted(names), dtype="str")})
        genres = genres.assign(
            parent=genres.get("parent", ""),
            popularity=genres.get("popularity", np.nan),
        )
        seen_users = pd.unique(interactions["user_id"])
        if users is None:
            users = pd.DataFrame({"user_id": pd.Series(seen_users, dtype="str")})
        dataset = cls(
            path=path,
            interactions=interactions.reset_index(drop=True),
            tracks=_fill_names(tracks, "title", "track_id").reset_index(drop=True),
            artists=_fill_names(artists, "name", "artist_id").reset_index(drop=True),
            genres=genres.reset_index(drop=True),
            track_genres=track_genres.reset_index(drop=True),
            artist_genres=artist_genres.reset_index(drop=True),
            users=_fill_names(users, "name", "user_id").reset_index(drop=True),
            events=events,
        )
        return replace(dataset, fingerprint=dataset.content_hash())

    def content_hash(self) -> str:
        """SHA-256 over every table's values and column names, independent of file format."""
        digest = hashlib.sha256()
        for name in TABLE_NAMES:
            table = getattr(self, name)
            if name == "interactions":
                table = table.drop(columns="split", errors="ignore")  # the split is a choice, not data
            digest.update(f"{name}:{','.join(map(str, table.columns))}:{len(table)}".encode())
            if len(table):
                digest.update(_hash_columns(table).tobytes())
        return digest.hexdigest()[:16]

    def __eq__(self, other: object) -> bool:
        """Same tables with the same values and dtypes; the folder and file format they came from do not matter."""
        if not isinstance(other, Dataset):
            return NotImplemented
        return all(getattr(self, name).equals(getattr(other, name)) for name in TABLE_NAMES)

    @property
    def has_genres(self) -> bool:
        return len(self.genres) > 0 and (len(self.track_genres) > 0 or len(self.artist_genres) > 0)

    @property
    def has_timestamps(self) -> bool:
        return "first_ts" in self.interactions

    @property
    def has_split(self) -> bool:
        return "split" in self.interactions

    def with_split(self, labels: pd.Series | np.ndarray) -> Dataset:
        """A copy whose interactions carry the given split labels (the fingerprint stays that of the data)."""
        interactions = self.interactions.assign(split=np.asarray(labels, dtype=object))
        return replace(self, interactions=interactions)

    def song_genres(self) -> pd.DataFrame:
        """Effective (track_id, genre, weight): a track's own genres, else its artist's."""
        own = self.track_genres[["track_id", "genre", "weight"]]
        rest = self.tracks.loc[~self.tracks["track_id"].isin(own["track_id"]), ["track_id", "artist_id"]]
        inherited = rest.merge(self.artist_genres, on="artist_id")[["track_id", "genre", "weight"]]
        return pd.concat([own, inherited], ignore_index=True)

    def summary(self) -> dict[str, int]:
        """Counts a user checks first."""
        counts = {
            "users": len(self.users),
            "tracks": len(self.tracks),
            "artists": len(self.artists),
            "genres": len(self.genres),
            "interactions": len(self.interactions),
            "plays": int(self.interactions["plays"].sum()),
        }
        if self.has_split:
            for label, n in self.interactions["split"].value_counts().items():
                counts[f"{label}_interactions"] = int(n)
        return counts
