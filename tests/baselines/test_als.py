"""implicit's ALS as a baseline: it learns taste groups, and a time budget stops it after whole iterations."""

from __future__ import annotations

import numpy as np

from recsys.baselines import ALS, Popularity
from recsys.config import TrainConfig
from recsys.evaluation import ndcg_at
from tests.baselines.test_baselines import graph_and_valid, make_dataset


def test_als_learns_taste_groups_and_respects_the_budget():
    rng = np.random.default_rng(1)
    rows = []
    for user in range(60):  # even users play songs 0-19, odd users 20-39
        songs = rng.choice(20, size=8, replace=False) + 20 * (user % 2)
        labels = ["train"] * 6 + ["valid"] * 2
        rows += [(user, int(song), label) for song, label in zip(songs, labels, strict=True)]
    graph, valid = graph_and_valid(make_dataset(rows, 40))
    als = ALS(factors=8, iterations=10).fit(graph, valid, TrainConfig(seed=0))
    popularity = Popularity().fit(graph, valid, TrainConfig(seed=0))
    assert als.details["iterations"] == 10
    assert ndcg_at(als.score, valid, 10) > ndcg_at(popularity.score, valid, 10) + 0.05
    budgeted = ALS(factors=8, iterations=10).fit(graph, valid, TrainConfig(seed=0, max_seconds=0.0))
    assert budgeted.details["iterations"] == 1  # the budget is checked after each whole sweep
