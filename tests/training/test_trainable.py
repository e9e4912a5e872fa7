"""Sparse embedding gradients: a mini-batch step's gradient equals the full-graph one, and only its rows move."""

from __future__ import annotations

import torch

from recsys.config import ModelConfig
from recsys.data import load_dataset
from recsys.graph import LISTENS, build_graph
from recsys.models import build_model
from recsys.training.minibatch import minibatch_trainable
from recsys.training.trainable import SplitAdam, gat_trainable, make_optimizer
from recsys.training.trainer import prepare_data


def backward(trainable, users, songs, negatives) -> None:
    pos, neg = trainable.batch_scores(users, songs, negatives)
    loss = -pos.sum() + neg.sum()
    ego_user, ego_song = trainable.ego_rows(torch.unique(users), torch.unique(songs))
    (loss + ego_user.pow(2).sum() + ego_song.pow(2).sum()).backward()


def test_sparse_gradients_of_a_subgraph_step_equal_the_full_graph_ones(tiny_data):
    dataset, _ = prepare_data(load_dataset(tiny_data), 0)
    graph = build_graph(dataset, "train")
    num_nodes = {t: graph[t].num_nodes for t in graph.node_types}
    listens = graph[LISTENS].edge_index
    users, songs = listens[0, :16], listens[1, :16]
    negatives = torch.randint(0, num_nodes["song"], (16, 2), generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    # gated: an L-hop subgraph is exact for it; similarity attention reads LightGCN embeddings, which need 2L hops
    config = ModelConfig(dropout=0.0, attention="gated")
    sparse_model = build_model(config, num_nodes)
    torch.manual_seed(0)
    dense_model = build_model(config, num_nodes)
    sparse = minibatch_trainable(sparse_model, graph, [-1, -1], seed=0)  # fanout -1: the whole neighbourhood
    dense = gat_trainable(dense_model, graph)
    backward(sparse, users, songs, negatives)
    backward(dense, users, songs, negatives)
    for name in ("user", "song"):
        grad = sparse_model.embedding[name].weight.grad
        assert grad.is_sparse  # the rows the step touched, not a table-sized tensor
        # a subgraph forward vs the full graph: the same sums in another order, equal up to float rounding
        torch.testing.assert_close(grad.to_dense(), dense_model.embedding[name].weight.grad, rtol=1e-4, atol=1e-6)
    assert isinstance(make_optimizer(sparse, lr=0.05), SplitAdam)
    assert isinstance(make_optimizer(dense, lr=0.05), torch.optim.Adam)


def test_split_adam_moves_only_the_rows_with_a_gradient():
    model = torch.nn.Module()
    model.table = torch.nn.Embedding(10, 4, sparse=True)
    model.dense = torch.nn.Linear(4, 1)
    optimizer = SplitAdam(model, lr=0.1)
    before = model.table.weight.detach().clone()
    rows = torch.tensor([2, 7])
    (model.dense(model.table(rows)).sum()).backward()
    assert model.table.weight.grad.is_sparse
    optimizer.step()
    moved = (model.table.weight - before).abs().sum(1) > 0
    assert moved.tolist() == [i in (2, 7) for i in range(10)]
    restored = SplitAdam(model, lr=0.1)
    restored.load_state_dict(optimizer.state_dict())  # the checkpointable state round-trips
    assert restored.state_dict()["split"][1]["state"].keys() == optimizer.state_dict()["split"][1]["state"].keys()
