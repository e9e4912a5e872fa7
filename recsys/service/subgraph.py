"""The attention subgraph: listener, the listened songs that matter most, their artists and genres, the candidate.

Nodes and edges are plain dicts (no HTML): the dashboard escapes and draws them. Edge weights are the
model's attention coefficients (head-averaged, first layer) where the edge is a message-passing edge, the
item-item contribution for "similar" links, and the score for the listener -> candidate "recommended" link,
which also keeps the drawing connected. The score is the one the page shows: the same genre weight.
"""

from __future__ import annotations

from typing import Any

from recsys.errors import ConfigError
from recsys.service.attention import AttentionMaps
from recsys.service.catalogue import Catalogue
from recsys.service.explain import Explainer
from recsys.service.listener import Listener

SONG_FROM_ARTIST = ("artist", "rev_by", "song")
SONG_FROM_GENRE = ("genre", "rev_has_genre", "song")
FOCUS_PATHS = 5  # history songs kept in focus mode: the strongest positive paths from listener to song


class _Builder:
    def __init__(self, catalogue: Catalogue, listener: Listener, max_nodes: int) -> None:
        self.maps, self.listener, self.max_nodes = catalogue.maps, listener, max_nodes
        self.nodes: dict[str, dict[str, Any]] = {}
        self.edges: list[dict[str, Any]] = []

    def node(self, node_type: str, index: int, role: str, detail: str = "") -> str | None:
        listener = node_type == "user"
        external = self.listener.user_id if listener else self.maps[node_type].id_of(index)
        key = f"{node_type}:{external}"
        if key not in self.nodes:
            if len(self.nodes) >= self.max_nodes:
                return None
            name = self.listener.name if listener else self.maps[node_type].name_of(index)
            self.nodes[key] = {"id": key, "type": node_type, "role": role, "label": name, "external_id": external,
                               "title": f"{node_type}: {name}" + (f"\n{detail}" if detail else "")}
        return key

    def edge(self, source: str | None, target: str | None, relation: str, weight: float, detail: str) -> None:
        if source and target:
            self.edges.append({"source": source, "target": target, "relation": relation, "weight": float(weight),
                               "title": f"{relation}: {detail}"})


def attention_subgraph(explainer: Explainer, attention: AttentionMaps, listener: Listener, song: int,
                       max_nodes: int, weight: float, focus: bool) -> dict[str, Any]:
    """Nodes (id, type, role, label, title) and edges (source, target, relation, weight, title).

    ``focus`` keeps only the strongest paths from the listener to the song: the FOCUS_PATHS history songs with
    the largest positive contributions, and artists and genres only where such a path runs through them.
    """
    if isinstance(max_nodes, bool) or not isinstance(max_nodes, int) or max_nodes < 2:
        raise ConfigError(f"max_nodes must be an integer >= 2 (got {max_nodes!r})")
    catalogue, scorer = explainer.catalogue, explainer.scorer
    b = _Builder(catalogue, listener, max_nodes)
    score = explainer.ranker.decompose(listener, song, weight)["score"]
    u = b.node("user", listener.node, "user", f"{len(listener.history)} songs in history")
    s = b.node("song", song, "candidate", f"score {score:.3f}")
    b.edge(u, s, "recommended", score, f"score {score:.3f} (genre weight {weight:.2f})")
    contributions = explainer.contributions(listener, song)
    if focus:
        contributions = [c for c in contributions if c["total"] > 0][:FOCUS_PATHS]
    history = [catalogue.maps.song.index(c["track_id"]) for c in contributions]
    artist = int(catalogue.song_artist[song])
    shares_artist = any(int(catalogue.song_artist[h]) == artist for h in history)
    a = b.node("artist", artist, "artist") if not focus or shares_artist else None
    b.edge(s, a, "by", attention.edge(SONG_FROM_ARTIST, song, artist) or 1.0, "attention song <- artist")
    song_genres, strength = scorer.song_genres(song)
    history_genres = {g for h in history for g, _ in catalogue.mix[h]}
    user_affinity = dict(zip(listener.genres.tolist(), listener.affinity.tolist(), strict=True))
    candidate_genres: dict[int, str | None] = {}
    for g, w in zip(song_genres.tolist(), strength.tolist(), strict=True):
        if focus and g not in user_affinity and g not in history_genres:
            continue
        key = b.node("genre", g, "genre")
        candidate_genres[g] = key
        alpha = attention.edge(SONG_FROM_GENRE, song, g)
        b.edge(s, key, "has_genre", alpha if alpha is not None else w,
               "attention song <- genre" if alpha is not None else f"genre strength {w:.2f}")
        if g in user_affinity:
            b.edge(u, key, "prefers", user_affinity[g], f"affinity {user_affinity[g]:.2f}")
    for c, h in zip(contributions, history, strict=True):
        if len(b.nodes) >= max_nodes:
            break
        key = b.node("song", h, "history", f"contribution {c['total']:+.3f}")
        b.edge(u, key, "listened", c["attention"], f"attention user <- song {c['attention']:.3f}")
        if c["item_item"]:
            b.edge(key, s, "similar", c["item_item"], f"item-item contribution {c['item_item']:+.3f}")
        h_artist = int(catalogue.song_artist[h])
        if h_artist == artist:
            b.edge(key, a, "by", attention.edge(SONG_FROM_ARTIST, h, artist) or 1.0, "same artist")
        elif not focus and len(b.nodes) < max_nodes - 1:
            b.edge(key, b.node("artist", h_artist, "artist"), "by",
                   attention.edge(SONG_FROM_ARTIST, h, h_artist) or 1.0, "attention song <- artist")
        for g, _ in catalogue.mix[h]:
            if g in candidate_genres:
                b.edge(key, candidate_genres[g], "has_genre", attention.edge(SONG_FROM_GENRE, h, g) or 1.0,
                       "shared genre")
    return {"nodes": list(b.nodes.values()), "edges": b.edges, "user": u, "track": s}
