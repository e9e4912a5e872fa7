"""Benchmark results: rows of measured figures, each beside a baseline measured in the same run, as a ratio.

Machines that run these benchmarks are shared and noisy, so an absolute number alone says little: every row
that has a baseline names another row of the SAME report, and its ratio is computed from the two values only
when the report is printed or saved.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from recsys.experiments.report import machine_info, write_json

__all__ = ["BenchReport", "Row", "machine_info"]


@dataclass
class Row:
    """One measured figure.

    Attributes:
        section: training, quality, serving, memory, dashboard, scale, gpu.
        name: what was measured (unique within the section).
        value: the figure (None: not measured; ``note`` says why).
        unit: s, ms, MB, x (a ratio), ndcg.
        baseline: ``"section/name"`` of the row it is compared with (same run), or None.
        target: the goal as text (``"<= 60 s"``), and ``meets``: whether the value reaches it.
        lower_is_better: how to read the ratio.
    """

    section: str
    name: str
    value: float | None
    unit: str
    baseline: str | None = None
    target: str | None = None
    meets: bool | None = None
    note: str = ""
    lower_is_better: bool = True

    @property
    def key(self) -> str:
        return f"{self.section}/{self.name}"


@dataclass
class BenchReport:
    """All rows of one benchmark run and what it ran on."""

    rows: list[Row] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def add(self, section: str, name: str, value: float | None, unit: str, baseline: str | None = None,
            target: str | None = None, meets: bool | None = None, note: str = "",
            lower_is_better: bool = True) -> Row:
        row = Row(section, name, None if value is None else float(value), unit, baseline, target, meets, note,
                  lower_is_better)
        if any(r.key == row.key for r in self.rows):
            raise ValueError(f"duplicate benchmark row {row.key!r}")
        if baseline is not None and not any(r.key == baseline for r in self.rows):
            raise ValueError(f"row {row.key!r}: its baseline {baseline!r} must be a row measured before it")
        self.rows.append(row)
        return row

    def row(self, key: str) -> Row:
        for row in self.rows:
            if row.key == key:
                return row
        raise KeyError(f"no benchmark row {key!r}")

    def value(self, key: str) -> float | None:
        return self.row(key).value

    def ratio(self, row: Row) -> float | None:
        """value / baseline value, both from this report; None without a baseline or a value."""
        if row.baseline is None or row.value is None:
            return None
        base = self.row(row.baseline).value
        if base is None or base == 0 or not math.isfinite(base):
            return None
        return row.value / base

    # ---- output ---------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        rows = []
        for row in self.rows:
            base = self.row(row.baseline).value if row.baseline else None
            rows.append({**asdict(row), "baseline_value": base, "ratio": self.ratio(row)})
        return {"meta": self.meta, "rows": rows}

    def save_json(self, path: str | Path) -> Path:
        return write_json(path, self.to_dict())

    def format(self) -> str:
        """A plain-text table: section, measure, value, the baseline it is compared with, ratio, target."""
        header = ("section", "measure", "value", "baseline (same run)", "ratio", "target")
        lines = [header]
        for row in self.rows:
            base = self.row(row.baseline) if row.baseline else None
            ratio = self.ratio(row)
            target = "" if row.target is None else f"{row.target} {_verdict(row.meets)}".strip()
            lines.append((row.section, row.name, _fmt(row.value, row.unit) if row.value is not None
                          else f"n/a ({row.note})" if row.note else "n/a",
                          f"{base.name}: {_fmt(base.value, base.unit)}" if base is not None else "",
                          f"{ratio:.2f}x" if ratio is not None else "", target))
        widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
        out = ["  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
               for line in lines]
        out.insert(1, "  ".join("-" * w for w in widths))
        notes = [f"- {row.key}: {row.note}" for row in self.rows if row.note and row.value is not None]
        return "\n".join(out + (["", "notes:", *notes] if notes else []))

    def markdown(self) -> str:
        """The same table in Markdown (for docs/performance.md)."""
        lines = ["| section | measure | value | baseline (same run) | ratio | target |",
                 "|---|---|---|---|---|---|"]
        for row in self.rows:
            base = self.row(row.baseline) if row.baseline else None
            ratio = self.ratio(row)
            value = _fmt(row.value, row.unit) if row.value is not None else f"n/a: {row.note}"
            target = "" if row.target is None else f"{row.target} {_verdict(row.meets)}".strip()
            lines.append(f"| {row.section} | {row.name} | {value} | "
                         f"{f'{base.name}: {_fmt(base.value, base.unit)}' if base else ''} | "
                         f"{f'{ratio:.2f}x' if ratio is not None else ''} | {target} |")
        return "\n".join(lines)


def _verdict(meets: bool | None) -> str:
    return {True: "(met)", False: "(MISSED)", None: ""}[meets]


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit == "ndcg":
        return f"{value:.4f}"
    if unit in ("count", "epochs"):
        return f"{value:,.0f} {unit}" if unit != "count" else f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:,.0f} {unit}"
    if abs(value) >= 10:
        return f"{value:.1f} {unit}"
    return f"{value:.3g} {unit}"
