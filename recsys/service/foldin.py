"""Fold-in: a listening history becomes a listener of the trained model, without retraining.

The new listener is one more user node with edges to its history songs (and, for models with genre nodes,
to its genres, weighted by its genre shares). Its representation is the model's own propagation: every
layer of the trained model (attention included) aggregates the history songs' and genres' representations
of that layer on the training graph, exactly the messages the node would receive in the graph extended by
it. The catalogue stays as trained (the new node only reads): a full forward over the extended graph cost
170-450 ms at the default scale on 2 busy cores, the read-only fold-in 3 ms (13 ms with the ego steps),
and the songs' own representations would move by one edge each at most.

The new node's ego vector (layer 0) starts as the mean of its songs' ego vectors and takes `FOLD_IN_STEPS`
Adam steps on the listener's BPR objective (everything else frozen), as training would have given it.
The item-item term and the genre shares need only the history; the adaptive genre weight follows the seed's
rule for that history.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch
from torch import Tensor

from recsys.errors import ConfigError, UnknownIdError
from recsys.graph import LISTENS, PREFERS
from recsys.models import Adjacency, GATRecommender, Scorer, build_adjacencies
from recsys.models.losses import bpr_loss, l2_penalty
from recsys.models.scoring import activity_reference, adaptive_weight
from recsys.service.catalogue import Catalogue
from recsys.service.listener import AttentionList, Listener, unit
from recsys.sparse import row_counts

FOLD_IN_STEPS = 10  # Adam steps on the ego vector: valid NDCG@10 0.1639 (0 steps 0.1590; trained 0.1602)
FOLD_IN_LR = 0.05
FOLD_IN_NEGATIVES = 8  # negatives per history song, as in training
LISTENER_CACHE_SIZE = 64  # folded-in histories kept: a what-if edit and its explanation reuse one fold-in
MAX_HISTORY = 100_000  # songs in one history: far beyond any listener, small enough to answer at once
HISTORY_ID = "history"
HISTORY_NAME = "this listener"
INTO_USER = (("song", "rev_listens", "user"), ("genre", "rev_prefers", "user"))


def parse_history(history: Iterable[object]) -> list[tuple[str, float]]:
    """(track_id, plays) pairs from a list of track IDs or of (track_id, plays) pairs; repeated IDs add up."""
    if isinstance(history, str | bytes) or not isinstance(history, Iterable):
        raise ConfigError("history must be a list of track IDs or of (track_id, plays) pairs "
                          f"(got {type(history).__name__})")
    totals: dict[str, float] = {}
    for position, item in enumerate(history):
        if isinstance(item, list | tuple):
            if len(item) != 2:
                raise ConfigError(f"history entry {position} must be a track ID or a (track_id, plays) pair "
                                  f"(got {item!r})")
            track, plays = item
        else:
            track, plays = item, 1.0
        if isinstance(plays, bool) or not isinstance(plays, int | float) or not math.isfinite(plays) or plays <= 0:
            raise ConfigError(f"history entry {position}: plays must be a positive number (got {plays!r})")
        if not isinstance(track, str | int) or isinstance(track, bool):
            raise ConfigError(f"history entry {position}: a track ID must be text (got {track!r})")
        totals[str(track)] = totals.get(str(track), 0.0) + float(plays)
        if len(totals) > MAX_HISTORY:
            raise ConfigError(f"a history may hold at most {MAX_HISTORY:,} songs")
    return list(totals.items())


class FoldIn:
    """Builds `Listener`s for listening histories from one trained model and its training graph."""

    def __init__(self, model: GATRecommender, catalogue: Catalogue, scorer: Scorer, weight_decay: float,
                 counted: Callable[[Callable[[], Any]], Callable[[], Any]] = lambda forward: forward) -> None:
        """``weight_decay``: the L2 strength the model was trained with; ``counted`` wraps its one forward pass."""
        self.model, self.catalogue, self.scorer = model, catalogue, scorer
        self.graph, self.maps = catalogue.graph, catalogue.maps
        self.weight_decay, self._counted = weight_decay, counted
        self._listeners: OrderedDict[tuple, Listener] = OrderedDict()
        self._layers: list[dict[str, Tensor]] | None = None  # per layer, node type -> [N, H, d] inputs
        self._fixed: list[dict[str, Tensor]] = []  # the same with the fixed normalisation (similarity attention)
        self._read: dict[str, Tensor] | None = None  # what similarity attention reads: LightGCN's final embeddings
        self._degrees: dict[tuple[str, str, str], Tensor] = {}
        self._lock = threading.Lock()
        self._reference = activity_reference(row_counts(scorer.known))

    # ---- the training graph's per-layer representations, computed once -------------------------------------
    def warm_up(self) -> None:
        """Compute the training graph's layer inputs now (one forward pass) rather than on the first fold-in."""
        self._layer_inputs()

    def _layer_inputs(self) -> list[dict[str, Tensor]]:
        """What each layer reads on the training graph: [layer][node type] -> [N, heads, d] (eval, no grad)."""
        with self._lock:
            if self._layers is None:
                self._layers = self._counted(self._propagate_layers)()
            return self._layers

    @torch.no_grad()
    def _propagate_layers(self) -> list[dict[str, Tensor]]:
        model = self.model
        was_training = model.training
        model.eval()
        try:
            x_dict, edges, weights = model.full_inputs(self.graph)
            h = {t: model.ego(t, x) for t, x in x_dict.items()}
            num_nodes = {t: x.size(0) for t, x in h.items()}
            adjs = build_adjacencies(edges, num_nodes, weights if model.use_edge_weight else None, model.edge_types)
            split = {t: x.view(x.size(0), model.heads, -1) for t, x in h.items()}
            if model.attention == "similarity":  # its scores read LightGCN's embeddings of the same graph
                self._fixed, self._read = self._lightgcn(split, adjs)
            layers = [split]
            for layer in model.layers[:-1]:
                split, _ = layer(split, adjs, 0.0, self._read)
                layers.append(split)
        finally:
            model.train(was_training)
        for relation, adj in adjs.items():
            if relation in INTO_USER:  # the sources' degrees within the relation the new node is added to
                weight = adj.norm.new_ones(adj.num_edges) if not model.use_edge_weight else \
                    weights[relation][adj.perm].float()
                self._degrees[relation] = torch.zeros(adj.num_src).index_add_(0, adj.edge_index[0], weight)
        return [{t: x.cpu() for t, x in layer.items()} for layer in layers]

    def _lightgcn(self, split: dict[str, Tensor], adjs: dict) -> tuple[list[dict[str, Tensor]], dict[str, Tensor]]:
        """Per-layer inputs and the layer mean of the model's layers with the fixed normalisation."""
        x, layers, total = split, [split], dict(split)
        for layer in self.model.layers:
            x, _ = layer(x, adjs, fixed=True)
            layers.append(x)
            total = {t: total[t] + x[t] for t in total}
        return layers, {t: v / (self.model.num_layers + 1) for t, v in total.items()}

    # ---- histories ----------------------------------------------------------------------------------------
    def resolve(self, history: Iterable[object]) -> tuple[Tensor, Tensor]:
        """(song indices ascending, plays) of a history; every unknown track ID is named with close matches."""
        pairs = parse_history(history)
        ids = [track for track, _ in pairs]
        found = self.maps.song.ids.get_indexer(np.asarray(ids, dtype=object)) if ids else np.zeros(0, np.int64)
        if (found < 0).any():
            unknown = [ids[i] for i in np.flatnonzero(found < 0)]
            raise UnknownIdError("track", unknown, [str(v) for v in self.maps.song.ids[:50_000]])
        songs = torch.as_tensor(found, dtype=torch.long)
        plays = torch.tensor([p for _, p in pairs], dtype=torch.float32)
        order = torch.argsort(songs)
        return songs[order], plays[order]

    def listener(self, history: Iterable[object], steps: int = FOLD_IN_STEPS) -> Listener:
        """The history as a `Listener`: embedding by the model's propagation, genre shares, adaptive weight."""
        return self.from_indices(*self.resolve(history), steps=steps)

    def from_indices(self, songs: Tensor, plays: Tensor, steps: int = FOLD_IN_STEPS) -> Listener:
        """`listener` for song indices (ascending) and their plays; recent histories are kept (LRU)."""
        key = (tuple(songs.tolist()), tuple(plays.tolist()), steps)
        with self._lock:
            if key in self._listeners:
                self._listeners.move_to_end(key)
                return self._listeners[key]
        listener = self._build(songs, plays, steps, key)
        with self._lock:
            self._listeners[key] = listener
            while len(self._listeners) > LISTENER_CACHE_SIZE:
                self._listeners.popitem(last=False)
        return listener

    def _build(self, songs: Tensor, plays: Tensor, steps: int, key: tuple) -> Listener:
        genres, shares = self.catalogue.genre_shares(songs, plays)
        node = len(self.maps.user)  # the new node's index: one past the trained users
        if len(songs) == 0:
            vector, attention = torch.zeros(self.scorer.user_emb.size(1)), None
        else:
            vector, attention = self._embed(songs, plays, genres, shares, node, steps)
        return Listener(HISTORY_ID, HISTORY_NAME, None, node, songs, plays, vector, genres, shares, unit(shares),
                        self._adaptive(len(songs), shares), ("history", *key), attention)

    def _adaptive(self, count: int, shares: Tensor) -> float:
        """The seed's adaptive genre weight for this history, with the training users' activity reference."""
        if not self.scorer.has_genres:
            return 0.0
        entropy = -(shares * torch.log(shares.clamp_min(1e-12))).sum()
        return float(adaptive_weight(torch.tensor([count]), entropy.unsqueeze(0), self._reference,
                                     self.scorer.base_genre_weight, len(self.maps.genre))[0])

    # ---- the new node's propagation ------------------------------------------------------------------------
    def _star(self, songs: Tensor, plays: Tensor, genres: Tensor, shares: Tensor) -> dict:
        """relation -> (Adjacency of the edges into the new node, global source indices) for each relation."""
        layers = self._layer_inputs()
        relations = [r for r in INTO_USER if r in self.model.edge_types and r[0] in layers[0]]
        star = {}
        for relation in relations:
            sources = songs if relation[0] == "song" else genres
            if len(sources) == 0:
                continue
            weight = self._edge_weight(relation, plays, shares) if self.model.use_edge_weight else \
                torch.ones(len(sources))
            degree_src = self._degrees[relation][sources] + weight
            norm = weight * (weight.sum() * degree_src).clamp_min(1e-12).rsqrt()
            edge_index = torch.stack([torch.arange(len(sources)), torch.zeros(len(sources), dtype=torch.long)])
            star[relation] = (Adjacency.build(edge_index, len(sources), 1, norm=norm), sources)
        return star

    @staticmethod
    def _edge_weight(relation: tuple[str, str, str], plays: Tensor, shares: Tensor) -> Tensor:
        """The edge weights `build_graph` gives these edges: log1p(plays) for listening, shares for genres."""
        if relation[1] == f"rev_{LISTENS[1]}":
            return torch.log1p(plays)
        assert relation[1] == f"rev_{PREFERS[1]}", relation
        return shares.float()

    def _propagate(self, ego: Tensor, star: dict, node: int, keep_attention: bool) -> tuple[Tensor, AttentionList]:
        """z of the new node [D] from its ego vector [D]: each layer reads the training graph's layer inputs."""
        model, layers = self.model, self._layer_inputs()
        h = ego.view(1, model.heads, -1)
        total, attention = h, []
        adjs = {relation: adj for relation, (adj, _) in star.items()}
        read = None
        if self._read is not None:  # the new node's LightGCN embedding, from the fixed layers' inputs
            g = fixed_total = h
            for depth, layer in enumerate(model.layers):
                g = layer(self._sources(self._fixed[depth], star, g), adjs, fixed=True)[0]["user"]
                fixed_total = fixed_total + g
            read = self._sources(self._read, star, fixed_total / (model.num_layers + 1))
        for depth, layer in enumerate(model.layers):
            out, alphas = layer(self._sources(layers[depth], star, h), adjs, 0.0, read)
            h = out["user"]
            total = total + h
            if keep_attention:
                attention.append({relation: (torch.stack([star[relation][1][adjs[relation].edge_index[0]],
                                                          torch.full((len(alpha),), node)]), alpha.detach())
                                  for relation, alpha in alphas.items()})
        return (total / (model.num_layers + 1)).reshape(-1), attention

    @staticmethod
    def _sources(vectors: dict[str, Tensor], star: dict, node: Tensor) -> dict[str, Tensor]:
        """The star's inputs: the new node's vector and the training graph's vectors of its sources."""
        x_dict = {"user": node}
        for relation, (_, sources) in star.items():
            x_dict[relation[0]] = vectors[relation[0]][sources]
        return x_dict

    def _embed(self, songs: Tensor, plays: Tensor, genres: Tensor, shares: Tensor, node: int,
               steps: int) -> tuple[Tensor, AttentionList]:
        model = self.model
        star = self._star(songs, plays, genres, shares)
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                ego = model.ego("song", songs).mean(0)
            if steps:
                with torch.enable_grad():  # also when called under no_grad (evaluation ranks inside one)
                    ego = self._fit_ego(ego, songs, star, node, steps)
            with torch.no_grad():
                return self._propagate(ego, star, node, keep_attention=True)
        finally:
            model.train(was_training)

    def _fit_ego(self, ego: Tensor, songs: Tensor, star: dict, node: int, steps: int) -> Tensor:
        """Adam steps on the history's BPR loss (negatives: songs outside it), everything else frozen.

        z = (ego + propagated layers) / (L + 1). The attention reads the embeddings without gradient (as in
        training), so dz/d(ego) = 1 / (L + 1) exactly; the propagated part is held at its value for the
        starting ego, which makes each step vector arithmetic. `_embed` propagates the final ego exactly.
        """
        song_emb, scale = self.scorer.song_emb, 1.0 / (self.model.num_layers + 1)
        with torch.no_grad():
            z, _ = self._propagate(ego, star, node, keep_attention=False)
        rest = z - scale * ego
        seed = int.from_bytes(hashlib.sha256(songs.numpy().tobytes()).digest()[:8], "little")
        generator = torch.Generator().manual_seed(seed)  # the same history always gets the same listener
        outside = torch.ones(song_emb.size(0), dtype=torch.bool)
        outside[songs] = False
        candidates = outside.nonzero().flatten()
        positives = song_emb[songs]
        ego = ego.clone().requires_grad_(True)
        optimiser = torch.optim.Adam([ego], lr=FOLD_IN_LR)
        for _ in range(steps):
            z = rest + scale * ego
            picks = torch.randint(len(candidates), (len(songs), FOLD_IN_NEGATIVES), generator=generator)
            loss = bpr_loss(positives @ z, song_emb[candidates[picks]] @ z)
            loss = loss + self.weight_decay * l2_penalty(ego.unsqueeze(0), batch_size=len(songs))
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
        return ego.detach()
