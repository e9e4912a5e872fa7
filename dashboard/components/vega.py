"""Vega-Lite (Altair) charts for the Overview, the landing page: light enough to draw it in a new browser session
within two seconds.

Plotly's browser bundle costs a new session about 1.1 s on two cores, Vega-Lite's about 0.3 s (a one-chart
Streamlit page in headless Chromium, 2026-12-04: 2.05-2.4 s with Plotly, 1.3 s with Vega-Lite, 1.0 s empty).
The other pages keep Plotly (`charts`). Vega-Lite draws labels as SVG text, never as HTML, and its tooltips
escape HTML, so names need no escaping here; long names are shortened.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import altair as alt
import pandas as pd

from dashboard.components.text import shorten
from dashboard.components.theme import NO_GENRE_COLOR, PART_COLORS


def genre_bars(frame: pd.DataFrame, colors: Mapping[str, str], value: str = "plays", top: int = 15,
               height: int = 450) -> alt.Chart:
    """Horizontal bars of one column per genre, biggest on top; the title says when only the top ``top`` of more
    genres are drawn."""
    data = frame.nlargest(top, value).assign(label=lambda f: [shorten(g, 32) for g in f["genre"]])
    title = f"Top {len(data)} of {len(frame)} genres by {value}" if len(frame) > top else ""
    return alt.Chart(data, title=title, height=height).mark_bar().encode(
        x=alt.X(f"{value}:Q", title=value, axis=alt.Axis(format="~s")),
        y=alt.Y("label:N", sort="-x", title=None),
        color=alt.Color("genre:N", legend=None, scale=alt.Scale(
            domain=list(data["genre"]), range=[colors.get(g, NO_GENRE_COLOR) for g in data["genre"]])),
        tooltip=[alt.Tooltip("genre:N"), alt.Tooltip(f"{value}:Q", format=",.0f")])


def training_curve(history: Sequence[Mapping[str, Any]], height: int = 320) -> alt.LayerChart:
    """Training loss and validation NDCG@10 per epoch, each on its own axis."""
    frame = pd.DataFrame(history).rename(columns={"valid_ndcg@10": "valid_ndcg"})
    base = alt.Chart(frame, height=height).encode(x=alt.X("epoch:Q", title="epoch", axis=alt.Axis(format="d")))
    layers = [base.mark_line(point=True, color=color).encode(
                  y=alt.Y(f"{column}:Q", title=title, scale=alt.Scale(zero=False),
                          axis=alt.Axis(orient=orient, titleColor=color, format=fmt)),
                  tooltip=[alt.Tooltip("epoch:Q"), alt.Tooltip(f"{column}:Q", title=title, format=".4f")])
              for column, title, color, orient, fmt in (
                  ("loss", "training loss", PART_COLORS["embedding"], "left", ".3~f"),
                  ("valid_ndcg", "validation NDCG@10", PART_COLORS["total"], "right", ".2f"))
              if column in frame]
    return alt.layer(*layers).resolve_scale(y="independent")
