"""``X.baselines.json``: every baseline's top-k lists beside a checkpoint, so that no service ever fits one.

Format ``recsys-baseline-topk/1`` (INTERFACES.md): ``{"format", "dataset_fingerprint", "split_fingerprint",
"k", "models": {name: {"label", "users": {user_id: [track_id, ...]}}}}``; lists rank the full catalogue with
the user's training songs masked, for every user with training interactions.
"""

from __future__ import annotations

import json
from pathlib import Path

from torch import Tensor
from torch_geometric.data import HeteroData

from recsys.data import Dataset
from recsys.experiments.contenders import LABELS_ALL
from recsys.experiments.report import write_json
from recsys.training.trainer import split_fingerprint

FORMAT = "recsys-baseline-topk/1"


def baselines_path(checkpoint: str | Path) -> Path:
    """``X.pt`` -> ``X.baselines.json`` beside it."""
    checkpoint = Path(checkpoint)
    return checkpoint.with_name(f"{checkpoint.stem}.baselines.json")


def store_baselines(path: str | Path, split: Dataset, graph: HeteroData, users: Tensor, lists: dict[str, Tensor],
                    k: int) -> Path:
    """Write the lists: name -> [len(users), >= k] song indices, row i for user index ``users[i]``.

    An existing file of the same data, split and k keeps the lists of models not fitted this time (a later run
    that adds one model, such as a new checkpoint's ablation, does not refit the others); any other is replaced.
    """
    user_ids = graph.id_maps.user.ids.to_numpy(dtype=str)[users.numpy()]
    song_ids = graph.id_maps.song.ids.to_numpy(dtype=str)
    models = {name: {"label": LABELS_ALL.get(name, name),
                     "users": {user: song_ids[row].tolist() for user, row in zip(user_ids, top[:, :k].numpy(),
                                                                                 strict=True)}}
              for name, top in lists.items()}
    header = {"format": FORMAT, "dataset_fingerprint": split.fingerprint, "split_fingerprint": split_fingerprint(split),
              "k": k}
    kept = _existing(Path(path))
    if kept is not None and all(kept.get(key) == value for key, value in header.items()):
        models = {**kept.get("models", {}), **models}
    return write_json(path, {**header, "models": models}, indent=None)  # compact: 50 IDs per listener per model


def _existing(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None
