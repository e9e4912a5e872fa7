"""Paired comparisons and goals: known differences give known means, intervals, p-values and verdicts."""

from __future__ import annotations

import numpy as np
import pytest

from recsys.experiments.stats import goals, paired, seed_comparison


def test_a_consistent_gain_is_significant_and_its_interval_holds_the_mean() -> None:
    rng = np.random.default_rng(0)
    other = rng.random(200)
    result = paired(other + 0.05 + rng.normal(0, 0.01, 200), other)
    assert result["diff"] == pytest.approx(0.05, abs=0.003)
    assert result["ci95"][0] < result["diff"] < result["ci95"][1]
    assert result["p_value"] < 1e-10
    assert result["users"] == 200 and result["wins"] > 190


def test_noise_alone_is_not_significant_and_equal_lists_give_p_one() -> None:
    rng = np.random.default_rng(1)
    a = rng.random(300)
    noisy = paired(a, a + rng.normal(0, 0.05, 300))
    assert noisy["p_value"] > 0.05 and noisy["ci95"][0] < 0 < noisy["ci95"][1]
    same = paired(a, a)
    assert same["p_value"] == 1.0 and same["diff"] == 0.0 and same["wins"] == same["losses"] == 0


def test_paired_values_need_the_same_users() -> None:
    with pytest.raises(ValueError, match="same non-empty users"):
        paired([0.1, 0.2], [0.1])


def _seed(values: dict[str, float], per_user: dict[str, list[float]]) -> dict:
    models = {name: {"ndcg@10": value} for name, value in values.items()}
    return {"models": models, "comparison": seed_comparison(models, per_user)}


def test_comparison_picks_the_best_baseline_and_the_ablation() -> None:
    per_user = {"enhanced_gat": [0.3, 0.5, 0.4, 0.6], "ease": [0.2, 0.5, 0.3, 0.5], "lightgcn": [0.1, 0.1, 0.1, 0.1],
                "enhanced_noattn": [0.3, 0.4, 0.4, 0.5], "basic_gat": [0.9, 0.9, 0.9, 0.9]}
    means = {name: float(np.mean(values)) for name, values in per_user.items()}
    comparison = _seed(means, per_user)["comparison"]
    assert comparison["best_baseline"]["name"] == "ease"  # basic_gat is a GAT, not a baseline
    assert comparison["best_baseline"]["diff"] == pytest.approx(0.075)
    assert comparison["ablation"]["name"] == "enhanced_noattn"
    assert comparison["ablation"]["diff"] == pytest.approx(0.05)
    assert seed_comparison({"ease": {"ndcg@10": 0.2}}, {"ease": [0.2]}) is None  # no reference model


def test_goals_state_ratios_and_verdicts() -> None:
    rng = np.random.default_rng(2)
    base = rng.random(400)
    per_user = {"enhanced_gat": list(base + 0.02), "lightgcn+ease": list(base), "ease": list(base - 0.01),
                "bprmf": list(base - 0.1), "enhanced_noattn": list(base + 0.03)}
    means = {name: float(np.mean(values)) for name, values in per_user.items()}
    run = _seed(means, per_user)
    result = goals({name: {"ndcg@10": value} for name, value in means.items()}, [run])
    strong = means["enhanced_gat"] / means["lightgcn+ease"]
    assert result["strong"]["ratio"] == pytest.approx(strong) and result["strong"]["against"] == "lightgcn+ease"
    assert result["strong"]["met"] is (strong >= 1.03)
    assert result["single"]["against"] == "ease"  # blends and the ablation are not single models
    assert result["single"]["ratio"] == pytest.approx(means["enhanced_gat"] / means["ease"])
    assert result["significant"]["met"] is True
    assert result["ablation"]["met"] is False and "0 of 1 seeds" in result["ablation"]["value"]
