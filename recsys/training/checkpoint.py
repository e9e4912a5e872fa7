"""Checkpoints: one file per model, written atomically, loaded without unpickling arbitrary objects.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts, so `torch.load(weights_only=True)`
can read it; a file carrying any other Python object is refused, never executed. Its schema, sizes and weights
are checked before a model is built from it: a malformed file is a CheckpointError, never a traceback or an
allocation its own bytes do not justify. Writing goes to a temporary
file in the same folder, is flushed to disk, then renamed over the target: a crash or a full disk leaves the
previous checkpoint intact.
"""

from __future__ import annotations

import pickle
import platform
import re
import zipfile
from pathlib import Path
from typing import Any

import torch

from recsys.config import ModelConfig, TrainConfig, field_type_problem
from recsys.data.write import atomic_file
from recsys.errors import CheckpointError

FORMAT = "recsys-checkpoint"
FORMAT_VERSION = 1
REQUIRED_KEYS = ("format", "format_version", "model_type", "model_config", "state_dict", "num_nodes", "dataset",
                 "id_maps")


def library_versions() -> dict[str, str]:
    import torch_geometric

    from recsys.version import __version__

    return {"recsys": __version__, "torch": str(torch.__version__), "torch_geometric": torch_geometric.__version__,
            "python": platform.python_version()}


def save_checkpoint(payload: dict[str, Any], path: str | Path) -> Path:
    """Write atomically (`recsys.data.write.atomic_file`). Raises CheckpointError on failure."""
    path = Path(path)
    payload = {"format": FORMAT, "format_version": FORMAT_VERSION, "versions": library_versions(), **payload}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(path) as handle:
            torch.save(payload, handle)
        _remove_stale_temporaries(path)
    except OSError as exc:
        raise CheckpointError(f"cannot write checkpoint {path}: {exc.strerror or exc}; "
                              "any previous checkpoint there is unchanged") from None
    return path


def _remove_stale_temporaries(path: Path) -> None:
    """Temporary files left by writes that were killed midway (kill -9, power loss) are removed."""
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        stale.unlink(missing_ok=True)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read and check a checkpoint; every failure is a CheckpointError saying what is wrong with which file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        unsafe = re.search(r"Unsupported global: GLOBAL (\S+)", str(exc))
        if unsafe:  # torch's message goes on to suggest allowlisting the class: not advice to pass on here
            raise CheckpointError(f"refused to load {path}: it holds Python objects other than tensors and plain "
                                  f"data, which could run code (it names {unsafe.group(1)})") from None
        raise CheckpointError(f"cannot read checkpoint {path}: truncated or corrupted, or a pickle that is not "
                              "plain data (refused; nothing in it was run)") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError, KeyError, IndexError, TypeError,
            AttributeError) as exc:  # torch's weights-only unpickler raises all of these on junk bytes
        raise CheckpointError(f"cannot read checkpoint {path}: truncated or corrupted "
                              f"({type(exc).__name__}: {str(exc)[:200]})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a recsys checkpoint")
    version = payload.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(f"{path} has checkpoint format version {version}; this recsys reads version "
                              f"{FORMAT_VERSION}. Retrain with `python -m recsys train`.")
    missing = [key for key in REQUIRED_KEYS if key not in payload]
    if missing:
        raise CheckpointError(f"{path} is incomplete: missing {missing}")
    problem = payload_problem(payload)
    if problem is not None:
        raise CheckpointError(f"{path} is malformed: {problem}")
    return payload


NODE_TYPES = ("user", "song", "artist", "genre")


def payload_problem(payload: dict[str, Any]) -> str | None:
    """What is wrong with a loaded payload's schema, sizes or weights (None: a model can be built from it).

    Sizes are checked against the file's own content: node counts against its ID lists, layer sizes against the
    weights it stores, so a forged count (10^11 users) is refused before anything is allocated for it.
    """
    for key, kind in (("model_type", str), ("model_config", dict), ("num_nodes", dict), ("dataset", dict),
                      ("id_maps", dict), ("state_dict", dict), ("train_config", dict)):
        if key in payload and not isinstance(payload[key], kind):
            return f"'{key}' must be a {kind.__name__} (got {type(payload[key]).__name__})"
    for section, cls in (("model_config", ModelConfig), ("train_config", TrainConfig)):
        problem = field_type_problem(cls, payload.get(section, {}), section)
        if problem is not None:
            return problem
    if not isinstance(payload["dataset"].get("fingerprint"), str):
        return "'dataset' has no fingerprint text"
    problem = _ids_problem(payload["id_maps"], payload["num_nodes"])
    if problem is not None:
        return problem
    return _weights_problem(payload["state_dict"], payload["model_config"], payload["num_nodes"])


def _ids_problem(id_maps: dict[str, Any], num_nodes: dict[str, Any]) -> str | None:
    """Each node count is an int equal to the length of the checkpoint's own ID list of that type."""
    for kind in NODE_TYPES:
        state = id_maps.get(kind)
        if not (isinstance(state, dict) and isinstance(state.get("ids"), list) and isinstance(state.get("names"),
                                                                                             list)):
            return f"'id_maps.{kind}' must hold lists 'ids' and 'names'"
        count = num_nodes.get(kind, 0 if kind == "genre" else None)
        if not isinstance(count, int) or isinstance(count, bool):
            return f"'num_nodes.{kind}' must be an integer (got {type(count).__name__})"
        if count != len(state["ids"]):
            return f"'num_nodes.{kind}' is {count:,} but the checkpoint lists {len(state['ids']):,} {kind} IDs"
    return None


def _weights_problem(state_dict: dict[str, Any], model: dict[str, Any], num_nodes: dict[str, int]) -> str | None:
    """Tensors only (a module's `_extra_state` aside), all finite, and layer sizes the stored weights can hold."""
    stored = 0
    for name, value in state_dict.items():
        if not isinstance(name, str) or (not isinstance(value, torch.Tensor) and not name.endswith("_extra_state")):
            return f"'state_dict' entry {str(name)[:60]!r} is a {type(value).__name__}, not a tensor"
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            bad = int((~torch.isfinite(value)).sum())
            if bad:
                return f"tensor {name!r} {tuple(value.shape)} holds {bad:,} NaN or infinite value(s)"
            stored += value.numel()
    defaults = ModelConfig()
    dim, hidden = model.get("embedding_dim", defaults.embedding_dim), model.get("hidden_dim", defaults.hidden_dim)
    layers = model.get("num_layers", defaults.num_layers)
    tables = (num_nodes["user"] + num_nodes["song"]) * dim  # every model stores these two embedding tables
    if min(dim, hidden, layers) < 1:
        return "embedding_dim, hidden_dim and num_layers must be positive"
    if tables > stored or hidden > stored or layers > len(state_dict):
        return (f"its config asks for {tables:,} embedding values ({dim} dims), hidden_dim {hidden} and "
                f"{layers} layer(s), more than the {stored:,} weights in {len(state_dict)} tensors it stores")
    return None
