r"""Embeddings + EASE blends (``lightgcn+ease``, ``bprmf+ease``): the Enhanced GAT's ensemble, without its graph.

The Enhanced GAT scores :math:`(\langle z_u, z_s\rangle + \beta\,\mathrm{EASE}(u, s)) / \sigma` plus a genre term.
A blend of a baseline's embeddings with the same EASE term, calibrated by the same code on the same grid
(`recsys.training.calibrate.tune_item_item`: lambda and beta on validation), is the comparison that tells
what the graph attention adds beyond the ensemble.
"""

from __future__ import annotations

from torch import Tensor
from torch_geometric.data import HeteroData

from recsys.baselines.base import Baseline, EmbeddingBaseline
from recsys.baselines.ease import EASE
from recsys.config import TrainConfig
from recsys.evaluation import RankingTask
from recsys.graph import LISTENS
from recsys.training.calibrate import ItemItemChoice, tune_item_item


class EASEBlend(Baseline):
    """``inner``'s embedding scores plus beta times EASE's, over sigma.

    Args:
        inner: the embedding baseline; when already fitted (an experiment that reports it alone too) it is
            reused as it is and its training time is counted in the blend's.
    """

    def __init__(self, inner: EmbeddingBaseline) -> None:
        super().__init__()
        self.inner = inner
        self.name = f"{inner.name}+ease"
        self.choice: ItemItemChoice | None = None
        self.ease: EASE | None = None

    def fit(self, graph: HeteroData, valid: RankingTask, config: TrainConfig) -> EASEBlend:
        """Fit the inner baseline (unless fitted already), then calibrate the blend on ``valid``."""
        reused = self.inner.fitted
        super().fit(graph, valid, config)
        if reused:
            self.train_seconds += self.inner.train_seconds
        return self

    def _fit(self, graph: HeteroData, valid: RankingTask, config: TrainConfig) -> None:
        if not self.inner.fitted:
            self.inner.fit(graph, valid, config)
        listens = graph[LISTENS].edge_index
        self.choice = tune_item_item(self.inner.score, listens, graph["user"].num_nodes, graph["song"].num_nodes,
                                     valid, config.eval_k)
        self.ease = EASE(lambdas=(self.choice.lam,)).fit(graph, valid, config) if self.choice.beta else None
        self.details = {**self.inner.details, **self.choice.details()}

    def score(self, users: Tensor) -> Tensor:
        choice = self._fitted(self.choice)
        scores = self.inner.score(users)
        if self.ease is not None:
            scores = scores + choice.beta * self.ease.score(users)
        return scores / choice.scale

    def __repr__(self) -> str:
        return f"EASEBlend({self.inner!r})"
