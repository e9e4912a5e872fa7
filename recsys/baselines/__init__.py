"""Baselines trained and ranked exactly like the GATs: popularity, BPR-MF, LightGCN (PyG), EASE and the blends."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from recsys.baselines.als import ALS
from recsys.baselines.base import Baseline, EmbeddingBaseline
from recsys.baselines.blend import EASEBlend
from recsys.baselines.bprmf import BPRMF
from recsys.baselines.ease import EASE
from recsys.baselines.lightgcn import LightGCN
from recsys.baselines.popularity import Popularity
from recsys.errors import ConfigError

BASELINES: dict[str, Callable[[], Baseline]] = {
    "popularity": Popularity, "bprmf": BPRMF, "lightgcn": LightGCN, "ease": EASE,
    "lightgcn+ease": lambda: EASEBlend(LightGCN()), "bprmf+ease": lambda: EASEBlend(BPRMF()), "als": ALS,
}
LABELS = {"popularity": "Popularity", "bprmf": "BPR-MF", "lightgcn": "LightGCN (PyG)", "ease": "EASE",
          "lightgcn+ease": "LightGCN + EASE blend", "bprmf+ease": "BPR-MF + EASE blend",
          "als": "ALS (implicit)"}


def baseline_names(spec: str | Sequence[str]) -> list[str]:
    """Validated baseline names from ``"popularity,ease"``, a list, ``"all"`` or ``"none"``, in the order given."""
    names = [n.strip() for n in (spec.split(",") if isinstance(spec, str) else spec) if n.strip()]
    if names in (["none"], []):
        return []
    if names == ["all"]:
        return list(BASELINES)
    unknown = [n for n in names if n not in BASELINES]
    if unknown:
        raise ConfigError(f"unknown baseline(s) {', '.join(map(repr, unknown))}; known: {', '.join(BASELINES)} "
                          "(or all, none)")
    return list(dict.fromkeys(names))


__all__ = ["ALS", "BASELINES", "BPRMF", "EASE", "LABELS", "Baseline", "EASEBlend", "EmbeddingBaseline", "LightGCN",
           "Popularity", "baseline_names"]
