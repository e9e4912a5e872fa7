"""recsys: graph-attention music recommendation with explanations.

Public API: `Recommender` (the service facade), `load_dataset`, `__version__`, and the listening-export
importers `read_listening_export`, `match_history`, `EXPORT_FORMATS`, `MAX_EXPORT_BYTES` (pandas only). Torch is
imported lazily, so `import recsys` stays cheap for the CLI's `--help` and for data tools.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # must precede torch's import; spin-waits cost 10x on shared CPUs

__version__ = "0.1.0"

if TYPE_CHECKING:
    from recsys.data import load_dataset
    from recsys.data.exports import EXPORT_FORMATS, MAX_EXPORT_BYTES, match_history, read_listening_export
    from recsys.service import Recommender

__all__ = ["EXPORT_FORMATS", "MAX_EXPORT_BYTES", "Recommender", "__version__", "load_dataset", "match_history",
           "read_listening_export"]
_EXPORTS = ("EXPORT_FORMATS", "MAX_EXPORT_BYTES", "match_history", "read_listening_export")  # no torch in these


def __getattr__(name: str) -> Any:
    if name == "Recommender":
        from recsys.service import Recommender

        return Recommender
    if name == "load_dataset":
        from recsys.data import load_dataset

        return load_dataset
    if name in _EXPORTS:
        from recsys.data import exports

        return getattr(exports, name)
    raise AttributeError(f"module 'recsys' has no attribute {name!r}")
