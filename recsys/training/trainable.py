"""What the training loop optimises: a model bound to its graph (`Trainable`), and the optimiser for it.

One binding serves full-graph, mini-batch (`recsys.training.minibatch`) and DDP (`recsys.training.distributed`)
training: they differ only in the forward used for training steps and in how a batch's embeddings are gathered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import HeteroData

from recsys.evaluation import RankingTask, ScoreFn
from recsys.models import GATRecommender, build_adjacencies
from recsys.models.attention import Adjacency, pair_dots
from recsys.models.hetero import EdgeType

TrainForward = Callable[[dict[str, Tensor], dict[EdgeType, Adjacency]], tuple[Tensor, Tensor]]


class Collectives(Protocol):
    """What `fit` asks of a multi-process job (`recsys.training.distributed.DistributedContext`)."""

    def epoch_order(self, num_edges: int, epoch: int) -> Tensor: ...
    def local_batch(self, batch_size: int) -> int: ...
    def mean(self, value: float) -> float: ...
    def max(self, value: float) -> float: ...
    def ndcg(self, score_fn: ScoreFn, task: RankingTask, k: int) -> float: ...


@dataclass(frozen=True)
class Trainable:
    """What the training loop needs from any embedding recommender (GATs and the BPR-MF/LightGCN baselines).

    Attributes:
        module: holds the parameters (optimised by Adam) and train/eval mode.
        embed: () -> (user [U, D], song [S, D]) final embeddings over the training graph.
        ego: () -> (user table, song table): the ego embeddings the L2 penalty applies to.
        gather: optional (users [B], songs [B], negatives [B, n]) -> their final embeddings ([B, D], [B, D],
            [B, n, D]) without a full-graph forward (mini-batch training, `recsys.training.minibatch`).
        sparse: the ego tables get sparse gradients (only the rows a step touched; `SplitAdam` updates them).
    """

    module: nn.Module
    embed: Callable[[], tuple[Tensor, Tensor]]
    ego: Callable[[], tuple[Tensor, Tensor]]
    gather: Callable[[Tensor, Tensor, Tensor], tuple[Tensor, Tensor, Tensor]] | None = None
    sparse: bool = False

    def batch_scores(self, users: Tensor, songs: Tensor, negatives: Tensor) -> tuple[Tensor, Tensor]:
        """(positive [B], negative [B, n]) scores of a training batch. A full-graph forward scores the pairs
        with `pair_dots` (no [B, n, D] gather of negatives); ``gather`` returns the batch's rows already."""
        if self.gather is not None:
            zu, zp, zn = self.gather(users, songs, negatives)
            return (zu * zp).sum(-1), (zn * zu.unsqueeze(1)).sum(-1)
        z_user, z_song = self.embed()
        pairs = torch.cat([songs.unsqueeze(1), negatives], dim=1)  # [B, 1 + n]
        scores = pair_dots(z_user, z_song, users.unsqueeze(1).expand_as(pairs).reshape(-1),
                           pairs.reshape(-1)).view(pairs.shape)
        return scores[:, 0], scores[:, 1:]

    def ego_rows(self, users: Tensor, songs: Tensor) -> tuple[Tensor, Tensor]:
        """Ego embeddings of the given distinct users and songs (the L2 penalty's rows)."""
        user_table, song_table = self.ego()
        if self.sparse:  # a sparse gradient: no full-table temporary for a few thousand rows
            return F.embedding(users, user_table, sparse=True), F.embedding(songs, song_table, sparse=True)
        return user_table.index_select(0, users), song_table.index_select(0, songs)

    @torch.no_grad()
    def frozen_scorer(self) -> Callable[[Tensor], Tensor]:
        """Score with the current embeddings in eval mode (the part training optimises)."""
        was_training = self.module.training
        self.module.eval()
        user, song = (t.cpu() for t in self.embed())
        self.module.train(was_training)
        return lambda users: user[users] @ song.T


def full_graph_inputs(model: GATRecommender, graph: HeteroData) -> tuple[dict[str, Tensor],
                                                                         dict[EdgeType, Adjacency]]:
    """(x_dict, adjacencies) of a full-graph forward, with the sparse layouts built once for every step."""
    x_dict, edges, weights = model.full_inputs(graph)
    num_nodes = {t: x.numel() for t, x in x_dict.items()}
    return x_dict, build_adjacencies(edges, num_nodes, weights if model.use_edge_weight else None, model.edge_types)


def bind(model: GATRecommender, x_dict: dict[str, Tensor], adjs: dict[EdgeType, Adjacency],
         train_forward: TrainForward | None = None,
         gather: Callable[[Tensor, Tensor, Tensor], tuple[Tensor, Tensor, Tensor]] | None = None,
         sparse: bool = False) -> Trainable:
    """A GAT bound to its full graph. ``train_forward`` replaces the model in training mode (DDP's wrapper);
    evaluation always runs the bare model. ``sparse``: the embedding tables' gradients are sparse from now on."""
    for table in model.embedding.values():
        table.sparse = sparse

    def embed() -> tuple[Tensor, Tensor]:
        if train_forward is not None and model.training:
            return train_forward(x_dict, adjs)
        z = model(x_dict, adjs)
        return z["user"], z["song"]

    return Trainable(model, embed, lambda: (model.embedding["user"].weight, model.embedding["song"].weight),
                     gather, sparse)


def gat_trainable(model: GATRecommender, graph: HeteroData) -> Trainable:
    """Full-graph training of a GAT."""
    return bind(model, *full_graph_inputs(model, graph))


class SplitAdam:
    """Adam for dense parameters and `torch.optim.SparseAdam` for sparse-gradient embedding tables.

    SparseAdam updates only the rows a step touched, with no table-sized gradient or moment temporaries (at 1M
    songs each is 256 MB). Lazy moments differ from dense Adam for rows a step did not touch (they are not
    decayed), the usual trade for embedding tables.
    """

    def __init__(self, module: nn.Module, lr: float) -> None:
        tables = [m.weight for m in module.modules() if isinstance(m, nn.Embedding) and m.sparse]
        ids = {id(p) for p in tables}
        dense = [p for p in module.parameters() if id(p) not in ids and p.requires_grad]
        self.optimizers = [torch.optim.Adam(dense, lr=lr)] if dense else []
        if tables:
            self.optimizers.append(torch.optim.SparseAdam(tables, lr=lr))

    def zero_grad(self, set_to_none: bool = True) -> None:
        for optimizer in self.optimizers:
            optimizer.zero_grad(set_to_none=set_to_none)

    def step(self) -> None:
        for optimizer in self.optimizers:
            optimizer.step()

    def state_dict(self) -> dict[str, Any]:
        return {"split": [optimizer.state_dict() for optimizer in self.optimizers]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for optimizer, saved in zip(self.optimizers, state["split"], strict=True):
            optimizer.load_state_dict(saved)


def make_optimizer(trainable: Trainable, lr: float) -> torch.optim.Optimizer | SplitAdam:
    """Adam over every parameter, or `SplitAdam` when the trainable's embedding tables have sparse gradients."""
    if trainable.sparse:
        return SplitAdam(trainable.module, lr)
    return torch.optim.Adam(trainable.module.parameters(), lr=lr)
