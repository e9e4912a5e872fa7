"""GATs and baselines on one dataset and one split: the same test task, the same metrics, one report.

Every contender is ranked by `evaluate_scores` over the full catalogue of the test task (train and valid songs
masked) with the training-graph popularity and genres for the beyond-accuracy metrics. Several seeds repeat
the whole run (GATs trained fresh, trainable baselines re-seeded) and report mean, standard deviation and the
per-seed values. This module sits above training (it trains and restores models), so the package
``recsys.evaluation`` does not import it: use ``from recsys.evaluation.compare import compare``.
"""

from __future__ import annotations

import json
import math
import os
import platform
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch_geometric

from recsys.baselines import BASELINES, baseline_names
from recsys.baselines.base import epoch_details
from recsys.config import Config, ModelConfig, TrainConfig
from recsys.data import Dataset, load_dataset
from recsys.errors import CheckpointError, ConfigError
from recsys.evaluation.evaluate import CatalogueStats, evaluate_scores
from recsys.evaluation.ranking import RankingTask, ScoreFn, ranking_task
from recsys.graph import build_graph
from recsys.models import GATRecommender
from recsys.training import restore, train
from recsys.training.trainer import catalogue_stats, prepare_data, split_fingerprint

GAT_CONFIGS: dict[str, Callable[[], ModelConfig]] = {"basic": ModelConfig.basic, "enhanced": ModelConfig}
TABLE_METRICS = ("ndcg", "recall", "precision", "hit_rate", "mrr", "coverage", "novelty", "diversity", "cold_ndcg")
Report = dict[str, Any]


@dataclass(frozen=True)
class TrainedModel:
    """A GAT trained before this run (a restored checkpoint); evaluated as it is, whatever the seed."""

    name: str
    model: GATRecommender
    train_seconds: float
    epochs: int
    best_epoch: int


def gat_name(model_type: str) -> str:
    """Report name of a GAT kind: ``basic`` -> ``basic_gat``."""
    return f"{model_type}_gat"


def gat_kinds(spec: str | Sequence[str]) -> list[str]:
    """Validated GAT kinds to train fresh, from ``"basic,enhanced"`` or a list."""
    kinds = [k.strip() for k in (spec.split(",") if isinstance(spec, str) else spec) if k.strip()]
    unknown = [k for k in kinds if k not in GAT_CONFIGS]
    if unknown:
        raise ConfigError(f"unknown model(s) {', '.join(map(repr, unknown))}; known: {', '.join(GAT_CONFIGS)}")
    return list(dict.fromkeys(kinds))


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
        progress = item.payload["train"]
        seconds = progress["seconds"] + item.payload["metrics"].get("calibration", {}).get("seconds", 0.0)
        models.append(TrainedModel(name, item.model, float(seconds), int(progress["epochs"]),
                                   int(progress["best_epoch"])))
    return models, first.dataset, first.payload["dataset"]["split_rule"]


def compare(dataset: Dataset, *, trained: Sequence[TrainedModel] = (), fresh: Sequence[str] = (),
            baselines: str | Sequence[str] = (), seeds: Sequence[int] = (0,), epochs: int | None = None,
            ks: Sequence[int] = (10, 20), split_rule: str | None = None,
            log: Callable[[str], None] = print) -> Report:
    """Evaluate GATs and baselines on the test task of one split, once per seed; returns the report dict.

    Args:
        dataset: the data; with ``trained`` models it must carry the split they were trained on.
        trained: GATs trained before this run (`load_checkpoints`).
        fresh: GAT kinds (``basic``, ``enhanced``) trained in the run with their default configs, once per seed.
        baselines: names from `recsys.baselines.BASELINES` (or ``"all"``, ``"none"``).
        seeds: one full run per seed (the split seed too, where the split is random).
        epochs: maximum epochs of every trained model (default: `TrainConfig`'s).
        ks: cut-offs of every metric.
        split_rule: how the split was made, when the dataset already carries it (a checkpoint's rule).

    Returns:
        ``{"dataset", "fingerprint", "split", "ks", "seeds", "machine", "models", "std", "per_seed"}``; ``models``
        maps each name to its mean metrics over seeds (``ndcg@10``, ..., ``train_s``), ``std`` to their sample
        standard deviations (NaN with one seed), ``per_seed`` lists ``{"seed", "split", "models"}``.
    """
    ks = sorted({int(k) for k in ks})
    if not ks or ks[0] < 1:
        raise ConfigError(f"every k must be a positive integer (got {ks})")
    if not seeds:
        raise ConfigError("at least one seed is needed")
    if trained and not dataset.has_split:
        raise ConfigError("trained models are evaluated on the split they were trained on: pass the dataset "
                          "that carries it (load_checkpoints returns it)")
    fresh, names = gat_kinds(fresh), baseline_names(baselines)
    if not (trained or fresh or names):
        raise ConfigError("nothing to evaluate: no checkpoint, no model to train and no baseline")
    per_seed, evaluated_once = [], {}
    for seed in seeds:
        split, rule = prepare_data(dataset, seed)
        rule = split_rule or rule
        log(f"[seed {seed}] split: {rule}")
        graph = build_graph(split, "train")
        valid, test = ranking_task(split, graph.id_maps, "valid"), ranking_task(split, graph.id_maps, "test")
        evaluate = partial(_evaluate, task=test, ks=ks, stats=catalogue_stats(graph), label=f"[seed {seed}]",
                           log=log)
        models: dict[str, dict[str, float]] = {}
        for item in trained:  # the same model on the same split: evaluating it again would repeat the numbers
            if item.name not in evaluated_once:
                evaluated_once[item.name] = evaluate(item.name, item.model.prepare(graph).scores, item.train_seconds,
                                                     epoch_details(item.epochs, item.best_epoch, item.train_seconds))
            models[item.name] = evaluated_once[item.name]
        train_config = TrainConfig(seed=seed, **({"epochs": epochs} if epochs is not None else {}))
        for kind in fresh:
            log(f"[seed {seed}] training the {kind} GAT")
            result = train(split, Config(GAT_CONFIGS[kind](), train_config), out=None, progress=False, log=log)
            models[gat_name(kind)] = evaluate(gat_name(kind), result.model.prepare(result.graph).scores,
                                              result.train_seconds,
                                              epoch_details(result.state.epoch, result.state.best_epoch,
                                                             result.train_seconds))
        for name in names:
            baseline = BASELINES[name]().fit(graph, valid, train_config)
            models[name] = evaluate(name, baseline.score, baseline.train_seconds, baseline.details)
        per_seed.append({"seed": seed, "split": rule, "models": models})
    mean, std = _aggregate([run["models"] for run in per_seed])
    rules = list(dict.fromkeys(run["split"] for run in per_seed))
    return {"dataset": str(dataset.path) if dataset.path else "(in-memory dataset)",
            "fingerprint": dataset.fingerprint, "split": "; ".join(rules), "ks": ks, "seeds": list(seeds),
            "machine": machine_info(), "models": mean, "std": std, "per_seed": per_seed}


