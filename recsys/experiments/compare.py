"""GATs, baselines and ablations on one dataset: the same split, the same search, the same test, one report.

Per seed: split (the split seed too, where the split is random), build the training graph, fit every
contender, rank the full test catalogue (train and valid songs masked) and compare the reference model with
the best baseline and its ablation, paired over test users (`recsys.experiments.stats`).

The search: every trainable contender gets the same trials (learning rate x L2, `DEFAULT_GRID`), chosen on
the FIRST seed's validation NDCG@10 and reused for the other seeds (the choice is in the report). The test split
of a trial that is not chosen is never reported. Epochs are capped high (`EPOCH_CAP`) so that early stopping,
not the cap, ends the runs; each run's stopping epoch and reason are in the report.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch_geometric.data import HeteroData

from recsys.config import ModelConfig, TrainConfig
from recsys.data import Dataset, load_dataset
from recsys.errors import CheckpointError, ConfigError
from recsys.evaluation import RankingTask, evaluate_top, per_user_ndcg, ranking_task, top_k
from recsys.experiments.contenders import (
    Family,
    SeedData,
    Trial,
    contender_names,
    families,
    gat_kinds,
    gat_name,
)
from recsys.experiments.report import Report, machine_info
from recsys.experiments.stats import goals, seed_comparison
from recsys.graph import build_graph
from recsys.models import GATRecommender
from recsys.training import restore
from recsys.training.trainer import catalogue_stats, prepare_data, split_fingerprint

DEFAULT_GRID = {"lr": (0.01, 0.005), "weight_decay": (1e-4, 1e-3)}  # 2 x 2 = 4 trials for every trainable model
EPOCH_CAP = 400  # early stopping (patience 8) ended every run well before it on both datasets
STORE_K = 50  # top-k lists written by --store-baselines


@dataclass(frozen=True)
class TrainedModel:
    """A GAT trained before this run (a restored checkpoint); evaluated as it is, whatever the seed."""

    name: str
    model: GATRecommender
    train_seconds: float
    settings: dict[str, Any]
    config: tuple[ModelConfig, TrainConfig]


@dataclass
class Evaluated:
    """A contender's test figures on one seed (and its top-k lists when they are stored)."""

    metrics: dict[str, float]
    per_user: list[float]
    settings: dict[str, Any]
    valid_ndcg: float
    trial: Trial | None
    top: torch.Tensor | None = None


def load_checkpoints(paths: Sequence[str | Path], data: str | Path | None = None) -> tuple[list[TrainedModel],
                                                                                            Dataset, str]:
    """Restore checkpoints that share one dataset and split: (models, dataset with that split, split rule).

    Raises:
        CheckpointError: a checkpoint does not fit the data, or two checkpoints differ in data or split.
    """
    raw = load_dataset(data) if data is not None else None
    restored = [restore(path, data, dataset=raw) for path in paths]
    first = restored[0]
    for other in restored[1:]:
        if other.dataset.fingerprint != first.dataset.fingerprint:
            raise CheckpointError(f"{other.checkpoint} and {first.checkpoint} were trained on different data "
                                  f"(fingerprints {other.dataset.fingerprint} and {first.dataset.fingerprint}); "
                                  "compare checkpoints of one dataset")
        if split_fingerprint(other.dataset) != split_fingerprint(first.dataset):
            raise CheckpointError(f"{other.checkpoint} and {first.checkpoint} were trained on different splits of "
                                  f"{first.data_path} (split seeds {other.payload['dataset'].get('split_seed')} and "
                                  f"{first.payload['dataset'].get('split_seed')}); retrain them with one seed")
    models: list[TrainedModel] = []
    for item in restored:
        name = gat_name(item.payload["model_type"])
        if any(m.name == name for m in models):
            name = f"{name} ({item.checkpoint.stem})"
        progress, calibration = item.payload["train"], item.payload["metrics"].get("calibration", {})
        settings = {"lr": item.config.training.lr, "weight_decay": item.config.training.weight_decay,
                    "epoch_cap": item.config.training.epochs, "patience": item.config.training.patience,
                    "tuned": False, "epochs": progress["epochs"], "best_epoch": progress["best_epoch"],
                    "stopped": progress.get("stopped", ""), "attention": item.config.model.attention,
                    "checkpoint": str(item.checkpoint), **calibration}
        models.append(TrainedModel(name, item.model, float(progress["seconds"] + calibration.get("seconds", 0.0)),
                                   settings, (item.config.model, item.config.training)))
    return models, first.dataset, first.payload["dataset"]["split_rule"]


