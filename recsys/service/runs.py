"""Every forward pass the service makes, counted: the one that builds the `Scorer`, the one that reads
attention and genre vectors (on first use), and re-runs on edited graphs (counterfactuals)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import torch
from torch import Tensor

from recsys.models import GATRecommender, Scorer
from recsys.service.listener import AttentionList

T = TypeVar("T")


class ModelRuns:
    """Runs one trained model on its training graph (or an edited copy) in eval mode, without gradients."""

    def __init__(self, model: GATRecommender, graph) -> None:
        self.model, self.graph = model, graph
        self.count = 0  # forward passes so far: tests prove that re-ranking needs none
        self._lock = threading.Lock()
        self._inference: tuple[dict[str, Tensor], AttentionList] | None = None

    def counted(self, forward: Callable[[], T]) -> Callable[[], T]:
        """``forward`` wrapped so that each call counts as one forward pass."""
        def run() -> T:
            with self._lock:
                self.count += 1
            return forward()
        return run

    def prepare(self, graph=None) -> Scorer:
        """A `Scorer` of the model on ``graph`` (default: the training graph)."""
        return self.counted(lambda: self.model.prepare(self.graph if graph is None else graph))()

    def inference(self) -> tuple[dict[str, Tensor], AttentionList]:
        """Final embeddings of every node type and the attention coefficients, computed once."""
        with self._lock:
            if self._inference is None:
                self.count += 1
                self._inference = self._infer()
            return self._inference

    @torch.no_grad()
    def _infer(self) -> tuple[dict[str, Tensor], AttentionList]:
        was_training = self.model.training
        self.model.eval()
        try:
            return self.model(*self.model.full_inputs(self.graph), return_attention=True)
        finally:
            self.model.train(was_training)

    def score_with_graph(self, graph, user: int, song: int, genre_weight: float) -> float:
        """The score of one pair after re-running the model on an edited graph."""
        scorer = self.prepare(graph)
        users = torch.tensor([user])
        return float(scorer.base_scores(users)[0, song]) + genre_weight * float(scorer.genre_scores(users)[0, song])
