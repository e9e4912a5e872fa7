"""Honest evaluation: full-catalogue ranking with seen items masked, standard metrics, baselines alike."""

from recsys.evaluation.evaluate import COLD_START_MAX_TRAIN, CatalogueStats, evaluate_scores, evaluate_top, ndcg_at
from recsys.evaluation.metrics import per_user_ndcg
from recsys.evaluation.ranking import RankingTask, ScoreFn, ranking_task, table_scorer, top_k

__all__ = ["COLD_START_MAX_TRAIN", "CatalogueStats", "RankingTask", "ScoreFn", "evaluate_scores", "evaluate_top",
           "ndcg_at", "per_user_ndcg", "ranking_task", "table_scorer",
           "top_k"]
