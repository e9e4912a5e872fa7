"""The attention subgraph as a standalone, offline pyvis page.

Safety: every hover title is HTML-escaped here, and a small script turns the escaped text into a DOM element
(vis.js shows an element as it is), so a title displays literally whatever it contains, line breaks included.
Labels are drawn on the canvas (never parsed as HTML) and pyvis embeds all data as JSON with <, > and &
escaped. Offline: vis.js is inlined (``cdn_resources="in_line"``) and the bootstrap CDN tags pyvis adds anyway
are removed, so the page makes no network request.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import streamlit
from pyvis.network import Network

from dashboard.components.text import esc, shorten
from dashboard.components.theme import NODE_COLORS, NODE_LABELS, NODE_SHAPES

BACKGROUND = "#0E1117"
TEXT = "#E5E7EB"
FONT_STACK = '"RecsysSans", "Source Sans 3", "Source Sans Pro", "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif'
MIN_LABEL_PX = 13.5  # labels are enlarged after the layout settles until the smallest is this big on screen
DEFAULT_NODES = 14  # 12-15 nodes stay legible in the 560 px frame; 30 drew 8 px labels that overlapped
ANCHORS = {"user": -320, "candidate": 320}  # x of the listener and the song (y on a narrow screen)
NARROW_PX = 640
MAIN_RELATIONS = ("recommended", "listened", "similar")  # the paths of the score; the others are context, fainter
# relation -> (colour, what the edge means), in legend order; "prefers" shares the genre colour and key
EDGE_KEY: dict[str, tuple[str, str]] = {
    "recommended": (NODE_COLORS["candidate"], "score of the song"),
    "listened": (NODE_COLORS["user"], "attention: listener \u2190 song"),
    "similar": (NODE_COLORS["song"], "item-item: history song \u2192 song"),
    "by": (NODE_COLORS["artist"], "by artist"),
    "has_genre": (NODE_COLORS["genre"], "genre link"),
}
EDGE_COLORS = {**{relation: color for relation, (color, _) in EDGE_KEY.items()}, "prefers": NODE_COLORS["genre"]}
OPTIONS = {
    "physics": {"solver": "forceAtlas2Based", "stabilization": {"iterations": 300, "fit": True},
                "forceAtlas2Based": {"gravitationalConstant": -110, "centralGravity": 0.03, "springLength": 130,
                                     "springConstant": 0.06, "avoidOverlap": 1.0}},
    "interaction": {"hover": True, "tooltipDelay": 80, "navigationButtons": False},
    "edges": {"smooth": {"type": "continuous"}, "arrows": {"to": {"enabled": True, "scaleFactor": 0.5}}},
    "nodes": {"font": {"color": TEXT, "size": 18, "face": FONT_STACK, "strokeWidth": 5,
                       "strokeColor": BACKGROUND}},
}
_EXTERNAL_TAG = re.compile(r"<(?:link|script)\b[^>]*?(?:href|src)\s*=\s*[\"'](?:https?:)?//[^>]*>(?:\s*</script>)?",
                           re.IGNORECASE)
_COMMENTED_TAGS = re.compile(r"<!--(?:(?!-->).)*?<(?:link|script)\b.*?-->", re.IGNORECASE | re.DOTALL)


def _font_face() -> str:
    """The app's own font (Source Sans, shipped in Streamlit's static folder) for labels, legend and tooltips.

    Inside the app the frame resolves Streamlit's static URL; a downloaded page falls back to the system's sans.
    """
    found = sorted((Path(streamlit.__file__).parent / "static" / "static" / "media").glob("SourceSansVF-Upright*"))
    if not found:
        return ""
    return (f'@font-face {{ font-family: "RecsysSans"; src: url("static/media/{found[0].name}") format("woff2"); '
            "font-weight: 200 900; }")


_STYLE = f"""<style>
  {_font_face()}
  html, body {{ margin: 0; height: 100%; background: {BACKGROUND}; color: {TEXT}; font-family: {FONT_STACK}; }}
  body, .card {{ display: flex; flex-direction: column; }}
  .card {{ flex: 1; min-height: 0; border: none !important; }} center {{ display: none; }}
  #mynetwork {{ flex: 1; height: auto !important; min-height: 280px; border: none !important;
               background: {BACKGROUND} !important; }}
  div.vis-tooltip {{ white-space: pre-line; background: #1F2430; color: {TEXT}; border: 1px solid #374151;
                     border-radius: 6px; font-family: {FONT_STACK}; font-size: 14px; padding: 6px 8px;
                     max-width: 360px; }}
  #legend {{ display: flex; flex-wrap: wrap; gap: 4px 14px; align-items: center; font-size: 13px;
             padding: 6px 10px; border-bottom: 1px solid #2A2F3A; }}
  #legend span {{ display: inline-flex; align-items: center; gap: 5px; white-space: nowrap; }}
  #legend .note {{ opacity: .75; }}
</style>"""
_TITLES_AS_TEXT = """
  function recsysTextTitles(set) {  // escaped titles -> elements (shown as text; vis.js would print "&lt;")
    set.update(set.get().filter(function (x) { return typeof x.title === "string"; }).map(function (x) {
      var el = document.createElement("div"); el.innerHTML = x.title; return {id: x.id, title: el};
    }));
  }
  recsysTextTitles(nodes); recsysTextTitles(edges);
  if (document.getElementById("mynetwork").clientWidth < NARROW) {  // a phone: listener on top, song at the bottom
    nodes.update(nodes.get().filter(function (n) { return n.fixed; }).map(function (n) {
      return {id: n.id, x: 0, y: n.x};
    }));
  }
