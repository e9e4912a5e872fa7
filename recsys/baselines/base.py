"""The baseline contract: fit on the training graph, then score users against the whole catalogue.

Baselines are ranked by the same `recsys.evaluation.evaluate_scores` as the GATs, on the same split, so
``score`` follows the evaluation's `ScoreFn` contract: user indices [B] -> scores [B, num_songs].
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from typing import ClassVar, Self, TypeVar

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from recsys.config import TrainConfig
from recsys.evaluation import RankingTask, ScoreFn
from recsys.graph import LISTENS
from recsys.training.trainer import Trainable, fit, seed_everything

T = TypeVar("T")


def epoch_details(epochs: int, best_epoch: int, seconds: float) -> dict[str, float]:
    """Epochs run, the best one and seconds per epoch: what the report shows of every trained model."""
    return {"epochs": float(epochs), "best_epoch": float(best_epoch), "s_per_epoch": seconds / max(1, epochs)}


class Baseline(ABC):
    """A recommender to compare against: ``fit`` on TRAINING edges only, ``score`` every song for a user batch.

    Attributes:
        name: registry key (``popularity``, ``bprmf``, ...).
        train_seconds: wall clock of the last ``fit``, tuning included.
        fitted: whether ``fit`` has run.
        details: what fitting chose or reached (epochs, a tuned lambda), for the report.
    """

    name: ClassVar[str]

    def __init__(self) -> None:
        self.train_seconds = 0.0
        self.fitted = False
        self.details: dict[str, float] = {}

    def fit(self, graph: HeteroData, valid: RankingTask, config: TrainConfig) -> Self:
        """Fit on ``graph[LISTENS].edge_index``; ``valid`` only serves early stopping and tuning."""
        started = time.perf_counter()
        self._fit(graph, valid, config)
        self.train_seconds = time.perf_counter() - started
        self.fitted = True
        return self

    @abstractmethod
    def _fit(self, graph: HeteroData, valid: RankingTask, config: TrainConfig) -> None: ...

    @abstractmethod
    def score(self, users: Tensor) -> Tensor:
        """Scores [B, num_songs] for user indices [B]; seen songs are masked by the evaluation, not here."""

    def _fitted(self, value: T | None) -> T:
        """``value``, or a clear error when ``score`` comes before ``fit``."""
        if value is None:
            raise RuntimeError(f"{self.name}: call fit() before score()")
        return value

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class EmbeddingBaseline(Baseline):
    """A baseline trained by the project's own loop (`recsys.training.trainer.fit`), like the GATs.

    Same negative sampler, BPR over ``config.num_negatives`` negatives, L2 on the batch's ego embeddings, early
    stopping on validation NDCG@k and the best weights restored: only the model differs from the GATs'.
    """

    def __init__(self, embedding_dim: int = 64) -> None:
        super().__init__()
        self.embedding_dim = embedding_dim
        self.stopped = ""  # why training ended: early-stop, max-epochs or time-budget
        self._scorer: ScoreFn | None = None

    @abstractmethod
    def trainable(self, graph: HeteroData, device: torch.device) -> Trainable:
        """Build the model for this graph on ``device`` (parameters drawn from the global seed) and bind it."""

    def _fit(self, graph: HeteroData, valid: RankingTask, config: TrainConfig) -> None:
        generator = seed_everything(config.seed)
        trainable = self.trainable(graph, torch.device(config.device))
        listens = graph[LISTENS]
        state, self.stopped = fit(trainable, listens.edge_index, graph["song"].num_nodes, valid, config, generator,
                                  progress=False, play_weight=listens.plays)
        self._scorer = trainable.frozen_scorer()
        self.details = {**epoch_details(state.epoch, state.best_epoch, state.seconds),
                        f"valid_ndcg@{config.eval_k}": state.best_metric}

    def score(self, users: Tensor) -> Tensor:
        return self._fitted(self._scorer)(users)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(embedding_dim={self.embedding_dim})"
