"""Training: determinism, early stopping, calibration, and that it learns."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from recsys.config import Config, ModelConfig, TrainConfig
from recsys.data import load_dataset
from recsys.errors import ConfigError
from recsys.evaluation import ndcg_at, ranking_task
from recsys.training import train


def tiny_config(**training) -> Config:
    return Config(ModelConfig.basic(embedding_dim=16, hidden_dim=16),
                  TrainConfig(**{"epochs": 3, "batch_size": 1024, "seed": 3, **training}))


def test_same_seed_same_run(small_dataset):
    first = train(small_dataset, tiny_config(), progress=False, log=lambda _: None)
    second = train(small_dataset, tiny_config(), progress=False, log=lambda _: None)
    assert [h["loss"] for h in first.state.history] == [h["loss"] for h in second.state.history]
    for (name, a), (_, b) in zip(first.model.state_dict().items(), second.model.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    other = train(small_dataset, tiny_config(seed=4), progress=False, log=lambda _: None)
    assert [h["loss"] for h in other.state.history] != [h["loss"] for h in first.state.history]


def test_enhanced_learns_and_beats_its_untrained_self(enhanced_run):
    history = enhanced_run.state.history
    assert history[-1]["loss"] < history[0]["loss"]
    untrained = replace(enhanced_run.config.model)
    from recsys.models import build_model

    graph = enhanced_run.graph
    fresh = build_model(untrained, {t: graph[t].num_nodes for t in graph.node_types})
    valid = ranking_task(enhanced_run.dataset, graph.id_maps, "valid")
    assert enhanced_run.valid["ndcg@10"] > ndcg_at(fresh.prepare(graph).scores, valid) + 0.02


def test_early_stopping_restores_the_best_epoch(small_dataset):
    result = train(small_dataset, tiny_config(epochs=30, patience=2, lr=0.05), progress=False, log=lambda _: None)
    curve = [h["valid_ndcg@10"] for h in result.state.history]
    assert result.stopped == "early-stop" and len(curve) < 30
    assert result.state.best_epoch == 1 + max(range(len(curve)), key=curve.__getitem__)
    valid = ranking_task(result.dataset, result.graph.id_maps, "valid")
    embedding_only = result.model.prepare(result.graph)
    scores = lambda users: embedding_only.embedding_scores(users)  # noqa: E731 (the part early stopping watched)
    assert ndcg_at(scores, valid) == pytest.approx(max(curve), abs=1e-6)


def test_calibration_makes_base_scores_unit_variance(enhanced_run):
    scorer = enhanced_run.model.prepare(enhanced_run.graph)
    sample = torch.arange(min(512, scorer.num_users))
    assert float(scorer.base_scores(sample).std()) == pytest.approx(1.0, rel=0.05)
    assert "score_scale" in enhanced_run.calibration


def test_metrics_reported_on_valid_and_test(enhanced_run):
    for metrics in (enhanced_run.valid, enhanced_run.test):
        assert 0 < metrics["ndcg@10"] <= 1 and metrics["users"] > 0
        assert 0 < metrics["coverage@10"] <= 1


def test_needs_validation_interactions(tmp_path):
    (tmp_path / "interactions.csv").write_text("user_id,track_id,split\nu1,t1,train\nu2,t1,test\n")
    (tmp_path / "tracks.csv").write_text("track_id,artist_id\nt1,a1\n")
    (tmp_path / "artists.csv").write_text("artist_id\na1\n")
    with pytest.raises(ConfigError, match="valid"):
        train(load_dataset(tmp_path), tiny_config(), progress=False, log=lambda _: None)
