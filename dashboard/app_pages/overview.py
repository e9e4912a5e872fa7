"""Overview: the dataset and the model at a glance (counts, genres, model card, training curve, quality)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import resources
from dashboard.components import charts, report, theme
from dashboard.components.text import md

ARCHITECTURE_KEYS = ("num_layers", "heads", "embedding_dim", "attention", "use_genres", "item_item", "dropout")


def architecture(card: dict[str, Any]) -> str:
    """One readable line: 'Enhanced GAT · gated attention · 2 layers x 4 heads · 64-dim · genres · item-item'."""
    c = card["config"]
    parts = [f"{card['model_type'].capitalize()} GAT", f"{c.get('attention', 'softmax')} attention",
             f"{c.get('num_layers', '?')} layers x {c.get('heads', '?')} heads", f"{c.get('embedding_dim', '?')}-dim"]
    parts += [label for key, label in (("use_genres", "genre term"), ("item_item", "item-item term")) if c.get(key)]
    return " · ".join(parts)


st.title("Overview")
loaded = resources.current()
rec = loaded.rec
card, summary = rec.model_card(), rec.dataset_summary()
st.caption(f"{md(architecture(card))} — checkpoint {md(Path(card['checkpoint']).name)} on "
           f"{md(resources.shown(Path(card['dataset']['resolved_path'])))}")

counts = st.columns(6)
for column, (label, key) in zip(counts, [("Listeners", "users"), ("Songs", "tracks"), ("Artists", "artists"),
                                         ("Genres", "genres"), ("Listening pairs", "interactions"),
                                         ("Plays", "plays")], strict=True):
    column.metric(label, f"{summary.get(key, 0):,}", border=True)

genres_col, card_col = st.columns([3, 2], gap="large")
with genres_col:
    st.subheader("Genres")
    measure = st.segmented_control("Measure", ["plays", "songs"], default="plays", key="w.overview_measure",
                                   label_visibility="collapsed") or "plays"
    distribution = rec.genre_distribution()
    if distribution.empty:
        st.info(charts.NO_GENRES, icon=":material/label_off:")
    else:
        st.plotly_chart(charts.genre_bars(distribution, theme.genre_colors(rec.genres()), measure, top=15,
                                          height=430), key="overview-genres")
with card_col:
    st.subheader("Model card")
    training = card["training"]
    a, b, c = st.columns(3)
    a.metric("Parameters", f"{card['parameters'] / 1e6:.2f} M" if card["parameters"] >= 1e5 else
             f"{card['parameters']:,}", help=f"{card['parameters']:,} trainable parameters")
    b.metric("Epochs", f"{training.get('epochs', '?')}", help=f"best epoch {training.get('best_epoch', '?')}, "
             f"stopped by {training.get('stopped', '?')}")
    c.metric("Training time", f"{training.get('seconds', 0):.0f} s")
    rows = [(key.replace("_", " "), str(card["config"][key])) for key in ARCHITECTURE_KEYS if key in card["config"]]
    rows += [("versions", ", ".join(f"{k} {v}" for k, v in card.get("versions", {}).items()))]
    st.dataframe(pd.DataFrame(rows, columns=["setting", "value"]), hide_index=True, width="stretch",
                 column_config={"setting": st.column_config.TextColumn(width="small")})
    st.caption(f"Split: {md(card['dataset'].get('split_rule', '?'))} · data fingerprint "
               f"{md(card['dataset'].get('fingerprint', '?'))}")
    with st.expander("Full configuration (JSON)"):
        st.json({"model": card["config"], "training": training.get("config", {})}, expanded=False)

curve_col, quality_col = st.columns([3, 2], gap="large")
with curve_col:
    st.subheader("Training curve")
    if card["history"]:
        st.plotly_chart(charts.training_curve(card["history"]), key="overview-curve")
    else:
        st.info("This checkpoint has no per-epoch history.")
with quality_col:
    st.subheader("Held-out quality")
    metrics = report.checkpoint_metrics(card.get("metrics", {}))
    if len(metrics.columns) > 1:
        st.dataframe(metrics, hide_index=True, width="stretch",
                     column_config={s: st.column_config.NumberColumn(s, format="%.4f") for s in ("valid", "test")})
        st.caption("Full ranking of every unheard song, on the checkpoint's own split.")
    else:
        st.info("This checkpoint stores no evaluation metrics.")

st.subheader("Against the baselines")
report.evaluation_section(Path(card["checkpoint"]))
