"""Every ranking metric against values computed by hand on lists of a few songs."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch

from recsys.data import Dataset
from recsys.evaluation import COLD_START_MAX_TRAIN, CatalogueStats, evaluate_scores, ranking_task
from recsys.evaluation.metrics import (
    accuracy_metrics,
    beyond_accuracy,
    coverage,
    intra_list_diversity,
    mean_popularity,
    novelty,
)
from recsys.graph import id_maps
from recsys.sparse import pairs_to_csr

# Three users' top-3 lists and their held-out songs (row into the lists, song):
#   row 0: [5, 1, 7], relevant {1, 9}            one hit at rank 2
#   row 1: [2, 3, 4], relevant {2, 3, 4, 8, 10}  three hits, more relevant songs than k
#   row 2: [0, 6, 11], relevant {12}             no hit
TOP = torch.tensor([[5, 1, 7], [2, 3, 4], [0, 6, 11]])
RELEVANT = torch.tensor([[0, 0, 1, 1, 1, 1, 1, 2],
                         [1, 9, 2, 3, 4, 8, 10, 12]])


def dcg(hit_ranks: list[int]) -> float:
    """Binary DCG of 1-based hit ranks."""
    return sum(1.0 / math.log2(rank + 1) for rank in hit_ranks)


def test_accuracy_at_3_by_hand() -> None:
    got = accuracy_metrics(TOP, RELEVANT, [3])
    ndcg0 = dcg([2]) / dcg([1, 2])  # ideal: min(k, |relevant|) = 2 hits first
    ndcg1 = dcg([1, 2, 3]) / dcg([1, 2, 3])  # ideal over min(3, 5) = 3 positions
    expected = {
        "recall@3": (1 / 2 + 3 / 5 + 0) / 3,  # hits / |relevant|, even when |relevant| > k
        "precision@3": (1 / 3 + 3 / 3 + 0) / 3,
        "ndcg@3": (ndcg0 + ndcg1 + 0) / 3,
        "hit_rate@3": 2 / 3,
        "mrr@3": (1 / 2 + 1 + 0) / 3,
    }
    assert got.keys() == expected.keys()
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, abs=1e-6), name


def test_accuracy_at_1_cuts_the_lists() -> None:
    got = accuracy_metrics(TOP, RELEVANT, [1, 3])
    assert got["recall@1"] == pytest.approx((0 + 1 / 5 + 0) / 3)
    assert got["precision@1"] == pytest.approx(1 / 3)
    assert got["ndcg@1"] == pytest.approx(1 / 3)
    assert got["mrr@1"] == pytest.approx(1 / 3)
    assert got["hit_rate@1"] == pytest.approx(1 / 3)


def test_ndcg_values_for_single_lists() -> None:
    one = torch.tensor([[0, 1, 2, 3]])
    # hits at ranks 1 and 4 of 3 relevant songs: DCG = 1 + 1/log2(5); ideal = 1 + 1/log2(3) + 1/2
    got = accuracy_metrics(one, torch.tensor([[0, 0, 0], [0, 3, 9]]), [4])["ndcg@4"]
    assert got == pytest.approx((1 + 1 / math.log2(5)) / (1 + 1 / math.log2(3) + 1 / 2), abs=1e-6)
    # one relevant song at rank 3: 1/log2(4) over an ideal of 1
    got = accuracy_metrics(one, torch.tensor([[0], [2]]), [4])["ndcg@4"]
    assert got == pytest.approx(0.5, abs=1e-6)


def test_users_without_held_out_songs_are_not_counted() -> None:
    with_empty = torch.cat([TOP, torch.tensor([[1, 2, 3]])])  # row 3 has no relevant song (and would hit)
    assert accuracy_metrics(with_empty, RELEVANT, [3]) == pytest.approx(accuracy_metrics(TOP, RELEVANT, [3]))


def test_coverage() -> None:
    assert coverage(torch.tensor([[0, 1], [1, 2]]), 10) == pytest.approx(3 / 10)


def test_novelty_is_mean_self_information() -> None:
    popularity = torch.tensor([4, 2, 1, 0])  # shares of 4 users: 1, 1/2, 1/4, and 1/4 (unseen counts as one)
    assert novelty(torch.tensor([[0, 1], [2, 3]]), popularity, 4) == pytest.approx((0 + 1 + 2 + 2) / 4)


def test_mean_popularity() -> None:
    assert mean_popularity(torch.tensor([[0, 1], [2, 3]]), torch.tensor([4, 2, 1, 0])) == pytest.approx(7 / 4)


def song_genres() -> torch.Tensor:
    """Songs 0 and 1: genre 0; song 2: genre 1; song 3: both equally (CSR [4, 2])."""
    pairs = torch.tensor([[0, 1, 2, 3, 3], [0, 0, 1, 0, 1]])
    return pairs_to_csr(pairs, 4, 2, torch.ones(5))


def test_intra_list_diversity() -> None:
    genres = song_genres()
    assert intra_list_diversity(torch.tensor([[0, 1]]), genres) == pytest.approx(0.0)  # same genre
    assert intra_list_diversity(torch.tensor([[0, 2]]), genres) == pytest.approx(1.0)  # disjoint genres
    assert intra_list_diversity(torch.tensor([[0, 3]]), genres) == pytest.approx(1 - 1 / math.sqrt(2))
    # pairs (0,1), (0,2), (1,2): similarities 1, 0, 0 -> 1 - 1/3; two lists average
    assert intra_list_diversity(torch.tensor([[0, 1, 2], [0, 2, 1]]), genres) == pytest.approx(2 / 3)
    assert math.isnan(intra_list_diversity(torch.tensor([[0, 1]]), None))


def test_beyond_accuracy_names_metrics_by_k() -> None:
    got = beyond_accuracy(torch.tensor([[0, 2]]), torch.tensor([4, 2, 1, 0]), 4, song_genres())
    assert got == pytest.approx({"coverage@2": 2 / 4, "novelty@2": (0 + 2) / 2, "diversity@2": 1.0,
                                 "popularity@2": 5 / 2})


def cold_and_warm() -> Dataset:
    """u_cold: 3 training songs, u_warm: 8; each has one test song; songs s0..s11 in index order."""
    rows = [("u_cold", f"s{i}", "train") for i in range(3)] + [("u_cold", "s10", "test")]
    rows += [("u_warm", f"s{i}", "train") for i in range(8)] + [("u_warm", "s11", "test")]
    interactions = pd.DataFrame(rows, columns=["user_id", "track_id", "split"]).assign(plays=1)
    tracks = pd.DataFrame({"track_id": [f"s{i}" for i in range(12)], "artist_id": "a"})
    return Dataset.from_tables(None, interactions=interactions, tracks=tracks,
                               artists=pd.DataFrame({"artist_id": ["a"]}))


def test_cold_start_slice_gets_cold_metrics() -> None:
    dataset = cold_and_warm()
    task = ranking_task(dataset, id_maps(dataset), "test")
    assert COLD_START_MAX_TRAIN == 5
    # Scores rise with the song index, so the masked lists are: u_cold [11, 10, 9, ...], u_warm [11, 10, ...].
    scores = torch.arange(12, dtype=torch.float).expand(2, -1)
    got = evaluate_scores(lambda users: scores[users], task, [2])
    cold_ndcg = dcg([2]) / dcg([1])  # s10 at rank 2
    assert got["users"] == 2 and got["cold_users"] == 1
    assert got["cold_ndcg@2"] == pytest.approx(cold_ndcg)
    assert got["cold_recall@2"] == pytest.approx(1.0) and got["cold_mrr@2"] == pytest.approx(0.5)
    assert got["ndcg@2"] == pytest.approx((cold_ndcg + 1.0) / 2)  # u_warm's s11 comes first


def test_stats_add_beyond_accuracy_at_every_k() -> None:
    dataset = cold_and_warm()
    task = ranking_task(dataset, id_maps(dataset), "test")
    stats = CatalogueStats(popularity=torch.ones(12, dtype=torch.long), num_users=2, song_genre=None)
    got = evaluate_scores(lambda users: torch.zeros(len(users), 12), task, [1, 2], stats)
    assert {"coverage@1", "coverage@2", "novelty@2", "diversity@2", "popularity@2"} <= got.keys()
    assert got["novelty@2"] == pytest.approx(1.0)  # every song seen by 1 of 2 users


def test_per_user_ndcg_by_hand_and_its_mean_is_the_metric() -> None:
    from recsys.evaluation import per_user_ndcg

    values = per_user_ndcg(TOP, RELEVANT, 3)
    ideal_two = 1.0 + 1.0 / math.log2(3)  # two relevant songs: ideal DCG at k=3 places both first
    expected = [(1.0 / math.log2(3)) / ideal_two, 1.0, 0.0]  # row 1: three hits in three places
    torch.testing.assert_close(values, torch.tensor(expected), atol=1e-6, rtol=0)
    assert float(values.mean()) == pytest.approx(accuracy_metrics(TOP, RELEVANT, [3])["ndcg@3"])
