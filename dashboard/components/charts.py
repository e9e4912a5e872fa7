"""Plotly figures. Each takes plain data (lists, dicts, DataFrames) and the theme's colour maps; names are escaped
because Plotly reads labels as a subset of HTML (it decodes the entities back, so they display as typed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from dashboard.components.text import esc, shorten
from dashboard.components.theme import NO_GENRE_COLOR, PART_COLORS, PART_LABELS

# No hover toolbar: on a narrow screen it covered the chart, and the app's own downloads export the data.
CONFIG = {"displayModeBar": False, "responsive": True}
OTHER = "other genres"
DRIFT_GENRES = 8  # genres drawn by name in the drift chart; the rest are summed as OTHER


def _style(fig: go.Figure, height: int = 360, title: str | None = None) -> go.Figure:
    fig.update_layout(height=height, margin={"l": 8, "r": 8, "t": 40 if title else 12, "b": 8},
                      title=title, legend={"orientation": "h", "y": -0.18, "x": 0},
                      paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)")
    return fig


def _label(value: object, limit: int = 32) -> str:
    return esc(shorten(value, limit))


def genre_bars(frame: pd.DataFrame, colors: Mapping[str, str], value: str = "plays", top: int = 20,
               height: int = 420) -> go.Figure:
    """Horizontal bars of one column (plays, songs or share) per genre, biggest on top; the title says when only
    the top ``top`` of more genres are drawn."""
    data = frame.nlargest(top, value).iloc[::-1]
    fig = go.Figure(go.Bar(x=data[value], y=[_label(g) for g in data["genre"]], orientation="h",
                           marker_color=[colors.get(g, NO_GENRE_COLOR) for g in data["genre"]],
                           hovertemplate="%{y}: %{x:,.3~f}<extra></extra>"))
    fig.update_xaxes(title=value, tickformat=".0%" if value == "share" else "~s")
    title = f"Top {len(data)} of {len(frame)} genres by {value}" if len(frame) > top else None
    return _style(fig, height, title)


def metric_bars(models: Mapping[str, Mapping[str, Any]], metrics: Sequence[str],
                colors: Mapping[str, str]) -> go.Figure:
    """Grouped bars: one group per metric, one bar per model."""
    fig = go.Figure()
    for name, values in models.items():
        fig.add_trace(go.Bar(name=_label(name), x=list(metrics), marker_color=colors.get(name),
                             y=[values.get(m) if isinstance(values.get(m), int | float) else None for m in metrics],
                             hovertemplate="%{x}: %{y:.3f}<extra>%{fullData.name}</extra>"))
    fig.update_layout(barmode="group")
    fig.update_yaxes(tickformat=".2f")
    return _style(fig, 340)


PART_COLOR_KEYS = {"graph": "embedding", "history": "item_item", "genre": "genre"}


def score_waterfall(parts: Sequence[Mapping[str, Any]], score: float) -> go.Figure:
    """The model's own parts (only those it has) adding up to the score, each bar labelled with its share."""
    fig = go.Figure(go.Waterfall(
        x=[PART_LABELS.get(p["name"], p["label"]) for p in parts] + ["Score"], y=[p["value"] for p in parts] + [score],
        measure=["relative"] * len(parts) + ["total"], textposition="outside",
        text=[f"{p['value']:+.2f} ({p['share']:.0%})" for p in parts] + [f"{score:.2f}"],
        increasing={"marker": {"color": PART_COLORS["item_item"]}},
        decreasing={"marker": {"color": PART_COLORS["negative"]}},
        totals={"marker": {"color": PART_COLORS["total"]}}, connector={"line": {"color": "#64748B"}}))
    fig.update_yaxes(title="score", tickformat=".1f")
    return _style(fig, 340)


def genre_drift(frame: pd.DataFrame, colors: Mapping[str, str]) -> go.Figure:
    """A listener's genre shares per month as stacked areas (the biggest genres by name, the rest as one)."""
    totals = frame.groupby("genre")["share"].sum().sort_values(ascending=False)
    named = set(totals.index[:DRIFT_GENRES])
    data = (frame.assign(genre=frame["genre"].where(frame["genre"].isin(named), OTHER))
            .groupby(["period", "genre"], as_index=False)["share"].sum())
    order = [g for g in totals.index if g in named] + ([OTHER] if OTHER in set(data["genre"]) else [])
    fig = go.Figure([go.Scatter(x=part["period"], y=part["share"], name=_label(genre), stackgroup="shares",
                                mode="lines", line={"width": 0.5, "color": colors.get(genre, NO_GENRE_COLOR)},
                                hovertemplate="%{x|%b %Y}: %{y:.0%}<extra>%{fullData.name}</extra>")
                     for genre in order for part in [data[data["genre"] == genre]]])
    fig.update_yaxes(title="share of plays", tickformat=".0%", range=[0, 1])
    fig.update_xaxes(title=None)
    return _style(fig, 320)


def _genre_name(detail: Mapping[str, Any]) -> str:
    """'Indie Rock (Rock)' for a sub-genre, 'Rock' for a top-level one."""
    parent = detail.get("parent")
    return f"{detail['genre']} ({parent})" if parent and parent != detail["genre"] else str(detail["genre"])


