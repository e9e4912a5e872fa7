"""One palette for the whole dashboard: node types, genres and models keep their colour on every chart and graph.

The base colours match `.streamlit/config.toml` (a dark theme); charts take their background from Streamlit.
"""

from __future__ import annotations

import colorsys
from collections.abc import Iterable

from PIL import Image, ImageDraw

# Graph node types (pyvis) and the roles the attention subgraph gives them.
NODE_COLORS: dict[str, str] = {
    "user": "#F5A524",  # amber: the listener
    "song": "#38BDF8",  # sky: songs in the history
    "candidate": "#F472B6",  # pink: the recommended song
    "artist": "#34D399",  # green
    "genre": "#A78BFA",  # violet
}
NODE_SHAPES: dict[str, str] = {"user": "diamond", "song": "dot", "candidate": "star", "artist": "square",
                               "genre": "triangle"}
NODE_LABELS: dict[str, str] = {"user": "Listener", "candidate": "Recommended song", "song": "Song in history",
                               "artist": "Artist", "genre": "Genre"}

# Score parts, used by the waterfall, the table columns and the history chart.
PART_COLORS: dict[str, str] = {"embedding": "#38BDF8", "item_item": "#34D399", "genre": "#A78BFA",
                               "total": "#F472B6", "negative": "#F87171"}

# Short names of the score's parts (the service's `parts` names), for metric cells and chart axes.
PART_LABELS: dict[str, str] = {"graph": "Graph embedding", "history": "Listening history", "genre": "Genre match"}

# What a chart of genres says when the dataset has none.
NO_GENRES = ("This dataset has no genre files, so there is no genre distribution; the model works without its "
             "genre parts (docs/data-format.md).")

# Display names of the stored baselines (`X.baselines.json` names); unknown names are shown as they are.
BASELINE_LABELS: dict[str, str] = {"popularity": "Popularity", "bprmf": "BPR-MF", "lightgcn": "LightGCN",
                                   "ease": "EASE", "als": "ALS", "lightgcn+ease": "LightGCN + EASE",
                                   "bprmf+ease": "BPR-MF + EASE", "enhanced_noattn": "Enhanced GAT, attention off"}

# Models on the compare page and in evaluation charts; unknown names get colours from the tail of the list.
MODEL_COLORS: dict[str, str] = {"enhanced_gat": "#F472B6", "basic_gat": "#F5A524", "popularity": "#94A3B8",
                                "bprmf": "#38BDF8", "lightgcn": "#34D399", "ease": "#A78BFA", "als": "#FB923C"}
_EXTRA = ["#FB923C", "#22D3EE", "#E879F9", "#A3E635", "#FACC15", "#60A5FA", "#F87171", "#2DD4BF"]

# Genre colours: hues spread by the golden angle, medium lightness so both bars on the dark background and the
# genre chips (light text) read well; assigned in sorted-name order, so a genre keeps its colour on every page.
_GOLDEN_ANGLE = 137.508


def _genre_color(i: int) -> str:
    hue = (i * _GOLDEN_ANGLE + 200) % 360 / 360
    lightness = (0.58, 0.50, 0.66)[i % 3]
    r, g, b = colorsys.hls_to_rgb(hue, lightness, 0.72)
    return f"#{round(r * 255):02X}{round(g * 255):02X}{round(b * 255):02X}"


NO_GENRE = "(none)"
NO_GENRE_COLOR = "#6B7280"


def genre_colors(genres: Iterable[str]) -> dict[str, str]:
    """Genre -> colour, stable for a dataset: the i-th genre in sorted order gets the i-th palette colour."""
    ordered = sorted({str(g) for g in genres} - {NO_GENRE})
    colors = {g: _genre_color(i) for i, g in enumerate(ordered)}
    colors[NO_GENRE] = NO_GENRE_COLOR
    return colors


def model_colors(names: Iterable[str]) -> dict[str, str]:
    """Model name -> colour; known models keep theirs whether named by key or label ("bprmf", "BPR-MF"), and
    checkpoint variants ("basic_gat (old.pt)") share their model's colour."""
    out, extra = {}, iter(_EXTRA * 4)
    for name in names:
        key = name.split(" (")[0].lower().replace("-", "")
        out[name] = MODEL_COLORS.get(key) or next(extra)
    return out


def favicon() -> Image.Image:
    """A small equaliser icon drawn locally (a Material icon would be fetched from Google's CDN)."""
    image = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((0, 0, 63, 63), radius=14, fill="#7C3AED")
    for x, height in zip(range(12, 56, 10), (18, 34, 44, 28, 14), strict=True):
        draw.rounded_rectangle((x, 32 - height // 2, x + 5, 32 + height // 2), radius=3, fill="#F5F3FF")
    return image
