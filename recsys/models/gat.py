"""The two graph-attention recommenders: Basic (users, songs, artists; one layer) and Enhanced (+ genres).

Both embed every node, propagate with heterogeneous attention layers (`HeteroAttentionLayer`) and average the
layer outputs (LightGCN's layer combination). The Enhanced model adds genre nodes (the global scale of its
multi-scale attention), an item-item term, a genre-influence term weighted by ``genre_weight`` and built-in
explanations. Models take tensors and return tensors; they never read files.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.data import HeteroData

from recsys.graph import LISTENS
from recsys.models.attention import Adjacency
from recsys.models.hetero import EdgeType, HeteroAttentionLayer, scale_of
from recsys.models.item_item import ItemItemTerm
from recsys.models.memory import count_parameters
from recsys.models.scoring import Scorer

AttentionList = list[dict[EdgeType, tuple[Tensor, Tensor]]]


def build_adjacencies(edge_index_dict: dict[EdgeType, Tensor], num_nodes: dict[str, int],
                      edge_weight_dict: dict[EdgeType, Tensor] | None = None,
                      edge_types: list[EdgeType] | None = None) -> dict[EdgeType, Adjacency]:
    """Precompute the sparse layout of each relation once, to reuse across many forward passes."""
    adjs = {}
    for edge_type, edge_index in edge_index_dict.items():
        if edge_types is not None and edge_type not in edge_types:
            continue
        if isinstance(edge_index, Adjacency):
            adjs[edge_type] = edge_index
            continue
        src, _, dst = edge_type
        weight = None if edge_weight_dict is None else edge_weight_dict.get(edge_type)
        adjs[edge_type] = Adjacency.build(edge_index, num_nodes[src], num_nodes[dst], weight)
    return adjs


class GATRecommender(nn.Module):
    """Basic GAT: user, song and artist nodes; ``num_layers`` (default 1) attention layers with 4 heads.

    Args:
        num_users, num_songs, num_artists: node counts (embedding table sizes).
        num_genres: accepted for a common signature; the Basic model has no genre nodes.
        embedding_dim: size of every node embedding (32: about 200K parameters at the default data scale).
        hidden_dim: propagation size; when it differs from embedding_dim a bias-free projection maps into it.
        num_layers: attention layers; the output is the mean of the input and every layer's output.
        heads: attention heads (each attends over embedding_dim / heads dimensions).
        dropout: attention dropout while training.
        attention: ``"gated"`` (LightGCN normalisation times a learned gate) or ``"softmax"`` (classic GAT).
        use_edge_weight: normalise propagation by listening weights instead of edge counts.
        use_artists: propagate through artist nodes. With one song per artist (catalogues of artists, like
            Last.fm's) an artist node only duplicates its song, a free embedding that memorises: measured on
            Last.fm it cost 0.017 validation NDCG@10, while on the synthetic data (10 songs per artist) it
            added 0.018. `resolve_use_artists` chooses from the catalogue when not set.
        attention_stop_gradient: attention scores read the embeddings without back-propagating into them.
    """

    node_types: tuple[str, ...] = ("user", "song", "artist")

    def __init__(self, num_users: int, num_songs: int, num_artists: int, num_genres: int = 0,
                 embedding_dim: int = 32, hidden_dim: int | None = None, num_layers: int = 1, heads: int = 4,
                 dropout: float = 0.1, attention: str = "gated", use_edge_weight: bool = False,
                 use_artists: bool = True, attention_stop_gradient: bool = True) -> None:
        self.use_artists = use_artists
        if not use_artists:
            self.node_types = tuple(t for t in self.node_types if t != "artist")
        super().__init__()
        self.num_nodes = {"user": num_users, "song": num_songs, "artist": num_artists, "genre": num_genres}
        self.embedding_dim = embedding_dim
        self.hidden_dim = hidden_dim or embedding_dim
        self.num_layers, self.heads, self.dropout = num_layers, heads, dropout
        self.attention, self.use_edge_weight = attention, use_edge_weight
        self.embedding = nn.ModuleDict({t: nn.Embedding(self.num_nodes[t], embedding_dim) for t in self.node_types})
        self.input_proj = (nn.Linear(embedding_dim, self.hidden_dim, bias=False)
                           if self.hidden_dim != embedding_dim else None)
        self.layers = nn.ModuleList(HeteroAttentionLayer(self.edge_types, self.hidden_dim, heads, attention,
                                                         stop_gradient=attention_stop_gradient)
                                    for _ in range(num_layers))
        # calibration set after training (recsys.training): base scores / scale are unit-variance
        self.register_buffer("score_scale", torch.tensor(1.0))
        self.reset_parameters()

    @property
    def edge_types(self) -> list[EdgeType]:
        """Relations propagated over: listening and (when artists are used) authorship, both directions."""
        relations = [("user", "listens", "song"), ("song", "rev_listens", "user")]
        if self.use_artists:
            relations += [("song", "by", "artist"), ("artist", "rev_by", "song")]
        return relations

    def reset_parameters(self) -> None:
        for table in self.embedding.values():
            nn.init.normal_(table.weight, std=0.1)
        if self.input_proj is not None:
            nn.init.xavier_uniform_(self.input_proj.weight)
        for layer in self.layers:
            layer.reset_parameters()

    # ---- forward ----------------------------------------------------------------------------------------------
    def forward(self, x_dict: dict[str, Tensor], edge_index_dict: dict[EdgeType, Tensor | Adjacency],
                edge_weight_dict: dict[EdgeType, Tensor] | None = None,
                return_attention: bool = False) -> dict[str, Tensor] | tuple[dict[str, Tensor], AttentionList]:
        """Embed the nodes of ``x_dict`` and propagate over ``edge_index_dict``.

        Args:
            x_dict: node type -> indices into the embedding tables ([N_t]; all nodes: ``arange``; a sampled
                subgraph: the global ids of its local nodes).
            edge_index_dict: relation -> [2, E] local (src, dst) indices, or a prebuilt `Adjacency`.
            edge_weight_dict: relation -> [E] weights (used when ``use_edge_weight``).
            return_attention: also return, per layer, relation -> (edge_index [2, E], alpha [E, heads]): the
                exact coefficients of that forward pass, with edges in the order the layer used.

        Returns:
            node type -> [N_t, hidden_dim] final embeddings (and the attention list when asked).
        """
        h = {t: self._embed(t, x_dict[t]) for t in self.node_types if t in x_dict}
        num_nodes = {t: x.size(0) for t, x in h.items()}
        adjs = build_adjacencies(edge_index_dict, num_nodes, edge_weight_dict if self.use_edge_weight else None,
                                 self.edge_types)
        return self.propagate(h, adjs, return_attention)

    def propagate(self, h: dict[str, Tensor], adjs: dict[EdgeType, Adjacency], return_attention: bool = False
                  ) -> dict[str, Tensor] | tuple[dict[str, Tensor], AttentionList]:
        """Propagate given input vectors ``h`` (node type -> [N_t, hidden_dim]) over prebuilt adjacencies.

        `forward` is embedding lookup + this; a caller with vectors that are not table rows (a folded-in
        listener, say) calls it directly.
        """
        split = {t: x.view(x.size(0), self.heads, -1) for t, x in h.items()}  # [N, H, d]
        total = {t: x for t, x in split.items()}
        attention: AttentionList = []
        for layer in self.layers:
            split, alphas = layer(split, adjs, self.dropout)
            total = {t: total[t] + split[t] for t in total}
            if return_attention:
                attention.append({et: (adjs[et].edge_index, alpha.detach()) for et, alpha in alphas.items()})
        out = {t: (x / (self.num_layers + 1)).reshape(x.size(0), -1) for t, x in total.items()}
        return (out, attention) if return_attention else out

    def _embed(self, node_type: str, index: Tensor) -> Tensor:
        x = self.embedding[node_type](index)
        return self.input_proj(x) if self.input_proj is not None else x

    def ego(self, node_type: str, index: Tensor) -> Tensor:
        """The input vectors [n, hidden_dim] of some nodes (layer 0, before any propagation)."""
        return self._embed(node_type, index)

    def full_inputs(self, graph: HeteroData) -> tuple[dict[str, Tensor], dict[EdgeType, Tensor],
                                                       dict[EdgeType, Tensor]]:
        """(x_dict, edge_index_dict, edge_weight_dict) for a full-graph forward over ``graph``."""
        device = self.score_scale.device
        x_dict = {t: torch.arange(graph[t].num_nodes, device=device) for t in self.node_types
                  if t in graph.node_types}
        edges = {et: graph[et].edge_index.to(device) for et in self.edge_types if et in graph.edge_types}
        weights = {et: graph[et].edge_weight.to(device) for et in self.edge_types if et in graph.edge_types}
        return x_dict, edges, weights

    # ---- scoring and the seed's API ---------------------------------------------------------------------------
    @property
    def uses_genres(self) -> bool:
        return False

    @property
    def item_item_weight(self) -> float:
        return 0.0

    @property
    def base_genre_weight(self) -> float:
        return 0.0

    def item_item_module(self) -> ItemItemTerm | None:
        return None

    @torch.no_grad()
    def prepare(self, graph: HeteroData) -> Scorer:
        """One forward pass in eval mode; the returned `Scorer` ranks any user without further passes."""
        was_training = self.training
        self.eval()
        try:
            z = self(*self.full_inputs(graph))
        finally:
            self.train(was_training)
        return Scorer.build(z["user"].cpu(), z["song"].cpu(), graph, scale=float(self.score_scale),
                            item_item=self.item_item_module(), item_item_weight=self.item_item_weight,
                            base_genre_weight=self.base_genre_weight, use_genres=self.uses_genres)

    def recommend(self, user: int, graph: HeteroData, k: int = 10, exclude_known: bool = True,
                  genre_weight: float | None = None) -> tuple[Tensor, Tensor]:
        """Top-k (song indices, scores) for one user index (runs a forward pass; services cache a Scorer)."""
        songs, scores = self.prepare(graph).topk(torch.tensor([user]), k, genre_weight, exclude_known)
        return songs[0], scores[0]

    def compute_genre_influence(self, user: int, graph: HeteroData) -> Tensor:
        """Genre influence of every song for one user ([S]; zeros without genres)."""
        return self.prepare(graph).genre_scores(torch.tensor([user]))[0]

    def explain_genre_influence(self, user: int, song: int, graph: HeteroData) -> dict[str, Any] | None:
        """Per-genre decomposition of one pair's genre influence; None when they share no genre."""
        return explain_genre_influence(self.prepare(graph), user, song)

    def adaptive_genre_weight(self, user: int, graph: HeteroData) -> float:
        return float(self.prepare(graph).adaptive[user])

    def explain_recommendation(self, user: int, song: int, graph: HeteroData, top_edges: int = 5) -> dict[str, Any]:
        """Why ``song`` for ``user`` (indices): score decomposition, genre and artist influence, attention.

        Attention lists, per layer and relation, the strongest incoming edges of the user and of the song
        (head-averaged, with per-head values): the edges that fed their representations.
        """
        scorer = self.prepare(graph)
        was_training = self.training
        self.eval()
        with torch.no_grad():
            _, attention = self(*self.full_inputs(graph), return_attention=True)
        self.train(was_training)
        return {
            "user": user,
            "song": song,
            **scorer.decompose(user, song),
            "genre_influence_details": explain_genre_influence(scorer, user, song),
            "artist_influence": explain_artist_influence(graph, scorer, user, song),
            "attention": top_incoming_attention(attention, {"user": user, "song": song}, top_edges),
        }

    def num_parameters(self) -> int:
        return count_parameters(self)

    def scale_weights(self) -> list[dict[str, float]]:
        """The learned local/global scale weights of each layer."""
        return [{name: float(p.detach().exp()) for name, p in layer.log_scale.items()} for layer in self.layers]

    def extra_repr(self) -> str:
        n = self.num_nodes
        return (f"users={n['user']}, songs={n['song']}, artists={n['artist']}, genres={n['genre']}, "
                f"dim={self.embedding_dim}, layers={self.num_layers}, heads={self.heads}, "
                f"attention={self.attention!r}")


class EnhancedGATRecommender(GATRecommender):
    """Enhanced GAT: adds genre nodes, several layers, an item-item term, genre influence and explanations.

    Args (beyond `GATRecommender`):
        use_genres: propagate through genre nodes (the global scale) and add the genre-influence term.
        genre_weight: base weight of the genre term; ``None`` at serving time means adaptive per user.
        item_item: include the item-item (EASE) term in the global scale; fitted after training.
        item_item_topk: neighbours kept per song in that term (None: all, a dense songs x songs matrix).
    """

    node_types = ("user", "song", "artist", "genre")

    def __init__(self, num_users: int, num_songs: int, num_artists: int, num_genres: int = 0,
                 embedding_dim: int = 64, hidden_dim: int = 64, num_layers: int = 2, heads: int = 4,
                 dropout: float = 0.1, use_genres: bool = True, genre_weight: float = 0.1,
                 attention: str = "gated", use_edge_weight: bool = False, item_item: bool = True,
                 item_item_topk: int | None = None, use_artists: bool = True,
                 attention_stop_gradient: bool = True) -> None:
        self.use_genres = bool(use_genres and num_genres > 0)
        if not self.use_genres:
            self.node_types = GATRecommender.node_types
        super().__init__(num_users, num_songs, num_artists, num_genres, embedding_dim, hidden_dim, num_layers,
                         heads, dropout, attention, use_edge_weight, use_artists, attention_stop_gradient)
        self.genre_weight = genre_weight
        self.item_item = ItemItemTerm(num_songs, item_item_topk) if item_item else None
        self.register_buffer("item_item_beta", torch.tensor(0.0))  # set when the term is fitted and tuned

    @property
    def edge_types(self) -> list[EdgeType]:
        relations = super().edge_types
        if self.use_genres:
            relations += [("song", "has_genre", "genre"), ("genre", "rev_has_genre", "song"),
                          ("user", "prefers", "genre"), ("genre", "rev_prefers", "user")]
            if self.use_artists:
                relations += [("artist", "has_genre", "genre"), ("genre", "rev_has_genre", "artist")]
        return relations

    @property
    def uses_genres(self) -> bool:
        return self.use_genres

    @property
    def item_item_weight(self) -> float:
        return float(self.item_item_beta) if self.item_item is not None and self.item_item.fitted else 0.0

    @property
    def base_genre_weight(self) -> float:
        return self.genre_weight if self.use_genres else 0.0

    def item_item_module(self) -> ItemItemTerm | None:
        return self.item_item

    def multi_scale_summary(self) -> list[dict[str, float]]:
        """Per layer: the learned local and global scale weights (global = through genre nodes)."""
        return self.scale_weights()

    def local_relations(self) -> list[EdgeType]:
        return [et for et in self.edge_types if scale_of(et) == "local"]

    def global_relations(self) -> list[EdgeType]:
        return [et for et in self.edge_types if scale_of(et) == "global"]


def explain_genre_influence(scorer: Scorer, user: int, song: int) -> dict[str, Any] | None:
    """The seed's genre explanation: common genres, each with affinity x strength = contribution."""
    if not scorer.has_genres:
        return None
    return genre_overlap(*scorer.genre_profile(user), *scorer.song_genres(song))


def genre_overlap(user_genres: Tensor, affinity: Tensor, song_genres: Tensor, strength: Tensor) -> dict[str, Any]:
    """Common genres of a listener's profile and a song's mix, strongest contribution first (also for a
    listener who is not a node of the graph: a folded-in history)."""
    user_map = dict(zip(user_genres.tolist(), affinity.tolist(), strict=True))
    details = [{"genre_idx": g, "user_affinity": user_map[g], "song_strength": s, "contribution": user_map[g] * s}
               for g, s in zip(song_genres.tolist(), strength.tolist(), strict=True) if g in user_map]
    details.sort(key=lambda d: d["contribution"], reverse=True)
    return {
        "num_common_genres": len(details),
        "total_genres_user": len(user_map),
        "total_genres_song": len(song_genres),
        "genre_details": details,
        "total_influence": sum(d["contribution"] for d in details),
    }


def explain_artist_influence(graph: HeteroData, scorer: Scorer, user: int, song: int) -> dict[str, Any]:
    """How much the user already listens to this song's artist, and how close user and artist are."""
    listens = graph[LISTENS]
    mine = listens.edge_index[0] == user
    return artist_overlap(graph, listens.edge_index[1][mine], listens.plays[mine], scorer.user_emb[user],
                          scorer.song_emb, song)


def artist_overlap(graph: HeteroData, history: Tensor, plays: Tensor, user_vec: Tensor, song_emb: Tensor,
                   song: int) -> dict[str, Any]:
    """`explain_artist_influence` for a listener given by history songs, their plays and embedding."""
    song_artist = graph["song", "by", "artist"].edge_index
    artist = int(song_artist[1][song_artist[0] == song][0])
    artist_songs = song_artist[0][song_artist[1] == artist]
    played = torch.isin(history, artist_songs)
    artist_vec = song_emb[artist_songs].mean(0, keepdim=True)
    similarity = torch.nn.functional.cosine_similarity(user_vec.unsqueeze(0), artist_vec)
    return {"artist_idx": artist, "songs_played_by_artist": int(played.sum()),
            "user_plays_of_artist": int(plays[played].sum()), "artist_songs_in_catalogue": len(artist_songs),
            "similarity": float(similarity)}


def top_incoming_attention(attention: AttentionList, targets: dict[str, int], top: int) -> list[dict[str, Any]]:
    """Per layer and relation, the ``top`` incoming edges of each target node, strongest first."""
    out = []
    for layer, relations in enumerate(attention):
        for edge_type, (edge_index, alpha) in relations.items():
            dst_type = edge_type[2]
            if dst_type not in targets:
                continue
            hits = (edge_index[1] == targets[dst_type]).nonzero().flatten()
            if len(hits) == 0:
                continue
            mean = alpha[hits].mean(1)
            order = mean.argsort(descending=True)[:top]
            out.append({"layer": layer, "relation": list(edge_type), "target_type": dst_type,
                        "target": targets[dst_type], "incoming_edges": len(hits),
                        "edges": [{"source": int(edge_index[0, hits[i]]), "weight": float(mean[i]),
                                   "per_head": [float(v) for v in alpha[hits[i]]]} for i in order.tolist()]})
    return out
