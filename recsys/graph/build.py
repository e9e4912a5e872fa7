"""Build the heterogeneous graph (users, songs, artists, genres) from a dataset's TRAINING interactions.

Valid and test interactions never enter message passing: `build_graph` takes edges from the chosen split
labels only, and user-genre preferences are computed from those same edges.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from torch_geometric.data import HeteroData

from recsys.data import Dataset
from recsys.errors import ConfigError
from recsys.graph.ids import IdMap, IdMaps

NODE_TYPES = ("user", "song", "artist", "genre")
LISTENS = ("user", "listens", "song")
BY = ("song", "by", "artist")
SONG_GENRE = ("song", "has_genre", "genre")
ARTIST_GENRE = ("artist", "has_genre", "genre")
PREFERS = ("user", "prefers", "genre")
FORWARD_RELATIONS = (LISTENS, BY, SONG_GENRE, ARTIST_GENRE, PREFERS)
MIN_COMPLETION = 0.05  # a skipped play still says something; never weight an edge to zero


def reverse(edge_type: tuple[str, str, str]) -> tuple[str, str, str]:
    """PyG's naming for the reverse relation (as T.ToUndirected does it)."""
    src, rel, dst = edge_type
    return (dst, f"rev_{rel}", src)


def id_maps(dataset: Dataset) -> IdMaps:
    """Node order = row order of the entity tables, so indices are stable for a given dataset."""
    return IdMaps(
        user=IdMap.from_ids("user", dataset.users["user_id"], dataset.users["name"]),
        song=IdMap.from_ids("track", dataset.tracks["track_id"], dataset.tracks["title"]),
        artist=IdMap.from_ids("artist", dataset.artists["artist_id"], dataset.artists["name"]),
        genre=IdMap.from_ids("genre", dataset.genres["genre"]),
    )


def _labels(split: str | Sequence[str]) -> list[str]:
    return [split] if isinstance(split, str) else list(split)


def select_interactions(dataset: Dataset, split: str | Sequence[str]) -> pd.DataFrame:
    """Interactions whose split label is in `split` ('all' takes every row, split or not)."""
    labels = _labels(split)
    if labels == ["all"]:
        return dataset.interactions
    if not dataset.has_split:
        raise ConfigError("the dataset has no split yet; call recsys.data.assign_split first (or use split='all')")
    unknown = set(labels) - {"train", "valid", "test"}
    if unknown:
        raise ConfigError(f"unknown split label(s) {sorted(unknown)}; use train, valid, test or all")
    return dataset.interactions[dataset.interactions["split"].isin(labels)]


def interaction_index(dataset: Dataset, maps: IdMaps, split: str | Sequence[str]) -> torch.Tensor:
    """(user_index, song_index) pairs of the chosen split as a [2, E] LongTensor."""
    rows = select_interactions(dataset, split)
    users = maps.user.indices(rows["user_id"]) if len(rows) else np.zeros(0, np.int64)
    songs = maps.song.indices(rows["track_id"]) if len(rows) else np.zeros(0, np.int64)
    return torch.as_tensor(np.stack([users, songs]), dtype=torch.long)


def _training_events(dataset: Dataset, rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray] | None:
    """(pair, made-before-its-user's-held-out-period) per play event; None without events or held-out pairs."""
    events, inter = dataset.events, dataset.interactions
    if events is None or len(rows) == len(inter) or "first_ts" not in inter:
        return None
    users, _ = pd.factorize(inter["user_id"])
    held = ~np.isin(np.arange(len(inter)), rows.index.to_numpy())
    cutoff = np.full(users.max() + 1, np.iinfo(np.int64).max)
    np.minimum.at(cutoff, users[held], inter["first_ts"].astype("int64").to_numpy()[held])
    pair = events["pair"].to_numpy()
    return pair, events["timestamp"].astype("int64").to_numpy() < cutoff[users[pair]]


def training_plays(dataset: Dataset, rows: pd.DataFrame) -> np.ndarray:
    """Plays of each of ``rows`` made before its user's first play of a held-out pair (one not in ``rows``).

    Interactions sum a pair's plays over all time, so a pair first played in the training period may be
    replayed after it: on the default data 20% of training pairs' plays happen at or after the user's first
    held-out play. Counting those would leak held-out time into the graph (genre shares, edge weights). Without
    play timestamps (``dataset.events``), or with nothing held out, the summed plays are all there is. A
    training pair keeps at least one play (its first play ties with the held-out one at the latest).
    """
    plays = rows["plays"].to_numpy(dtype=np.float64)
    found = _training_events(dataset, rows)
    if found is None:
        return plays
    pair, before = found
    counted = np.bincount(pair[before], weights=dataset.events["plays"].to_numpy(dtype=np.float64)[before],
                          minlength=len(dataset.interactions))
    return np.maximum(counted[rows.index.to_numpy()], 1.0)


def training_last_play(dataset: Dataset, rows: pd.DataFrame) -> pd.Series:
    """The last play of each of ``rows`` made before its user's held-out period (as `training_plays` counts).

    ``last_ts`` may fall in the held-out period (a training song replayed later); recency weights and the drift
    chart read this instead, so that they see only what the model saw. Without events: ``last_ts`` as it is.
    """
    found = _training_events(dataset, rows)
    if found is None:
        return rows["last_ts"]
    pair, before = found
    times = dataset.events["timestamp"][before]
    last = times.groupby(pair[before]).max()
    return last.reindex(rows.index).fillna(rows["first_ts"]).rename("last_ts")


