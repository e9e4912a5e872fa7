"""GPU benchmark (``python -m recsys bench --device cuda --scale 10m``): propagation cost at 10M-100M interactions.

The graph is random with heavy-tailed activity and popularity (a generator in torch on the device: building a
100M-interaction dataset through files would take longer than the benchmark itself). Compared in the same run,
each doing one training step's forward and backward over the whole graph (2 layers, 64 dimensions, 4 heads where
there are heads), with time and peak allocated memory:

- this project's GAT (gated attention as CSR sparse products; relations user-song and song-artist, both ways);
- a plain PyG ``HeteroConv`` of ``GATConv`` layers on the same relations (the usual way to write it);
- PyG's ``LightGCN`` on the user-song graph (attention-free: the cost to get close to).

Then mini-batch training of the GAT (`recsys.training.minibatch`, sampling on the device) on the largest graph,
for a time budget: seconds per step, per epoch (extrapolated) and peak memory. The same code runs on CPU at small
sizes (the tests do), so it stays device-agnostic.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch_geometric.data import HeteroData
from torch_geometric.nn import GATConv, HeteroConv
from torch_geometric.nn.models import LightGCN

from recsys.bench.measure import MB, PeakMemory, cuda_sync
from recsys.bench.report import BenchReport
from recsys.config import ModelConfig
from recsys.graph import BY, LISTENS
from recsys.models import build_adjacencies, build_model
from recsys.models.losses import bpr_loss
from recsys.training.minibatch import minibatch_trainable
from recsys.training.trainable import make_optimizer

# --scale for the GPU benchmark: interactions of the generated graph (users = interactions / 100)
GPU_SCALES = {"10m": 10_000_000, "100m": 100_000_000}
SONGS_PER_USER = 10  # catalogue size relative to users, as at 100K users / 1M songs
SONGS_PER_ARTIST = 20
NUM_NEGATIVES = 8


def random_graph(interactions: int, device: torch.device | str, seed: int = 0) -> HeteroData:
    """A user-song-artist graph with ``interactions`` distinct listens (Zipf-like song popularity, lognormal
    user activity), built on ``device`` by inverse-CDF sampling."""
    device = torch.device(device)
    generator = torch.Generator(device=device).manual_seed(seed)
    num_users = max(10, interactions // 100)
    num_songs = num_users * SONGS_PER_USER
    num_artists = max(1, num_songs // SONGS_PER_ARTIST)
    song_weight = 1.0 / torch.arange(1, num_songs + 1, device=device, dtype=torch.float64) ** 0.8
    user_weight = torch.exp(torch.randn(num_users, generator=generator, device=device, dtype=torch.float64))
    key = torch.zeros(0, dtype=torch.long, device=device)
    for _ in range(50):  # repeated pairs are dropped: draw again until there are enough distinct ones
        missing = interactions - key.numel()
        if missing <= 0:
            break
        parts = [key]
        for start in range(0, int(missing * 1.2) + 1, 2**24):  # chunks keep the temporaries small
            n = min(2**24, int(missing * 1.2) + 1 - start)
            parts.append(_inverse_cdf(user_weight, n, generator) * num_songs + _inverse_cdf(song_weight, n, generator))
        key = torch.unique(torch.cat(parts))
    keep = torch.randperm(key.numel(), generator=generator, device=device)[:interactions]
    key = key[keep.sort().values]  # a random subset: cutting the sorted keys would drop the last users
    listens = torch.stack([key // num_songs, key % num_songs])
    song_artist = torch.stack([torch.arange(num_songs, device=device),
                               torch.randint(0, num_artists, (num_songs,), generator=generator, device=device)])
    data = HeteroData()
    for node_type, n in (("user", num_users), ("song", num_songs), ("artist", num_artists)):
        data[node_type].num_nodes = n
    for edge_type, edge_index in ((LISTENS, listens), (BY, song_artist)):
        reverse = (edge_type[2], f"rev_{edge_type[1]}", edge_type[0])
        for et, ei in ((edge_type, edge_index), (reverse, edge_index.flip(0))):
            data[et].edge_index = ei
            data[et].edge_weight = torch.ones(ei.size(1), device=device)
    data[LISTENS].plays = torch.ones(listens.size(1), device=device)
    return data


def _inverse_cdf(weight: Tensor, n: int, generator: torch.Generator) -> Tensor:
    cdf = torch.cumsum(weight, 0)
    cdf = cdf / cdf[-1]
    u = torch.rand(n, generator=generator, device=weight.device, dtype=torch.float64)
    return torch.searchsorted(cdf, u).clamp(max=len(weight) - 1)


class HeteroGAT(nn.Module):
    """The plain PyG way: per layer a ``HeteroConv`` of one ``GATConv`` per relation, outputs averaged."""

    def __init__(self, num_nodes: dict[str, int], edge_types: list[tuple[str, str, str]], dim: int = 64,
                 heads: int = 4, num_layers: int = 2) -> None:
        super().__init__()
        self.embedding = nn.ModuleDict({t: nn.Embedding(n, dim) for t, n in num_nodes.items()})
        self.convs = nn.ModuleList(
            HeteroConv({et: GATConv((-1, -1), dim // heads, heads=heads, add_self_loops=False) for et in edge_types},
                       aggr="sum") for _ in range(num_layers))

    def forward(self, edge_index_dict: dict) -> dict[str, Tensor]:
        x = {t: e.weight for t, e in self.embedding.items()}
        total = dict(x)
        for conv in self.convs:
            out = conv(x, edge_index_dict)
            x = {t: out.get(t, torch.zeros_like(v)) for t, v in x.items()}
            total = {t: total[t] + x[t] for t in total}
        return {t: v / (len(self.convs) + 1) for t, v in total.items()}


def _loss(z_user: Tensor, z_song: Tensor, graph: HeteroData, batch: int, generator: torch.Generator) -> Tensor:
    """BPR on a random batch of listens with random negatives (the training step's loss)."""
    listens = graph[LISTENS].edge_index
    device = listens.device
    pick = torch.randint(0, listens.size(1), (batch,), generator=generator, device=device)
    users, songs = listens[0, pick], listens[1, pick]
    negatives = torch.randint(0, z_song.size(0), (batch, NUM_NEGATIVES), generator=generator, device=device)
    zu = z_user[users]
    return bpr_loss((zu * z_song[songs]).sum(-1), (z_song[negatives] * zu.unsqueeze(1)).sum(-1))


def time_step(name: str, step: Callable[[], None], device: torch.device, repeats: int = 3) -> tuple[float, float]:
    """(median seconds, peak MB) of a forward-backward step, after one warm-up step."""
    sync = cuda_sync(device) or (lambda: None)
    with PeakMemory(device) as memory:
        step()
        sync()
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            step()
            sync()
            times.append(time.perf_counter() - started)
    return sorted(times)[len(times) // 2], memory.peak_mb if device.type == "cuda" else memory.increase_mb


def bench_propagation(report: BenchReport, graph: HeteroData, device: torch.device, label: str,
                      batch: int = 8192, log: Callable[[str], None] = print) -> None:
    """Full-graph forward + backward of the three models on ``graph``; rows relative to the plain PyG model."""
    num_nodes = {t: graph[t].num_nodes for t in graph.node_types}
    generator = torch.Generator(device=device).manual_seed(1)
    ours = build_model(ModelConfig(use_genres=False, item_item=False, dropout=0.0), num_nodes).to(device)
    x_dict, edges, _ = ours.full_inputs(graph)
    adjs = build_adjacencies(edges, num_nodes, None, ours.edge_types)  # once, as training does

    def ours_step() -> None:
        z = ours(x_dict, adjs)
        _loss(z["user"], z["song"], graph, batch, generator).backward()

    hetero = HeteroGAT(num_nodes, ours.edge_types).to(device)
    hetero_edges = {et: graph[et].edge_index for et in ours.edge_types}

    def hetero_step() -> None:
        z = hetero(hetero_edges)
        _loss(z["user"], z["song"], graph, batch, generator).backward()

    num_users = num_nodes["user"]
    users, songs = graph[LISTENS].edge_index
    bipartite = torch.cat([torch.stack([users, songs + num_users]), torch.stack([songs + num_users, users])], 1)
    lightgcn = LightGCN(num_users + num_nodes["song"], 64, 2).to(device)

    def lightgcn_step() -> None:
        z = lightgcn.get_embedding(bipartite)
        _loss(z[:num_users], z[num_users:], graph, batch, generator).backward()

    results = {}
    for name, step in (("PyG HeteroConv(GATConv)", hetero_step), ("PyG LightGCN", lightgcn_step),
                       ("recsys GAT", ours_step)):
        log(f"gpu: {name} forward+backward at {label}")
        try:
            results[name] = time_step(name, step, device)
        except torch.OutOfMemoryError as exc:
            results[name] = None
            report.add("gpu", f"{name} step at {label}", None, "s", note=f"out of memory: {str(exc)[:60]}")
            report.add("gpu", f"{name} memory at {label}", None, "MB", note="out of memory")
        finally:
            if device.type == "cuda":
                torch.cuda.empty_cache()
    base = "PyG HeteroConv(GATConv)"
    for name in (base, "PyG LightGCN", "recsys GAT"):
        if results.get(name) is None:
            continue
        seconds, peak = results[name]
        has_base = name != base and results.get(base) is not None
        report.add("gpu", f"{name} step at {label}", seconds, "s",
                   baseline=f"gpu/{base} step at {label}" if has_base else None)
        report.add("gpu", f"{name} memory at {label}", peak, "MB",
                   baseline=f"gpu/{base} memory at {label}" if has_base else None)


def bench_minibatch(report: BenchReport, graph: HeteroData, device: torch.device, label: str, budget: float,
                    batch: int = 8192, fanout: tuple[int, ...] = (10, 5),
                    log: Callable[[str], None] = print) -> None:
    """Mini-batch training steps of the GAT on ``graph`` for ``budget`` seconds (sampling on the device)."""
    num_nodes = {t: graph[t].num_nodes for t in graph.node_types}
    model = build_model(ModelConfig(use_genres=False, item_item=False), num_nodes).to(device)
    trainable = minibatch_trainable(model, graph, fanout, seed=0)
    optimizer = make_optimizer(trainable, lr=0.01)  # SparseAdam for the embedding tables
    listens = graph[LISTENS].edge_index
    generator = torch.Generator(device=device).manual_seed(2)
    sync = cuda_sync(device) or (lambda: None)
    log(f"gpu: mini-batch training at {label} for {budget:.0f}s")
    steps = 0
    with PeakMemory(device) as memory:
        started = time.perf_counter()
        while time.perf_counter() - started < budget:
            pick = torch.randint(0, listens.size(1), (batch,), generator=generator, device=device)
            users, songs = listens[0, pick], listens[1, pick]
            negatives = torch.randint(0, num_nodes["song"], (batch, NUM_NEGATIVES), generator=generator,
                                      device=device)
            loss = bpr_loss(*trainable.batch_scores(users, songs, negatives))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            sync()
            steps += 1
        seconds = time.perf_counter() - started
    per_step = seconds / max(1, steps)
    steps_per_epoch = math.ceil(listens.size(1) / batch)
    report.add("gpu", f"mini-batch step at {label}", per_step, "s", note=f"{steps} steps, batch {batch}, fanout "
               f"{list(fanout)}, {NUM_NEGATIVES} negatives")
    report.add("gpu", f"mini-batch epoch at {label} (extrapolated)", per_step * steps_per_epoch, "s",
               note=f"{steps_per_epoch:,} steps")
    report.add("gpu", f"mini-batch peak memory at {label}", memory.peak_mb if device.type == "cuda"
               else memory.increase_mb, "MB")


def bench_gpu(report: BenchReport, scale: str, device: str = "cuda", budget: float = 120.0,
              interactions: int | None = None, log: Callable[[str], None] = print) -> None:
    """The GPU benchmark at ``scale`` (``10m``: propagation at 10M; ``100m``: also mini-batch training at 100M).

    ``interactions`` overrides the scale's size (the tests use a tiny graph on CPU).
    """
    device = torch.device(device)
    size = interactions or GPU_SCALES[scale]
    label = f"{size / 1e6:g}M interactions"
    log(f"gpu: generating a random graph with {label} on {device}")
    graph = random_graph(size, device)
    report.meta["gpu_graph"] = {t: graph[t].num_nodes for t in graph.node_types} | {
        "interactions": graph[LISTENS].edge_index.size(1)}
    bench_propagation(report, graph, device, label, log=log)
    if device.type == "cuda" and interactions is None and scale == "10m":
        del graph
        torch.cuda.empty_cache()
        label = "100M interactions"
        log("gpu: generating a random graph with 100M interactions")
        graph = random_graph(GPU_SCALES["100m"], device)
    bench_minibatch(report, graph, device, label, budget, log=log)
    if device.type == "cuda":
        report.add("gpu", "device memory", torch.cuda.get_device_properties(device).total_memory / MB, "MB")
