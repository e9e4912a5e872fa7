"""After training: fit the Enhanced model's item-item term, tune its weight on valid, fix the score scale.

The item-item term (EASE) has a closed form, so it is fitted once per L2 strength rather than learned by
gradient. Its weight beta is chosen on the validation split from a small grid, in units of the embedding
score's spread (beta = 1: both parts vary equally). Finally sigma makes base scores unit-variance, so that a
genre weight means the same on every dataset.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from recsys.config import Config
from recsys.data import Dataset
from recsys.evaluation import RankingTask, ndcg_at
from recsys.graph import LISTENS
from recsys.models import GATRecommender, Scorer

LAMBDAS = (20.0, 50.0, 100.0, 200.0, 500.0)  # EASE L2 strengths tried; the range chosen on both datasets
BETAS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)  # item-item weight relative to the embedding score's spread
SAMPLE_USERS = 512  # users whose full score rows estimate the spreads


def _spread(scores: Tensor) -> float:
    return float(scores.std()) or 1.0


def _sample_users(num_users: int) -> Tensor:
    generator = torch.Generator().manual_seed(0)
    return torch.randperm(num_users, generator=generator)[:SAMPLE_USERS]


def calibrate(model: GATRecommender, graph: HeteroData, dataset: Dataset, valid: RankingTask,
              config: Config) -> dict[str, float]:
    """Set ``item_item_beta`` (Enhanced) and ``score_scale``; returns what was chosen and its valid NDCG@10."""
    sample = _sample_users(graph["user"].num_nodes)
    term = model.item_item_module()
    model.set_calibration(1.0, 1.0 if term is not None else 0.0)
    scorer = model.prepare(graph)  # the only forward pass: beta and sigma are arithmetic on its outputs
    result: dict[str, float] = {}
    beta = 0.0
    if term is not None:
        listens, num_users = graph[LISTENS].edge_index, graph["user"].num_nodes
        best = (-1.0, 0.0, 0.0)
        for lam in LAMBDAS:
            term.fit(listens, num_users, lam)
            relative = _spread(scorer.embedding_scores(sample)) / _spread(scorer.item_item_scores(sample))
            for beta in BETAS:
                candidate = _scaled(replace(scorer, item_item_weight=beta * relative), sample)
                metric = ndcg_at(candidate.scores, valid, config.training.eval_k)
                if metric > best[0]:
                    best = (metric, lam, beta * relative)
        metric, lam, beta = best
        if beta:
            term.fit(listens, num_users, lam)
        else:
            term.clear()
        scorer = replace(scorer, item_item_weight=beta)
        result.update({"item_item_lambda": lam, "item_item_beta": beta, "valid_ndcg_tuned": metric})
    scale = _scaled(scorer, sample).scale
    model.set_calibration(scale, beta)
    result["score_scale"] = scale
    return result


def _scaled(scorer: Scorer, sample: Tensor) -> Scorer:
    """The scorer with sigma set so that its base scores are unit-variance over the sample users."""
    unscaled = replace(scorer, scale=1.0)
    return replace(unscaled, scale=_spread(unscaled.base_scores(sample)))
