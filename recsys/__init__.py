"""recsys: graph-attention music recommendation with explanations.

Public API: `Recommender` (the service facade), `load_dataset`, `__version__`. Torch is imported lazily, so
`import recsys` stays cheap for the CLI's `--help` and for data tools.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # must precede torch's import; spin-waits cost 10x on shared CPUs

from recsys.version import __version__

if TYPE_CHECKING:
    from recsys.data import load_dataset
    from recsys.service import Recommender

__all__ = ["Recommender", "__version__", "load_dataset"]


def __getattr__(name: str) -> Any:
    if name == "Recommender":
        from recsys.service import Recommender

        return Recommender
    if name == "load_dataset":
        from recsys.data import load_dataset

        return load_dataset
    raise AttributeError(f"module 'recsys' has no attribute {name!r}")
