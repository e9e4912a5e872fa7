r"""Mini-batch training on sampled subgraphs, for graphs whose full forward pass is too slow or too large.

PyG's `LinkNeighborLoader` needs pyg-lib or torch-sparse (no wheels for this torch), so the sampler here works on
the CSR layouts the model already uses (`Adjacency`, sorted by destination) with plain torch ops, on any device.
When pyg-lib or torch-sparse is importable, PyG's sampler can draw the same kind of subgraph (``backend="pyg"``).

For a batch of positive (user, song) edges and their negatives, the seeds are the batch's distinct users and
songs. Hop by hop, every node reached for the first time at the previous hop (the seeds at hop 0) draws up to
``fanout[hop]`` of its incoming edges per relation, uniformly without replacement (Floyd's algorithm, vectorised
over nodes: ``fanout`` steps, no per-node Python loop). The union of sampled edges, relabelled to local indices
(seeds first), is the subgraph the model runs on, with ``x_dict`` holding the GLOBAL ids to embed.

Statistical faithfulness: the gated attention multiplies LightGCN's symmetric normalisation on FULL-graph
degrees. Each sampled edge (j -> i) carries that full-graph norm, scaled by :math:`d_i / k_i` (full in-degree
of i in the relation over the number sampled), so the sampled sum is an unbiased estimate of the full one:

.. math::
    \mathbb{E}\Big[\sum_{j \in S_i} \frac{d_i}{k_i}\, n_{ij}\, \mathbf{x}_j\Big]
    = \sum_{j \in \mathcal{N}(i)} \frac{d_i}{k_i} \cdot \frac{k_i}{d_i}\, n_{ij}\, \mathbf{x}_j
    = \sum_{j \in \mathcal{N}(i)} n_{ij}\, \mathbf{x}_j .

With ``fanout >= degree`` nothing is sampled away and the seeds' embeddings equal the full-graph forward's.
Evaluation and serving stay a full-graph forward in eval mode (no gradients), which fits in memory at 1M songs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch_geometric.data import HeteroData

from recsys.models import GATRecommender
from recsys.models.attention import Adjacency
from recsys.models.hetero import EdgeType
from recsys.training.trainable import Trainable, bind, full_graph_inputs

Fanouts = Sequence[int] | Mapping[EdgeType, Sequence[int]]
BACKENDS = ("auto", "own", "pyg")


def pyg_sampler_available() -> bool:
    """Whether PyG's neighbour sampler has a backend (pyg-lib or torch-sparse) in this environment."""
    import torch_geometric.typing as pyg_typing

    return bool(pyg_typing.WITH_PYG_LIB or pyg_typing.WITH_TORCH_SPARSE)


@dataclass(frozen=True)
class SampledSubgraph:
    """A sampled L-hop subgraph around the seeds, ready for ``model(node, adjs)``.

    Attributes:
        node: node type -> [N_t] GLOBAL ids of the local nodes; the seeds come first, in the order given.
        adjs: relation -> `Adjacency` over local indices, whose ``norm`` is the full graph's, rescaled.
        edge: relation -> [E_s] positions of the sampled edges in the full relation's CSR (``Adjacency``) order.
    """

    node: dict[str, Tensor]
    adjs: dict[EdgeType, Adjacency]
    edge: dict[EdgeType, Tensor]

    @property
    def num_edges(self) -> int:
        return sum(adj.num_edges for adj in self.adjs.values())