def _evaluate(name: str, score_fn: ScoreFn, train_s: float, details: dict[str, float], *, task: RankingTask,
              ks: list[int], stats: CatalogueStats, label: str, log: Callable[[str], None]) -> dict[str, float]:
    """One contender's test metrics, training time and details, logged in one line."""
    metrics = {**evaluate_scores(score_fn, task, ks, stats), "train_s": train_s, **details}
    log(f"{label} {name}: ndcg@{ks[0]} {metrics[f'ndcg@{ks[0]}']:.4f}, trained in {train_s:.1f} s")
    return metrics


def _aggregate(runs: list[dict[str, dict[str, float]]]) -> tuple[dict[str, dict[str, float]],
                                                                 dict[str, dict[str, float]]]:
    """Per model and metric: mean and sample standard deviation over seeds (NaN with a single seed)."""
    mean: dict[str, dict[str, float]] = {}
    std: dict[str, dict[str, float]] = {}
    for name in runs[0]:
        keys = [key for key in runs[0][name] if all(key in run[name] for run in runs)]
        values = {key: np.array([run[name][key] for run in runs], dtype=np.float64) for key in keys}
        mean[name] = {key: float(v.mean()) for key, v in values.items()}
        std[name] = {key: float(v.std(ddof=1)) if len(v) > 1 else math.nan for key, v in values.items()}
    return mean, std


def machine_info() -> dict[str, Any]:
    """What timings depend on, saved with every report."""
    return {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "torch_geometric": torch_geometric.__version__, "python": platform.python_version(),
            "platform": platform.platform(), "machine": platform.machine()}


# ---- rendering ----------------------------------------------------------------------------------------------
def _cell(metric: str, mean: float | None, std: float | None) -> str:
    if mean is None or not math.isfinite(mean):
        return "-"
    digits = 1 if metric == "train_s" else 2 if metric.startswith("novelty") else 4
    spread = f"±{std:.{digits}f}" if std is not None and math.isfinite(std) else ""
    return f"{mean:.{digits}f}{spread}"


def table_rows(report: Report, k: int | None = None) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of the comparison at cut-off k (10 when evaluated), rows sorted by NDCG@k, best first."""
    k = k if k is not None else (10 if 10 in report["ks"] else report["ks"][0])
    columns = [f"{metric}@{k}" for metric in TABLE_METRICS] + ["train_s"]
    models = report["models"]

    def order(name: str) -> float:
        value = models[name].get(f"ndcg@{k}", math.nan)
        return -value if math.isfinite(value) else math.inf

    rows = [[name] + [_cell(c, models[name].get(c), report["std"].get(name, {}).get(c)) for c in columns]
            for name in sorted(models, key=order)]
    return ["model", *columns], rows


def format_table(report: Report, k: int | None = None) -> str:
    """The report as aligned plain text, with the dataset, split, seeds and machine above the table."""
    header, rows = table_rows(report, k)
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                         for i, (cell, w) in enumerate(zip(cells, widths, strict=True)))

    machine = report["machine"]
    about = [f"dataset: {report['dataset']} (fingerprint {report['fingerprint']})", f"split: {report['split']}",
             f"seeds: {', '.join(map(str, report['seeds']))}"
             + (" (mean±std over seeds)" if len(report["seeds"]) > 1 else ""),
             f"machine: {machine['cpu_count']} CPUs, torch {machine['torch']} ({machine['torch_threads']} threads)"]
    return "\n".join([*about, "", line(header), line(["-" * w for w in widths]), *map(line, rows)])


def format_markdown(report: Report, k: int | None = None) -> str:
    """The report as a Markdown table (for the README), metrics right-aligned."""
    header, rows = table_rows(report, k)
    lines = [f"| {' | '.join(header)} |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    lines += [f"| {' | '.join(row)} |" for row in rows]
    return "\n".join(lines)


def to_json(report: Report) -> str:
    """The report as strict JSON: NaN and infinities become null."""

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {str(key): plain(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [plain(item) for item in value]
        if isinstance(value, float) and not math.isfinite(value):
            return None
        return value

    return json.dumps(plain(report), indent=2, allow_nan=False)
