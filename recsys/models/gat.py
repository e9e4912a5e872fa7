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

from recsys.config import ModelConfig
from recsys.graph import LISTENS
from recsys.models.attention import Adjacency, edge_cosines
from recsys.models.hetero import EdgeType, HeteroAttentionLayer
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


MIN_SONGS_PER_ARTIST = 1.5  # below this on average, artist nodes mostly duplicate songs


def resolve_use_artists(config: ModelConfig, num_nodes: dict[str, int]) -> bool:
    """``config.use_artists``, or when unset: artists help only when they group songs (see GATRecommender)."""
    if config.use_artists is not None:
        return config.use_artists
    return num_nodes["song"] >= MIN_SONGS_PER_ARTIST * max(1, num_nodes["artist"])


class GATRecommender(nn.Module):
    """Basic GAT: user, song and artist nodes, attention layers without feature transforms, layer outputs averaged.

    Every hyper-parameter comes from one `ModelConfig` (its defaults, or `ModelConfig.basic()` for the seed's
    Basic model: 1 layer, 4 heads, 32 dimensions, about 200K parameters at the default data scale), as
    nanoGPT's ``GPT(config)``; the config is kept as ``self.config`` and saved with every checkpoint.

    Args:
        config: the architecture. Fields used here: embedding_dim, hidden_dim (a different size adds a
            bias-free input projection), num_layers, heads, dropout (attention dropout while training),
            attention (`recsys.models.attention`), attention_temperature, attention_stop_gradient,
            use_edge_weight, use_artists.
        num_nodes: node type -> count (embedding table sizes); "genre" may be missing.

    Artist nodes: with one song per artist (catalogues of artists, like Last.fm's) an artist node only
    duplicates its song, a free embedding that memorises: measured on Last.fm it cost 0.017 validation
    NDCG@10, while on the synthetic data (10 songs per artist) it added 0.018. `resolve_use_artists` chooses
    from the catalogue when ``config.use_artists`` is not set.
    """

    node_types: tuple[str, ...] = ("user", "song", "artist")

    def __init__(self, config: ModelConfig, num_nodes: dict[str, int]) -> None:
        super().__init__()
        self.config = config.validate()
        self.num_nodes = {t: int(num_nodes.get(t, 0)) for t in ("user", "song", "artist", "genre")}
        self.use_artists = resolve_use_artists(config, self.num_nodes)
        self.use_genres = self._uses_genre_nodes()
        self.node_types = tuple(t for t in type(self).node_types
                                if (t != "artist" or self.use_artists) and (t != "genre" or self.use_genres))
        self.embedding_dim, self.hidden_dim = config.embedding_dim, config.hidden_dim
        self.num_layers, self.heads, self.dropout = config.num_layers, config.heads, config.dropout
        self.attention, self.use_edge_weight = config.attention, config.use_edge_weight
        self.embedding = nn.ModuleDict({t: nn.Embedding(self.num_nodes[t], self.embedding_dim)
                                        for t in self.node_types})
        self.input_proj = (nn.Linear(self.embedding_dim, self.hidden_dim, bias=False)
                           if self.hidden_dim != self.embedding_dim else None)
        self.layers = nn.ModuleList(HeteroAttentionLayer(self.edge_types, self.hidden_dim, self.heads,
                                                         self.attention, stop_gradient=config.attention_stop_gradient,
                                                         temperature=config.attention_temperature)
                                    for _ in range(self.num_layers))
        self.item_item: ItemItemTerm | None = None  # the Enhanced model's item-item (EASE) term
        # calibration (`set_calibration`, after training): base scores / scale are unit-variance
        self.register_buffer("score_scale", torch.tensor(1.0))
        self.reset_parameters()

    def _uses_genre_nodes(self) -> bool:
        return False

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
        read = self._lightgcn(split, adjs) if self.attention == "similarity" else None
        cosines = None if read is None else {  # the same for every layer: computed once
            et: edge_cosines(adj, read[et[0]], read[et[2]]) for et, adj in adjs.items()
            if et[0] in read and et[2] in read}
        total = {t: x for t, x in split.items()}
        attention: AttentionList = []
        for layer in self.layers:
            split, alphas = layer(split, adjs, self.dropout, read, cosines=cosines)
            total = {t: total[t] + split[t] for t in total}
            if return_attention:
                attention.append({et: (adjs[et].edge_index, alpha.detach()) for et, alpha in alphas.items()})
        out = {t: (x / (self.num_layers + 1)).reshape(x.size(0), -1) for t, x in total.items()}
        return (out, attention) if return_attention else out

    def _lightgcn(self, split: dict[str, Tensor], adjs: dict[EdgeType, Adjacency]) -> dict[str, Tensor]:
        """The same propagation with the fixed normalisation (LightGCN, mean of layers): what similarity
        attention reads (see `recsys.models.attention`). With stop-gradient it is a forward pass without autograd."""
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.config.attention_stop_gradient):
            x, total = split, dict(split)
            for layer in self.layers:
                x, _ = layer(x, adjs, fixed=True)
                total = {t: total[t] + x[t] for t in total}
            return {t: v / (self.num_layers + 1) for t, v in total.items()}

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

    @torch.no_grad()
    def infer(self, graph: HeteroData, return_attention: bool = False
              ) -> dict[str, Tensor] | tuple[dict[str, Tensor], AttentionList]:
        """The one inference forward: eval mode (no attention dropout), no autograd, the full ``graph``.

        Returns final embeddings (node type -> [N_t, hidden_dim], on CPU) and, when asked, the attention list
        of `forward`. The mode the model was in is restored afterwards.
        """
        was_training = self.training
        self.eval()
        try:
            result = self(*self.full_inputs(graph), return_attention=return_attention)
        finally:
            self.train(was_training)
        z, attention = result if return_attention else (result, None)
        z = {t: x.cpu() for t, x in z.items()}
        return (z, attention) if return_attention else z

    # ---- scoring and the seed's API ---------------------------------------------------------------------------
    @property
    def uses_genres(self) -> bool:
        return self.use_genres

    @property
    def item_item_weight(self) -> float:
        return 0.0

    @property
    def base_genre_weight(self) -> float:
        return 0.0

    def item_item_module(self) -> ItemItemTerm | None:
        return self.item_item

    def set_calibration(self, scale: float, item_item_beta: float = 0.0) -> None:
        """Store what calibration chose (`recsys.training.calibrate`) as buffers, so checkpoints carry it.

        Args:
            scale: sigma, the spread that makes base scores unit-variance.
            item_item_beta: weight of the item-item term (only a model with that term accepts non-zero).
        """
        if item_item_beta:
            raise ValueError(f"{type(self).__name__} has no item-item term (got item_item_beta={item_item_beta})")
        self.score_scale.fill_(float(scale))

    def scorer(self, z: dict[str, Tensor], graph: HeteroData) -> Scorer:
        """The `Scorer` of final embeddings ``z`` (from `infer`) over ``graph``."""
        return Scorer.build(z["user"], z["song"], graph, scale=float(self.score_scale),
                            item_item=self.item_item_module(), item_item_weight=self.item_item_weight,
                            base_genre_weight=self.base_genre_weight, use_genres=self.uses_genres)

    def prepare(self, graph: HeteroData) -> Scorer:
        """One inference forward; the returned `Scorer` ranks any user without further passes."""
        return self.scorer(self.infer(graph), graph)

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
        z, attention = self.infer(graph, return_attention=True)
        scorer = self.scorer(z, graph)
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
        """The learned scale weights of each layer (local, and global where genre nodes take part)."""
        return [{name: float(p.detach().exp()) for name, p in layer.log_scale.items()} for layer in self.layers]

    def extra_repr(self) -> str:
        n = self.num_nodes
        return (f"users={n['user']}, songs={n['song']}, artists={n['artist']}, genres={n['genre']}, "
                f"dim={self.embedding_dim}, layers={self.num_layers}, heads={self.heads}, "
                f"attention={self.attention!r}")