def sample_incoming(crow: Tensor, dst: Tensor, fanout: int,
                    generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """Up to ``fanout`` incoming edges of each node in ``dst``, uniformly without replacement.

    Args:
        crow: CSR row pointers over destinations ([N_dst + 1]).
        dst: [n] destination nodes (a node listed twice is sampled twice, independently).
        fanout: edges kept per node (-1: all of them).

    Returns:
        (rows [E_s]: index into ``dst`` of each sampled edge, positions [E_s]: the edges' CSR positions,
        kept [n]: edges sampled per node, min(degree, fanout)).
    """
    start = crow[dst]
    degree = crow[dst + 1] - start
    everything = torch.ones_like(degree, dtype=torch.bool) if fanout < 0 else degree <= fanout
    small = everything.nonzero().flatten()
    counts = degree[small]
    rows_small = torch.repeat_interleave(small, counts)
    offsets = torch.arange(rows_small.numel(), device=crow.device) - torch.repeat_interleave(
        torch.cumsum(counts, 0) - counts, counts)
    positions_small = start[rows_small] + offsets
    big = (~everything).nonzero().flatten()
    if big.numel() == 0:
        return rows_small, positions_small, degree
    # Floyd: for j = d-k .. d-1 draw t uniform in [0, j]; keep t, or j when t was already chosen. Every
    # k-subset of [0, d) comes out with the same probability.
    d = degree[big]
    chosen = torch.empty(big.numel(), fanout, dtype=torch.long, device=crow.device)
    for step in range(fanout):
        j = d - fanout + step
        t = (torch.rand(big.numel(), generator=generator, device=crow.device, dtype=torch.float64)
             * (j + 1)).long()
        t = torch.minimum(t, j)
        taken = (chosen[:, :step] == t.unsqueeze(1)).any(1)
        chosen[:, step] = torch.where(taken, j, t)
    rows_big = big.repeat_interleave(fanout)
    positions_big = (start[big].unsqueeze(1) + chosen).flatten()
    kept = degree.clamp(max=fanout)
    return torch.cat([rows_small, rows_big]), torch.cat([positions_small, positions_big]), kept


class NeighborSampler:
    """L-hop neighbourhood sampling with a fanout per relation and hop, over full-graph `Adjacency` layouts.

    Args:
        adjs: relation -> the FULL graph's `Adjacency` (CSR by destination, with the full-graph ``norm``).
        num_nodes: node type -> number of nodes in the full graph.
        fanouts: per hop, edges sampled per node and relation (``[10, 5]``), or relation -> per-hop list;
            -1 keeps every edge. The number of hops is the list's length.
        generator: random source (on the adjacencies' device); None uses torch's global one.
        backend: ``"own"`` (this module), ``"pyg"`` (PyG's sampler, needs pyg-lib or torch-sparse) or
            ``"auto"`` (PyG's when available, else our own).
    """

    def __init__(self, adjs: Mapping[EdgeType, Adjacency], num_nodes: Mapping[str, int], fanouts: Fanouts,
                 generator: torch.Generator | None = None, backend: str = "own") -> None:
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS} (got {backend!r})")
        if backend == "pyg" and not pyg_sampler_available():
            raise ImportError("backend='pyg' needs pyg-lib or torch-sparse; use backend='own'")
        self.backend = "pyg" if backend == "pyg" or (backend == "auto" and pyg_sampler_available()) else "own"
        self.adjs = dict(adjs)
        self.num_nodes = dict(num_nodes)
        self.edge_types = list(self.adjs)
        self.fanouts = self._resolve(fanouts)
        self.num_hops = len(next(iter(self.fanouts.values()))) if self.fanouts else 0
        self.generator = generator
        self.device = next(iter(self.adjs.values())).edge_index.device if self.adjs else torch.device("cpu")
        # global id -> local id of the current sample (-1: not in it); reset after each sample, so O(sampled)
        self._local = {t: torch.full((n,), -1, dtype=torch.long, device=self.device) for t, n in num_nodes.items()}
        self._pyg = None

    def _resolve(self, fanouts: Fanouts) -> dict[EdgeType, list[int]]:
        if isinstance(fanouts, Mapping):
            missing = [et for et in self.edge_types if et not in fanouts]
            if missing:
                raise ValueError(f"fanouts: no entry for relation(s) {missing}")
            resolved = {et: [int(f) for f in fanouts[et]] for et in self.edge_types}
        else:
            resolved = {et: [int(f) for f in fanouts] for et in self.edge_types}
        lengths = {len(v) for v in resolved.values()}
        if len(lengths) > 1 or 0 in lengths:
            raise ValueError(f"fanouts: every relation needs the same number (>= 1) of hops (got {lengths})")
        bad = [f for v in resolved.values() for f in v if f == 0 or f < -1]
        if bad:
            raise ValueError(f"fanouts must be >= 1 or -1 (got {bad[0]})")
        return resolved

    def sample(self, seeds: Mapping[str, Tensor]) -> SampledSubgraph:
        """The subgraph of the seeds' sampled L-hop neighbourhoods (``seeds``: node type -> distinct global ids)."""
        seeds = {t: s.to(self.device) for t, s in seeds.items()}
        if self.backend == "pyg":
            return self._sample_pyg(seeds)
        local, counts = self._local, {t: 0 for t in self.num_nodes}
        nodes: dict[str, list[Tensor]] = {t: [] for t in self.num_nodes}
        frontier: dict[str, Tensor] = {}
        for node_type, ids in seeds.items():
            local[node_type][ids] = torch.arange(ids.numel(), device=self.device)
            counts[node_type] = ids.numel()
            nodes[node_type].append(ids)
            frontier[node_type] = ids
        parts: dict[EdgeType, list[tuple[Tensor, Tensor, Tensor, Tensor]]] = {et: [] for et in self.edge_types}
        try:
            for hop in range(self.num_hops):
                reached: dict[str, list[Tensor]] = {}
                for edge_type in self.edge_types:
                    src_type, _, dst_type = edge_type
                    dst = frontier.get(dst_type)
                    if dst is None or dst.numel() == 0:
                        continue
                    adj = self.adjs[edge_type]
                    rows, positions, kept = sample_incoming(adj.crow, dst, self.fanouts[edge_type][hop],
                                                            self.generator)
                    src = adj.edge_index[0, positions]
                    new = torch.unique(src)
                    new = new[local[src_type][new] < 0]
                    local[src_type][new] = counts[src_type] + torch.arange(new.numel(), device=self.device)
                    counts[src_type] += new.numel()
                    nodes[src_type].append(new)
                    reached.setdefault(src_type, []).append(new)
                    degree = adj.crow[dst + 1] - adj.crow[dst]
                    scale = (degree.float() / kept.clamp_min(1).float())[rows]  # d_i / k_i: unbiased sums
                    parts[edge_type].append((local[src_type][src], local[dst_type][dst[rows]],
                                             adj.norm[positions] * scale, positions))
                frontier = {t: torch.cat(v) for t, v in reached.items()}
        finally:
            node = {t: torch.cat(v) if v else torch.zeros(0, dtype=torch.long, device=self.device)
                    for t, v in nodes.items()}
            for node_type, ids in node.items():
                local[node_type][ids] = -1
        return self._subgraph(node, parts)

    def _subgraph(self, node: dict[str, Tensor],
                  parts: dict[EdgeType, list[tuple[Tensor, Tensor, Tensor, Tensor]]]) -> SampledSubgraph:
        adjs, edge = {}, {}
        for edge_type, chunks in parts.items():
            src_type, _, dst_type = edge_type
            if chunks:
                src, dst, norm, positions = (torch.cat(c) for c in zip(*chunks, strict=True))
            else:
                src = dst = positions = torch.zeros(0, dtype=torch.long, device=self.device)
                norm = torch.zeros(0, device=self.device)
            adjs[edge_type] = Adjacency.build(torch.stack([src, dst]), node[src_type].numel(),
                                              node[dst_type].numel(), norm=norm)
            edge[edge_type] = positions
        return SampledSubgraph(node, adjs, edge)

    # ---- optional backend: PyG's sampler (pyg-lib or torch-sparse) ---------------------------------------------
    def _sample_pyg(self, seeds: dict[str, Tensor]) -> SampledSubgraph:  # pragma: no cover - needs pyg-lib
        """The same subgraph drawn by PyG's `NeighborSampler`; edge ids map back to our CSR positions."""
        if self._pyg is None:
            from torch_geometric.sampler import NeighborSampler as PyGNeighborSampler

            data = HeteroData()
            for node_type, n in self.num_nodes.items():
                data[node_type].num_nodes = n
            for edge_type, adj in self.adjs.items():
                data[edge_type].edge_index = adj.edge_index.cpu()  # CSR order: PyG's edge ids are our positions
            self._pyg = PyGNeighborSampler(data, num_neighbors=dict(self.fanouts))
        out = self._pyg._sample({t: s.cpu() for t, s in seeds.items()})
        node = {t: out.node.get(t, torch.zeros(0, dtype=torch.long)).to(self.device) for t in self.num_nodes}
        for node_type, ids in seeds.items():
            if not torch.equal(node[node_type][:ids.numel()], ids):
                raise RuntimeError("PyG's sampler did not put the seeds first")
        parts: dict[EdgeType, list[tuple[Tensor, Tensor, Tensor, Tensor]]] = {et: [] for et in self.edge_types}
        for edge_type in self.edge_types:
            if edge_type not in out.edge or out.edge[edge_type] is None or out.row[edge_type].numel() == 0:
                continue
            perm = self._pyg.perm.get(edge_type) if isinstance(self._pyg.perm, dict) else None
            ids = out.edge[edge_type]
            positions = (perm[ids] if perm is not None else ids).to(self.device)
            src, dst = out.row[edge_type].to(self.device), out.col[edge_type].to(self.device)
            adj = self.adjs[edge_type]
            full_dst = adj.edge_index[1, positions]
            degree = (adj.crow[full_dst + 1] - adj.crow[full_dst]).float()
            kept = torch.bincount(dst, minlength=node[edge_type[2]].numel()).float()
            parts[edge_type].append((src, dst, adj.norm[positions] * degree / kept[dst], positions))
        return self._subgraph(node, parts)


