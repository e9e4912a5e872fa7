"""Checkpoints: one file per model, written atomically, loaded without unpickling arbitrary objects.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts, so `torch.load(weights_only=True)`
can read it; a file carrying any other Python object is refused, never executed. Writing goes to a temporary
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
    return payload