def trial_grid(lrs: Sequence[float] | None = None, weight_decays: Sequence[float] | None = None) -> list[Trial]:
    """The search's trials (every lr with every L2 strength)."""
    lrs = tuple(lrs) if lrs else DEFAULT_GRID["lr"]
    weight_decays = tuple(weight_decays) if weight_decays else DEFAULT_GRID["weight_decay"]
    if any(v <= 0 for v in lrs) or any(v < 0 for v in weight_decays):
        raise ConfigError(f"learning rates must be > 0 and L2 strengths >= 0 (got {list(lrs)}, {list(weight_decays)})")
    return [Trial(lr, wd) for lr, wd in product(lrs, weight_decays)]


def compare(dataset: Dataset, *, trained: Sequence[TrainedModel] = (), fresh: Sequence[str] = (),
            baselines: str | Sequence[str] = (), seeds: Sequence[int] = (0,), epochs: int | None = None,
            ks: Sequence[int] = (10, 20), split_rule: str | None = None, grid: Sequence[Trial] | None = None,
            tune: bool = True, store_k: int | None = None,
            on_topk: Callable[[Dataset, HeteroData, torch.Tensor, dict[str, torch.Tensor]], None] | None = None,
            reuse: Report | None = None, on_seed: Callable[[Report], None] | None = None,
            log: Callable[[str], None] = print) -> Report:
    """Evaluate GATs, baselines and ablations on the test task of one split, once per seed; returns the report.

    Args:
        dataset: the data; with ``trained`` models it must carry the split they were trained on.
        trained: GATs trained before this run (`load_checkpoints`), evaluated as they are.
        fresh: GAT kinds (``basic``, ``enhanced``) trained in the run, searched like the baselines.
        baselines: `contender_names` (``ease``, ``lightgcn+ease``, ``enhanced_noattn``, ``all``, ``none``, ...).
        seeds: one full run per seed.
        epochs: epoch cap of every model trained in the run (default `EPOCH_CAP`).
        ks: cut-offs of every metric (10 is always evaluated: the comparisons use NDCG@10).
        split_rule: how the split was made, when the dataset already carries it (a checkpoint's rule).
        grid: the search's trials (default `trial_grid()`); ``tune=False``: no search, `TrainConfig` defaults.
        store_k, on_topk: on the first seed, rank every user with training songs (those masked) for every
            contender fitted in the run, keep the top ``store_k`` and pass (split, graph, name -> [users, k]
            song indices) to ``on_topk`` (`recsys.experiments.topk.store_baselines` writes them).
        reuse: an earlier report of the same data and seeds: contenders it holds for a seed with the same
            split are copied (figures, settings, per-user NDCG, the search's choice) instead of refitted.
        on_seed: called with the report so far after every seed (to save partial results).

    Returns:
        ``{"dataset", "fingerprint", "split", "ks", "seeds", "machine", "search", "models", "std", "per_seed",
        "goals"}``; ``models`` maps each name to its mean metrics over seeds, ``std`` to their sample standard
        deviations, ``per_seed`` lists ``{"seed", "split", "split_fingerprint", "models", "settings",
        "per_user_ndcg@10", "comparison"}``.
    """
    ks = sorted({int(k) for k in ks} | {10})
    if ks[0] < 1:
        raise ConfigError(f"every k must be a positive integer (got {ks})")
    if not seeds:
        raise ConfigError("at least one seed is needed")
    if trained and not dataset.has_split:
        raise ConfigError("trained models are evaluated on the split they were trained on: pass the dataset "
                          "that carries it (load_checkpoints returns it)")
    fresh, names = gat_kinds(fresh), contender_names(baselines)
    if not (trained or fresh or names):
        raise ConfigError("nothing to evaluate: no checkpoint, no model to train and no baseline")
    if reuse is not None and reuse.get("fingerprint") != dataset.fingerprint:
        raise ConfigError(f"the report to reuse is of other data (fingerprint {reuse.get('fingerprint')}, "
                          f"this dataset {dataset.fingerprint})")
    enhanced = next((m.config for m in trained if m.name == gat_name("enhanced")), None)
    plan = families(fresh, names, enhanced)
    wanted = [gat_name(kind) for kind in fresh] + names
    trials = list(grid) if grid is not None else trial_grid()
    cap = epochs if epochs is not None else EPOCH_CAP
    chosen: dict[str, Trial | None] = {}
    search: dict[str, Any] = {"grid": [vars(t) for t in trials] if tune else [], "epoch_cap": cap,
                              "chosen_on": f"validation NDCG@10 of seed {seeds[0]}, reused for the other seeds",
                              "trials": {}, "chosen": {}}
    report: Report = {"dataset": str(dataset.path) if dataset.path else "(in-memory dataset)",
                      "fingerprint": dataset.fingerprint, "ks": ks, "seeds": list(seeds), "machine": machine_info(),
                      "search": search, "per_seed": [], "complete": False}
    if reuse is not None:
        _reuse_choices(reuse, wanted, chosen, search)
    evaluated_once: dict[str, Evaluated] = {}
    for index, seed in enumerate(seeds):
        split, rule = prepare_data(dataset, seed)
        rule = split_rule or rule
        log(f"[seed {seed}] split: {rule}")
        graph = build_graph(split, "train")
        data = SeedData(seed, split, graph, ranking_task(split, graph.id_maps, "valid"))
        test = ranking_task(split, graph.id_maps, "test")
        keep_top = store_k if index == 0 else None
        everyone = _all_users_task(split, graph) if keep_top else None
        evaluate = _evaluator(test, ks, catalogue_stats(graph), everyone, keep_top)
        results: dict[str, Evaluated] = {}
        for item in trained:  # the same model on the same split: evaluating it again would repeat the numbers
            if item.name not in evaluated_once:
                evaluated_once[item.name] = evaluate(item.model.prepare(graph).scores, item.settings,
                                                     float("nan"), None)
            results[item.name] = evaluated_once[item.name]
            results[item.name].metrics["train_s"] = item.train_seconds
        reused = _reused_seed(reuse, seed, split_fingerprint(split), wanted)
        base_config = TrainConfig(seed=seed, epochs=cap)
        for family in plan:
            todo = {n for n in family.members if n in wanted and n not in reused}
            if todo:
                _run_family(family, todo, trials if tune else [], chosen, search, data, base_config, evaluate,
                            results, log)
        report["per_seed"].append(_seed_entry(seed, rule, split_fingerprint(split), results, reused, wanted,
                                              [m.name for m in trained]))
        if everyone is not None and on_topk is not None:
            on_topk(split, graph, everyone.users,
                    {n: r.top for n, r in results.items() if r.top is not None and n in wanted})
        _summarise(report)
        if on_seed is not None:
            on_seed(report)
    report["complete"] = True
    return report


