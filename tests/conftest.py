"""Shared fixtures: one small generated dataset and small trained models, built once per test session."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch is imported by any test module

import pytest

SMALL = {"users": 150, "songs": 600, "artists": 60, "genres": 12, "days": 14, "seed": 7}
TINY = {"users": 120, "songs": 400, "artists": 40, "genres": 8, "days": 10, "seed": 1}


@pytest.fixture(scope="session")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic dataset (Parquet) with its truth file beside it."""
    from recsys.data.synthetic import generate

    out = tmp_path_factory.mktemp("data") / "small"
    generate(out, **SMALL)
    return out


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An even smaller synthetic dataset, for tests that train many times (mini-batch, DDP, bench)."""
    from recsys.data.synthetic import generate

    out = tmp_path_factory.mktemp("data") / "tiny"
    generate(out, **TINY)
    return out


@pytest.fixture(scope="session")
def small_dataset(small_data: Path):
    from recsys.data import load_dataset

    return load_dataset(small_data)


def _train(data: Path, out: Path, basic: bool):
    from recsys.config import Config, ModelConfig, TrainConfig
    from recsys.data import load_dataset
    from recsys.training import train

    model = ModelConfig.basic() if basic else ModelConfig(embedding_dim=32, hidden_dim=32)
    config = Config(model, TrainConfig(epochs=8, batch_size=2048, patience=4, seed=0))
    return train(load_dataset(data), config, out=out, progress=False, log=lambda _: None)


@pytest.fixture(scope="session")
def enhanced_run(small_data: Path, tmp_path_factory: pytest.TempPathFactory):
    """A small Enhanced GAT trained for a few epochs, with its checkpoint on disk (``.checkpoint``)."""
    out = tmp_path_factory.mktemp("ckpt") / "enhanced.pt"
    result = _train(small_data, out, basic=False)
    result.checkpoint = out
    return result


@pytest.fixture(scope="session")
def basic_run(small_data: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("ckpt") / "basic.pt"
    result = _train(small_data, out, basic=True)
    result.checkpoint = out
    return result


@pytest.fixture(scope="session")
def recommender(enhanced_run):
    """The service on the small Enhanced checkpoint (shared: tests must not mutate it)."""
    from recsys import Recommender

    return Recommender.load(enhanced_run.checkpoint)
