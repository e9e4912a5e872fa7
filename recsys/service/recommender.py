"""`Recommender`: the one facade the CLI, the dashboard and user scripts go through.

It loads a checkpoint and its dataset, runs ONE forward pass, and answers every question from cached
tensors through a few collaborators: `Catalogue` (tracks, genres, search), `Profiles` (trained listeners),
`FoldIn` (a listening history as a listener, no retraining), `Ranker`, `Explainer` and `AttentionMaps`, and
`StoredBaselines`. It speaks external IDs and names, never node indices, and returns pandas DataFrames and
JSON-serialisable dicts. Instances are read-only after construction and safe to share between threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
import torch

from recsys.errors import ConfigError
from recsys.graph.edit import without_listens
from recsys.service.attention import AttentionMaps
from recsys.service.catalogue import Catalogue
from recsys.service.explain import Explainer
from recsys.service.foldin import FoldIn
from recsys.service.listener import Listener
from recsys.service.profiles import Profiles
from recsys.service.ranking import Ranker
from recsys.service.stored import StoredBaselines, read_sidecar, sidecar
from recsys.service.subgraph import attention_subgraph
from recsys.training import Restored, restore

T = TypeVar("T")
History = Iterable[object]  # track IDs, or (track_id, plays) pairs


class Recommender:
    """Recommendations and explanations for one trained model on its dataset (`Recommender.load(checkpoint)`)."""

    def __init__(self, restored: Restored) -> None:
        self.model, self.dataset, self.graph = restored.model, restored.dataset, restored.graph
        self.maps, self.payload = restored.graph.id_maps, restored.payload
        self.checkpoint, self.data_path = Path(restored.checkpoint), restored.data_path
        self.forward_passes = 0  # counted so tests can prove re-ranking needs none
        self._lock = threading.Lock()
        self.scorer = self._counted(lambda: self.model.prepare(self.graph))()
        self.library = Catalogue(self.graph, self.dataset)
        self.profiles = Profiles(self.graph, self.dataset, self.scorer, self.library)
        inference = self._cached(self._infer)  # attention and genre vectors: one more forward pass, on first use
        self.ranker = Ranker(self.scorer, self.library, lambda: inference()[0].get("genre"))
        self.attention_maps = AttentionMaps(lambda: inference()[1])
        weight_decay = float(self.payload.get("train_config", {}).get("weight_decay", 1e-4))
        self.folding = FoldIn(self.model, self.graph, self.scorer, weight_decay, self._counted)
        self.explainer = Explainer(self.model, self.ranker, self.library, self.attention_maps, self.capabilities,
                                   self._rescore, self.model_type)
        dataset = self.payload.get("dataset", {})
        self.baselines = StoredBaselines(self.checkpoint, self.library,
                                         {"dataset_fingerprint": dataset.get("fingerprint", ""),
                                          "split_fingerprint": dataset.get("split_fingerprint", "")})

    @classmethod
    def load(cls, checkpoint: str | Path, data: str | Path | None = None) -> Recommender:
        """Load a checkpoint and its dataset (from the checkpoint's record, or ``data``)."""
        return cls(restore(checkpoint, data))

    @classmethod
    def from_restored(cls, restored: Restored) -> Recommender:
        return cls(restored)

    # ---- forward passes, each counted and run once --------------------------------------------------------
    def _counted(self, forward: Callable[[], T]) -> Callable[[], T]:
        def run() -> T:
            self.forward_passes += 1
            return forward()
        return run

    def _cached(self, forward: Callable[[], T]) -> Callable[[], T]:
        cache: list[T] = []

        def get() -> T:
            with self._lock:
                if not cache:
                    cache.append(self._counted(forward)())
                return cache[0]
        return get

    @torch.no_grad()
    def _infer(self) -> tuple[dict[str, torch.Tensor], list]:
        """Final embeddings of every node type and the attention coefficients (eval mode, no gradients)."""
        was_training = self.model.training
        self.model.eval()
        try:
            return self.model(*self.model.full_inputs(self.graph), return_attention=True)
        finally:
            self.model.train(was_training)

    def score_with_graph(self, graph, user: int, song: int, genre_weight: float) -> float:
        """The score of one pair after re-running the model on an edited graph (counterfactuals)."""
        scorer = self._counted(lambda: self.model.prepare(graph))()
        users = torch.tensor([user])
        return float(scorer.base_scores(users)[0, song]) + genre_weight * float(scorer.genre_scores(users)[0, song])

    def _rescore(self, listener: Listener, removed: list[int], song: int, weight: float) -> float:
        if listener.folded:
            keep = ~torch.isin(listener.history, torch.tensor(removed))
            edited = self.folding.from_indices(listener.history[keep], listener.plays[keep])
            return self.ranker.decompose(edited, song, weight)["score"]
        return self.score_with_graph(without_listens(self.graph, listener.index, removed), listener.index, song,
                                     weight)

    # ---- lookups and descriptions -------------------------------------------------------------------------
    @property
    def model_type(self) -> str:
        return str(self.payload["model_type"])

    @property
    def capabilities(self) -> dict[str, bool]:
        """Which parts the model's score has (the Basic model: the graph embedding only)."""
        genre = self.scorer.has_genres
        return {"graph": True, "history": self.scorer.uses_item_item, "genre": genre,
                "adaptive_weight": genre and self.scorer.base_genre_weight > 0}

    def users(self) -> list[str]:
        return [str(u) for u in self.maps.user.ids]

    def genres(self) -> list[str]:
        return self.library.genre_names()

    def user_index(self, user_id: object) -> int:
        return self.maps.user.index(user_id)

    def track_index(self, track_id: object) -> int:
        return self.maps.song.index(track_id)

    def track(self, track_id: object) -> dict[str, Any]:
        return self.library.track_info(self.track_index(track_id))

    def adaptive_genre_weight(self, user_id: object) -> float:
        return float(self.scorer.adaptive[self.user_index(user_id)])

    def model_card(self) -> dict[str, Any]:
        """Architecture, size, training curve and metrics, as stored in the checkpoint."""
        p = self.payload
        return {"model_type": self.model_type, "parameters": self.model.num_parameters(),
                "config": p["model_config"], "training": {**p.get("train", {}), "config": p.get("train_config", {})},
                "history": p.get("history", []), "metrics": p.get("metrics", {}),
                "dataset": {**p["dataset"], "resolved_path": str(self.data_path)}, "versions": p.get("versions", {}),
                "complete": bool(p.get("complete", False)), "scale_weights": self.model.scale_weights(),
                "checkpoint": str(self.checkpoint), "capabilities": self.capabilities}

    def dataset_summary(self) -> dict[str, int]:
        return self.dataset.summary()

    def describe(self) -> str:
        return (f"{self.model_type} GAT, {self.model.num_parameters():,} parameters, {len(self.maps.user):,} users x "
                f"{len(self.maps.song):,} songs ({self.data_path})")

    def faithfulness(self) -> dict[str, Any] | None:
        """The stored faithfulness figures (`python -m recsys faithfulness --store`), or None."""
        return read_sidecar(sidecar(self.checkpoint, "faithfulness"))

    # ---- catalogue and genres -----------------------------------------------------------------------------
    def catalogue(self) -> pd.DataFrame:
        return self.library.catalogue()

    def search_tracks(self, query: str = "", limit: int = 50) -> pd.DataFrame:
        return self.library.search_tracks(query, limit)

    def genre_distribution(self, rollup: bool = False) -> pd.DataFrame:
        return self.library.genre_distribution(rollup)

    def genre_parent(self, genre: str) -> str | None:
        return self.library.genre_parent(genre)

    # ---- trained listeners --------------------------------------------------------------------------------
    def search_users(self, query: str = "", limit: int = 50) -> pd.DataFrame:
        return self.profiles.search(query, limit)

    def random_user(self, seed: int | None = None) -> str:
        return self.profiles.random_user(seed)

    def user_profile(self, user_id: object, top: int = 10, recent: int = 10) -> dict[str, Any]:
        return self.profiles.profile(self.user_index(user_id), top, recent)

    def user_history(self, user_id: object) -> pd.DataFrame:
        return self.profiles.history(self.user_index(user_id))

    def genre_drift(self, user_id: object, freq: str = "MS", rollup: bool = False) -> pd.DataFrame:
        return self.profiles.drift(self.user_index(user_id), freq, rollup)

    def recommend(self, user_id: object, k: int = 10, genre_weight: float | None = None,
                  half_life_days: float | None = None, exclude_known: bool = True) -> pd.DataFrame:
        """Top-k songs, best first: rank, track_id, title, artist, genres, score, base_score, genre_score,
        genre_influence, genre_weight. ``half_life_days``: genre shares weighted by the recency of plays."""
        listener = self.profiles.listener(self.user_index(user_id), half_life_days)
        return self.ranker.recommend(listener, k, genre_weight, exclude_known)

    def explain(self, user_id: object, track_id: object, genre_weight: float | None = None,
                counterfactual: bool = False) -> dict[str, Any]:
        """Why this track for this user: exact score decomposition and the evidence behind each part."""
        listener = self.profiles.listener(self.user_index(user_id))
        return self.explainer.explain(listener, self.track_index(track_id), genre_weight, counterfactual)

    def attention_subgraph(self, user_id: object, track_id: object, max_nodes: int = 14,
                           genre_weight: float | None = None, focus: bool = False) -> dict[str, Any]:
        """The neighbourhood linking the user to the track, pruned by attention, ready to draw."""
        return self._subgraph(self.profiles.listener(self.user_index(user_id)), track_id, max_nodes, genre_weight,
                              focus)

    def _subgraph(self, listener: Listener, track_id: object, max_nodes: int, genre_weight: float | None,
                  focus: bool) -> dict[str, Any]:
        if isinstance(max_nodes, bool) or not isinstance(max_nodes, int) or max_nodes < 2:
            raise ConfigError(f"max_nodes must be an integer >= 2 (got {max_nodes!r})")
        song = self.track_index(track_id)
        return attention_subgraph(self.explainer, self.attention_maps, listener, song, max_nodes,
                                  self.ranker.weight(listener, genre_weight), focus)

    # ---- new listeners ------------------------------------------------------------------------------------
    def recommend_for_genres(self, genres: list[str], k: int = 10) -> pd.DataFrame:
        return self.ranker.for_genres(genres, k)

    def recommend_for_history(self, history: History, k: int = 10, genre_weight: float | None = None) -> pd.DataFrame:
        """`recommend` for a listening history folded into the model (no retraining)."""
        return self.ranker.recommend(self.folding.listener(history), k, genre_weight)

    def explain_for_history(self, history: History, track_id: object, genre_weight: float | None = None,
                            counterfactual: bool = False) -> dict[str, Any]:
        return self.explainer.explain(self.folding.listener(history), self.track_index(track_id), genre_weight,
                                      counterfactual)

    def attention_subgraph_for_history(self, history: History, track_id: object, max_nodes: int = 14,
                                       genre_weight: float | None = None, focus: bool = False) -> dict[str, Any]:
        return self._subgraph(self.folding.listener(history), track_id, max_nodes, genre_weight, focus)

    # ---- comparisons and exploration ----------------------------------------------------------------------
    def baseline_names(self) -> list[str]:
        return self.baselines.names()

    def recommend_baseline(self, name: str, user_id: object, k: int = 10) -> pd.DataFrame:
        """A stored baseline's top-k for the user (`X.baselines.json`); nothing is fitted here."""
        user = self.user_index(user_id)
        return self.baselines.recommend(name, self.maps.user.id_of(user), self.scorer.history(user), k)

    def similar_tracks(self, track_id: object, k: int = 10) -> pd.DataFrame:
        return self.ranker.similar(self.track_index(track_id), k)

    def embedding_projection(self, node_type: str = "song", sample: int = 2000, seed: int = 0) -> pd.DataFrame:
        return self.ranker.projection(node_type, sample, seed, self._top_genre)

    def _top_genre(self, user: int) -> str:
        genres, shares = self.profiles.shares(user)
        return self.maps.genre.name_of(int(genres[shares.argmax()])) if len(genres) else "(none)"
