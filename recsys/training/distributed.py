"""Multi-process and multi-machine training with `torchrun` and `DistributedDataParallel` (gloo on CPU, NCCL on GPU).

Launch (one machine, two processes)::

    torchrun --nproc_per_node 2 -m recsys train --data DIR --out CKPT --distributed [--minibatch]

Every rank loads the same dataset, builds the same split and graph, and starts from the same weights (one seed;
DDP also broadcasts rank 0's parameters). Each epoch, all ranks draw the same permutation of the training edges
(a generator seeded by seed and epoch) and rank r takes every batch's r-th share, so one optimiser step still
covers ``batch_size`` edges in total and an epoch covers every edge once (the last batch is padded by wrapping,
as `DistributedSampler` does). DDP averages the gradients. Negatives are drawn per rank (seed + rank).
Validation: each rank ranks a shard of the validation users; the NDCG sums and counts are all-reduced, so every
rank sees the same number and makes the same early-stopping decision; the time budget uses the slowest rank's
clock. Only rank 0 writes checkpoints (atomically, through `save_checkpoint`), calibrates and evaluates.

Full-graph mode repeats the whole-graph forward on every rank (the graph is replicated), so it mostly saves loss
work; the scale-out mode is ``--distributed --minibatch``, where each rank samples and propagates only the
subgraph of its own share of the batch. `torch_geometric.distributed` (deprecated) is not used.
"""

from __future__ import annotations

import datetime
import inspect
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as torch_dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch_geometric.data import HeteroData

from recsys.config import Config
from recsys.data import Dataset
from recsys.errors import ConfigError
from recsys.evaluation import RankingTask, ScoreFn, ndcg_at, ranking_task
from recsys.graph import LISTENS, build_graph
from recsys.models import GATRecommender, build_model
from recsys.training.minibatch import UserSongOutputs, minibatch_trainable
from recsys.training.trainable import Trainable, bind, full_graph_inputs
from recsys.training.trainer import (
    TrainResult,
    early_stopping_task,
    finish,
    fit,
    prepare_data,
    progress_writer,
    seed_everything,
)

ENV_VARS = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
TIMEOUT = datetime.timedelta(minutes=60)  # a validation pass at 1M songs runs on every rank between collectives


@dataclass(frozen=True)
class DistributedContext:
    """This process's place in the job, with the few collectives the training loop needs.

    Attributes:
        rank, world_size: this process and the number of processes (over all machines).
        local_rank: this process on its machine (its GPU index).
        device: where this rank trains (``cuda:local_rank`` or ``cpu``).
        seed: the run's seed; the shared epoch permutations derive from it.
    """

    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    seed: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls, device: str = "cpu", seed: int = 0) -> DistributedContext:
        """Join the process group described by torchrun's environment (RANK, WORLD_SIZE, MASTER_ADDR/PORT)."""
        missing = [name for name in ENV_VARS if name not in os.environ]
        if missing:
            raise ConfigError(f"--distributed needs torchrun's environment (missing {', '.join(missing)}); launch "
                              "with: torchrun --nproc_per_node N -m recsys train ... --distributed")
        local_rank = int(os.environ.get("LOCAL_RANK", 0))
        use_cuda = torch.device(device).type == "cuda"
        if use_cuda:
            if not torch.cuda.is_available():
                raise ConfigError("--device cuda: no CUDA device is available")
            torch.cuda.set_device(local_rank)
        if not torch_dist.is_initialized():
            torch_dist.init_process_group("nccl" if use_cuda else "gloo", timeout=TIMEOUT)
        target = torch.device(f"cuda:{local_rank}") if use_cuda else torch.device("cpu")
        return cls(torch_dist.get_rank(), torch_dist.get_world_size(), local_rank, target, seed)

    # ---- what `fit` asks ------------------------------------------------------------------------------------
    def epoch_order(self, num_edges: int, epoch: int) -> Tensor:
        """This rank's edges for one epoch, batch-interleaved: positions r, r + W, ... of a shared permutation.

        Taking every W-th edge means that consecutive local batches of ``local_batch(B)`` edges on the W ranks
        together form the global batches of size B a single process would draw from the same permutation.
        """
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        order = torch.randperm(num_edges, generator=generator)
        padded = math.ceil(num_edges / self.world_size) * self.world_size
        if padded > num_edges:  # wrap around so every rank has the same number of steps (DDP needs it)
            order = torch.cat([order, order[:padded - num_edges]])
        return order[self.rank::self.world_size]

    def local_batch(self, batch_size: int) -> int:
        """Edges per rank and step, so that one step covers ``batch_size`` edges over all ranks."""
        return max(1, math.ceil(batch_size / self.world_size))

    def _all_reduce(self, values: list[float], op: torch_dist.ReduceOp.RedOpType) -> list[float]:
        backend_device = self.device if torch_dist.get_backend() == "nccl" else torch.device("cpu")
        tensor = torch.tensor(values, dtype=torch.float64, device=backend_device)
        torch_dist.all_reduce(tensor, op=op)
        return tensor.tolist()

    def mean(self, value: float) -> float:
        return self._all_reduce([value], torch_dist.ReduceOp.SUM)[0] / self.world_size

    def max(self, value: float) -> float:
        return self._all_reduce([value], torch_dist.ReduceOp.MAX)[0]

    def ndcg(self, score_fn: ScoreFn, task: RankingTask, k: int) -> float:
        """NDCG@k over all of ``task``'s users: each rank ranks every W-th user, then the sums are all-reduced."""
        mine = torch.arange(len(task.users)) % self.world_size == self.rank
        count = int(mine.sum())
        total = ndcg_at(score_fn, task.subset(mine), k) * count if count else 0.0
        total, count = self._all_reduce([total, float(count)], torch_dist.ReduceOp.SUM)
        return total / max(count, 1.0)


