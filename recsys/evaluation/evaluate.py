"""Evaluate any recommender's scores on a ranking task: accuracy, beyond-accuracy and the cold-start slice."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from recsys.evaluation.metrics import accuracy_metrics, beyond_accuracy
from recsys.evaluation.ranking import RankingTask, ScoreFn, top_k

COLD_START_MAX_TRAIN = 5  # users with at most this many training interactions form the cold-start slice


@dataclass(frozen=True)
class CatalogueStats:
    """What beyond-accuracy metrics need about the catalogue, from the training data."""

    popularity: Tensor  # [S] training users per song
    num_users: int
    song_genre: Tensor | None  # CSR [S, G] genre mix, or None


def evaluate_scores(score_fn: ScoreFn, task: RankingTask, ks: list[int], stats: CatalogueStats | None = None,
                    cold_start: bool = True) -> dict[str, float]:
    """Rank the full catalogue for every task user and compute metrics at each k.

    Returns a flat dict: ``ndcg@10``, ``recall@10``, ..., ``coverage@10``, ..., ``users``, and the same accuracy
    metrics prefixed ``cold_`` for users with at most 5 training interactions (``cold_users`` counts them).
    """
    return evaluate_top(top_k(score_fn, task, max(sorted(set(ks)))), task, ks, stats, cold_start)


def evaluate_top(top: Tensor, task: RankingTask, ks: list[int], stats: CatalogueStats | None = None,
                 cold_start: bool = True) -> dict[str, float]:
    """`evaluate_scores` from already ranked lists ``top`` [N, >= max(ks)] (one ranking, several uses)."""
    ks = sorted(set(ks))
    out = {"users": float(len(task.users)), **accuracy_metrics(top, task.relevant, ks)}
    if stats is not None:
        for k in ks:
            out.update(beyond_accuracy(top[:, :k], stats.popularity, stats.num_users, stats.song_genre))
    if cold_start:
        cold = task.train_counts[task.users] <= COLD_START_MAX_TRAIN
        out["cold_users"] = float(cold.sum())
        if cold.any():
            sub = task.subset(cold)
            cold_metrics = accuracy_metrics(top[cold], sub.relevant, ks)
            out.update({f"cold_{name}": value for name, value in cold_metrics.items()})
    return out


def ndcg_at(score_fn: ScoreFn, task: RankingTask, k: int = 10) -> float:
    """NDCG@k alone: the early-stopping and tuning criterion."""
    return accuracy_metrics(top_k(score_fn, task, k), task.relevant, [k])[f"ndcg@{k}"]