""".replace("NARROW", str(NARROW_PX))
# After the layout settles: physics off, then labels enlarged until the smallest is MIN_LABEL_PX on screen
# (the fit zooms out for wide layouts); the result is written to data-min-label-px for readers and tests.
_SETTLE = """
  network.once("stabilizationIterationsDone", function () {
    network.setOptions({physics: false});
    network.fit();
    var scale = network.getScale(), all = nodes.get();
    var smallest = Math.min.apply(null, all.map(function (n) { return n.font.size; }));
    var factor = Math.max(1, MIN_PX / (smallest * scale));
    nodes.update(all.map(function (n) { return {id: n.id, font: {size: n.font.size * factor}}; }));
    if (factor > 1) { scale = scale * 0.94; network.moveTo({scale: scale}); }  // room for the bigger edge labels
    document.getElementById("mynetwork").dataset.minLabelPx = (smallest * factor * scale).toFixed(1);
    if (document.fonts) { document.fonts.ready.then(function () { network.redraw(); }); }
  });
""".replace("MIN_PX", f"{MIN_LABEL_PX / 0.94:.2f}")
_SHAPES = {  # legend glyphs drawn like vis.js draws the node shapes
    "diamond": '<polygon points="7,0 14,7 7,14 0,7"/>', "dot": '<circle cx="7" cy="7" r="6"/>',
    "star": '<polygon points="7,0 8.8,5 14,5 9.8,8.2 11.4,13.5 7,10.3 2.6,13.5 4.2,8.2 0,5 5.2,5"/>',
    "square": '<rect x="1" y="1" width="12" height="12"/>', "triangle": '<polygon points="7,0 14,13 0,13"/>',
}


def legend_html() -> str:
    """The key above the drawing (never over it): node shapes and colours as drawn, edge colours, what widths mean."""
    nodes = "".join(f'<span><svg width="14" height="14" fill="{NODE_COLORS[role]}">{_SHAPES[NODE_SHAPES[role]]}'
                    f"</svg>{esc(label)}</span>" for role, label in NODE_LABELS.items())
    edges = "".join(f'<span><svg width="22" height="8"><line x1="0" y1="4" x2="22" y2="4" stroke="{color}" '
                    f'stroke-width="3"/></svg>{esc(label)}</span>' for color, label in EDGE_KEY.values())
    return (f'<div id="legend">{nodes}{edges}<span class="note">width = weight · dashed = negative · '
            "hover for names and numbers</span></div>")


def _widths(edges: list[Mapping[str, Any]]) -> list[float]:
    """Edge widths 1-9, scaled within each relation (attention, contributions and scores differ in scale)."""
    biggest: dict[str, float] = defaultdict(float)
    for e in edges:
        biggest[e["relation"]] = max(biggest[e["relation"]], abs(float(e["weight"])))
    return [1.0 + 8.0 * abs(float(e["weight"])) / (biggest[e["relation"]] or 1.0) for e in edges]


def attention_graph_html(subgraph: Mapping[str, Any], height: int = 560) -> str:
    """A self-contained HTML page drawing the subgraph: colour and shape by node type, width by weight."""
    net = Network(height=f"{height}px", width="100%", directed=True, bgcolor=BACKGROUND, cdn_resources="in_line")
    for node in subgraph["nodes"]:
        role = node["role"] if node["role"] == "candidate" else node["type"]
        anchor = ANCHORS.get(role)  # listener left, candidate right, the evidence settles between and around
        net.add_node(node["id"], label=shorten(node["label"], 28), title=esc(node.get("title") or node["label"]),
                     color=NODE_COLORS.get(role, "#9CA3AF"), shape=NODE_SHAPES.get(role, "dot"),
                     size=30 if anchor else 16, font={"size": 22 if anchor else 18},
                     **({"x": anchor, "y": 0, "fixed": True} if anchor else {}))
    for edge, width in zip(subgraph["edges"], _widths(subgraph["edges"]), strict=True):
        weight = float(edge["weight"])
        net.add_edge(edge["source"], edge["target"], width=width, dashes=weight < 0,
                     color={"color": EDGE_COLORS.get(edge["relation"], "#9CA3AF"),
                            "opacity": 0.9 if edge["relation"] in MAIN_RELATIONS else 0.35},
                     title=esc(f"{edge.get('title') or edge['relation']}\nweight {weight:.3f}"))
    net.set_options(json.dumps(OPTIONS))
    return make_offline(net.generate_html(notebook=False))


def make_offline(page: str) -> str:
    """Strip CDN tags (and commented-out ones), add the style, legend, text titles and the settle script."""
    page = _COMMENTED_TAGS.sub("", _EXTERNAL_TAG.sub("", page))
    page = page.replace("</head>", _STYLE + "</head>", 1)
    page = page.replace('<div id="mynetwork"', legend_html() + '<div id="mynetwork"', 1)
    page = page.replace("network = new vis.Network(", _TITLES_AS_TEXT + "  network = new vis.Network(", 1)
    return page.replace("return network;", _SETTLE + "  return network;", 1)
