"""Explanations are measured, not assumed: fidelity against random removals, and recovery of the truth."""

from __future__ import annotations

from recsys.service.faithfulness import fidelity, load_truth, truth_recovery


def test_explained_history_matters_more_than_random_history(recommender):
    report = fidelity(recommender, users=12, removed=2, random_draws=2)
    assert report["pairs"] == 12
    assert report["mean_drop_explained"] > report["mean_drop_random"] > -1.0
    assert report["share_pairs_explained_larger"] >= 0.75


def test_explanations_recover_true_genres(recommender, small_data):
    truth = load_truth(small_data.with_name(small_data.name + ".truth.json"))
    report = truth_recovery(recommender, truth, users=40, k=10)
    assert report["users"] == 40
    assert report["top_explained_genre_is_preferred"] >= 0.7
    precision = report["genre_precision_by_weight"]
    assert precision["0.5"] >= precision["0.0"]
