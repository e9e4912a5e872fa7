"""The evaluation report section (overview and compare pages): `<checkpoint>.eval.json` as a table and a chart.

Schema (written by `python -m recsys evaluate --json`): {"dataset", "split", "models": {"<name>": {"ndcg@10": ...,
"recall@10": ..., "train_s": ...}}}; every other key is optional.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import resources
from dashboard.components import charts, theme
from dashboard.components.text import md

HEADLINE = ("ndcg@10", "recall@10", "hit_rate@10", "mrr@10", "coverage@10", "novelty@10")


def report_frame(models: dict[str, dict[str, Any]], metrics: tuple[str, ...] = (*HEADLINE, "train_s")) -> pd.DataFrame:
    """One row per model, the headline metrics as columns, best NDCG@10 first."""
    rows = [{"model": name, **{m: values.get(m) for m in metrics}} for name, values in models.items()]
    frame = pd.DataFrame(rows, columns=["model", *metrics])
    return frame.sort_values(metrics[0], ascending=False, na_position="last", ignore_index=True)


def checkpoint_metrics(metrics: dict[str, Any]) -> pd.DataFrame:
    """The checkpoint's own valid/test metrics, one row per headline metric."""
    splits = {split: values for split, values in metrics.items() if split in ("valid", "test") and values}
    return pd.DataFrame({split: [values.get(m) for m in HEADLINE] for split, values in splits.items()},
                        index=list(HEADLINE)).rename_axis("metric").reset_index()


def evaluation_section(checkpoint: Path) -> None:
    """Table and grouped bars of the evaluation report next to the checkpoint, or how to create one."""
    found = resources.eval_report(checkpoint)
    if found is None:
        st.info(f"No evaluation report next to {md(checkpoint.name)}. Create one to compare against the baselines: "
                f"`python -m recsys evaluate --checkpoint {checkpoint.as_posix()} --baselines all --json "
                f"{checkpoint.with_suffix('').as_posix()}.eval.json`", icon=":material/info:")
        return
    path, report = found
    frame = report_frame(report["models"])
    st.caption(f"From {md(path.name)} · dataset {md(report.get('dataset', '?'))} · split: "
               f"{md(report.get('split', '?'))} · seeds {md(report.get('seeds', '?'))}")
    colors = theme.model_colors(frame["model"])
    best = frame["ndcg@10"].max() if frame["ndcg@10"].notna().any() else None
    config = {m: st.column_config.NumberColumn(m, format="%.4f") for m in HEADLINE}
    if best:
        config["ndcg@10"] = st.column_config.ProgressColumn("ndcg@10", format="%.4f", min_value=0.0,
                                                            max_value=float(best))
    config["train_s"] = st.column_config.NumberColumn("train (s)", format="%.1f")
    st.dataframe(frame, hide_index=True, column_config=config, width="stretch")
    shown = [m for m in HEADLINE[:4] if frame[m].notna().any()]
    st.plotly_chart(charts.metric_bars(report["models"], shown, colors), key=f"eval-{path.name}")
