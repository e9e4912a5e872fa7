r"""EASE (Steck, 2019): a closed-form item-item model, often the strongest simple baseline on implicit data.

Score of song j for user u: :math:`(x_u B)_j`, the sum of :math:`B_{ij}` over the songs i in u's training
history. B is kept dense (songs x songs, float32), which bounds the catalogue (`MAX_SONGS`); the L2 strength
is tuned on validation NDCG@k, each candidate fitted in the dual form when there are fewer users than songs.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor
from torch_geometric.data import HeteroData

from recsys.baselines.base import Baseline
from recsys.config import TrainConfig
from recsys.errors import ConfigError
from recsys.evaluation import RankingTask, ndcg_at
from recsys.graph import LISTENS
from recsys.models.item_item import fit_ease
from recsys.sparse import dense_rows, pairs_to_csr

LAMBDAS = (10.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0)
MAX_SONGS = 20_000  # a dense B is songs^2 float32 (1.6 GB at 20K) plus a float64 songs^2 solve in the primal form


class EASE(Baseline):
    """EASE with the full dense B, its L2 strength tuned on the validation task.

    Args:
        lambdas: L2 strengths tried; the best on validation NDCG@k is kept.
    """

    name = "ease"

    def __init__(self, lambdas: Sequence[float] = LAMBDAS) -> None:
        super().__init__()
        if not lambdas:
            raise ConfigError("EASE needs at least one L2 strength to try")
        self.lambdas = tuple(float(lam) for lam in lambdas)
        self.lam: float | None = None
        self.weights: Tensor | None = None  # B [S, S]: row i, column j = how much having played i predicts j
        self.known: Tensor | None = None  # CSR [U, S] training history

    def _fit(self, graph: HeteroData, valid: RankingTask, config: TrainConfig) -> None:
        num_users, num_songs = graph["user"].num_nodes, graph["song"].num_nodes
        if num_songs > MAX_SONGS:
            raise ConfigError(f"the EASE baseline keeps a dense songs x songs matrix: {num_songs:,} songs is above "
                              f"its limit of {MAX_SONGS:,}; leave ease out of the baselines for this catalogue")
        listens = graph[LISTENS].edge_index
        self.known = pairs_to_csr(listens, num_users, num_songs)
        best = (-1.0, self.lambdas[0], None)
        for lam in self.lambdas:
            self.weights = fit_ease(listens[0], listens[1], num_users, num_songs, lam, topk=None).T  # B = (B^T)^T
            metric = ndcg_at(self.score, valid, config.eval_k)
            if metric > best[0]:
                best = (metric, lam, self.weights)
        metric, self.lam, self.weights = best
        self.details = {"lambda": self.lam, f"valid_ndcg@{config.eval_k}": metric}

    def score(self, users: Tensor) -> Tensor:
        history = dense_rows(self._fitted(self.known), users)  # [B, S] 0/1
        return history @ self._fitted(self.weights)

    def __repr__(self) -> str:
        return f"EASE(lambdas={self.lambdas})"