def genre_influence(details: Sequence[Mapping[str, Any]], colors: Mapping[str, str]) -> go.Figure:
    """Each shared genre's contribution (listener affinity x song strength), sub-genres named with their parent."""
    fig = go.Figure(go.Bar(
        x=[_label(_genre_name(d), 40) for d in details], y=[d["contribution"] for d in details],
        marker_color=[colors.get(d["genre"], NO_GENRE_COLOR) for d in details],
        customdata=[[d["user_affinity"], d["song_strength"]] for d in details],
        hovertemplate="%{x}<br>contribution %{y:.3f}<br>listener affinity %{customdata[0]:.2f}"
                      "<br>song strength %{customdata[1]:.2f}<extra></extra>",
        width=0.45 if len(details) < 3 else None))
    fig.update_yaxes(title="genre influence", tickformat=".2f")
    return _style(fig, 340)


def genre_groups(groups: Sequence[Mapping[str, Any]], colors: Mapping[str, str]) -> go.Figure:
    """Genre influence rolled up: one bar per top-level genre, its sub-genres listed on hover."""
    fig = go.Figure(go.Bar(
        x=[_label(g["genre"]) for g in groups], y=[g["contribution"] for g in groups],
        marker_color=[colors.get(g["genre"], NO_GENRE_COLOR) for g in groups],
        customdata=[[esc(", ".join(g["children"]) or "—")] for g in groups],
        hovertemplate="%{x}<br>contribution %{y:.3f}<br>from %{customdata[0]}<extra></extra>",
        width=0.45 if len(groups) < 3 else None))
    fig.update_yaxes(title="genre influence", tickformat=".2f")
    return _style(fig, 340)


def history_bars(contributions: Sequence[Mapping[str, Any]], item_item: bool = True) -> go.Figure:
    """Which songs of the listener's history push this recommendation, by path: the attention path into the
    listener's embedding, and the item-item term where the model has one."""
    rows = list(contributions)[::-1]
    names = [_label(f"{c['title']} · {c['artist']}", 44) for c in rows]
    bars = [go.Bar(name="attention path", y=names, x=[c["attention_path"] for c in rows], orientation="h",
                   marker_color=PART_COLORS["embedding"])]
    if item_item:
        bars.append(go.Bar(name="item-item", y=names, x=[c["item_item"] for c in rows], orientation="h",
                           marker_color=PART_COLORS["item_item"]))
    fig = go.Figure(bars)
    fig.update_layout(barmode="relative")
    fig.update_xaxes(title="contribution to the score", tickformat=".2f")
    return _style(fig, max(240, 34 * len(rows) + 90))


def counterfactual_bars(items: Sequence[Mapping[str, Any]]) -> go.Figure:
    """How much the score drops when one history song is removed (the model re-run without it)."""
    rows = list(items)[::-1]
    fig = go.Figure(go.Bar(
        y=[_label(f"{i['title']} · {i['artist']}", 44) for i in rows], x=[i["drop"] for i in rows], orientation="h",
        marker_color=[PART_COLORS["total"] if i["drop"] > 0 else PART_COLORS["negative"] for i in rows],
        hovertemplate="%{y}<br>score drop %{x:.3f}<extra></extra>"))
    fig.update_xaxes(title="score drop without this song")
    return _style(fig, max(220, 30 * len(rows) + 80))


def overlap_heatmap(lists: Mapping[str, Sequence[str]]) -> go.Figure:
    """Songs shared by every pair of top-k lists (the diagonal is each list's length)."""
    names = list(lists)
    sets = [set(lists[n]) for n in names]
    matrix = [[len(a & b) for b in sets] for a in sets]
    labels = [_label(n, 28) for n in names]
    fig = go.Figure(go.Heatmap(z=matrix, x=labels, y=labels, colorscale=[[0, "#1A1D27"], [1, "#7C3AED"]], text=matrix,
                               texttemplate="%{text}", hovertemplate="%{y} ∩ %{x}: %{z}<extra></extra>",
                               showscale=False))
    fig.update_yaxes(autorange="reversed")
    return _style(fig, 120 + 48 * len(names))


def embedding_scatter(frame: pd.DataFrame, colors: Mapping[str, str], highlight: str | None = None) -> go.Figure:
    """The 2-D projection coloured by (main) genre; an optional highlighted ID is drawn as a big star."""
    data = frame.assign(name=[_label(v, 48) for v in frame["label"]], genre_label=[esc(g) for g in frame["genre"]])
    fig = px.scatter(data, x="x", y="y", color="genre_label", hover_name="name", hover_data={"id": True, "x": False,
                     "y": False, "genre_label": False},
                     color_discrete_map={esc(g): c for g, c in colors.items()}, opacity=0.75)
    fig.update_traces(marker_size=6)
    if highlight is not None and (frame["id"] == highlight).any():
        row = data[frame["id"] == highlight].iloc[0]
        fig.add_trace(go.Scatter(x=[row["x"]], y=[row["y"]], mode="markers", name="selected",
                                 marker={"symbol": "star", "size": 22, "color": "#FFFFFF",
                                         "line": {"width": 2, "color": "#F472B6"}}, hovertext=[row["name"]]))
    fig.update_xaxes(showticklabels=False, title=None)
    fig.update_yaxes(showticklabels=False, title=None)
    fig = _style(fig, 600)
    fig.update_layout(legend={"title": "genre", "orientation": "v", "x": 1.02, "y": 1, "font": {"size": 11}})
    return fig


def activity_histogram(counts: Sequence[int]) -> go.Figure:
    """How many songs each listener has in the training history."""
    fig = go.Figure(go.Histogram(x=list(counts), nbinsx=40, marker_color=PART_COLORS["embedding"]))
    fig.update_xaxes(title="songs per listener")
    fig.update_yaxes(title="listeners")
    return _style(fig, 320)
