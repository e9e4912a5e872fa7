"""Honest evaluation: full-catalogue ranking with seen items masked, standard metrics, baselines alike."""

from recsys.evaluation.evaluate import COLD_START_MAX_TRAIN, CatalogueStats, evaluate_scores, ndcg_at
from recsys.evaluation.ranking import RankingTask, ScoreFn, ranking_task, top_k

__all__ = ["COLD_START_MAX_TRAIN", "CatalogueStats", "RankingTask", "ScoreFn", "evaluate_scores", "ndcg_at",
           "ranking_task", "top_k"]