def _run_family(family: Family, todo: set[str], grid: list[Trial], chosen: dict[str, Trial | None],
                search: dict[str, Any], data: SeedData, config: TrainConfig, evaluate, results: dict[str, Evaluated],
                log: Callable[[str], None]) -> None:
    """Fit one family's contenders on one seed: every trial of the grid when they have no choice yet (keeping,
    per contender, the trial with the best validation NDCG@10), else each contender's chosen trial."""
    searching = bool(grid) and family.trainable and any(n not in chosen for n in todo)
    trials = grid if searching else list(dict.fromkeys(chosen.get(n) for n in todo))
    for trial in trials:
        members = todo if searching else {n for n in todo if chosen.get(n) == trial}
        log(f"[seed {data.seed}] {family.key}" + (f" (lr {trial.lr:g}, L2 {trial.weight_decay:g})" if trial else ""))
        for fitted in family.fit(trial, data, config, members, log):
            result = evaluate(fitted.score, fitted.settings, fitted.valid_ndcg, trial)
            result.metrics["train_s"] = fitted.train_seconds
            log(f"[seed {data.seed}]   {fitted.name}: valid ndcg@10 {fitted.valid_ndcg:.4f}, "
                f"{fitted.settings.get('stopped', 'no training')}, {fitted.train_seconds:.1f} s")
            if searching:
                search["trials"].setdefault(fitted.name, []).append(
                    {**vars(trial), "valid_ndcg@10": fitted.valid_ndcg,
                     "best_epoch": fitted.settings.get("best_epoch"), "stopped": fitted.settings.get("stopped")})
            best = results.get(fitted.name)
            if not searching or best is None or fitted.valid_ndcg > best.valid_ndcg:
                results[fitted.name] = result
    if searching:
        for name in todo:
            chosen[name] = results[name].trial
            search["chosen"][name] = vars(results[name].trial)


def _evaluator(test: RankingTask, ks: list[int], stats, everyone: RankingTask | None, store_k: int | None):
    """(score fn, settings, valid NDCG, trial) -> `Evaluated`: test metrics, per-user NDCG@10, stored lists."""

    def evaluate(score_fn, settings: dict[str, Any], valid_ndcg: float, trial: Trial | None) -> Evaluated:
        top = top_k(score_fn, test, max(ks))
        stored = top_k(score_fn, everyone, store_k) if everyone is not None and store_k else None
        per_user = [round(float(v), 5) for v in per_user_ndcg(top, test.relevant, 10)]
        return Evaluated(evaluate_top(top, test, ks, stats), per_user, settings, valid_ndcg, trial, stored)

    return evaluate


