"""Baselines trained and ranked exactly like the GATs: popularity, BPR-MF, LightGCN (PyG) and EASE."""

from __future__ import annotations

from collections.abc import Sequence

from recsys.baselines.als import ALS
from recsys.baselines.base import Baseline, EmbeddingBaseline
from recsys.baselines.bprmf import BPRMF
from recsys.baselines.ease import EASE
from recsys.baselines.lightgcn import LightGCN
from recsys.baselines.popularity import Popularity
from recsys.errors import ConfigError

BASELINES: dict[str, type[Baseline]] = {"popularity": Popularity, "bprmf": BPRMF, "lightgcn": LightGCN,
                                        "ease": EASE, "als": ALS}


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


__all__ = ["ALS", "BASELINES", "BPRMF", "EASE", "Baseline", "EmbeddingBaseline", "LightGCN", "Popularity",
           "baseline_names"]
