"""Ranking: score rows of a listener, cached, and the recommendation tables built from them.

A listener's score of song s is (embedding + item-item) / sigma + w x genre influence (`recsys.models.scoring`).
The three rows are computed once per listener and kept (LRU); re-ranking for another genre weight or k is
arithmetic on them, never a forward pass.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from recsys.config import check_genre_weight
from recsys.errors import ConfigError
from recsys.models import Scorer
from recsys.service.catalogue import Catalogue
from recsys.service.listener import Listener

NO_HISTORY = "no listening history: popular songs"  # strategy for listeners without history
ROW_CACHE_SIZE = 512  # listeners whose score rows are kept; a listener costs 12 bytes per song
COLD_START_GENRE_WEIGHT = 0.5  # a listener with no history has only genres to go on


@dataclass(frozen=True)
class Rows:
    """One listener's score parts for every song, [S] each (base = (embedding + item_item) / sigma)."""

    embedding: Tensor
    item_item: Tensor
    influence: Tensor
    scale: float

    @property
    def base(self) -> Tensor:
        return (self.embedding + self.item_item) / self.scale


class Ranker:
    """Scores, ranks and decomposes for any `Listener`, from one `Scorer`."""

    def __init__(self, scorer: Scorer, catalogue: Catalogue, genre_embeddings: Callable[[], Tensor | None]) -> None:
        self.scorer, self.catalogue = scorer, catalogue
        self._genre_embeddings = genre_embeddings  # learned genre vectors (cold start), computed on first use
        self._rows: OrderedDict[tuple, Rows] = OrderedDict()
        self._lock = threading.Lock()

    def rows(self, listener: Listener) -> Rows:
        key = listener.key
        with self._lock:
            if key in self._rows:
                self._rows.move_to_end(key)
                return self._rows[key]
        rows = Rows(self.scorer.embedding_scores_of(listener.vector), self.scorer.item_item_scores_of(listener.history),
                    self.scorer.genre_influence(listener.genres, listener.affinity), self.scorer.scale)
        with self._lock:
            self._rows[key] = rows
            while len(self._rows) > ROW_CACHE_SIZE:
                self._rows.popitem(last=False)
        return rows

    def capabilities(self) -> dict[str, bool]:
        """Which parts the model's score has (the Basic model: the graph embedding only)."""
        genre = self.scorer.has_genres
        return {"graph": True, "history": self.scorer.uses_item_item, "genre": genre,
                "adaptive_weight": genre and self.scorer.base_genre_weight > 0}

    def clear(self) -> None:
        """Forget the cached rows (benchmarks and tests that time cold work)."""
        with self._lock:
            self._rows.clear()

    def weight(self, listener: Listener, genre_weight: float | None) -> float:
        """The genre weight used: the given one (checked), or the listener's adaptive one."""
        weight = check_genre_weight(genre_weight)
        return listener.adaptive_weight if weight is None else weight

    def scores(self, listener: Listener, weight: float) -> Tensor:
        rows = self.rows(listener)
        return rows.base + weight * rows.influence  # a new tensor: masking it leaves the cached rows intact

    def decompose(self, listener: Listener, song: int, weight: float) -> dict[str, float]:
        """The exact parts of one score: score = embedding + item_item + genre_weight x genre_influence."""
        rows = self.rows(listener)
        embedding = float(rows.embedding[song]) / rows.scale
        item_item = float(rows.item_item[song]) / rows.scale
        influence = float(rows.influence[song])
        base = embedding + item_item
        return {"score": base + weight * influence, "base_score": base, "embedding_score": embedding,
                "item_item_score": item_item, "genre_influence": influence, "genre_weight": weight,
                "genre_score": weight * influence}

    def rank(self, listener: Listener, song: int, weight: float) -> int | None:
        """The song's place in the listener's list (None for a song in their history)."""
        if bool(torch.isin(torch.tensor([song]), listener.history).item()):
            return None
        scores = self.scores(listener, weight)
        scores[listener.history] = -math.inf
        return int((scores > scores[song]).sum()) + 1

    def recommend(self, listener: Listener, k: int, genre_weight: float | None,
                  exclude_known: bool = True) -> pd.DataFrame:
        """Top-k songs, best first; a listener without history gets the popular songs."""
        k = check_k(k)
        weight = self.weight(listener, genre_weight)  # checked for every listener, also those it does not apply to
        if len(listener.history) == 0:
            frame = self.for_genres([], k)
            frame.attrs["strategy"] = NO_HISTORY
            return frame
        rows = self.rows(listener)
        scores = self.scores(listener, weight)
        if exclude_known:
            scores[listener.history] = -math.inf
        available = self.scorer.num_songs - (len(listener.history) if exclude_known else 0)
        frame = self.frame(scores, rows.base, rows.influence, weight, min(k, available))
        frame.attrs["strategy"] = "personalised"
        if k > available:
            frame.attrs["note"] = f"k={k} exceeds the {available:,} songs this listener has not heard; showing all"
        return frame

    def frame(self, scores: Tensor, base: Tensor, influence: Tensor, weight: float, k: int) -> pd.DataFrame:
        """The recommendation table of the top-k entries of ``scores``."""
        top = torch.topk(scores, k).indices if k else torch.zeros(0, dtype=torch.long)
        return table(self.catalogue, top, scores[top], base[top], influence[top], weight)

    def for_genres(self, genres: list[str], k: int = 10) -> pd.DataFrame:
        """Cold start: songs for a new listener who names some genres (none: the most popular songs).

        Score = standardised log-popularity + 0.5 x cosine(chosen genres, song genre mix), plus, for models
        with genre nodes, the similarity of the songs to the chosen genres' learned embeddings.
        """
        k = check_k(k)
        maps = self.catalogue.maps
        chosen = [maps.genre.index(g) for g in genres]
        base = self.scorer.popularity
        influence = torch.zeros(self.scorer.num_songs)
        if chosen and self.scorer.song_genre is not None:
            profile = torch.zeros(len(maps.genre))
            profile[chosen] = 1.0 / math.sqrt(len(chosen))
            influence = (self.scorer.song_genre @ profile.unsqueeze(1)).squeeze(1)
            genre_emb = self._genre_embeddings()
            if genre_emb is not None:
                affinity = self.scorer.song_emb @ genre_emb[chosen].mean(0)
                base = base + (affinity - affinity.mean()) / affinity.std().clamp_min(1e-6)
        weight = COLD_START_GENRE_WEIGHT if chosen else 0.0
        frame = self.frame(base + weight * influence, base, influence, weight, min(k, self.scorer.num_songs))
        frame.attrs["strategy"] = f"cold start from genres {genres}" if chosen else "popular songs"
        if k > self.scorer.num_songs:
            frame.attrs["note"] = f"k={k} exceeds the {self.scorer.num_songs:,} songs in the catalogue; showing all"
        return frame

    def similar(self, song: int, k: int = 10) -> pd.DataFrame:
        """Nearest songs by cosine similarity of the model's final embeddings."""
        k = check_k(k)
        emb = torch.nn.functional.normalize(self.scorer.song_emb, dim=1)
        similarity = emb @ emb[song]
        similarity[song] = -math.inf
        top = torch.topk(similarity, min(k, self.scorer.num_songs - 1)).indices
        return pd.DataFrame([{**self.catalogue.track_info(t), "similarity": float(similarity[t])}
                             for t in top.tolist()])

    def projection(self, node_type: str, sample: int, seed: int, top_genre: Callable[[int], str]) -> pd.DataFrame:
        """A 2-D PCA projection of final embeddings (a sample of nodes), with labels and main genre for colour."""
        if node_type not in ("user", "song"):
            raise ConfigError(f"node_type must be user or song (got {node_type!r})")
        emb = self.scorer.song_emb if node_type == "song" else self.scorer.user_emb
        generator = torch.Generator().manual_seed(seed)
        chosen = torch.randperm(emb.size(0), generator=generator)[:sample].sort().values
        centred = emb[chosen] - emb[chosen].mean(0)
        _, _, v = torch.pca_lowrank(centred, q=2, center=False)
        xy = (centred @ v[:, :2]).numpy()
        names = self.catalogue.maps[node_type]
        if node_type == "song":
            genre = [(self.catalogue.genres_by_song[i] or ["(none)"])[0] for i in chosen.tolist()]
        else:
            genre = [top_genre(i) for i in chosen.tolist()]
        return pd.DataFrame({"id": [names.id_of(i) for i in chosen.tolist()],
                             "label": [names.name_of(i) for i in chosen.tolist()],
                             "x": xy[:, 0], "y": xy[:, 1], "genre": genre})


def table(catalogue: Catalogue, songs: Tensor, scores: Tensor, base: Tensor, influence: Tensor,
          weight: float) -> pd.DataFrame:
    """The recommendation columns for songs in rank order (scores [n], base [n], genre influence [n])."""
    infos = [catalogue.track_info(s) for s in songs.tolist()]
    return pd.DataFrame({
        "rank": np.arange(1, len(songs) + 1),
        "track_id": [i["track_id"] for i in infos],
        "title": [i["title"] for i in infos],
        "artist": [i["artist"] for i in infos],
        "genres": [i["genres"] for i in infos],
        "score": scores.double().numpy(),
        "base_score": base.double().numpy(),
        "genre_score": (weight * influence).double().numpy(),
        "genre_influence": influence.double().numpy(),
        "genre_weight": np.full(len(songs), weight),
    })


def check_k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k <= 0:
        raise ConfigError(f"k must be a positive integer (got {k!r})")
    return int(k)
