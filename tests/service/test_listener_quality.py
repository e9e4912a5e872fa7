"""Fold-in and recent-taste measurements (`python -m recsys listeners`) on the small trained model."""

from __future__ import annotations

import math

import pytest
import torch

from recsys.service.listener_quality import _tasks, genre_precision, recent_taste, report


@pytest.fixture(scope="module")
def tasks(recommender):
    return _tasks(recommender, users=30, seed=0)


def test_tasks_share_one_sample_of_users(tasks):
    assert torch.equal(tasks["valid"].users, tasks["test"].users)  # indices, not floats
    assert len(tasks["valid"].users) == 30


def test_genre_precision_counts_songs_sharing_a_held_out_genre(recommender, tasks):
    task = tasks["test"]
    first = torch.full((len(task.users),), -1, dtype=torch.long)
    first[task.relevant[0]] = task.relevant[1]  # one held-out song per user: it shares its own genres
    has_genre = [bool(recommender.library.mix[s]) for s in first.tolist()]
    assert genre_precision(recommender, first.unsqueeze(1), task) == pytest.approx(sum(has_genre) / len(has_genre))
    # one listener, a song sharing no genre with any of their held-out songs: not counted
    mix = recommender.library.mix
    held = {g for row, song in task.relevant.t().tolist() if row == 0 for g, _ in mix[song]}
    other = next(s for s in range(len(mix)) if mix[s] and not held & {g for g, _ in mix[s]})
    one = task.subset(torch.arange(len(task.users)) == 0)
    assert genre_precision(recommender, torch.tensor([[other, int(first[0])]]), one) == pytest.approx(0.5)


def test_report_compares_folded_with_trained_listeners(recommender):
    result = report(recommender, users=30, half_lives=(3.0,))
    assert result["users"] == 30
    for split in ("valid", "test"):
        fold = result["fold_in"][split]
        assert 0.5 < fold["ratio"] < 1.5  # issue 12 asks within 10% on the default data; this model is tiny
        assert fold["top10_overlap"] > 0.5  # a folded-in own history is close to the trained listener
    assert set(result["recent_taste"]["valid"]) == {"none", "3"}


def test_recent_taste_without_decay_is_the_plain_ranking(recommender, tasks):
    """A half-life far longer than the data's span weighs every play alike: the same lists as no half-life."""
    result = recent_taste(recommender, tasks, half_lives=(1e9,))
    for split in ("valid", "test"):
        plain, flat = result[split]["none"], result[split]["1e+09"]
        assert flat["ndcg@10"] == pytest.approx(plain["ndcg@10"], abs=1e-6)
        assert flat["genre_precision@10"] == pytest.approx(plain["genre_precision@10"], abs=1e-6)
    assert not math.isnan(result["test_change"]["ndcg@10"])
