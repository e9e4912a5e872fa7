"""recsys: graph-attention music recommendation with explanations.

Public API: `Recommender` (the service facade), `load_dataset`, the errors every front end catches
(`RecsysError` and its kinds), `check_genre_weight`, `__version__`, and the listening-export importers
`read_listening_export`, `match_history`, `EXPORT_FORMATS`, `MAX_EXPORT_BYTES` (pandas only), and the stored
model card `read_model_card` / `ModelCard` / `card_path` (no torch: the dashboard's overview).
Torch is imported lazily, so `import recsys` stays cheap for the CLI's `--help` and for data tools.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # must precede torch's import; spin-waits cost 10x on shared CPUs

from recsys.version import __version__

if TYPE_CHECKING:
    from recsys.card import ModelCard, card_path, read_model_card
    from recsys.config import check_genre_weight
    from recsys.data import load_dataset
    from recsys.data.exports import EXPORT_FORMATS, MAX_EXPORT_BYTES, match_history, read_listening_export
    from recsys.errors import CheckpointError, ConfigError, DataValidationError, RecsysError, UnknownIdError
    from recsys.service import Recommender

_EXPORTS = {  # name -> module that defines it, imported on first use
    "Recommender": "recsys.service",
    "ModelCard": "recsys.card",
    "read_model_card": "recsys.card",
    "card_path": "recsys.card",
    "load_dataset": "recsys.data",
    "check_genre_weight": "recsys.config",
    "RecsysError": "recsys.errors",
    "DataValidationError": "recsys.errors",
    "UnknownIdError": "recsys.errors",
    "CheckpointError": "recsys.errors",
    "ConfigError": "recsys.errors",
    "read_listening_export": "recsys.data.exports",
    "match_history": "recsys.data.exports",
    "EXPORT_FORMATS": "recsys.data.exports",
    "MAX_EXPORT_BYTES": "recsys.data.exports",
}

__all__ = ["EXPORT_FORMATS", "MAX_EXPORT_BYTES", "CheckpointError", "ConfigError", "DataValidationError", "ModelCard",
           "Recommender", "RecsysError", "UnknownIdError", "__version__", "card_path", "check_genre_weight",
           "load_dataset", "match_history", "read_listening_export", "read_model_card"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'recsys' has no attribute {name!r}")
