"""Baselines: one contract for all, and a check of what each one is (popular songs, EASE's closed form, learning)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
import torch_geometric
from torch_geometric.data import HeteroData

from recsys.baselines import BASELINES, BPRMF, EASE, Baseline, LightGCN, Popularity, baseline_names
from recsys.baselines.lightgcn import bipartite_edge_index
from recsys.config import TrainConfig
from recsys.data import Dataset
from recsys.errors import ConfigError
from recsys.evaluation import RankingTask, ndcg_at, ranking_task
from recsys.graph import LISTENS, build_graph
from recsys.training.trainer import seed_everything

FAST = TrainConfig(epochs=2, batch_size=64, seed=0)


def make_dataset(rows: list[tuple[int, int, str]], num_songs: int) -> Dataset:
    """(user, song, split) rows -> a Dataset whose user and song indices are the given numbers."""
    rows = sorted(rows)  # users appear in index order
    interactions = pd.DataFrame([(f"u{u}", f"s{s}", split) for u, s, split in rows],
                                columns=["user_id", "track_id", "split"]).assign(plays=1)
    tracks = pd.DataFrame({"track_id": [f"s{i}" for i in range(num_songs)], "artist_id": "a"})
    return Dataset.from_tables(None, interactions=interactions, tracks=tracks,
                               artists=pd.DataFrame({"artist_id": ["a"]}))


def graph_and_valid(dataset: Dataset) -> tuple[HeteroData, RankingTask]:
    graph = build_graph(dataset, "train")
    return graph, ranking_task(dataset, graph.id_maps, "valid")


@pytest.fixture(scope="module")
def taste_groups() -> tuple[HeteroData, RankingTask]:
    """Two disjoint taste groups: even users play songs 0-29, odd users songs 30-59, by Zipf popularity.

    Ten songs per user (7 train, 2 valid, 1 test). Structure a model must learn: the group, and which songs
    of the group are popular (untrained LightGCN already sees the group through propagation, not popularity).
    """
    rng = np.random.default_rng(0)
    zipf = 1.0 / np.arange(1, 31)
    rows = []
    for user in range(48):
        songs = rng.choice(30, size=10, replace=False, p=zipf / zipf.sum()) + 30 * (user % 2)
        labels = rng.permutation(["train"] * 7 + ["valid"] * 2 + ["test"])
        rows += [(user, int(song), str(label)) for song, label in zip(songs, labels, strict=True)]
    return graph_and_valid(make_dataset(rows, 60))


@pytest.mark.parametrize("name", list(BASELINES))
def test_contract(name: str, taste_groups: tuple[HeteroData, RankingTask]) -> None:
    graph, valid = taste_groups
    baseline = BASELINES[name]()
    assert isinstance(baseline, Baseline) and baseline.name == name
    assert baseline.fit(graph, valid, FAST) is baseline
    assert baseline.train_seconds > 0
    users = torch.tensor([0, 5, 3])
    scores = baseline.score(users)
    assert scores.shape == (3, graph["song"].num_nodes)
    assert torch.isfinite(scores).all()
    again = BASELINES[name]().fit(graph, valid, FAST).score(users)
    assert torch.equal(scores, again)  # deterministic for a seed


@pytest.mark.parametrize("name", list(BASELINES))
def test_score_before_fit_is_a_clear_error(name: str) -> None:
    with pytest.raises(RuntimeError, match="fit"):
        BASELINES[name]().score(torch.tensor([0]))


def test_popularity_ranks_the_most_listened_training_songs_first() -> None:
    # training users per song: s2 4, s1 3, s3 2, s0 1; s0 has 5 more listeners in test, which must not count
    train = {2: [0, 1, 2, 3], 1: [0, 1, 2], 3: [0, 1], 0: [4]}
    rows = [(u, s, "train") for s, users in train.items() for u in users]
    rows += [(u, 0, "test") for u in range(5, 10)] + [(u, 3, "valid") for u in (5, 6)]
    graph, valid = graph_and_valid(make_dataset(rows, 5))
    scores = Popularity().fit(graph, valid, FAST).score(torch.tensor([0, 7]))
    assert scores[0].tolist() == [1.0, 3.0, 4.0, 2.0, 0.0]
    assert torch.equal(scores[0], scores[1])  # not personalised
    assert scores[0].argsort(descending=True)[:4].tolist() == [2, 1, 3, 0]


def numpy_ease(x: np.ndarray, lam: float) -> np.ndarray:
    """The primal closed form: P = (X^T X + lam I)^-1, B_ij = -P_ij / P_jj, diag(B) = 0."""
    p = np.linalg.inv(x.T @ x + lam * np.eye(x.shape[1]))
    b = -p / np.diag(p)[None, :]
    np.fill_diagonal(b, 0.0)
    return b


@pytest.mark.parametrize(("num_users", "num_songs"), [(6, 11), (14, 5)])  # dual form, then primal form
def test_ease_matches_the_closed_form(num_users: int, num_songs: int) -> None:
    rng = np.random.default_rng(num_users)
    x = (rng.random((num_users, num_songs)) < 0.4).astype(np.float64)
    x[np.arange(num_users), rng.integers(0, num_songs, num_users)] = 1.0  # everyone has a training song
    rows = [(int(u), int(s), "train") for u, s in zip(*np.nonzero(x), strict=True)]
    free = np.argwhere(x == 0)[:3]
    rows += [(int(u), int(s), "valid") for u, s in free]
    graph, valid = graph_and_valid(make_dataset(rows, num_songs))
    ease = EASE(lambdas=[3.0]).fit(graph, valid, FAST)
    expected = numpy_ease(x, 3.0)
    if num_users < num_songs:  # dual form: the fitted model keeps every user's scores, not B
        assert ease.weights is None and ease.table is not None
    else:
        np.testing.assert_allclose(ease.weights.numpy(), expected, atol=1e-5)
    users = torch.arange(num_users)
    np.testing.assert_allclose(ease.score(users).numpy(), x @ expected, atol=1e-4)


def test_ease_tunes_lambda_on_valid(taste_groups: tuple[HeteroData, RankingTask]) -> None:
    graph, valid = taste_groups
    ease = EASE().fit(graph, valid, FAST)
    assert ease.lam in ease.lambdas
    assert ease.details["valid_ndcg@10"] == pytest.approx(ndcg_at(ease.score, valid, 10))


def test_ease_refuses_large_catalogues(taste_groups: tuple[HeteroData, RankingTask]) -> None:
    graph = HeteroData()
    graph["user"].num_nodes, graph["song"].num_nodes = 2, 20_001
    graph[LISTENS].edge_index = torch.tensor([[0, 1], [0, 1]])
    with pytest.raises(ConfigError, match="20,001 songs"):
        EASE().fit(graph, taste_groups[1], FAST)


def test_lightgcn_is_pygs_model_over_the_bipartite_graph(taste_groups: tuple[HeteroData, RankingTask]) -> None:
    graph, _ = taste_groups
    trainable = LightGCN().trainable(graph, torch.device("cpu"))
    model = trainable.module
    assert isinstance(model, torch_geometric.nn.models.LightGCN)
    assert (model.embedding_dim, model.num_layers) == (64, 3)
    num_users, num_songs = graph["user"].num_nodes, graph["song"].num_nodes
    assert model.num_nodes == num_users + num_songs
    edge_index = bipartite_edge_index(graph)
    listens = graph[LISTENS].edge_index
    assert edge_index.size(1) == 2 * listens.size(1)
    assert torch.equal(edge_index[:, : listens.size(1)], torch.stack([listens[0], listens[1] + num_users]))
    user, song = trainable.embed()
    # CSR product vs PyG's edge_index propagation: two summation orders, equal up to float rounding
    torch.testing.assert_close(torch.cat([user, song]), model.get_embedding(edge_index), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cls", [BPRMF, LightGCN])
def test_embedding_baselines_learn(cls: type[BPRMF | LightGCN], taste_groups: tuple[HeteroData, RankingTask]) -> None:
    graph, valid = taste_groups
    config = TrainConfig(epochs=20, batch_size=64, patience=20, seed=0)
    seed_everything(config.seed)
    untrained = ndcg_at(cls().trainable(graph, torch.device("cpu")).frozen_scorer(), valid, 10)
    baseline = cls().fit(graph, valid, config)
    trained = ndcg_at(baseline.score, valid, 10)
    assert trained > untrained + 0.15, (untrained, trained)
    assert baseline.details["epochs"] >= baseline.details["best_epoch"] >= 1


def test_baseline_names() -> None:
    assert baseline_names("popularity, ease") == ["popularity", "ease"]
    assert baseline_names("all") == list(BASELINES)
    assert baseline_names("none") == []
    with pytest.raises(ConfigError, match=r"unknown baseline\(s\) 'pop'.*known: popularity, bprmf, lightgcn, ease"):
        baseline_names("pop,ease")


def test_blend_reuses_a_fitted_inner_model_and_adds_ease(taste_groups: tuple[HeteroData, RankingTask]) -> None:
    from recsys.baselines import EASEBlend

    graph, valid = taste_groups
    inner = BPRMF().fit(graph, valid, FAST)
    before = inner.score(torch.arange(4)).clone()
    blend = EASEBlend(inner).fit(graph, valid, FAST)
    assert blend.name == "bprmf+ease" and blend.inner is inner
    torch.testing.assert_close(inner.score(torch.arange(4)), before)  # not refitted
    assert blend.train_seconds >= inner.train_seconds
    users = torch.arange(graph["user"].num_nodes)
    choice = blend.choice
    ease = blend.ease.score(users) if blend.ease is not None else 0.0
    torch.testing.assert_close(blend.score(users), (inner.score(users) + choice.beta * ease) / choice.scale)
    assert blend.details["item_item_lambda"] == choice.lam and "best_epoch" in blend.details
    assert choice.valid_ndcg == pytest.approx(ndcg_at(blend.score, valid, 10), abs=1e-6)