def _all_users_task(split: Dataset, graph) -> RankingTask:
    """Every user with training songs, those songs masked: what stored top-k lists rank."""
    task = ranking_task(split, graph.id_maps, "valid")  # masks exactly the training songs
    users = torch.nonzero(task.train_counts > 0).flatten()
    return RankingTask("train", users, torch.zeros(2, 0, dtype=torch.long), task.exclude, task.train_counts,
                       task.num_songs)


def _seed_entry(seed: int, rule: str, fingerprint: str, results: dict[str, Evaluated], reused: dict[str, Any],
                wanted: list[str], checkpoints: list[str]) -> dict[str, Any]:
    order = [*checkpoints, *wanted]
    models, settings, per_user = {}, {}, {}
    for name in order:
        if name in reused:
            models[name], settings[name], per_user[name] = reused[name]
        elif name in results:
            result = results[name]
            numeric = {k: float(v) for k, v in result.settings.items()
                       if isinstance(v, int | float) and not isinstance(v, bool)}
            models[name] = {**result.metrics, **{k: v for k, v in numeric.items() if k not in result.metrics}}
            settings[name], per_user[name] = result.settings, result.per_user
    return {"seed": seed, "split": rule, "split_fingerprint": fingerprint, "models": models, "settings": settings,
            "per_user_ndcg@10": per_user, "comparison": seed_comparison(models, per_user)}


def _summarise(report: Report) -> None:
    """Means, standard deviations, the split rules and the goals over the seeds run so far."""
    runs = [run["models"] for run in report["per_seed"]]
    mean: dict[str, dict[str, float]] = {}
    std: dict[str, dict[str, float]] = {}
    for name in runs[0]:
        present = [run[name] for run in runs if name in run]
        keys = [key for key in present[0] if all(key in values for values in present)]
        values = {key: np.array([v[key] for v in present], dtype=np.float64) for key in keys}
        mean[name] = {key: float(v.mean()) for key, v in values.items()}
        std[name] = {key: float(v.std(ddof=1)) if len(v) > 1 else math.nan for key, v in values.items()}
    report["split"] = "; ".join(dict.fromkeys(run["split"] for run in report["per_seed"]))
    report["models"], report["std"] = mean, std
    report["goals"] = goals(mean, report["per_seed"])


def merge_reports(reports: Sequence[Report]) -> Report:
    """Several earlier reports of one dataset as one to reuse: per seed and split, every contender any of them holds.

    Raises:
        ConfigError: the reports are of different data, or hold one seed under different splits.
    """
    first = reports[0]
    merged: Report = {"fingerprint": first.get("fingerprint"), "search": {"chosen": {}, "trials": {}}, "per_seed": []}
    seeds: dict[int, dict[str, Any]] = {}
    for report in reports:
        if report.get("fingerprint") != first.get("fingerprint"):
            raise ConfigError("the reports to reuse are of different data (fingerprints "
                              f"{first.get('fingerprint')} and {report.get('fingerprint')})")
        for key in ("chosen", "trials"):
            merged["search"][key].update((report.get("search") or {}).get(key, {}))
        for run in report.get("per_seed", []):
            into = seeds.setdefault(run["seed"], {"seed": run["seed"], "split_fingerprint": run["split_fingerprint"],
                                                  "models": {}, "settings": {}, "per_user_ndcg@10": {}})
            if into["split_fingerprint"] != run["split_fingerprint"]:
                raise ConfigError(f"the reports to reuse hold seed {run['seed']} under different splits")
            for key in ("models", "settings", "per_user_ndcg@10"):
                into[key].update(run.get(key, {}))
    merged["per_seed"] = list(seeds.values())
    return merged


def _reuse_choices(reuse: Report, wanted: list[str], chosen: dict[str, Trial | None], search: dict[str, Any]) -> None:
    """Take the earlier report's search choices (and trial records) for the contenders it covers."""
    for name, trial in (reuse.get("search") or {}).get("chosen", {}).items():
        if name in wanted:
            chosen[name] = Trial(**trial) if trial else None
            search["chosen"][name] = trial
            if name in reuse["search"].get("trials", {}):
                search["trials"][name] = reuse["search"]["trials"][name]


def _reused_seed(reuse: Report | None, seed: int, fingerprint: str, wanted: list[str]) -> dict[str, Any]:
    """name -> (models entry, settings, per-user NDCG) copied from the earlier report for this seed and split."""
    if reuse is None:
        return {}
    run = next((r for r in reuse.get("per_seed", []) if r["seed"] == seed), None)
    if run is None or run.get("split_fingerprint") != fingerprint:
        return {}
    return {name: (run["models"][name], run["settings"][name], run["per_user_ndcg@10"][name])
            for name in wanted if name in run.get("models", {}) and name in run.get("per_user_ndcg@10", {})}