def listen_weights(rows: pd.DataFrame, tracks: pd.DataFrame, plays: np.ndarray | None = None) -> np.ndarray:
    """log1p(plays), scaled by the completion rate where ms_played and duration are both known.

    ``plays`` overrides the rows' own (training-period plays, `training_plays`); ms_played is scaled with it.
    """
    total = rows["plays"].to_numpy(dtype=np.float64)
    plays = total if plays is None else plays
    weight = np.log1p(plays)
    if "ms_played" in rows and "duration_ms" in tracks:
        duration = rows["track_id"].map(tracks.set_index("track_id")["duration_ms"]).to_numpy(dtype=np.float64)
        completion = rows["ms_played"].to_numpy(dtype=np.float64) / (total * duration)  # mean over all plays
        known = np.isfinite(completion)
        weight[known] *= np.clip(completion[known], MIN_COMPLETION, 1.0)
    return weight


def _normalised_pairs(owner_idx: np.ndarray, weight: np.ndarray, n_owner: int) -> np.ndarray:
    """Weights scaled to sum to 1 per owner (a song's or artist's genre mix)."""
    totals = np.bincount(owner_idx, weights=weight, minlength=n_owner)
    return weight / totals[owner_idx]


def _genre_edges(table: pd.DataFrame, owner_col: str, owner_map: IdMap, genre_map: IdMap) -> tuple[np.ndarray, ...]:
    owner = owner_map.indices(table[owner_col]) if len(table) else np.zeros(0, np.int64)
    genre = genre_map.indices(table["genre"]) if len(table) else np.zeros(0, np.int64)
    weight = _normalised_pairs(owner, table["weight"].to_numpy(dtype=np.float64), len(owner_map))
    return owner, genre, weight


def user_genre_shares(user_idx: np.ndarray, song_idx: np.ndarray, plays: np.ndarray,
                      song_genre: tuple[np.ndarray, np.ndarray, np.ndarray], n_users: int, n_songs: int,
                      n_genres: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each genre's share of a user's plays: (user x song plays) @ (song x genre mix), rows summing to 1."""
    listened = sp.csr_matrix((plays, (user_idx, song_idx)), shape=(n_users, n_songs))
    g_song, g_genre, g_weight = song_genre
    mix = sp.csr_matrix((g_weight, (g_song, g_genre)), shape=(n_songs, n_genres))
    shares = (listened @ mix).tocoo()
    totals = np.asarray(shares.sum(axis=1)).ravel()
    keep = shares.data > 0
    users, genres = shares.row[keep].astype(np.int64), shares.col[keep].astype(np.int64)
    return users, genres, shares.data[keep] / totals[users]


def _put(data: HeteroData, edge_type: tuple[str, str, str], src: np.ndarray, dst: np.ndarray,
         weight: np.ndarray) -> None:
    """Store a relation and its reverse, both with edge weights."""
    index = torch.as_tensor(np.stack([src, dst]), dtype=torch.long)
    w = torch.as_tensor(weight, dtype=torch.float32)
    data[edge_type].edge_index = index
    data[edge_type].edge_weight = w
    data[reverse(edge_type)].edge_index = index.flip(0)
    data[reverse(edge_type)].edge_weight = w


def build_graph(dataset: Dataset, split: str | Sequence[str] = "train") -> HeteroData:
    """The message-passing graph from the interactions of `split` (default: training only).

    Node types: user, song, artist and, when the data has genres, genre; each node store has `node_id`
    (0..n-1, the `x_dict` the models embed). Edges (each with `edge_weight` and a `rev_` reverse):
    (user, listens, song) weighted by log1p(plays) times completion; (song, by, artist);
    (song, has_genre, genre) and (artist, has_genre, genre) with each owner's genre mix summing to 1;
    (user, prefers, genre) with each genre's share of the user's plays in `split`, counting only plays made
    before the user's held-out period (`training_plays`). Listening edges also keep those `plays`, so an
    edited graph (`recsys.graph.edit`) can recompute preferences.
    The graph-level attribute `id_maps` maps external IDs and names to node indices.
    """
    maps = id_maps(dataset)
    rows = select_interactions(dataset, split)
    data = HeteroData()
    for node_type in NODE_TYPES:
        if node_type == "genre" and not dataset.has_genres:
            continue
        data[node_type].node_id = torch.arange(len(maps[node_type]))
        data[node_type].num_nodes = len(maps[node_type])
    users = maps.user.indices(rows["user_id"]) if len(rows) else np.zeros(0, np.int64)
    songs = maps.song.indices(rows["track_id"]) if len(rows) else np.zeros(0, np.int64)
    plays = training_plays(dataset, rows)
    _put(data, LISTENS, users, songs, listen_weights(rows, dataset.tracks, plays))
    data[LISTENS].plays = torch.as_tensor(plays, dtype=torch.float32)  # for genre shares on edits
    song_artist = maps.artist.indices(dataset.tracks["artist_id"])
    _put(data, BY, np.arange(len(maps.song)), song_artist, np.ones(len(maps.song)))
    if dataset.has_genres:
        song_genre = _genre_edges(dataset.song_genres(), "track_id", maps.song, maps.genre)
        _put(data, SONG_GENRE, *song_genre)
        _put(data, ARTIST_GENRE, *_genre_edges(dataset.artist_genres, "artist_id", maps.artist, maps.genre))
        shares = user_genre_shares(users, songs, plays, song_genre, len(maps.user), len(maps.song), len(maps.genre))
        _put(data, PREFERS, *shares)
    data.id_maps = maps
    return data
