r"""EASE (Steck, 2019): a closed-form item-item model, often the strongest simple baseline on implicit data.

Score of song j for user u: :math:`(x_u B)_j`, the sum of :math:`B_{ij}` over the songs i in u's training
history. The L2 strength is tuned on validation NDCG@k; each candidate's scores come from
`recsys.models.item_item.ease_scores` without forming B. With fewer users than songs the fitted model keeps
those scores (users x songs, smaller than B); otherwise the dense B (songs x songs, float32), which bounds the
catalogue (`MAX_SONGS`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from recsys.baselines.base import Baseline
from recsys.config import TrainConfig
from recsys.errors import ConfigError
from recsys.evaluation import RankingTask, ndcg_at, table_scorer
from recsys.graph import LISTENS
from recsys.models.item_item import fit_ease
from recsys.sparse import dense_rows, pairs_to_csr
from recsys.training.calibrate import LAMBDAS, ease_user_scores

MAX_SONGS = 20_000  # a dense B is songs^2 float32 (1.6 GB at 20K) plus a float64 songs^2 solve in the primal form


class EASE(Baseline):
    """EASE with its L2 strength tuned on the validation task.

    Args:
        lambdas: L2 strengths tried; the best on validation NDCG@k is kept (default: the blends' grid,
            `recsys.training.calibrate.LAMBDAS`, so every EASE term in an experiment is tuned alike).
    """

    name = "ease"

    def __init__(self, lambdas: Sequence[float] = LAMBDAS) -> None:
        super().__init__()
        if not lambdas:
            raise ConfigError("EASE needs at least one L2 strength to try")
        self.lambdas = tuple(float(lam) for lam in lambdas)
        self.lam: float | None = None
        self.table: Tensor | None = None  # [U, S] every user's scores (fewer users than songs), or
        self.weights: Tensor | None = None  # B [S, S]: row i, column j = how much having played i predicts j
        self.known: Tensor | None = None  # CSR [U, S] training history

    def _fit(self, graph: HeteroData, valid: RankingTask, config: TrainConfig) -> None:
        num_users, num_songs = graph["user"].num_nodes, graph["song"].num_nodes
        if num_songs > MAX_SONGS:
            raise ConfigError(f"the EASE baseline keeps a dense songs x songs matrix: {num_songs:,} songs is above "
                              f"its limit of {MAX_SONGS:,}; leave ease out of the baselines for this catalogue")
        users, songs = graph[LISTENS].edge_index
        if len(self.lambdas) == 1:  # nothing to choose (a blend's lambda, chosen by its calibration)
            self.lam = self.lambdas[0]
        else:
            listens = graph[LISTENS].edge_index
            tried = {lam: ndcg_at(table_scorer(valid.users, ease_user_scores(listens, num_users, num_songs, lam,
                                                                             valid.users)), valid, config.eval_k)
                     for lam in self.lambdas}
            self.lam = max(tried, key=lambda lam: (tried[lam], -self.lambdas.index(lam)))  # ties: the first tried
        if num_users < num_songs:
            self.table = ease_user_scores(graph[LISTENS].edge_index, num_users, num_songs, self.lam,
                                          torch.arange(num_users))
        else:
            self.known = pairs_to_csr(graph[LISTENS].edge_index, num_users, num_songs)
            self.weights = fit_ease(users, songs, num_users, num_songs, self.lam, topk=None).T  # B = (B^T)^T
        self.details = {"lambda": self.lam, f"valid_ndcg@{config.eval_k}": ndcg_at(self.score, valid, config.eval_k)}

    def score(self, users: Tensor) -> Tensor:
        if self.table is not None:
            return self.table[users]
        return dense_rows(self._fitted(self.known), users) @ self._fitted(self.weights)

    def __repr__(self) -> str:
        return f"EASE(lambdas={self.lambdas})"
