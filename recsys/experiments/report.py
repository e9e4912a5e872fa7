"""Reports: the machine they were measured on, strict JSON written atomically, and tables for terminal and README.

One `machine_info` and one `to_json` for the whole project (the benchmarks use them too).
"""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
from pathlib import Path
from typing import Any

from recsys.data.write import write_text_atomic

TABLE_METRICS = ("ndcg", "recall", "precision", "hit_rate", "mrr", "coverage", "novelty", "diversity", "cold_ndcg")
Report = dict[str, Any]


def machine_info(device: str = "cpu") -> dict[str, Any]:
    """Machine, library versions and date: what timings depend on, recorded with every report."""
    import torch
    import torch_geometric

    from recsys import __version__

    info: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "platform": platform.platform(),
        "processor": _cpu_model(),
        "cpu_cores_visible": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": str(torch.__version__),
        "torch_geometric": torch_geometric.__version__,
        "recsys": __version__,
        "device": device,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", ""),
    }
    try:
        import psutil

        info["memory_gb"] = round(psutil.virtual_memory().total / 2**30, 1)
        info["load_average"] = [round(x, 2) for x in os.getloadavg()]
    except (ImportError, OSError):
        pass
    if device.startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def to_json(report: Any, indent: int | None = 2) -> str:
    """Strict JSON: NaN and infinities become null, tuples lists, anything else unknown (a Path) its str."""

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {str(key): plain(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [plain(item) for item in value]
        if isinstance(value, float) and not math.isfinite(value):
            return None
        return value

    return json.dumps(plain(report), indent=indent, allow_nan=False, default=str,
                      separators=None if indent is not None else (",", ":"))


def write_json(path: str | Path, payload: Any, indent: int | None = 2) -> Path:
    """Write ``payload`` as strict JSON atomically (temp file beside the target, then os.replace)."""
    return write_text_atomic(path, to_json(payload, indent) + "\n")


# ---- tables ---------------------------------------------------------------------------------------------------
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
        value = models[name].get(f"ndcg@{k}")
        return -value if value is not None and math.isfinite(value) else math.inf

    rows = [[name] + [_cell(c, models[name].get(c), (report.get("std") or {}).get(name, {}).get(c)) for c in columns]
            for name in sorted(models, key=order)]
    return ["model", *columns], rows


def format_table(report: Report, k: int | None = None) -> str:
    """The report as aligned plain text: dataset, split, seeds and machine, the table, then the paired tests."""
    header, rows = table_rows(report, k)
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                         for i, (cell, w) in enumerate(zip(cells, widths, strict=True)))

    machine = report["machine"]
    about = [f"dataset: {report['dataset']} (fingerprint {report['fingerprint']})", f"split: {report['split']}",
             f"seeds: {', '.join(map(str, report['seeds']))}"
             + (" (mean±std over seeds)" if len(report["seeds"]) > 1 else ""),
             f"machine: {machine['cpu_cores_visible']} CPUs, torch {machine['torch']} "
             f"({machine['torch_threads']} threads)"]
    out = [*about, "", line(header), line(["-" * w for w in widths]), *map(line, rows)]
    comparison = format_comparison(report)
    return "\n".join(out + (["", comparison] if comparison else []))


def format_markdown(report: Report, k: int | None = None) -> str:
    """The report as a Markdown table (for the README), metrics right-aligned."""
    header, rows = table_rows(report, k)
    lines = [f"| {' | '.join(header)} |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    lines += [f"| {' | '.join(row)} |" for row in rows]
    return "\n".join(lines)


def settings_rows(report: Report) -> tuple[list[str], list[list[str]]]:
    """(header, rows): what every contender chose or reached, per seed (lr, L2, epochs, lambda, beta)."""
    header = ["model", "lr", "L2", "best / last epoch per seed", "stopped by", "EASE lambda", "beta (x spread)"]
    names = list(dict.fromkeys(name for run in report["per_seed"] for name in run.get("settings", {})))
    rows = []
    for name in names:
        runs = [run["settings"][name] for run in report["per_seed"] if name in run.get("settings", {})]

        def values(key: str, fmt: str, of: list[dict[str, Any]] = runs) -> str:
            found = [fmt.format(r[key]) for r in of if r.get(key) is not None]
            return ", ".join(dict.fromkeys(found)) if found else "-"

        epochs = ", ".join(f"{int(r['best_epoch'])}/{int(r['epochs'])}" for r in runs if "epochs" in r) or "-"
        lam = values("item_item_lambda", "{:g}") if any("item_item_lambda" in r for r in runs) else values(
            "lambda", "{:g}")
        beta = ", ".join(f"{r['item_item_beta']:.3g}" + (f" ({r['item_item_beta_relative']:g})"
                                                          if "item_item_beta_relative" in r else "")
                         for r in runs if "item_item_beta" in r) or "-"
        rows.append([name, values("lr", "{:g}"), values("weight_decay", "{:g}"), epochs, values("stopped", "{}"),
                     lam, beta])
    return header, rows


def format_settings(report: Report) -> str:
    """The chosen hyper-parameters as a Markdown table."""
    header, rows = settings_rows(report)
    lines = [f"| {' | '.join(header)} |", "|" + "|".join(["---"] * len(header)) + "|"]
    return "\n".join(lines + [f"| {' | '.join(row)} |" for row in rows])


def format_results(report: Report) -> str:
    """Everything the README shows of one report: metrics, paired comparisons with goals, chosen settings."""
    parts = [format_markdown(report), format_comparison(report, markdown=True), format_settings(report)]
    return "\n\n".join(part for part in parts if part).rstrip() + "\n"


def _p(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:.1e}" if value < 1e-3 else f"{value:.3f}"


def comparison_rows(report: Report) -> tuple[list[str], list[list[str]]]:
    """(header, rows): per seed the reference against the best baseline and the ablation, paired over users."""
    header = ["seed", "reference", "ndcg@10", "best baseline", "its ndcg@10", "diff", "95% CI", "p (Wilcoxon)",
              "ablation diff", "ablation p"]
    rows = []
    for run in report["per_seed"]:
        comparison = run.get("comparison")
        if not comparison:
            continue
        base, ablation = comparison["best_baseline"], comparison.get("ablation")
        rows.append([str(run["seed"]), comparison["reference"], f"{comparison['reference_ndcg']:.4f}",
                     base["name"], f"{base['ndcg']:.4f}", f"{base['diff']:+.4f}",
                     f"[{base['ci95'][0]:+.4f}, {base['ci95'][1]:+.4f}]", _p(base["p_value"]),
                     f"{ablation['diff']:+.4f}" if ablation else "-", _p(ablation["p_value"]) if ablation else "-"])
    return header, rows


def format_comparison(report: Report, markdown: bool = False) -> str:
    """The paired comparisons as text (or a Markdown table), with the goals below; empty without a reference."""
    header, rows = comparison_rows(report)
    if not rows:
        return ""
    if markdown:
        lines = [f"| {' | '.join(header)} |", "|" + "|".join(["---:"] + ["---"] + ["---:"] * (len(header) - 2)) + "|"]
        lines += [f"| {' | '.join(row)} |" for row in rows]
    else:
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
        lines = ["  ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True)) for cells in [header, *rows]]
    goals = report.get("goals") or {}
    lines += ["", *[f"- {goal['text']}: {'met' if goal['met'] else 'NOT met'} ({goal['value']})"
                    for goal in goals.values()]]
    return "\n".join(lines)
