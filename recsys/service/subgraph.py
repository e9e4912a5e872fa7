"""The attention subgraph: user, the listened songs that matter most, their artists and genres, the candidate.

Nodes and edges are plain dicts (no HTML): the dashboard escapes and draws them. Edge weights are the
model's attention coefficients (head-averaged, first layer) where the edge is a message-passing edge, the
item-item contribution for "similar" links, and the score for the user -> candidate "recommended" link,
which also guarantees the drawing is connected.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from recsys.service.explain import _attention_into, history_contributions

if TYPE_CHECKING:
    from recsys.service.recommender import Recommender

SONG_FROM_ARTIST = ("artist", "rev_by", "song")
SONG_FROM_GENRE = ("genre", "rev_has_genre", "song")


class _Builder:
    def __init__(self, rec: Recommender, max_nodes: int) -> None:
        self.rec, self.max_nodes = rec, max_nodes
        self.nodes: dict[str, dict[str, Any]] = {}
        self.edges: list[dict[str, Any]] = []

    def node(self, node_type: str, index: int, role: str, detail: str = "") -> str | None:
        key = f"{node_type}:{self.rec.maps[node_type].id_of(index)}"
        if key not in self.nodes:
            if len(self.nodes) >= self.max_nodes:
                return None
            name = self.rec.maps[node_type].name_of(index)
            self.nodes[key] = {"id": key, "type": node_type, "role": role, "label": name,
                               "external_id": self.rec.maps[node_type].id_of(index),
                               "title": f"{node_type}: {name}" + (f"\n{detail}" if detail else "")}
        return key

    def edge(self, source: str | None, target: str | None, relation: str, weight: float, detail: str) -> None:
        if source and target:
            self.edges.append({"source": source, "target": target, "relation": relation, "weight": float(weight),
                               "title": f"{relation}: {detail}"})


def _attention(rec: Recommender, relation: tuple[str, str, str], target: int, source: int) -> float | None:
    if relation not in rec.attention()[0]:
        return None
    alpha = _attention_into(rec, relation, target, torch.tensor([source]))[0]
    return float(alpha.mean()) if alpha.abs().sum() > 0 else None


def attention_subgraph(rec: Recommender, user: int, song: int, max_nodes: int) -> dict[str, Any]:
    """Nodes (id, type, role, label, title) and edges (source, target, relation, weight, title)."""
    b = _Builder(rec, max_nodes)
    parts = rec.scorer.decompose(user, song)
    u = b.node("user", user, "user", f"{len(rec.scorer.history(user))} songs in history")
    s = b.node("song", song, "candidate", f"score {parts['score']:.3f}")
    b.edge(u, s, "recommended", parts["score"], f"score {parts['score']:.3f}")
    song_artist = rec.graph["song", "by", "artist"].edge_index[1]
    artist = int(song_artist[song])
    a = b.node("artist", artist, "artist")
    b.edge(s, a, "by", _attention(rec, SONG_FROM_ARTIST, song, artist) or 1.0, "attention song <- artist")
    genre_idx, strength = rec.scorer.song_genres(song) if rec.scorer.has_genres else (torch.zeros(0), None)
    candidate_genres: dict[int, str | None] = {}
    for g, w in zip(genre_idx.tolist(), (strength.tolist() if strength is not None else []), strict=True):
        key = b.node("genre", g, "genre")
        candidate_genres[g] = key
        weight = _attention(rec, SONG_FROM_GENRE, song, g)
        b.edge(s, key, "has_genre", weight if weight is not None else w,
               "attention song <- genre" if weight is not None else f"genre strength {w:.2f}")
    user_genres, affinity = rec.scorer.genre_profile(user)
    for g, w in zip(user_genres.tolist(), affinity.tolist(), strict=True):
        if g in candidate_genres:
            b.edge(u, candidate_genres[g], "prefers", w, f"affinity {w:.2f}")
    song_genre = rec.graph["song", "has_genre", "genre"].edge_index if rec.scorer.has_genres else None
    for c in history_contributions(rec, user, song):
        if len(b.nodes) >= max_nodes:
            break
        h = rec.track_index(c["track_id"])
        key = b.node("song", h, "history", f"contribution {c['total']:+.3f}")
        b.edge(u, key, "listened", c["attention"], f"attention user <- song {c['attention']:.3f}")
        if c["item_item"]:
            b.edge(key, s, "similar", c["item_item"], f"item-item contribution {c['item_item']:+.3f}")
        h_artist = int(song_artist[h])
        if h_artist == artist:
            b.edge(key, a, "by", _attention(rec, SONG_FROM_ARTIST, h, artist) or 1.0, "same artist")
        elif len(b.nodes) < max_nodes - 1:
            b.edge(key, b.node("artist", h_artist, "artist"), "by",
                   _attention(rec, SONG_FROM_ARTIST, h, h_artist) or 1.0, "attention song <- artist")
        if song_genre is not None:
            shared = song_genre[1][song_genre[0] == h].tolist()
            for g in shared:
                if g in candidate_genres:
                    b.edge(key, candidate_genres[g], "has_genre", _attention(rec, SONG_FROM_GENRE, h, g) or 1.0,
                           "shared genre")
    return {"nodes": list(b.nodes.values()), "edges": b.edges, "user": u, "track": s}
