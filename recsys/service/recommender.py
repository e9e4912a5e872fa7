"""`Recommender`: the one facade the CLI, the dashboard and user scripts go through.

It loads a checkpoint and its dataset, runs ONE forward pass, and answers every question from cached
tensors through a few collaborators: `Catalogue` (tracks, genres, search), `Profiles` (trained listeners),
`FoldIn` (a listening history as a listener, no retraining), `Ranker`, `Explainer` and `AttentionMaps`, and
`StoredBaselines`. It speaks external IDs and names, never node indices, and returns pandas DataFrames and
JSON-serialisable dicts. Instances are read-only after construction and safe to share between threads.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from recsys.card import ModelCard, card_path, describe
from recsys.service.attention import AttentionMaps
from recsys.service.catalogue import Catalogue
from recsys.service.explain import Explainer, Rescorer
from recsys.service.foldin import FoldIn
from recsys.service.listener import Listener
from recsys.service.profiles import Profiles
from recsys.service.ranking import Ranker
from recsys.service.runs import ModelRuns
from recsys.service.stored import StoredBaselines, read_sidecar, sidecar
from recsys.service.subgraph import attention_subgraph
from recsys.training import Restored, restore

History = Iterable[object]  # track IDs, or (track_id, plays) pairs


class Recommender:
    """Recommendations and explanations for one trained model on its dataset (`Recommender.load(checkpoint)`)."""

    def __init__(self, restored: Restored) -> None:
        self.model, self.dataset, self.graph = restored.model, restored.dataset, restored.graph
        self.maps, self.payload = restored.graph.id_maps, restored.payload
        self.checkpoint, self.data_path = Path(restored.checkpoint), restored.data_path
        self.runs = ModelRuns(self.model, self.graph)
        self.scorer = self.runs.prepare()
        self.library = Catalogue(self.graph, self.dataset)
        self.profiles = Profiles(self.graph, self.dataset, self.scorer, self.library)
        self.ranker = Ranker(self.scorer, self.library, lambda: self.runs.inference()[0].get("genre"))
        self.attention_maps = AttentionMaps(lambda: self.runs.inference()[1])
        self.folding = FoldIn(self.model, self.library, self.scorer,
                              float(self.payload.get("train_config", {}).get("weight_decay", 1e-4)), self.runs.counted)
        self.explainer = Explainer(self.model, self.ranker, self.library, self.attention_maps, self.capabilities,
                                   Rescorer(self.graph, self.runs, self.folding, self.ranker), self.model_type)
        self.baselines = StoredBaselines(self.checkpoint, self.library, self.payload.get("dataset", {}))

    @classmethod
    def load(cls, checkpoint: str | Path, data: str | Path | None = None) -> Recommender:
        """Load a checkpoint and its dataset (from the checkpoint's record, or ``data``)."""
        return cls(restore(checkpoint, data))

    @classmethod
    def from_restored(cls, restored: Restored) -> Recommender:
        return cls(restored)

    def warm_up(self) -> None:
        """Run now the two forward passes a first explanation and a first fold-in would (about 0.3 s at the
        default scale), so that a server pays them at start-up, not on a listener's first click."""
        self.runs.inference()
        self.folding.warm_up()

    @property
    def forward_passes(self) -> int:
        return self.runs.count

    def score_with_graph(self, graph, user: int, song: int, genre_weight: float) -> float:
        """The score of one pair after re-running the model on an edited graph (counterfactuals)."""
        return self.runs.score_with_graph(graph, user, song, genre_weight)

    # ---- lookups and descriptions -------------------------------------------------------------------------
    @property
    def model_type(self) -> str:
        return str(self.payload["model_type"])

    @property
    def capabilities(self) -> dict[str, bool]:
        return self.ranker.capabilities()

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
        return {"model_type": self.model_type, "parameters": self.model.num_parameters(), "config": p["model_config"],
                "training": {**p.get("train", {}), "config": p.get("train_config", {})}, "metrics": p.get("metrics"),
                "history": p.get("history", []), "versions": p.get("versions", {}), "complete": bool(p.get("complete")),
                "dataset": {**p["dataset"], "resolved_path": str(self.data_path)}, "checkpoint": str(self.checkpoint),
                "scale_weights": self.model.scale_weights(), "capabilities": self.capabilities}

    def dataset_summary(self) -> dict[str, int]:
        return self.dataset.summary()

    def card(self) -> ModelCard:
        """The model card, dataset counts and genre distribution: what an overview shows (`recsys.ModelCard`)."""
        distribution = {key: self.genre_distribution(rollup).to_dict("records")
                        for key, rollup in (("genres", False), ("roots", True))}
        return ModelCard(self.model_card(), self.dataset_summary(), distribution, self.genres(), len(self.maps.user),
                         len(self.maps.song), Path(self.data_path))

    def write_card(self) -> Path:
        """Write ``X.card.json`` beside the checkpoint ``X.pt`` (atomically), for overviews that skip loading."""
        return self.card().write(card_path(self.checkpoint))

    def describe(self) -> str:
        return describe(self.model_type, self.model.num_parameters(), len(self.maps.user), len(self.maps.song),
                        self.data_path)

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
        return attention_subgraph(self.explainer, self.attention_maps, listener, self.track_index(track_id),
                                  max_nodes, self.ranker.weight(listener, genre_weight), focus)

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
        return self.ranker.projection(node_type, sample, seed, self.profiles.top_genre)