class EnhancedGATRecommender(GATRecommender):
    """Enhanced GAT: adds genre nodes (the global scale), an item-item term and a genre-influence term.

    Config fields used beyond `GATRecommender`'s: use_genres (genre nodes and the genre term, when the data
    has genres), genre_weight (base weight of the genre term; ``None`` at serving time means adaptive per user),
    item_item (the EASE term, fitted after training: exact up to item_item_max_songs songs, neighbourhood EASE
    above), item_item_topk (None: chosen by size; K: neighbourhood EASE with K neighbours per song).
    """

    node_types = ("user", "song", "artist", "genre")

    def __init__(self, config: ModelConfig, num_nodes: dict[str, int]) -> None:
        super().__init__(config, num_nodes)
        self.genre_weight = config.genre_weight
        if config.item_item:  # exact EASE up to item_item_max_songs songs, neighbourhood EASE above
            self.item_item = ItemItemTerm(self.num_nodes["song"], config.item_item_topk, config.item_item_max_songs)
        self.register_buffer("item_item_beta", torch.tensor(0.0))  # set by calibration with the fitted term

    def _uses_genre_nodes(self) -> bool:
        return bool(self.config.use_genres and self.num_nodes["genre"] > 0)

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
    def item_item_weight(self) -> float:
        return float(self.item_item_beta) if self.item_item is not None and self.item_item.fitted else 0.0

    @property
    def base_genre_weight(self) -> float:
        return self.genre_weight if self.use_genres else 0.0

    def set_calibration(self, scale: float, item_item_beta: float = 0.0) -> None:
        if item_item_beta and self.item_item is None:
            raise ValueError(f"this model has no item-item term (got item_item_beta={item_item_beta})")
        self.score_scale.fill_(float(scale))
        self.item_item_beta.fill_(float(item_item_beta))


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
