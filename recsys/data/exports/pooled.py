"""A multi-listener dataset folder from several exports, so a team can train on its pooled listening.

Songs and artists get IDs from their name keys (recsys.data.exports.names), so the same song from Spotify and
from Last.fm is one track, and rebuilding from the same files gives the same IDs. Every play with a time is one
interaction row (the loader aggregates them per listener and song, keeping first and last times). Plays under
30 s and plays without a time ("now playing" rows) are left out: the format has no weaker kind of play, and
without track durations `ms_played` cannot weight them down.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from recsys.data.exports.match import SHORT_PLAY_MS
from recsys.data.exports.names import artist_key, loose_title_key
from recsys.data.load import load_dataset
from recsys.data.write import staged_folder, write_table
from recsys.errors import ConfigError


def _id(prefix: str, key: str) -> str:
    """A stable ID from a name key (48 bits: collisions are negligible below millions of names)."""
    return prefix + hashlib.blake2b(key.encode("utf-8"), digest_size=6).hexdigest()


def _spelling(frame: pd.DataFrame, key: str, column: str) -> pd.Series:
    """The most common spelling of each key (ties: the first in sort order), as the display name."""
    counts = frame.groupby([key, column]).size().rename("n").reset_index()
    counts = counts.sort_values([key, "n", column], ascending=[True, False, True]).drop_duplicates(key)
    return counts.set_index(key)[column]


def pooled_tables(plays: pd.DataFrame) -> tuple[dict[str, pd.DataFrame], dict[str, int]]:
    """(tables, counts): interactions, tracks, artists and users from a plays frame of several listeners."""
    short = (plays["ms_played"].astype("Float64") < SHORT_PLAY_MS).fillna(False).to_numpy(dtype=bool)
    untimed = plays["played_at"].isna().to_numpy()
    kept = plays[~short & ~untimed]
    if kept.empty:
        raise ConfigError("no plays of 30 s or more with a time in the exports: nothing to build a dataset from")
    a_key = kept["artist"].map(artist_key)
    t_key = a_key + "\x1f" + kept["track"].map(loose_title_key)
    kept = kept.assign(artist_id=a_key.map(lambda k: _id("a", k)), track_id=t_key.map(lambda k: _id("t", k)))
    interactions = pd.DataFrame({
        "user_id": kept["listener"].astype(str),
        "track_id": kept["track_id"],
        "timestamp": (kept["played_at"] - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1),
        "ms_played": kept["ms_played"],
    }).sort_values(["user_id", "timestamp", "track_id"], kind="stable")
    if interactions["ms_played"].isna().all():
        interactions = interactions.drop(columns="ms_played")  # Last.fm and ListenBrainz do not say
    titles, names = _spelling(kept, "track_id", "track"), _spelling(kept, "artist_id", "artist")
    track_artist = kept.drop_duplicates("track_id").set_index("track_id")["artist_id"]
    tracks = pd.DataFrame({"track_id": titles.index, "artist_id": track_artist.loc[titles.index].to_numpy(),
                           "title": titles.to_numpy()})
    tables = {
        "interactions": interactions.reset_index(drop=True),
        "tracks": tracks,
        "artists": pd.DataFrame({"artist_id": names.index, "name": names.to_numpy()}),
        "users": pd.DataFrame({"user_id": sorted(interactions["user_id"].unique())}),
    }
    counts = {"plays": len(plays), "kept": len(kept), "short": int(short.sum()),
              "untimed": int((untimed & ~short).sum()), "listeners": len(tables["users"]),
              "tracks": len(tracks), "artists": len(tables["artists"])}
    return tables, counts


def write_pooled_dataset(frames: Sequence[pd.DataFrame], out: str | Path, fmt: str = "parquet",
                         replace: bool = False) -> dict[str, int]:
    """Write the dataset folder `out` from plays frames (one or more listeners each); return the counts.

    The folder is written beside `out`, loaded back with `load_dataset` (so it is known to be valid), and only
    then renamed into place. An existing `out` is replaced only with `replace=True`, and never when it holds
    files other than dataset tables.
    """
    if fmt not in ("parquet", "csv"):
        raise ConfigError(f"unknown table format {fmt!r}; use 'parquet' or 'csv'")
    out = Path(out)
    if out.exists() and not replace:
        raise ConfigError(f"{out} exists; choose another folder or pass --force to replace it")
    tables, counts = pooled_tables(pd.concat(list(frames), ignore_index=True))
    with staged_folder(out) as folder:
        for stem, table in tables.items():
            write_table(table, folder, stem, fmt)
        counts["interactions"] = len(load_dataset(folder).interactions)
    return counts
