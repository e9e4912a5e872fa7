"""Overview: the dataset and the model at a glance (counts, genres, model card, training curve, quality)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import resources
from dashboard.components import report, theme, vega
from dashboard.components.text import md

ARCHITECTURE_KEYS = ("num_layers", "heads", "embedding_dim", "attention", "use_genres", "item_item", "dropout")
COUNTS = [  # (label, dataset_summary key, help)
    ("Listeners", "users", "Users in the dataset"), ("Songs", "tracks", "Songs in the catalogue"),
    ("Artists", "artists", "Artists of those songs"), ("Genres", "genres", "Genre names, parents included"),
    ("Listening pairs", "interactions", "Distinct (listener, song) pairs: what the model learns from"),
    ("Plays", "plays", "Total plays over all listening pairs"),
]
HOW_TO_READ = """
- **Counts** describe the whole dataset; the model is trained on the training part of the listening pairs.
- **Genres** shows how listening splits across genres (*plays*) or how many songs carry each (*songs*; a song
  with two genres counts half for each). *Roll up* adds every sub-genre into its top-level genre.
- **Model card**: what was trained, how big it is and how long training took on its machine.
- **Training curve**: the loss should fall; validation NDCG@10 (held-out quality) should rise and flatten. Training
  stopped at the best epoch.
- **Held-out quality** and **Against the baselines**: ranking metrics on songs the model never saw, higher is better
  for every one except training time:
"""


def architecture(card: dict[str, Any]) -> str:
    """One readable line: 'Enhanced GAT · gated attention · 2 layers x 4 heads · 64-dim · genres · item-item'."""
    c = card["config"]
    parts = [f"{card['model_type'].capitalize()} GAT", f"{c.get('attention', 'softmax')} attention",
             f"{c.get('num_layers', '?')} layers x {c.get('heads', '?')} heads", f"{c.get('embedding_dim', '?')}-dim"]
    parts += [label for key, label in (("use_genres", "genre term"), ("item_item", "item-item term")) if c.get(key)]
    return " · ".join(parts)


def genre_section(source) -> None:
    """The genre distribution, by plays or songs, optionally rolled up to top-level genres."""
    st.subheader("Genres", anchor=False)
    measure_col, rollup_col = st.columns([3, 2], vertical_alignment="center")
    measure = measure_col.segmented_control("Measure", ["plays", "songs"], default="plays",
                                            key="w.overview_measure", label_visibility="collapsed") or "plays"
    rollup = rollup_col.toggle("Roll up to parent genres", key="w.overview_rollup",
                               help="Add each sub-genre (e.g. Indie Rock) into its top-level genre (Rock)")
    distribution = source.genre_distribution(rollup=rollup)
    if distribution.empty:
        st.info(theme.NO_GENRES, icon=":material/label_off:")
        return
    st.altair_chart(vega.genre_bars(distribution, theme.genre_colors(source.genres()), measure, top=15, height=450),
                    key="overview-genres")


def model_card_section(card: dict[str, Any]) -> None:
    """Size, epochs, the one training time (the checkpoint's own run), settings and versions."""
    st.subheader("Model card", anchor=False)
    training = card["training"]
    a, b, c = st.columns(3)
    a.metric("Parameters", f"{card['parameters'] / 1e6:.2f} M" if card["parameters"] >= 1e5 else
             f"{card['parameters']:,}", help=f"{card['parameters']:,} trainable parameters")
    b.metric("Epochs", f"{training.get('epochs', '?')}", help=f"best epoch {training.get('best_epoch', '?')}, "
             f"stopped by {training.get('stopped', '?')}")
    seconds, source = report.training_seconds(card)
    c.metric("Training time", report.seconds_text(seconds), help=f"Training of this checkpoint, {source}")
    rows = [(key.replace("_", " "), str(card["config"][key])) for key in ARCHITECTURE_KEYS if key in card["config"]]
    report.static_table(pd.DataFrame(rows, columns=["setting", "value"]), "setting")
    versions = " · ".join(f"{md(k)} {md(v)}" for k, v in card.get("versions", {}).items())
    st.caption(f"Split: {md(card['dataset'].get('split_rule', '?'))}  \nData fingerprint "
               f"{md(card['dataset'].get('fingerprint', '?'))}  \nTrained with {versions or 'unknown versions'}")
    if st.toggle("Show the full configuration (JSON)", key="w.overview_config"):  # drawn on request: its viewer's
        st.json({"model": card["config"], "training": training.get("config", {})})  # code slows every first page


st.title("Overview")
st.markdown("The data and the model at a glance: what it learned from, how it was trained and how well it ranks "
            "songs its listeners never heard in training.")
source = resources.overview()  # the stored card: drawn without loading the model (docs/dashboard.md)
card, summary = source.model_card(), source.dataset_summary()
st.caption(f"{md(architecture(card))} — checkpoint {md(Path(card['checkpoint']).name)} on "
           f"{md(resources.shown(Path(card['dataset']['resolved_path'])))}")
with st.expander("How to read this page", icon=":material/help:"):
    st.markdown(HOW_TO_READ + "".join(f"  - **{m}**: {text}\n" for m, text in report.METRIC_HELP.items()))

for column, (label, key, help_text) in zip(st.columns(3) + st.columns(3), COUNTS, strict=True):
    column.metric(label, f"{int(summary.get(key, 0)):,}", border=True, help=help_text)

genres_col, card_col = st.columns([3, 2], gap="large")
with genres_col:
    genre_section(source)
with card_col:
    model_card_section(card)

curve_col, quality_col = st.columns([3, 2], gap="large")
with curve_col:
    st.subheader("Training curve", anchor=False)
    if card["history"]:
        st.altair_chart(vega.training_curve(card["history"]), key="overview-curve")
    else:
        st.info("This checkpoint has no per-epoch history.")
with quality_col:
    st.subheader("Held-out quality", anchor=False)
    metrics = report.checkpoint_metrics(card.get("metrics", {}))
    if len(metrics):
        report.static_table(metrics, "metric")
        st.caption("Full ranking of every unheard song, on the checkpoint's own split. Higher is better.")
    else:
        st.info("This checkpoint stores no evaluation metrics.")

st.subheader("Against the baselines", anchor=False)
report.evaluation_section(Path(card["checkpoint"]), chart=False)
