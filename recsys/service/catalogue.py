"""The catalogue: tracks, artists and genres by external ID, the genre hierarchy, search and genre totals.

Genres are lists of names everywhere (a genre name may contain ", "). The hierarchy is the dataset's
``genres.parent`` column; a genre rolls up to its top-level ancestor.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import torch
from torch import Tensor

from recsys.data import Dataset
from recsys.graph import BY, LISTENS, SONG_GENRE


class Catalogue:
    """Read-only lookups over the songs, artists and genres of one training graph."""

    def __init__(self, graph, dataset: Dataset) -> None:
        self.graph, self.maps = graph, graph.id_maps
        self.song_artist: Tensor = graph[BY].edge_index[1]  # [S] artist of each song
        self.listeners: Tensor = torch.bincount(graph[LISTENS].edge_index[1], minlength=len(self.maps.song))
        self.mix: list[list[tuple[int, float]]] = self._genre_mix_by_song()  # (genre, weight), strongest first
        self.genres_by_song = [[self.maps.genre.name_of(g) for g, _ in song] for song in self.mix]
        self.root: list[int] = _roots(dataset.genres, self.maps.genre)  # [G] index of each genre's top ancestor
        self._tracks: pd.DataFrame | None = None

    def _genre_mix_by_song(self) -> list[list[tuple[int, float]]]:
        songs: list[list[tuple[int, float]]] = [[] for _ in range(len(self.maps.song))]
        if SONG_GENRE in self.graph.edge_types:
            store = self.graph[SONG_GENRE]
            order = torch.argsort(store.edge_weight, descending=True, stable=True)
            for (song, genre), weight in zip(store.edge_index[:, order].T.tolist(), store.edge_weight[order].tolist(),
                                             strict=True):
                songs[song].append((genre, weight))
        return songs

    # ---- tracks ---------------------------------------------------------------------------------------------
    def track_info(self, song: int) -> dict[str, Any]:
        """track_id, title, artist_id, artist and genres (a list, strongest first) of one song index."""
        artist = int(self.song_artist[song])
        return {"track_id": self.maps.song.id_of(song), "title": self.maps.song.name_of(song),
                "artist_id": self.maps.artist.id_of(artist), "artist": self.maps.artist.name_of(artist),
                "genres": list(self.genres_by_song[song])}

    def popularity_place(self, song: int) -> tuple[int, int]:
        """(training listeners, place among the popular songs) of one song: what a listener without history gets."""
        listeners = int(self.listeners[song])
        return listeners, int((self.listeners > listeners).sum()) + 1

    def catalogue(self) -> pd.DataFrame:
        """track_id, title, artist, genres (lists) of every track, in catalogue order (what importers match)."""
        return self.table().sort_values("index", ignore_index=True)[["track_id", "title", "artist", "genres"]]

    def table(self) -> pd.DataFrame:
        """Every track with title, artist, genres (lists) and training listeners, most listened first."""
        if self._tracks is None:  # a benign race: two threads may both build the same frame once
            artists = self.song_artist.numpy()
            self._tracks = pd.DataFrame({
                "index": range(len(self.maps.song)),
                "track_id": [str(t) for t in self.maps.song.ids],
                "title": [str(t) for t in self.maps.song.names],
                "artist": [str(self.maps.artist.names[a]) for a in artists],
                "genres": [list(g) for g in self.genres_by_song],
                "listeners": self.listeners.numpy()}).sort_values(
                "listeners", ascending=False, kind="stable", ignore_index=True)
        return self._tracks

    def search_tracks(self, query: str = "", limit: int = 50) -> pd.DataFrame:
        """Tracks whose ID, title or artist contains ``query`` (case-insensitive), most listened first."""
        frame = self.table()
        if query:
            q = query.strip().lower()
            hit = pd.Series(False, index=frame.index)
            for column in ("track_id", "title", "artist"):
                hit |= frame[column].str.lower().str.contains(q, regex=False)
            frame = frame[hit]
        return frame.drop(columns="index").head(max(0, int(limit))).reset_index(drop=True)

    # ---- genres ---------------------------------------------------------------------------------------------
    def genre_names(self) -> list[str]:
        return [str(g) for g in self.maps.genre.ids]

    def genre_parent(self, genre: str) -> str | None:
        """The top-level ancestor of a genre (``None`` for a top-level genre); UnknownIdError when unknown."""
        index = self.maps.genre.index(genre)
        root = self.root[index]
        return None if root == index else self.maps.genre.name_of(root)

    def genre_label(self, index: int, rollup: bool) -> str:
        return self.maps.genre.name_of(self.root[index] if rollup else index)

    def genre_distribution(self, rollup: bool = False) -> pd.DataFrame:
        """Training plays and songs per genre (songs split fractionally across their genres), most played first.

        With ``rollup`` every genre is counted under its top-level ancestor.
        """
        if SONG_GENRE not in self.graph.edge_types:  # no genre files: an empty table, typed like a full one
            return pd.DataFrame({"genre": pd.Series(dtype=str), "songs": pd.Series(dtype="float32"),
                                 "plays": pd.Series(dtype="float32")})
        store, listens = self.graph[SONG_GENRE], self.graph[LISTENS]
        genre_of = store.edge_index[1]
        if rollup:
            genre_of = torch.as_tensor(self.root)[genre_of]
        num_genres = len(self.maps.genre)
        songs_per = torch.zeros(num_genres).index_add_(0, genre_of, store.edge_weight)
        plays_song = torch.zeros(len(self.maps.song)).index_add_(0, listens.edge_index[1], listens.plays)
        plays_per = torch.zeros(num_genres).index_add_(0, genre_of, store.edge_weight * plays_song[store.edge_index[0]])
        frame = pd.DataFrame({"genre": self.genre_names(), "songs": songs_per.numpy(), "plays": plays_per.numpy()})
        if rollup:
            frame = frame[[self.root[i] == i for i in range(num_genres)]]
        return frame.sort_values("plays", ascending=False, ignore_index=True)


def _roots(genres: pd.DataFrame, genre_map) -> list[int]:
    """Index of each genre's top-level ancestor (itself for a root; a parent cycle stops at the genre met twice)."""
    parent = {}
    if "parent" in genres:
        for name, up in zip(genres["genre"].astype(str), genres["parent"], strict=True):
            if isinstance(up, str) and up and up != name and up in genre_map:
                parent[name] = up
    roots = []
    for index in range(len(genre_map)):
        name, seen = genre_map.name_of(index), set()
        while name in parent and name not in seen:
            seen.add(name)
            name = parent[name]
        roots.append(genre_map.index(name))
    return roots
