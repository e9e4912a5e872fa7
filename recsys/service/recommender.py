"""`Recommender`: the one facade the CLI, the dashboard and user scripts go through.

It loads a checkpoint and its dataset, runs ONE forward pass, and afterwards answers every question from
cached tensors: re-ranking with another genre weight or k is arithmetic in milliseconds. It speaks external
IDs and names (strings), never node indices, and returns pandas DataFrames and JSON-serialisable dicts.
Instances are read-only after construction and safe to share between threads (a Streamlit cache_resource).
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from recsys.config import TrainConfig, check_genre_weight
from recsys.data import Dataset
from recsys.errors import ConfigError
from recsys.graph import BY, LISTENS, SONG_GENRE
from recsys.models import GATRecommender, Scorer
from recsys.sparse import pairs_to_csr, row_normalised
from recsys.training import Restored, restore

NO_HISTORY = "no listening history: popular songs"  # strategy for users without training interactions
USER_CACHE_SIZE = 512  # users whose score rows are kept; a row costs 8 bytes per song
COLD_START_GENRE_WEIGHT = 0.5  # a listener with no history has only genres to go on


class Recommender:
    """Recommendations and explanations for one trained model on its dataset.

    Build with `Recommender.load(checkpoint, data=None)` (the dataset is found from the checkpoint) or
    `Recommender.from_restored(...)`.
    """

    def __init__(self, restored: Restored) -> None:
        self.model: GATRecommender = restored.model
        self.dataset: Dataset = restored.dataset
        self.graph = restored.graph
        self.maps = restored.graph.id_maps
        self.payload = restored.payload
        self.checkpoint = restored.checkpoint
        self.data_path = restored.data_path
        self.forward_passes = 0  # counted so tests can prove re-ranking needs none
        self.scorer: Scorer = self._prepare(self.graph)
        self._song_genre = self._song_genre_matrix()
        self._popularity = torch.bincount(self.graph[LISTENS].edge_index[1], minlength=len(self.maps.song))
        self._song_artist = self.graph[BY].edge_index[1]
        self._genres_by_song = self._genre_names_by_song()
        self._rows: OrderedDict[int, tuple[Tensor, Tensor]] = OrderedDict()
        self._lock = threading.Lock()
        self._attention: list | None = None
        self._users: pd.DataFrame | None = None
        self._tracks: pd.DataFrame | None = None
        self._baselines: dict[str, Any] = {}
        self._baseline_lock = threading.Lock()  # fitting can take seconds; other lookups must not wait on it
        self._genre_emb: Tensor | None = None

    # ---- construction ---------------------------------------------------------------------------------------
    @classmethod
    def load(cls, checkpoint: str | Path, data: str | Path | None = None) -> Recommender:
        """Load a checkpoint and its dataset (from the checkpoint's record, or ``data``)."""
        return cls(restore(checkpoint, data))

    @classmethod
    def from_restored(cls, restored: Restored) -> Recommender:
        return cls(restored)

    def _prepare(self, graph) -> Scorer:
        self.forward_passes += 1
        return self.model.prepare(graph)

    def _song_genre_matrix(self) -> Tensor | None:
        """Song genre mixes from the data (present even when the model itself ignores genres)."""
        if SONG_GENRE not in self.graph.edge_types:
            return None
        store = self.graph[SONG_GENRE]
        return row_normalised(pairs_to_csr(store.edge_index, len(self.maps.song), len(self.maps.genre),
                                           store.edge_weight))

    def _genre_names_by_song(self) -> list[str]:
        songs = [[] for _ in range(len(self.maps.song))]
        if SONG_GENRE in self.graph.edge_types:
            store = self.graph[SONG_GENRE]
            order = torch.argsort(store.edge_weight, descending=True, stable=True)
            for song, genre in store.edge_index[:, order].T.tolist():
                songs[song].append(self.maps.genre.name_of(genre))
        return [", ".join(names) for names in songs]

    # ---- lookups ----------------------------------------------------------------------------------------------
    @property
    def model_type(self) -> str:
        return str(self.payload["model_type"])

    def users(self) -> list[str]:
        """Every user ID, in dataset order."""
        return [str(u) for u in self.maps.user.ids]

    def genres(self) -> list[str]:
        return [str(g) for g in self.maps.genre.ids]

    def user_index(self, user_id: object) -> int:
        """The node index of a user ID; UnknownIdError (with close matches) when it is not in the data."""
        return self.maps.user.index(user_id)

    def track_index(self, track_id: object) -> int:
        """The node index of a track ID; UnknownIdError (with close matches) when it is not in the data."""
        return self.maps.song.index(track_id)

    def track(self, track_id: object) -> dict[str, Any]:
        """track_id, title, artist_id, artist and genres of one track."""
        return self.track_info(self.track_index(track_id))

    def adaptive_genre_weight(self, user_id: object) -> float:
        """The genre weight `recommend` uses for this user when genre_weight is None."""
        return float(self.scorer.adaptive[self.user_index(user_id)])

    def track_info(self, song: int) -> dict[str, Any]:
        artist = int(self._song_artist[song])
        return {"track_id": self.maps.song.id_of(song), "title": self.maps.song.name_of(song),
                "artist_id": self.maps.artist.id_of(artist), "artist": self.maps.artist.name_of(artist),
                "genres": self._genres_by_song[song]}

    # ---- model card -------------------------------------------------------------------------------------------
    def model_card(self) -> dict[str, Any]:
        """Architecture, size, training curve and metrics, as stored in the checkpoint."""
        p = self.payload
        return {
            "model_type": self.model_type,
            "parameters": self.model.num_parameters(),
            "config": p["model_config"],
            "training": {**p.get("train", {}), "config": p.get("train_config", {})},
            "history": p.get("history", []),
            "metrics": p.get("metrics", {}),
            "dataset": {**p["dataset"], "resolved_path": str(self.data_path)},
            "versions": p.get("versions", {}),
            "complete": bool(p.get("complete", False)),
            "scale_weights": self.model.scale_weights(),
            "checkpoint": str(self.checkpoint),
        }

    def dataset_summary(self) -> dict[str, int]:
        return self.dataset.summary()

    def genre_distribution(self) -> pd.DataFrame:
        """Training plays and songs per genre (songs split fractionally across their genres)."""
        if self._song_genre is None:  # no genre files: an empty table, typed like a full one
            return pd.DataFrame({"genre": pd.Series(dtype=str), "songs": pd.Series(dtype="float32"),
                                 "plays": pd.Series(dtype="float32")})
        store = self.graph[SONG_GENRE]
        songs_per = torch.zeros(len(self.maps.genre)).index_add_(0, store.edge_index[1], store.edge_weight)
        listens = self.graph[LISTENS]
        plays_song = torch.zeros(len(self.maps.song)).index_add_(0, listens.edge_index[1], listens.plays)
        plays_per = torch.zeros(len(self.maps.genre)).index_add_(
            0, store.edge_index[1], store.edge_weight * plays_song[store.edge_index[0]])
        frame = pd.DataFrame({"genre": self.genres(), "songs": songs_per.numpy(), "plays": plays_per.numpy()})
        return frame.sort_values("plays", ascending=False, ignore_index=True)

    # ---- profiles ---------------------------------------------------------------------------------------------
    def user_profile(self, user_id: object, top: int = 10, recent: int = 10) -> dict[str, Any]:
        """History summary: counts, top genres (share of plays), top artists, most recent songs, held-out counts."""
        user = self.user_index(user_id)
        rows = self.dataset.interactions[self.dataset.interactions["user_id"] == str(self.maps.user.id_of(user))]
        train = rows[rows["split"] == "train"]
        tracks = self.dataset.tracks.set_index("track_id")
        artists = train["track_id"].map(tracks["artist_id"])
        by_artist = train.assign(artist_id=artists).groupby("artist_id", sort=False)["plays"].sum()
        by_artist = by_artist.sort_values(ascending=False).head(top)
        genre_index, shares = self._raw_genre_shares(user)
        order = torch.argsort(shares, descending=True)[:top]
        sort_col = "last_ts" if "last_ts" in train else "plays"
        recent_rows = train.sort_values(sort_col, ascending=False).head(recent)
        return {
            "user_id": self.maps.user.id_of(user),
            "name": self.maps.user.name_of(user),
            "interactions": len(train),
            "plays": int(train["plays"].sum()),
            "artists": int(artists.nunique()),
            "held_out": {label: int((rows["split"] == label).sum()) for label in ("valid", "test")},
            "top_genres": [{"genre": self.maps.genre.name_of(int(genre_index[i])), "share": float(shares[i])}
                           for i in order.tolist()],
            "top_artists": [{"artist_id": a, "artist": self.maps.artist.name_of(self.maps.artist.index(a)),
                             "plays": int(p)} for a, p in by_artist.items()],
            "recent": [{**self.track_info(self.maps.song.index(r.track_id)), "plays": int(r.plays),
                        **({"last_played": r.last_ts.isoformat()} if "last_ts" in train else {})}
                       for r in recent_rows.itertuples()],
            "adaptive_genre_weight": float(self.scorer.adaptive[user]),
        }

    def _raw_genre_shares(self, user: int) -> tuple[Tensor, Tensor]:
        """The user's genre shares of training plays (summing to 1), from the graph's prefers edges."""
        if ("user", "prefers", "genre") not in self.graph.edge_types:
            return torch.zeros(0, dtype=torch.long), torch.zeros(0)
        store = self.graph["user", "prefers", "genre"]
        mine = store.edge_index[0] == user
        return store.edge_index[1][mine], store.edge_weight[mine]

    # ---- recommendations --------------------------------------------------------------------------------------
    def _user_rows(self, user: int) -> tuple[Tensor, Tensor]:
        """(base [S], genre influence [S]) for one user, cached: re-ranking never recomputes them."""
        with self._lock:
            if user in self._rows:
                self._rows.move_to_end(user)
                return self._rows[user]
        users = torch.tensor([user])
        rows = (self.scorer.base_scores(users)[0], self.scorer.genre_scores(users)[0])
        with self._lock:
            self._rows[user] = rows
            while len(self._rows) > USER_CACHE_SIZE:
                self._rows.popitem(last=False)
        return rows

    def _weight(self, user: int, genre_weight: float | None) -> float:
        weight = check_genre_weight(genre_weight)
        return float(self.scorer.adaptive[user]) if weight is None else weight

    def recommend(self, user_id: object, k: int = 10, genre_weight: float | None = None,
                  exclude_known: bool = True) -> pd.DataFrame:
        """Top-k songs for a user, best first.

        Columns: rank, track_id, title, artist, genres, score, base_score (collaborative part), genre_score
        (genre_weight x genre influence), genre_influence, genre_weight (the adaptive one when None).
        A user without training history gets the cold-start ranking (popular songs); ``attrs['strategy']``
        says which was used and ``attrs['note']`` explains a clamped k.
        """
        user = self.user_index(user_id)
        k = _check_k(k)
        weight = self._weight(user, genre_weight)  # checked for every user, also those it does not apply to
        history = self.scorer.history(user)
        if len(history) == 0:
            frame = self.recommend_for_genres([], k)
            frame.attrs["strategy"] = NO_HISTORY
            return frame
        base, influence = self._user_rows(user)
        scores = base + weight * influence  # a new tensor: masking it leaves the cached rows intact
        if exclude_known:
            scores[history] = -math.inf
        available = len(self.maps.song) - (len(history) if exclude_known else 0)
        frame = self._frame(scores, base, influence, weight, min(k, available))
        frame.attrs["strategy"] = "personalised"
        if k > available:
            frame.attrs["note"] = f"k={k} exceeds the {available:,} songs this user has not heard; showing all"
        return frame

    def _frame(self, scores: Tensor, base: Tensor, influence: Tensor, weight: float, k: int) -> pd.DataFrame:
        top = torch.topk(scores, k).indices if k else torch.zeros(0, dtype=torch.long)
        infos = [self.track_info(s) for s in top.tolist()]
        return pd.DataFrame({
            "rank": np.arange(1, len(top) + 1),
            "track_id": [i["track_id"] for i in infos],
            "title": [i["title"] for i in infos],
            "artist": [i["artist"] for i in infos],
            "genres": [i["genres"] for i in infos],
            "score": scores[top].double().numpy(),
            "base_score": base[top].double().numpy(),
            "genre_score": (weight * influence[top]).double().numpy(),
            "genre_influence": influence[top].double().numpy(),
            "genre_weight": np.full(len(top), weight),
        })

    def recommend_for_genres(self, genres: list[str], k: int = 10) -> pd.DataFrame:
        """Cold start: songs for a new listener who names some genres (none: the most popular songs).

        Score = standardised log-popularity + 0.5 x cosine(chosen genres, song genre mix), plus, for models
        with genre nodes, the similarity of the songs to the chosen genres' learned embeddings.
        """
        k = _check_k(k)
        chosen = [self.maps.genre.index(g) for g in genres]
        base = self.scorer.popularity
        influence = torch.zeros(len(self.maps.song))
        if chosen and self._song_genre is not None:
            profile = torch.zeros(len(self.maps.genre))
            profile[chosen] = 1.0 / math.sqrt(len(chosen))
            influence = (self._song_genre @ profile.unsqueeze(1)).squeeze(1)
            genre_emb = self._genre_embeddings()
            if genre_emb is not None:
                affinity = self.scorer.song_emb @ genre_emb[chosen].mean(0)
                base = base + (affinity - affinity.mean()) / affinity.std().clamp_min(1e-6)
        weight = COLD_START_GENRE_WEIGHT if chosen else 0.0
        frame = self._frame(base + weight * influence, base, influence, weight, min(k, len(self.maps.song)))
        frame.attrs["strategy"] = f"cold start from genres {genres}" if chosen else "popular songs"
        if k > len(self.maps.song):
            frame.attrs["note"] = f"k={k} exceeds the {len(self.maps.song):,} songs in the catalogue; showing all"
        return frame

    def _song_popularity(self, song: int) -> tuple[int, int]:
        """(listeners in training, 1 + songs with more listeners) of one song: its place among the popular songs
        that a listener without history is recommended."""
        listeners = int(self._popularity[song])
        return listeners, int((self._popularity > listeners).sum()) + 1

    def _genre_embeddings(self) -> Tensor | None:
        if not self.model.uses_genres:
            return None
        with self._lock:
            if self._genre_emb is None:
                self.forward_passes += 1
                with torch.no_grad():
                    self._genre_emb = self.model(*self.model.full_inputs(self.graph))["genre"].cpu()
            return self._genre_emb

    # ---- explanations -----------------------------------------------------------------------------------------
    def explain(self, user_id: object, track_id: object, genre_weight: float | None = None,
                counterfactual: bool = False) -> dict[str, Any]:
        """Why this track for this user: exact score decomposition and the evidence behind each part."""
        from recsys.service.explain import explain

        return explain(self, self.user_index(user_id), self.track_index(track_id), genre_weight, counterfactual)

    def attention_subgraph(self, user_id: object, track_id: object, max_nodes: int = 30) -> dict[str, Any]:
        """The neighbourhood linking the user to the track, pruned by attention, ready to draw."""
        from recsys.service.subgraph import attention_subgraph

        if max_nodes < 2:
            raise ConfigError(f"max_nodes must be >= 2 (got {max_nodes})")
        return attention_subgraph(self, self.user_index(user_id), self.track_index(track_id), max_nodes)

    def attention(self) -> list:
        """The model's attention coefficients on the training graph (one forward pass, computed on first use)."""
        with self._lock:
            if self._attention is None:
                self.forward_passes += 1
                was_training = self.model.training
                self.model.eval()
                with torch.no_grad():
                    _, self._attention = self.model(*self.model.full_inputs(self.graph), return_attention=True)
                self.model.train(was_training)
            return self._attention

    def score_with_graph(self, graph, user: int, song: int, genre_weight: float) -> float:
        """The score of one pair after re-running the model on an edited graph (counterfactuals)."""
        scorer = self._prepare(graph)
        users = torch.tensor([user])
        base = float(scorer.base_scores(users)[0, song])
        return base + genre_weight * float(scorer.genre_scores(users)[0, song])

    # ---- comparisons and exploration ----------------------------------------------------------------------------
    def baseline(self, name: str):
        """A baseline (popularity, bprmf, lightgcn, ease) fitted on this model's training graph, cached."""
        from recsys.baselines import BASELINES, baseline_names
        from recsys.evaluation import ranking_task

        (name,) = baseline_names(name)
        with self._baseline_lock:
            if name not in self._baselines:
                valid = ranking_task(self.dataset, self.maps, "valid")
                config = TrainConfig(**self.payload.get("train_config", {}))
                self._baselines[name] = BASELINES[name]().fit(self.graph, valid, config)
            return self._baselines[name]

    def recommend_baseline(self, name: str, user_id: object, k: int = 10) -> pd.DataFrame:
        """Top-k of a baseline for the same user, seen songs excluded, in the same columns as `recommend`."""
        user, k = self.user_index(user_id), _check_k(k)
        # a copy: a baseline may hand out a view of its own tensor (popularity does), which masking would overwrite
        scores = self.baseline(name).score(torch.tensor([user]))[0].float().clone()
        history = self.scorer.history(user)
        scores[history] = -math.inf
        zeros = torch.zeros_like(scores)
        frame = self._frame(scores, scores, zeros, 0.0, min(k, len(self.maps.song) - len(history)))
        frame.attrs["strategy"] = name
        return frame

    def search_users(self, query: str = "", limit: int = 50) -> pd.DataFrame:
        """Users whose ID or name contains ``query`` (case-insensitive), most active first: a picker for 100K users."""
        frame = self._user_table()
        if query:
            q = query.strip().lower()
            frame = frame[frame["user_id"].str.lower().str.contains(q, regex=False)
                          | frame["name"].str.lower().str.contains(q, regex=False)]
        return frame.head(max(0, int(limit))).reset_index(drop=True)

    def _user_table(self) -> pd.DataFrame:
        with self._lock:
            if self._users is None:
                counts = self.scorer.known.crow_indices().diff().numpy()
                self._users = pd.DataFrame({"user_id": self.users(),
                                            "name": [str(n) for n in self.maps.user.names],
                                            "interactions": counts}).sort_values(
                    "interactions", ascending=False, kind="stable", ignore_index=True)
            return self._users

    def random_user(self, seed: int | None = None) -> str:
        """A random user with training history (reproducible with a seed)."""
        active = self._user_table()
        active = active[active["interactions"] > 0]
        return str(active["user_id"].sample(1, random_state=seed).iat[0])

    def search_tracks(self, query: str = "", limit: int = 50) -> pd.DataFrame:
        """Tracks whose ID, title or artist contains ``query``, most listened first."""
        frame = self._track_table()
        if query:
            q = query.strip().lower()
            hit = pd.Series(False, index=frame.index)
            for column in ("track_id", "title", "artist"):
                hit |= frame[column].str.lower().str.contains(q, regex=False)
            frame = frame[hit]
        return frame.head(max(0, int(limit))).reset_index(drop=True)

    def _track_table(self) -> pd.DataFrame:
        with self._lock:
            if self._tracks is None:
                artists = self._song_artist.numpy()
                self._tracks = pd.DataFrame({
                    "track_id": [str(t) for t in self.maps.song.ids],
                    "title": [str(t) for t in self.maps.song.names],
                    "artist": [str(self.maps.artist.names[a]) for a in artists],
                    "genres": self._genres_by_song,
                    "listeners": self._popularity.numpy()}).sort_values(
                    "listeners", ascending=False, kind="stable", ignore_index=True)
            return self._tracks

    def similar_tracks(self, track_id: object, k: int = 10) -> pd.DataFrame:
        """Nearest songs by cosine similarity of the model's final embeddings."""
        song, k = self.track_index(track_id), _check_k(k)
        emb = torch.nn.functional.normalize(self.scorer.song_emb, dim=1)
        similarity = emb @ emb[song]
        similarity[song] = -math.inf
        top = torch.topk(similarity, min(k, len(self.maps.song) - 1)).indices
        return pd.DataFrame([{**self.track_info(t), "similarity": float(similarity[t])} for t in top.tolist()])

    def embedding_projection(self, node_type: str = "song", sample: int = 2000, seed: int = 0) -> pd.DataFrame:
        """A 2-D PCA projection of final embeddings (a sample of nodes), with labels and main genre for colour."""
        if node_type not in ("user", "song"):
            raise ConfigError(f"node_type must be user or song (got {node_type!r})")
        emb = self.scorer.song_emb if node_type == "song" else self.scorer.user_emb
        generator = torch.Generator().manual_seed(seed)
        chosen = torch.randperm(emb.size(0), generator=generator)[:sample].sort().values
        centred = emb[chosen] - emb[chosen].mean(0)
        _, _, v = torch.pca_lowrank(centred, q=2, center=False)
        xy = (centred @ v[:, :2]).numpy()
        labels = [self.maps[node_type].name_of(i) for i in chosen.tolist()]
        ids = [self.maps[node_type].id_of(i) for i in chosen.tolist()]
        if node_type == "song":
            genre = [self._genres_by_song[i].split(", ")[0] or "(none)" for i in chosen.tolist()]
        else:
            genre = [self._top_genre(i) for i in chosen.tolist()]
        return pd.DataFrame({"id": ids, "label": labels, "x": xy[:, 0], "y": xy[:, 1], "genre": genre})

    def _top_genre(self, user: int) -> str:
        genres, shares = self._raw_genre_shares(user)
        return self.maps.genre.name_of(int(genres[shares.argmax()])) if len(genres) else "(none)"

    def describe(self) -> str:
        card = self.model_card()
        return (f"{card['model_type']} GAT, {card['parameters']:,} parameters, "
                f"{len(self.maps.user):,} users x {len(self.maps.song):,} songs ({self.data_path})")


def _check_k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k <= 0:
        raise ConfigError(f"k must be a positive integer (got {k!r})")
    return int(k)

