"""Implicit ALS (Hu, Koren and Volinsky, 2008) from the `implicit` library: the practitioner's baseline at scale.

At 100,000 users and a million songs ALS fits in about a minute on two cores, where an embedding model trained
by gradient needs many minutes per epoch, so it is the bar a graph model has to clear at that size (issue 15).
Confidence is 1 + alpha * (the binary training interaction), as in the paper; iterations run one at a time so
that a wall-clock budget (``TrainConfig.max_seconds``) stops ALS exactly as it stops the other models.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from recsys.baselines.base import Baseline
from recsys.config import TrainConfig
from recsys.evaluation import RankingTask
from recsys.graph import LISTENS


class ALS(Baseline):
    """`implicit.als.AlternatingLeastSquares` on the binary training matrix.

    Args:
        factors: latent dimensions (64, the GATs' embedding size).
        regularization: L2 strength (implicit's default 0.01).
        alpha: confidence weight of an observed interaction.
        iterations: maximum ALS sweeps (15, the usual setting); fewer when the time budget ends first.
    """

    name = "als"

    def __init__(self, factors: int = 64, regularization: float = 0.01, alpha: float = 1.0,
                 iterations: int = 15) -> None:
        super().__init__()
        self.factors, self.regularization, self.alpha, self.iterations = factors, regularization, alpha, iterations
        self.user_factors: Tensor | None = None
        self.item_factors: Tensor | None = None

    def _fit(self, graph: HeteroData, valid: RankingTask, config: TrainConfig) -> None:
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        users, songs = graph[LISTENS].edge_index.numpy()
        shape = (graph["user"].num_nodes, graph["song"].num_nodes)
        matrix = sp.csr_matrix((np.ones(len(users), dtype=np.float32), (users, songs)), shape=shape)
        matrix.data[:] = 1.0
        model = AlternatingLeastSquares(factors=self.factors, regularization=self.regularization, alpha=self.alpha,
                                        iterations=1, random_state=config.seed)
        started, done = time.perf_counter(), 0
        with threadpool_limits(1, "blas"):  # implicit runs its own threads; BLAS threads under them fight (its advice)
            while done < self.iterations:
                model.fit(matrix, show_progress=False)  # one more sweep from the current factors
                done += 1
                if config.max_seconds is not None and time.perf_counter() - started >= config.max_seconds:
                    break
        self.user_factors = torch.from_numpy(np.ascontiguousarray(model.user_factors))
        self.item_factors = torch.from_numpy(np.ascontiguousarray(model.item_factors))
        self.details = {"iterations": float(done), "factors": float(self.factors)}

    def score(self, users: Tensor) -> Tensor:
        return self._fitted(self.user_factors)[users] @ self._fitted(self.item_factors).T

    def __repr__(self) -> str:
        return f"ALS(factors={self.factors}, regularization={self.regularization}, iterations={self.iterations})"
