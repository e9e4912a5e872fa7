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
from typing import Any

from pyvis.network import Network

from dashboard.components.text import esc, shorten
from dashboard.components.theme import NODE_COLORS, NODE_LABELS, NODE_SHAPES

BACKGROUND = "#0E1117"
TEXT = "#E5E7EB"
ANCHORS = {"user": -320, "candidate": 320}
MAIN_RELATIONS = ("recommended", "listened", "similar")  # the paths of the score; the others are context, fainter
EDGE_COLORS = {"recommended": NODE_COLORS["candidate"], "listened": NODE_COLORS["user"],
               "similar": NODE_COLORS["song"], "by": NODE_COLORS["artist"], "has_genre": NODE_COLORS["genre"],
               "prefers": NODE_COLORS["genre"]}
OPTIONS = {
    "physics": {"solver": "forceAtlas2Based", "stabilization": {"iterations": 300, "fit": True},
                "forceAtlas2Based": {"gravitationalConstant": -140, "centralGravity": 0.008, "springLength": 150,
                                     "springConstant": 0.05, "avoidOverlap": 0.8}},
    "interaction": {"hover": True, "tooltipDelay": 80, "navigationButtons": False},
    "edges": {"smooth": {"type": "continuous"}, "arrows": {"to": {"enabled": True, "scaleFactor": 0.5}}},
    "nodes": {"font": {"color": TEXT, "size": 20, "strokeWidth": 5, "strokeColor": BACKGROUND}},
}
_EXTERNAL_TAG = re.compile(r"<(?:link|script)\b[^>]*?(?:href|src)\s*=\s*[\"'](?:https?:)?//[^>]*>(?:\s*</script>)?",
                           re.IGNORECASE)
_COMMENTED_TAGS = re.compile(r"<!--(?:(?!-->).)*?<(?:link|script)\b.*?-->", re.IGNORECASE | re.DOTALL)
_STYLE = f"""<style>
  html, body {{ margin: 0; background: {BACKGROUND}; font-family: "Source Sans Pro", sans-serif; }}
  #mynetwork {{ border: none !important; background: {BACKGROUND} !important; }}
  .card {{ border: none !important; }} center {{ display: none; }}
  div.vis-tooltip {{ white-space: pre-line; background: #1F2430; color: {TEXT}; border: 1px solid #374151;
                     border-radius: 6px; font-size: 13px; padding: 6px 8px; max-width: 360px; }}
  #legend {{ position: absolute; top: 8px; left: 8px; z-index: 5; color: {TEXT}; font-size: 12px;
             background: rgba(14,17,23,.82); border: 1px solid #2A2F3A; border-radius: 8px; padding: 6px 10px; }}
  #legend span.dot {{ display: inline-block; width: 10px; height: 10px; border-radius: 50%; margin: 0 5px 0 10px; }}
</style>"""
_TITLES_AS_TEXT = """
  function recsysTextTitles(set) {  // escaped titles -> elements (shown as text; vis.js would print "&lt;")
    set.update(set.get().filter(function (x) { return typeof x.title === "string"; }).map(function (x) {
      var el = document.createElement("div"); el.innerHTML = x.title; return {id: x.id, title: el};
    }));
  }
  recsysTextTitles(nodes); recsysTextTitles(edges);
"""
_FREEZE = """
  network.once("stabilizationIterationsDone", function () { network.setOptions({physics: false}); });
"""


def legend_html() -> str:
    """A static legend: one coloured dot per node role, and what edge width means."""
    items = "".join(f'<span class="dot" style="background:{NODE_COLORS[role]}"></span>{esc(label)}'
                    for role, label in NODE_LABELS.items())
    return f'<div id="legend">{items}<br><span style="margin-left:10px;opacity:.8">edge width = attention ' \
           "(or contribution) weight · hover for names and numbers</span></div>"


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
                     size=34 if anchor else 16, font={"color": TEXT, "size": 26 if anchor else 20},
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
    """Strip CDN tags (and commented-out ones), add the style, legend and the text-titles script."""
    page = _COMMENTED_TAGS.sub("", _EXTERNAL_TAG.sub("", page))
    page = page.replace("</head>", _STYLE + "</head>", 1)
    page = page.replace('<div id="mynetwork"', legend_html() + '<div id="mynetwork"', 1)
    page = page.replace("network = new vis.Network(", _TITLES_AS_TEXT + "  network = new vis.Network(", 1)
    return page.replace("return network;", _FREEZE + "  return network;", 1)
