"""Sparse embedding gradients: a mini-batch step touches only its subgraph's rows, as dense Adam would."""

from __future__ import annotations

import torch

from recsys.config import ModelConfig
from recsys.data import load_dataset
from recsys.graph import LISTENS, build_graph
from recsys.models import build_model
from recsys.training.minibatch import minibatch_trainable
from recsys.training.trainable import SplitAdam, gat_trainable, make_optimizer
from recsys.training.trainer import prepare_data


def one_step(model, trainable, users, songs, negatives):
    optimizer = make_optimizer(trainable, lr=0.05)
    zu, zp, zn = trainable.batch_embeddings(users, songs, negatives)
    loss = -(zu * zp).sum() + (zn * zu.unsqueeze(1)).sum()
    ego_user, ego_song = trainable.ego_rows(torch.unique(users), torch.unique(songs))
    loss = loss + ego_user.pow(2).sum() + ego_song.pow(2).sum()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return optimizer


def test_a_sparse_first_step_equals_dense_adam(tiny_data):
    dataset, _ = prepare_data(load_dataset(tiny_data), 0)
    graph = build_graph(dataset, "train")
    num_nodes = {t: graph[t].num_nodes for t in graph.node_types}
    listens = graph[LISTENS].edge_index
    users, songs = listens[0, :16], listens[1, :16]
    negatives = torch.randint(0, num_nodes["song"], (16, 2), generator=torch.Generator().manual_seed(0))
    models = []
    for sparse in (True, False):
        torch.manual_seed(0)
        model = build_model(ModelConfig(dropout=0.0), num_nodes)
        trainable = minibatch_trainable(model, graph, [-1, -1], seed=0)  # fanout -1: the whole neighbourhood
        if not sparse:
            trainable = gat_trainable(model, graph)  # dense gradients, plain Adam
        optimizer = one_step(model, trainable, users, songs, negatives)
        assert isinstance(optimizer, SplitAdam) == sparse
        models.append(model)
    sparse_model, dense_model = models
    # Adam's first step is lr * g / (|g| + eps) on touched rows and exactly 0 elsewhere: both optimisers agree
    for name in ("user", "song"):
        torch.testing.assert_close(sparse_model.embedding[name].weight, dense_model.embedding[name].weight,
                                   rtol=1e-4, atol=1e-5)
    grad = sparse_model.embedding["user"].weight.grad
    assert grad.is_sparse  # only the rows the step touched, not a table-sized gradient