class UserSongOutputs(nn.Module):
    """The model with only the outputs the loss uses, (user [N_u, D], song [N_s, D]).

    What DDP wraps: it looks for unused parameters from the forward's outputs, and the last layer's relations
    into artists and genres feed outputs that no loss reads.
    """

    def __init__(self, model: GATRecommender) -> None:
        super().__init__()
        self.model = model

    def forward(self, x_dict: dict[str, Tensor], adjs: dict[EdgeType, Adjacency]) -> tuple[Tensor, Tensor]:
        z = self.model(x_dict, adjs)
        return z["user"], z["song"]


def resolve_fanouts(fanout: Sequence[int], num_layers: int) -> list[int]:
    """One fanout per layer: a longer list is cut, a shorter one repeats its last value."""
    fanout = [int(f) for f in fanout]
    if not fanout:
        raise ValueError("fanout needs at least one value")
    return (fanout + [fanout[-1]] * num_layers)[:num_layers]


def minibatch_trainable(model: GATRecommender, graph: HeteroData, fanout: Sequence[int], seed: int = 0,
                        forward: Callable[..., tuple[Tensor, Tensor]] | nn.Module | None = None,
                        backend: str = "own") -> Trainable:
    """Bind a GAT to its graph for mini-batch training: each step runs on the batch's sampled subgraph.

    Args:
        model: the GAT (its device decides where sampling and propagation run).
        graph: the full training graph.
        fanout: neighbours per relation at each hop; one value per layer (see `resolve_fanouts`).
        seed: seeds the sampler's own generator (on the model's device).
        forward: (x_dict, adjs) -> (user, song) embeddings for training steps; default `UserSongOutputs(model)`
            (DDP passes its wrapper of it).
        backend: sampler backend (see `NeighborSampler`).

    ``embed`` (evaluation, calibration) stays a full-graph forward, over the same full-graph layouts the
    sampler reads, so they are built once. The embedding tables switch to sparse gradients: a step's
    backward and optimiser update touch only the rows of its subgraph (`SplitAdam`), not the whole table.
    """
    x_dict, adjs = full_graph_inputs(model, graph)
    num_nodes = {t: x.numel() for t, x in x_dict.items()}
    device = model.score_scale.device
    generator = torch.Generator(device=device).manual_seed(seed)
    sampler = NeighborSampler(adjs, num_nodes, resolve_fanouts(fanout, model.num_layers), generator, backend)
    run = forward if forward is not None else UserSongOutputs(model)
    sparse = forward is None  # a DDP wrapper all-reduces dense gradients

    def gather(users: Tensor, songs: Tensor, negatives: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        seed_users, user_local = torch.unique(users, return_inverse=True)
        seed_songs, song_local = torch.unique(torch.cat([songs, negatives.flatten()]), return_inverse=True)
        sub = sampler.sample({"user": seed_users, "song": seed_songs})
        z_user, z_song = run(sub.node, sub.adjs)
        zu = z_user.index_select(0, user_local)
        zs = z_song.index_select(0, song_local)
        return zu, zs[:len(songs)], zs[len(songs):].view(*negatives.shape, -1)

    return bind(model, x_dict, adjs, gather=gather, sparse=sparse)
