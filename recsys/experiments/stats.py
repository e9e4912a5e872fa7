"""Paired comparisons over users: the difference a model makes, its bootstrap interval and a Wilcoxon test.

Two models ranked for the same test users give two NDCG@10 values per user; the paired difference removes the
users' own difficulty, so a small but consistent gain is visible. `scipy.stats.wilcoxon` (two-sided) tests
whether the differences are centred on zero; a percentile bootstrap over users (2,000 resamples, seed 0) gives
the 95% interval of the mean difference.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

BOOTSTRAP_RESAMPLES = 2000
ENSEMBLES = ("lightgcn+ease", "bprmf+ease")  # embeddings + EASE, as the Enhanced GAT's score
STRONG = ("ease", "lightgcn", *ENSEMBLES)  # the "best of EASE, tuned LightGCN and the blends"
ABLATION_OF = {"enhanced_noattn": "enhanced_gat"}
REFERENCE = "enhanced_gat"
GOALS = {"strong": 1.03, "single": 1.05, "p_value": 0.05}


def paired(reference: Sequence[float], other: Sequence[float]) -> dict[str, Any]:
    """Reference minus other, per user: mean, 95% bootstrap interval, Wilcoxon p, wins and losses."""
    a, b = np.asarray(reference, dtype=np.float64), np.asarray(other, dtype=np.float64)
    if a.shape != b.shape or a.size == 0:
        raise ValueError(f"paired values need the same non-empty users (got {a.size} and {b.size})")
    diff = a - b
    rng = np.random.default_rng(0)
    means = diff[rng.integers(0, diff.size, (BOOTSTRAP_RESAMPLES, diff.size))].mean(axis=1)
    p_value = float(stats.wilcoxon(a, b).pvalue) if np.any(diff != 0) else 1.0  # all zero: nothing to test
    return {"diff": float(diff.mean()), "ci95": [float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))],
            "p_value": p_value, "users": int(diff.size), "wins": int((diff > 0).sum()), "losses": int((diff < 0).sum())}


def is_baseline(name: str) -> bool:
    """Anything but a GAT or an ablation of one."""
    return not name.endswith("_gat") and name not in ABLATION_OF


def seed_comparison(models: dict[str, dict[str, float]], per_user: dict[str, list[float]],
                    reference: str = REFERENCE) -> dict[str, Any] | None:
    """The reference against this seed's best baseline (highest test NDCG@10) and against its ablation."""
    if reference not in models or reference not in per_user:
        return None
    baselines = [n for n in models if is_baseline(n) and n in per_user]
    out: dict[str, Any] = {"reference": reference, "reference_ndcg": models[reference]["ndcg@10"]}
    if baselines:
        best = max(baselines, key=lambda n: models[n]["ndcg@10"])
        out["best_baseline"] = {"name": best, "ndcg": models[best]["ndcg@10"],
                                **paired(per_user[reference], per_user[best])}
    ablation = next((n for n, ref in ABLATION_OF.items() if ref == reference and n in per_user), None)
    if ablation is not None:
        out["ablation"] = {"name": ablation, "ndcg": models[ablation]["ndcg@10"],
                           **paired(per_user[reference], per_user[ablation])}
    return out if "best_baseline" in out else None


def goals(mean: dict[str, dict[str, float]], per_seed: list[dict[str, Any]],
          reference: str = REFERENCE) -> dict[str, dict[str, Any]]:
    """The issue's goals for the reference model, each with its figure and whether it is met."""
    if reference not in mean:
        return {}
    ndcg = {name: metrics.get("ndcg@10", math.nan) for name, metrics in mean.items()}
    out: dict[str, dict[str, Any]] = {}
    strong = [n for n in STRONG if n in ndcg]
    if strong:
        best = max(strong, key=lambda n: ndcg[n])
        ratio = ndcg[reference] / ndcg[best]
        out["strong"] = {"text": f"{reference} >= {GOALS['strong']}x the best of {', '.join(strong)} (NDCG@10, "
                                 "mean over seeds)", "value": f"{ratio:.3f}x {best}", "ratio": ratio, "against": best,
                         "met": ratio >= GOALS["strong"]}
    single = [n for n in ndcg if n != reference and n not in ENSEMBLES and n not in ABLATION_OF]
    if single:
        best = max(single, key=lambda n: ndcg[n])
        ratio = ndcg[reference] / ndcg[best]
        out["single"] = {"text": f"{reference} >= {GOALS['single']}x the best single model", "ratio": ratio,
                         "value": f"{ratio:.3f}x {best}", "against": best, "met": ratio >= GOALS["single"]}
    comparisons = [run["comparison"] for run in per_seed if run.get("comparison")]
    if comparisons:
        p_values = [c["best_baseline"]["p_value"] for c in comparisons]
        significant = sum(p < GOALS["p_value"] and c["best_baseline"]["diff"] > 0
                          for p, c in zip(p_values, comparisons, strict=True))
        out["significant"] = {"text": f"better than the best baseline at p < {GOALS['p_value']} on every seed",
                              "value": f"{significant} of {len(comparisons)} seeds; p = "
                                       + ", ".join(f"{p:.2g}" for p in p_values),
                              "met": significant == len(comparisons)}
        ablations = [c["ablation"] for c in comparisons if "ablation" in c]
        if ablations:
            below = sum(a["diff"] > 0 for a in ablations)
            out["ablation"] = {"text": "the attention-off ablation below the full model on every seed",
                               "value": f"{below} of {len(ablations)} seeds; diff = "
                                        + ", ".join(f"{a['diff']:+.4f}" for a in ablations),
                               "met": below == len(ablations)}
    return out
