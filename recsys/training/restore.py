"""Rebuild a trained model, its dataset split and its graph from a checkpoint, with every mismatch explained."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch_geometric.data import HeteroData

from recsys.card import dataset_candidates
from recsys.config import Config, ModelConfig, TrainConfig
from recsys.data import Dataset, assign_split, load_dataset
from recsys.errors import CheckpointError
from recsys.graph import LISTENS, IdMaps, build_graph
from recsys.models import GATRecommender, build_model
from recsys.training.checkpoint import load_checkpoint
from recsys.training.trainer import split_fingerprint


@dataclass(frozen=True)
class Restored:
    """A model ready to serve: weights loaded, in eval mode, with the dataset split and graph it was trained on."""

    model: GATRecommender
    dataset: Dataset
    graph: HeteroData
    config: Config
    payload: dict[str, Any]
    checkpoint: Path
    data_path: Path


def resolve_data_path(payload: dict[str, Any], checkpoint: Path, data: str | Path | None) -> Path:
    """The dataset folder: the one given, else the checkpoint's (as written, or relative to the project)."""
    if data is not None:
        return Path(data)
    recorded = payload["dataset"].get("path") or ""
    if not recorded:
        raise CheckpointError(f"{checkpoint} does not record its dataset; pass the data folder explicitly")
    candidates = dataset_candidates(recorded, checkpoint)
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise CheckpointError(f"dataset {recorded!r} of checkpoint {checkpoint} not found (looked in "
                          f"{', '.join(str(c) for c in candidates)}); pass the data folder explicitly")


def weights_mismatch(expected: dict[str, Any], stored: dict[str, Any]) -> str | None:
    """The first difference between the model's tensors and the checkpoint's, naming the tensor and its shapes."""
    missing, unexpected = sorted(set(expected) - set(stored)), sorted(set(stored) - set(expected))
    if missing or unexpected:
        return f"missing tensors {missing[:3]}, unexpected tensors {unexpected[:3]}"
    for name, tensor in expected.items():
        if isinstance(tensor, torch.Tensor) and tuple(stored[name].shape) != tuple(tensor.shape):
            return (f"tensor {name!r} has shape {tuple(stored[name].shape)} in the file, the model expects "
                    f"{tuple(tensor.shape)}")
    return None


def restore(checkpoint: str | Path, data: str | Path | None = None, dataset: Dataset | None = None) -> Restored:
    """Load a checkpoint and the dataset it was trained on, checking that they belong together."""
    checkpoint = Path(checkpoint)
    payload = load_checkpoint(checkpoint)
    data_path = dataset.path if dataset is not None and dataset.path else resolve_data_path(payload, checkpoint, data)
    dataset = dataset if dataset is not None else load_dataset(data_path)
    expected = payload["dataset"]["fingerprint"]
    if dataset.fingerprint != expected:
        raise CheckpointError(f"checkpoint {checkpoint} was trained on other data: dataset {data_path} has "
                              f"fingerprint {dataset.fingerprint}, the checkpoint expects {expected}")
    try:
        config = Config(ModelConfig(**payload["model_config"]).validate(),
                        TrainConfig(**payload.get("train_config", {})))
    except (TypeError, ValueError) as exc:  # ConfigError is a ValueError
        raise CheckpointError(f"{checkpoint} has a config this version does not understand: {exc}") from None
    dataset, _ = assign_split(dataset, payload["dataset"].get("split_seed", 0))
    if split_fingerprint(dataset) != payload["dataset"].get("split_fingerprint"):
        raise CheckpointError(f"the split rebuilt for {data_path} differs from the one {checkpoint} was trained on")
    graph = build_graph(dataset, "train")
    if not graph.id_maps.same_as(IdMaps.from_state(payload["id_maps"])):
        raise CheckpointError(f"{checkpoint}: the dataset's IDs differ from those the model was trained with")
    model = build_model(config.model, payload["num_nodes"])  # sizes checked by load_checkpoint against the file
    mismatch = weights_mismatch(model.state_dict(), payload["state_dict"])
    if mismatch is None:
        try:
            model.load_state_dict(payload["state_dict"])
        except (RuntimeError, KeyError, TypeError, ValueError) as exc:
            mismatch = str(exc).splitlines()[0][:200]
    if mismatch is not None:
        raise CheckpointError(f"{checkpoint}: weights do not fit the model they claim to be ({mismatch})")
    term = model.item_item_module()
    if term is not None and term.lam is not None and not term.fitted:  # a checkpoint from before it was stored
        term.fit(graph[LISTENS].edge_index, graph["user"].num_nodes, term.lam)
    model.eval()
    return Restored(model, dataset, graph, config, payload, checkpoint, Path(data_path))