def ddp_wrap(model: GATRecommender, ctx: DistributedContext) -> DistributedDataParallel:
    """DDP around the model's (user, song) outputs.

    Some parameters never reach the loss: the last layer's relations into artists and genres, and the Basic
    model's global-scale weight. DDP finds them from the outputs (an extra graph traversal per step, small next
    to the propagation). Buffers (score calibration) are set after training on all ranks alike, so they are not
    re-synchronised on every forward.
    """
    device_ids = [ctx.local_rank] if ctx.device.type == "cuda" else None
    no_sync = ({"forward_sync_buffers": False} if "forward_sync_buffers" in inspect.signature(
        DistributedDataParallel).parameters else {"broadcast_buffers": False})  # renamed in torch 2.13
    return DistributedDataParallel(UserSongOutputs(model), device_ids=device_ids, find_unused_parameters=True,
                                   **no_sync)


def ddp_trainable(model: GATRecommender, ddp: nn.Module, graph: HeteroData) -> Trainable:
    """Full-graph training through the DDP wrapper (gradients all-reduced); evaluation on the bare model."""
    return bind(model, *full_graph_inputs(model, graph), train_forward=ddp)


def train_distributed(dataset: Dataset, config: Config, out: str | Path | None = None, progress: bool = True,
                      log: Callable[[str], None] = print) -> TrainResult | None:
    """`recsys.training.train` under torchrun: DDP over all ranks; returns the result on rank 0, None elsewhere."""
    tc = config.training
    config.model.validate()
    tc.validate()
    ctx = DistributedContext.from_env(tc.device, tc.seed)
    try:
        return _train(ctx, dataset, config, out, progress, log)
    finally:
        torch_dist.destroy_process_group()


def _train(ctx: DistributedContext, dataset: Dataset, config: Config, out: str | Path | None, progress: bool,
           log: Callable[[str], None]) -> TrainResult | None:
    tc = config.training
    say = log if ctx.is_main else (lambda _: None)
    dataset, rule = prepare_data(dataset, tc.seed)
    say(f"split: {rule}; {dataset.summary()}; {ctx.world_size} processes ({ctx.device.type})")
    seed_everything(tc.seed)  # the same initial weights on every rank
    graph = build_graph(dataset, "train")
    model = build_model(config.model, {t: graph[t].num_nodes for t in graph.node_types}).to(ctx.device)
    negatives = torch.Generator().manual_seed(tc.seed + 7919 * ctx.rank)  # each rank its own negatives
    valid, test = ranking_task(dataset, graph.id_maps, "valid"), ranking_task(dataset, graph.id_maps, "test")
    ddp = ddp_wrap(model, ctx)
    if tc.minibatch:
        trainable = minibatch_trainable(model, graph, tc.fanout, seed=tc.seed + ctx.rank, forward=ddp)
    else:
        trainable = ddp_trainable(model, ddp, graph)
    base = {"model": model, "dataset": dataset, "config": config, "graph": graph, "split_rule": rule}
    state, stopped = fit(trainable, graph[LISTENS].edge_index, graph["song"].num_nodes,
                         early_stopping_task(valid, tc), tc, negatives,
                         on_checkpoint=progress_writer(base, out, None) if out is not None and ctx.is_main else None,
                         progress=progress and ctx.is_main, play_weight=graph[LISTENS].plays, dist=ctx)
    result = None
    if ctx.is_main:
        result = finish(base, state, stopped, valid, test, out, say,
                        {"distributed": {"world_size": ctx.world_size, "backend": torch_dist.get_backend()}})
    return result  # the other ranks leave at once; torchrun returns when rank 0 has written the checkpoint
