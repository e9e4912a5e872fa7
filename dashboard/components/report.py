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
METRIC_HELP = {
    "ndcg@10": "Ranking quality of the top 10 (0-1): held-out songs near the top count most",
    "recall@10": "Share of a listener's held-out songs that are in their top 10, averaged over listeners",
    "hit_rate@10": "Share of listeners with at least one held-out song in their top 10",
    "mrr@10": "1 / rank of the first held-out song in the top 10 (0 when none), averaged over listeners",
    "coverage@10": "Share of the catalogue that appears in anyone's top 10",
    "novelty@10": "How unpopular the recommended songs are (mean -log2 popularity): higher = less mainstream",
    "train_s": "Training time in seconds, measured the same way for every model",
}


TRAIN_LABEL = "train (s)"


def seconds_text(seconds: float | None) -> str:
    """'28 s', '4.2 min', or '?'."""
    if seconds is None:
        return "?"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def report_frame(models: dict[str, dict[str, Any]], metrics: tuple[str, ...] = (*HEADLINE, "train_s")) -> pd.DataFrame:
    """One row per model, the headline metrics as columns, best NDCG@10 first."""
    rows = [{"model": name, **{m: values.get(m) for m in metrics}} for name, values in models.items()]
    frame = pd.DataFrame(rows, columns=["model", *metrics])
    return frame.sort_values(metrics[0], ascending=False, na_position="last", ignore_index=True)


def checkpoint_metrics(metrics: dict[str, Any], shown: tuple[str, ...] = HEADLINE[:4]) -> pd.DataFrame:
    """The checkpoint's own valid/test metrics: one row per metric, a column per split (narrow: it fits beside
    the training curve)."""
    splits = [split for split in ("valid", "test") if metrics.get(split)]
    rows = [{"metric": m, **{split: metrics[split].get(m) for split in splits}} for m in shown]
    return pd.DataFrame(rows, columns=["metric", *splits]) if splits else pd.DataFrame()


def metric_digits(metric: str) -> int:
    """Decimals shown for a metric, in the data grids and the static tables alike."""
    return 1 if metric == "train_s" else 2 if metric == "novelty@10" else 3


def static_table(frame: pd.DataFrame, index: str, best: str | None = None) -> None:
    """A small table as HTML (`st.table`: it scrolls sideways inside itself on a narrow screen), numbers formatted
    as in the data grids (per row when ``index`` is "metric"), the best value of column ``best`` in bold.

    The Overview uses these instead of data grids, whose browser code made a new session's Overview 0.25 s
    slower (headless Chromium, 2 cores, 2026-12-04); the metrics' meanings are under "How to read this page".
    """
    table = frame.set_index(index).rename(columns={"train_s": TRAIN_LABEL})  # Streamlit shows the frame's names
    styled = table.style
    if index == "metric":
        for metric in table.index:
            styled = styled.format(f"{{:.{metric_digits(metric)}f}}", subset=pd.IndexSlice[[metric], :], na_rep="—")
    else:
        names = {TRAIN_LABEL if m == "train_s" else m: m for m in frame.columns if m in METRIC_HELP}
        styled = styled.format({c: f"{{:.{metric_digits(m)}f}}" for c, m in names.items()}, na_rep="—")
    if best is not None and table[best].notna().any():
        styled = styled.highlight_max(subset=[best], props="font-weight: bold")
    st.table(styled)


def metric_columns() -> dict[str, Any]:
    """Number formats and hover help for the headline metrics."""
    return {m: st.column_config.NumberColumn(m.replace("_", " "), format=f"%.{metric_digits(m)}f",
                                             help=METRIC_HELP[m], width=90) for m in HEADLINE}


def training_seconds(card: dict[str, Any]) -> tuple[float | None, str]:
    """The one training time shown for the loaded model, and where it comes from.

    The evaluation report measures every model the same way; when it holds this checkpoint's own run (same model
    and epochs) its figure is used on the model card too, so the card and the table never disagree.
    """
    found = resources.eval_report(Path(card["checkpoint"]))
    own = found[1]["models"].get(f"{card['model_type']}_gat") if found else None
    training = card["training"]
    if own and own.get("train_s") is not None and own.get("epochs") == training.get("epochs"):
        return float(own["train_s"]), f"as measured in {found[0].name}, like the baselines there"
    return training.get("seconds"), "wall clock of the run that wrote this checkpoint"


def evaluation_section(checkpoint: Path, chart: bool = True) -> None:
    """Table (and grouped bars) of the evaluation report next to the checkpoint, or how to create one."""
    found = resources.eval_report(checkpoint)
    if found is None:
        st.info(f"No evaluation report next to {md(checkpoint.name)}. Create one to compare against the baselines: "
                f"`python -m recsys evaluate --checkpoint {checkpoint.as_posix()} --baselines all --json "
                f"{checkpoint.with_suffix('').as_posix()}.eval.json`", icon=":material/info:")
        return
    path, report = found
    frame = report_frame(report["models"])
    meaning = ("Hover a column for its meaning" if chart else
               "What each metric measures is under \"How to read this page\"")
    st.caption(f"From {md(path.name)} · dataset {md(report.get('dataset', '?'))} · split: "
               f"{md(report.get('split', '?'))} · seeds {md(report.get('seeds', '?'))}. {meaning}; higher is "
               "better except for training time.")
    if not chart:
        static_table(frame, "model", best="ndcg@10")
        st.caption("Compare models draws these figures as a chart.")
        return
    best = frame["ndcg@10"].max() if frame["ndcg@10"].notna().any() else None
    config = metric_columns()
    if best:
        config["ndcg@10"] = st.column_config.ProgressColumn("ndcg@10", format=f"%.{metric_digits('ndcg@10')}f",
                                                            min_value=0.0, max_value=float(best),
                                                            help=METRIC_HELP["ndcg@10"])
    config["train_s"] = st.column_config.NumberColumn(TRAIN_LABEL, format=f"%.{metric_digits('train_s')}f",
                                                      help=METRIC_HELP["train_s"], width=80)
    config["model"] = st.column_config.TextColumn("model", pinned=True)
    st.dataframe(frame, hide_index=True, column_config=config, width="stretch")
    colors = theme.model_colors(frame["model"])
    shown = [m for m in HEADLINE[:4] if frame[m].notna().any()]
    st.plotly_chart(charts.metric_bars(report["models"], shown, colors), key=f"eval-{path.name}",
                    config=charts.CONFIG)
