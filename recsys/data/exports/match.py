"""Match plays from an export to a model's catalogue by name, and turn them into a weighted history.

A play's weight says how much it tells about taste: a full play counts 1, a skipped one 0.5, one under 30 s
(Spotify's own threshold for counting a stream) 0.25, and a play of 0 ms nothing. A song's weight in the history
is the sum over its plays. Names are compared by key (recsys.data.exports.names): exact title first, then the
title without version notes; when the catalogue's items are artists (the Last.fm model), by artist alone.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from recsys.data.dataset import Dataset
from recsys.data.exports.names import artist_key, loose_title_key, plain_key, title_key
from recsys.errors import ConfigError

SHORT_PLAY_MS = 30_000
WEIGHTS = {"full": 1.0, "skipped": 0.5, "short": 0.25, "silent": 0.0}
ARTIST_CATALOGUE_SHARE = 0.9  # items whose title is their artist's name, above which items are artists
MAX_UNMATCHED = 25  # unmatched names listed (most played first) with close candidates
CANDIDATES, CANDIDATE_CUTOFF = 3, 0.6  # difflib's defaults: ratio >= 0.6 reads as "similar" to people


@dataclass(frozen=True)
class MatchResult:
    """`history`: (track_id, weight) pairs, heaviest first; `report`: counts, rules and unmatched names."""

    history: list[tuple[str, float]]
    report: dict[str, Any] = field(default_factory=dict)


def catalogue_from_dataset(dataset: Dataset) -> pd.DataFrame:
    """track_id, title, artist, genres (list of names, strongest first): what `Recommender.catalogue()` returns."""
    names = dataset.artists.set_index("artist_id")["name"]
    genres = (dataset.song_genres().sort_values(["track_id", "weight"], ascending=[True, False])
              .groupby("track_id", sort=False)["genre"].agg(list))
    tracks = dataset.tracks
    return pd.DataFrame({"track_id": tracks["track_id"], "title": tracks["title"],
                         "artist": tracks["artist_id"].map(names).fillna(tracks["artist_id"]),
                         "genres": tracks["track_id"].map(genres).map(lambda g: g if isinstance(g, list) else [])})


def is_artist_catalogue(catalogue: pd.DataFrame) -> bool:
    """True when (nearly) every item is named after its artist: each item is an artist, not a song."""
    if catalogue.empty:
        return False
    same = catalogue["title"].astype(str).map(artist_key) == catalogue["artist"].astype(str).map(artist_key)
    return bool(same.mean() >= ARTIST_CATALOGUE_SHARE)


def play_weights(plays: pd.DataFrame) -> np.ndarray:
    """Evidence per play (WEIGHTS): the weakest rule that applies wins."""
    ms = plays["ms_played"].astype("Float64") if "ms_played" in plays else pd.Series(pd.NA, index=plays.index,
                                                                                     dtype="Float64")
    weight = np.full(len(plays), WEIGHTS["full"])
    if "skipped" in plays:
        weight[plays["skipped"].fillna(False).to_numpy(dtype=bool)] = WEIGHTS["skipped"]
    weight[(ms < SHORT_PLAY_MS).fillna(False).to_numpy(dtype=bool)] = WEIGHTS["short"]
    weight[(ms == 0).fillna(False).to_numpy(dtype=bool)] = WEIGHTS["silent"]
    return weight


def match_history(plays: pd.DataFrame, catalogue: pd.DataFrame, artist_only: bool | None = None) -> MatchResult:
    """Match `plays` (read_listening_export's frame) to `catalogue` (track_id, title, artist, ...).

    Args:
        artist_only: match by artist alone; None detects it (`is_artist_catalogue`).
    """
    missing = [c for c in ("artist", "track") if c not in plays]
    missing += [f"catalogue.{c}" for c in ("track_id", "title", "artist") if c not in catalogue]
    if missing:
        raise ConfigError(f"cannot match: missing column(s) {', '.join(missing)}")
    artist_only = is_artist_catalogue(catalogue) if artist_only is None else artist_only
    index = _CatalogueIndex(catalogue)
    names = plays[["artist", "track"]].astype(str).drop_duplicates().reset_index(drop=True)
    found = [index.find(a, t, artist_only) for a, t in zip(names["artist"], names["track"], strict=True)]
    names["track_id"] = [f[0] for f in found]
    names["rule"] = [f[1] for f in found]
    matched = plays[["artist", "track"]].astype(str).merge(names, on=["artist", "track"], how="left")
    matched["weight"] = play_weights(plays)
    hits = matched[matched["track_id"].notna()]
    totals = hits.groupby("track_id")["weight"].sum()
    totals = totals[totals > 0].round(4)
    order = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
    history = [(str(track), float(weight)) for track, weight in order]
    return MatchResult(history, _report(plays, matched, history, index, artist_only))


class _CatalogueIndex:
    """Look-ups from name keys to track IDs, built once per match (first catalogue row wins a shared key)."""

    def __init__(self, catalogue: pd.DataFrame) -> None:
        self.catalogue = catalogue.reset_index(drop=True)
        artists = self.catalogue["artist"].astype(str).map(artist_key)
        titles = self.catalogue["title"].astype(str)
        ids = self.catalogue["track_id"].astype(str)
        self.exact = _first(zip(artists, titles.map(title_key), strict=True), ids)
        self.loose = _first(zip(artists, titles.map(loose_title_key), strict=True), ids)
        plain = self.catalogue["artist"].astype(str).map(plain_key)
        self.by_name = _first(plain, ids)
        credited = plain.str.contains(r"\bfeat\b").to_numpy()
        solo_first = np.argsort(credited, kind="stable")  # for a shared key, an item without credits wins
        self.by_artist = _first(artists.iloc[solo_first], ids.iloc[solo_first])
        self.artist_keys = artists.tolist()
        self.loose_keys = titles.map(loose_title_key).tolist()

    def find(self, artist: str, track: str, artist_only: bool) -> tuple[str | None, str | None]:
        """(track_id, rule) of the best match, or (None, None)."""
        a = artist_key(artist)
        if artist_only:
            found = self.by_name.get(plain_key(artist)) or self.by_artist.get(a)
            return (found, "artist") if found is not None else (None, None)
        if (a, title_key(track)) in self.exact:
            return self.exact[(a, title_key(track))], "title"
        if (a, loose_title_key(track)) in self.loose:
            return self.loose[(a, loose_title_key(track))], "loose_title"
        return None, None

    def candidates(self, artist: str, track: str | None) -> list[dict[str, str]]:
        """Close catalogue names (difflib): the artist's own titles first, then the title under any artist;
        by artist name alone in artist mode."""
        a = artist_key(artist)
        if track is None:
            rows = self._close(a, self.artist_keys)
        else:
            wanted = loose_title_key(track)
            rows = self._close(wanted, self.loose_keys, only=lambda i: self.artist_keys[i] == a)
            rows += [i for i in self._close(wanted, self.loose_keys) if i not in rows]
        cols = ["track_id", "title", "artist"]
        return [{c: str(self.catalogue.at[i, c]) for c in cols} for i in rows[:CANDIDATES]]

    @staticmethod
    def _close(key: str, keys: list[str], only=None) -> list[int]:
        """Rows whose key is among difflib's close matches for `key` (first row of each distinct key)."""
        pool: dict[str, int] = {}
        for i, k in enumerate(keys):
            if only is None or only(i):
                pool.setdefault(k, i)
        return [pool[c] for c in difflib.get_close_matches(key, list(pool), CANDIDATES, CANDIDATE_CUTOFF)]


def _first(keys, ids: pd.Series) -> dict:
    out: dict = {}
    for key, track_id in zip(keys, ids, strict=True):
        out.setdefault(key, track_id)
    return out


def _report(plays: pd.DataFrame, matched: pd.DataFrame, history: list[tuple[str, float]], index: _CatalogueIndex,
            artist_only: bool) -> dict[str, Any]:
    weight = matched["weight"].to_numpy()
    hit = matched["track_id"].notna()
    group = ["artist"] if artist_only else ["artist", "track"]
    missed = matched[~hit].groupby(group, sort=False).size().rename("plays").reset_index()
    missed = missed.sort_values(["plays", *group], ascending=[False, *[True] * len(group)], kind="stable")
    unmatched = []
    for row in missed.head(MAX_UNMATCHED).itertuples(index=False):
        track = None if artist_only else row.track
        entry = {"artist": row.artist, **({} if artist_only else {"track": track}), "plays": int(row.plays)}
        unmatched.append({**entry, "candidates": index.candidates(row.artist, track)})
    n = len(matched)
    return {
        "mode": "artist" if artist_only else "track",
        "plays": n,
        "matched_plays": int(hit.sum()),
        "unmatched_plays": int((~hit).sum()),
        "match_rate": round(float(hit.mean()), 4) if n else 0.0,
        "matched_by": {rule: int((matched["rule"] == rule).sum()) for rule in ("title", "loose_title", "artist")},
        "tracks": len(history),
        "weight": round(float(sum(w for _, w in history)), 4),
        "short_plays": int((weight == WEIGHTS["short"]).sum()),
        "skipped_plays": int(plays["skipped"].sum()) if "skipped" in plays else 0,
        "silent_plays": int((weight == WEIGHTS["silent"]).sum()),
        "unmatched_names": len(missed),
        "unmatched": unmatched,
        "weights": dict(WEIGHTS),
        "short_play_ms": SHORT_PLAY_MS,
    }
