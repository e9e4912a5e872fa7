"""Calibration: the blend weight's grid is in units of the spread ratio of the FITTED term, chosen on valid."""

from __future__ import annotations

import pytest
import torch

from recsys.baselines import Popularity
from recsys.config import TrainConfig
from recsys.data import load_dataset
from recsys.evaluation import ndcg_at, ranking_task
from recsys.graph import LISTENS, build_graph
from recsys.models.item_item import ease_scores, fit_ease
from recsys.training.calibrate import BETAS, LAMBDAS, ease_user_scores, sample_users, tune_item_item
from recsys.training.trainer import prepare_data


@pytest.fixture(scope="module")
def setting(tiny_data):
    split, _ = prepare_data(load_dataset(tiny_data), 0)
    graph = build_graph(split, "train")
    valid = ranking_task(split, graph.id_maps, "valid")
    return graph, valid


@pytest.mark.parametrize(("num_users", "num_songs"), [(30, 80), (80, 30)])  # dual, then primal form
def test_ease_scores_are_history_times_b_without_b(num_users: int, num_songs: int) -> None:
    generator = torch.Generator().manual_seed(num_users)
    users, songs = torch.randint(0, num_users, (400,), generator=generator), torch.randint(0, num_songs, (400,),
                                                                                            generator=generator)
    history = torch.zeros(num_users, num_songs)
    history[users, songs] = 1.0
    expected = history @ fit_ease(users, songs, num_users, num_songs, 5.0, topk=None).T
    rows = torch.tensor([3, 0, 7, 3])
    torch.testing.assert_close(ease_scores(users, songs, num_users, num_songs, 5.0, rows), expected[rows],
                               atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(ease_scores(users, songs, num_users, num_songs, 5.0), expected, atol=1e-4, rtol=1e-4)


def test_the_weight_is_chosen_on_valid_in_units_of_the_fitted_spread(setting) -> None:
    graph, valid = setting
    popularity = Popularity().fit(graph, valid, TrainConfig())
    listens, num_users, num_songs = graph[LISTENS].edge_index, graph["user"].num_nodes, graph["song"].num_nodes
    choice = tune_item_item(popularity.score, listens, num_users, num_songs, valid)
    assert choice.lam in LAMBDAS and choice.beta_relative in BETAS
    sample = sample_users(num_users)
    item_item = ease_scores(listens[0], listens[1], num_users, num_songs, choice.lam, sample)
    ratio = float(popularity.score(sample).std()) / float(item_item.std())
    assert choice.spread_ratio == pytest.approx(ratio, rel=1e-4)  # measured on the fitted term, not 1.0
    assert choice.spread_ratio != pytest.approx(1.0)
    assert choice.beta == pytest.approx(choice.beta_relative * ratio)
    # the reported validation NDCG is the blend's, as an independent ranking computes it
    full = ease_scores(listens[0], listens[1], num_users, num_songs, choice.lam)
    blend = lambda users: popularity.score(users) + choice.beta * full[users]  # noqa: E731
    assert choice.valid_ndcg == pytest.approx(ndcg_at(blend, valid, 10), abs=1e-6)
    assert choice.valid_ndcg >= choice.valid_ndcg_embedding == pytest.approx(ndcg_at(popularity.score, valid, 10))
    sample_blend = popularity.score(sample) + choice.beta * item_item
    assert choice.scale == pytest.approx(float(sample_blend.std()), rel=1e-4)


def test_shared_ease_scores_are_the_same_numbers(setting) -> None:
    graph, _ = setting
    listens, num_users, num_songs = graph[LISTENS].edge_index, graph["user"].num_nodes, graph["song"].num_nodes
    users = torch.tensor([5, 1])
    first = ease_user_scores(listens, num_users, num_songs, 50.0, users)
    torch.testing.assert_close(first, ease_scores(listens[0], listens[1], num_users, num_songs, 50.0, users))
    torch.testing.assert_close(ease_user_scores(listens, num_users, num_songs, 50.0, users), first)
    other = ease_user_scores(listens[:, 1:], num_users, num_songs, 50.0, users)  # other training pairs
    torch.testing.assert_close(other, ease_scores(listens[0, 1:], listens[1, 1:], num_users, num_songs, 50.0, users))


def test_calibrated_enhanced_model_records_its_choice(enhanced_run) -> None:
    calibration = enhanced_run.calibration
    assert calibration["item_item_beta"] == pytest.approx(calibration["item_item_beta_relative"]
                                                          * calibration["item_item_spread_ratio"])
    model = enhanced_run.model
    torch.testing.assert_close(float(model.score_scale), calibration["score_scale"])
    assert float(model.item_item_beta) == pytest.approx(calibration["item_item_beta"])


def test_the_reported_blend_is_the_shipped_terms(enhanced_run) -> None:
    """The validation NDCG calibration reports is what the model ships: embeddings + beta x its stored sparse
    term (not exact EASE's closed form, which only screens lambda), at a lambda the term was fitted at."""
    model, graph, calibration = enhanced_run.model, enhanced_run.graph, enhanced_run.calibration
    term = model.item_item_module()
    assert term.fitted and term.lam == calibration["item_item_lambda"]
    scorer = model.prepare(graph)
    valid = ranking_task(enhanced_run.dataset, graph.id_maps, "valid")
    shipped = ndcg_at(lambda users: scorer.embedding_scores(users) + scorer.item_item_scores(users), valid, 10)
    assert shipped == pytest.approx(calibration["valid_ndcg_blend"], abs=1e-6)


def test_exact_screening_is_skipped_where_its_solve_would_not_fit(setting, monkeypatch) -> None:
    """At 100,000 users x 1M songs exact EASE is an 80 GB solve: calibration then fits the shipped term at
    UNSCREENED_LAMBDA (and its neighbours) and tunes beta on it, never calling the closed form."""
    from recsys.config import Config, ModelConfig
    from recsys.models import build_model
    from recsys.training import calibrate as module

    assert module.exact_screening_fits(1_892, 17_632) and not module.exact_screening_fits(100_000, 1_000_000)
    graph, valid = setting
    torch.manual_seed(0)
    model = build_model(ModelConfig(embedding_dim=8, hidden_dim=8), {t: graph[t].num_nodes for t in graph.node_types})
    monkeypatch.setattr(module, "exact_screening_fits", lambda users, songs: False)
    monkeypatch.setattr(module, "ease_user_scores", lambda *a, **k: pytest.fail("exact EASE was called"))
    choice = module.calibrate(model, graph, None, valid, Config(ModelConfig(embedding_dim=8, hidden_dim=8)))
    term = model.item_item_module()
    assert term.fitted and term.lam in LAMBDAS[LAMBDAS.index(module.UNSCREENED_LAMBDA) - 1:][:3]
    assert choice["item_item_lambda"] == term.lam
