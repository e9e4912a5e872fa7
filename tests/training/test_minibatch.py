"""Mini-batch training: the neighbour sampler's known answers, unbiased normalisation, and that training learns."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest
import torch

from recsys.config import Config, ModelConfig, TrainConfig
from recsys.data import load_dataset
from recsys.errors import ConfigError
from recsys.evaluation import ndcg_at, ranking_task
from recsys.graph import LISTENS, build_graph
from recsys.models import build_adjacencies, build_model
from recsys.models.attention import Adjacency, SpMM
from recsys.training import load_checkpoint
from recsys.training.minibatch import (
    NeighborSampler,
    minibatch_trainable,
    pyg_sampler_available,
    resolve_fanouts,
    sample_incoming,
)
from recsys.training.trainer import fit, gat_trainable, prepare_data, seed_everything


@pytest.fixture(scope="module")
def tiny(tiny_data: Path):
    """(dataset with its split, training graph, validation task)."""
    dataset, _ = prepare_data(load_dataset(tiny_data), 0)
    graph = build_graph(dataset, "train")
    return dataset, graph, ranking_task(dataset, graph.id_maps, "valid")


def full_layout(model, graph):
    x_dict, edges, _ = model.full_inputs(graph)
    num_nodes = {t: x.numel() for t, x in x_dict.items()}
    return x_dict, num_nodes, build_adjacencies(edges, num_nodes, None, model.edge_types)


def csr_of(degrees: list[int]) -> torch.Tensor:
    return torch.tensor([0, *itertools.accumulate(degrees)])


# ---- sampling one hop --------------------------------------------------------------------------------------
def test_sample_incoming_respects_fanout_and_keeps_small_neighbourhoods_whole():
    crow = csr_of([0, 1, 2, 5, 9])
    dst = torch.tensor([0, 1, 2, 3, 4])
    rows, positions, kept = sample_incoming(crow, dst, 3, torch.Generator().manual_seed(0))
    assert kept.tolist() == [0, 1, 2, 3, 3]
    assert torch.equal(torch.bincount(rows, minlength=5), kept)
    for row in range(5):
        mine = positions[rows == row]
        lo, hi = int(crow[dst[row]]), int(crow[dst[row] + 1])
        assert ((mine >= lo) & (mine < hi)).all()
        assert len(set(mine.tolist())) == len(mine)  # without replacement
    assert sorted(positions[rows == 2].tolist()) == [1, 2]  # degree <= fanout: every edge
    everything = sample_incoming(crow, dst, -1)
    assert torch.equal(everything[2], crow[1:] - crow[:-1])


def test_sample_incoming_draws_every_subset_equally_often():
    crow = csr_of([5])
    draws = 20_000
    _, positions, _ = sample_incoming(crow, torch.zeros(draws, dtype=torch.long), 2,
                                      torch.Generator().manual_seed(1))
    chosen = positions.view(draws, 2).sort(1).values
    pairs = torch.bincount(chosen[:, 0] * 5 + chosen[:, 1], minlength=25).float() / draws
    expected = 1 / math.comb(5, 2)
    observed = pairs[pairs > 0]
    assert len(observed) == 10
    assert torch.allclose(observed, torch.full_like(observed, expected), atol=0.012)  # ~4.5 sigma


# ---- subgraphs ---------------------------------------------------------------------------------------------
def test_sampled_edges_exist_in_the_full_graph_and_are_relabelled_correctly(tiny):
    _, graph, _ = tiny
    model = build_model(ModelConfig(embedding_dim=8, hidden_dim=8), {t: graph[t].num_nodes for t in graph.node_types})
    _, num_nodes, adjs = full_layout(model, graph)
    sampler = NeighborSampler(adjs, num_nodes, [3, 2], torch.Generator().manual_seed(0))
    seeds = {"user": torch.tensor([5, 2, 40]), "song": torch.tensor([7, 300, 11, 0])}
    sub = sampler.sample(seeds)
    for node_type, ids in seeds.items():
        assert torch.equal(sub.node[node_type][:len(ids)], ids)  # seeds first, in order
    for ids in sub.node.values():
        assert len(torch.unique(ids)) == len(ids)
    for edge_type, adj in sub.adjs.items():
        src_type, _, dst_type = edge_type
        full = adjs[edge_type]
        existing = set(zip(full.edge_index[0].tolist(), full.edge_index[1].tolist(), strict=True))
        global_src = sub.node[src_type][adj.edge_index[0]]
        global_dst = sub.node[dst_type][adj.edge_index[1]]
        assert set(zip(global_src.tolist(), global_dst.tolist(), strict=True)) <= existing
        # positions point at the same edges in the full layout
        positions = sub.edge[edge_type][adj.perm]
        assert torch.equal(full.edge_index[0, positions], global_src)
        assert torch.equal(full.edge_index[1, positions], global_dst)
        incoming = torch.bincount(adj.edge_index[1], minlength=adj.num_dst + 1)
        assert int(incoming.max()) <= 3  # the first hop's fanout bounds every node
    assert all(not torch.any(sampler._local[t] >= 0) for t in sampler._local)  # scratch map reset


@pytest.mark.parametrize("basic", [True, False])
def test_fanout_at_least_the_degree_gives_the_full_graph_embeddings_of_the_seeds(tiny, basic):
    _, graph, _ = tiny
    config = ModelConfig.basic(dropout=0.0, num_layers=2) if basic else ModelConfig(embedding_dim=16, hidden_dim=16,
                                                                                    dropout=0.0)
    model = build_model(config, {t: graph[t].num_nodes for t in graph.node_types}).eval()
    x_dict, num_nodes, adjs = full_layout(model, graph)
    max_degree = max(int((a.crow[1:] - a.crow[:-1]).max()) for a in adjs.values())
    seeds = {"user": torch.tensor([0, 17, 99]), "song": torch.tensor([3, 250, 399, 42])}
    # similarity attention reads LightGCN embeddings, which need L more hops around each neighbour
    hops = config.num_layers * (2 if config.attention == "similarity" else 1)
    with torch.no_grad():
        full = model(x_dict, adjs)
        for fanout in ([-1] * hops, [max_degree] * hops):
            sub = NeighborSampler(adjs, num_nodes, fanout, torch.Generator().manual_seed(0)).sample(seeds)
            part = model(sub.node, sub.adjs)
            for node_type, ids in seeds.items():
                assert torch.allclose(part[node_type][:len(ids)], full[node_type][ids], atol=1e-6)


def test_rescaled_normalisation_makes_the_sampled_aggregation_unbiased(tiny):
    _, graph, _ = tiny
    model = build_model(ModelConfig(embedding_dim=8, hidden_dim=8), {t: graph[t].num_nodes for t in graph.node_types})
    _, num_nodes, adjs = full_layout(model, graph)
    relation = ("song", "rev_listens", "user")  # user in-degrees up to ~100: far above the fanout
    x = {t: torch.randn(n, 1, 4, generator=torch.Generator().manual_seed(3)) for t, n in num_nodes.items()}
    full = adjs[relation]
    expected = SpMM.apply(full, full.norm.unsqueeze(1), x["song"])  # [U, 1, 4] full-graph aggregation
    users = torch.arange(num_nodes["user"])
    sampler = NeighborSampler({relation: full}, num_nodes, [4], torch.Generator().manual_seed(0))
    draws = 400
    samples = []
    for _ in range(draws):
        sub = sampler.sample({"user": users})
        adj = sub.adjs[relation]
        samples.append(SpMM.apply(adj, adj.norm.unsqueeze(1), x["song"][sub.node["song"]])[:len(users)])
    samples = torch.stack(samples)  # [draws, U, 1, 4]
    degree = (full.crow[1:] - full.crow[:-1]).float()
    assert degree.max() > 20  # sampling really drops edges
    # the mean of the sampled aggregations converges to the full one: every entry within 5 standard errors, and
    # the errors look like noise (an unbiased mean's |z| averages 0.8; a bias would push it up with the draws)
    standard_error = samples.std(0) / math.sqrt(draws)
    z = (samples.mean(0) - expected).abs() / standard_error.clamp_min(1e-6)
    assert float(z.max()) < 5.0 and float(z.mean()) < 1.2, (float(z.max()), float(z.mean()))
    unscaled = samples.mean(0) * (degree.clamp(max=4) / degree.clamp_min(1)).view(-1, 1, 1)  # without d_i / k_i
    z_unscaled = (unscaled - expected).abs() / standard_error.clamp_min(1e-6)
    assert float(z_unscaled.mean()) > 5.0  # the same test catches a missing rescale
    # each sampled edge carries the full-graph norm times d_i / k_i of its destination
    adj = sub.adjs[relation]
    positions = sub.edge[relation][adj.perm]
    kept = torch.bincount(adj.edge_index[1], minlength=len(users)).float()
    assert torch.equal(kept, degree.clamp(max=4))
    dst = adj.edge_index[1]
    assert torch.allclose(adj.norm, full.norm[positions] * degree[users[dst]] / kept[dst])


def test_adjacency_accepts_a_precomputed_norm_in_the_callers_edge_order():
    edge_index = torch.tensor([[2, 0, 1, 0], [1, 1, 0, 0]])  # (src, dst), not sorted
    norm = torch.tensor([0.1, 0.2, 0.3, 0.4])
    adj = Adjacency.build(edge_index, 3, 2, norm=norm)
    assert torch.equal(adj.norm, norm[adj.perm])
    assert torch.equal(adj.edge_index, edge_index[:, adj.perm])


def test_fanouts_are_checked_and_resolved_per_layer(tiny):
    _, graph, _ = tiny
    model = build_model(ModelConfig.basic(), {t: graph[t].num_nodes for t in graph.node_types})
    _, num_nodes, adjs = full_layout(model, graph)
    with pytest.raises(ValueError, match="fanouts must be"):
        NeighborSampler(adjs, num_nodes, [0])
    with pytest.raises(ValueError, match="no entry"):
        NeighborSampler(adjs, num_nodes, {LISTENS: [2]})
    assert resolve_fanouts([10, 5], 1) == [10]
    assert resolve_fanouts([10], 3) == [10, 10, 10]
    with pytest.raises(ConfigError, match="fanout"):
        TrainConfig(fanout=(0,)).validate()
    assert TrainConfig(fanout=[4, 2]).fanout == (4, 2)


# ---- training ----------------------------------------------------------------------------------------------
def test_minibatch_training_from_the_cli_learns(tiny, tiny_data, tmp_path):
    from recsys.cli.main import main

    _, graph, valid = tiny
    out = tmp_path / "mb.pt"
    config = tmp_path / "config.json"
    config.write_text('{"model": {"embedding_dim": 32, "hidden_dim": 32}}')
    code = main(["train", "--data", str(tiny_data), "--out", str(out), "--config", str(config), "--minibatch",
                 "--fanout", "5", "3", "--batch-size", "512", "--epochs", "6", "--quiet"])
    assert code == 0
    payload = load_checkpoint(out)
    assert payload["train_config"]["minibatch"] is True
    assert tuple(payload["train_config"]["fanout"]) == (5, 3)
    assert payload["train_config"]["batch_size"] == 512
    seed_everything(0)
    fresh = build_model(ModelConfig(embedding_dim=32, hidden_dim=32), {t: graph[t].num_nodes
                                                                        for t in graph.node_types})
    untrained = ndcg_at(gat_trainable(fresh, graph).frozen_scorer(), valid, 10)
    best = max(h["valid_ndcg@10"] for h in payload["history"])
    assert best > untrained + 0.03, (untrained, best)
    assert payload["metrics"]["valid"]["ndcg@10"] > untrained + 0.03


def test_a_time_budget_stops_inside_an_epoch(tiny):
    _, graph, valid = tiny
    model = build_model(ModelConfig(embedding_dim=16, hidden_dim=16), {t: graph[t].num_nodes
                                                                        for t in graph.node_types})
    tc = TrainConfig(epochs=3, batch_size=64, max_seconds=1e-9)
    generator = seed_everything(0)
    state, stopped = fit(minibatch_trainable(model, graph, [3, 2]), graph[LISTENS].edge_index,
                         graph["song"].num_nodes, valid, tc, generator, progress=False)
    assert stopped == "time-budget" and state.epoch == 1
    record = state.history[0]
    steps = math.ceil(graph[LISTENS].edge_index.size(1) / 64)
    assert record["epoch_fraction"] == pytest.approx(1 / steps)
    assert "valid_ndcg@10" in record


@pytest.mark.skipif(not pyg_sampler_available(), reason="PyG's sampler needs pyg-lib or torch-sparse")
def test_the_pyg_backend_gives_the_same_seed_embeddings_with_full_fanout(tiny):  # pragma: no cover
    _, graph, _ = tiny
    model = build_model(ModelConfig(embedding_dim=16, hidden_dim=16, dropout=0.0),
                        {t: graph[t].num_nodes for t in graph.node_types}).eval()
    x_dict, num_nodes, adjs = full_layout(model, graph)
    seeds = {"user": torch.tensor([0, 17]), "song": torch.tensor([3, 250])}
    sub = NeighborSampler(adjs, num_nodes, [-1, -1], backend="pyg").sample(seeds)
    with torch.no_grad():
        full, part = model(x_dict, adjs), model(sub.node, sub.adjs)
    for node_type, ids in seeds.items():
        assert torch.allclose(part[node_type][:len(ids)], full[node_type][ids], atol=1e-6)
    sampled = NeighborSampler(adjs, num_nodes, [3, 2], backend="pyg").sample(seeds)
    for adj in sampled.adjs.values():
        assert int(torch.bincount(adj.edge_index[1], minlength=adj.num_dst + 1).max()) <= 3


def test_without_pyg_lib_the_pyg_backend_is_refused_and_auto_falls_back(tiny):
    if pyg_sampler_available():
        pytest.skip("pyg-lib or torch-sparse is installed here")
    _, graph, _ = tiny
    model = build_model(ModelConfig.basic(), {t: graph[t].num_nodes for t in graph.node_types})
    _, num_nodes, adjs = full_layout(model, graph)
    with pytest.raises(ImportError, match="pyg-lib"):
        NeighborSampler(adjs, num_nodes, [2], backend="pyg")
    assert NeighborSampler(adjs, num_nodes, [2], backend="auto").backend == "own"


def test_train_uses_sampled_subgraphs_when_asked(tiny_data):
    from recsys.training import train

    config = Config(ModelConfig.basic(embedding_dim=16, hidden_dim=16),
                    TrainConfig(epochs=2, batch_size=1024, minibatch=True, fanout=(4,), eval_users=20))
    result = train(load_dataset(tiny_data), config, progress=False, log=lambda _: None)
    assert result.state.epoch == 2 and math.isfinite(result.valid["ndcg@10"])
    assert result.valid["users"] > 20  # final metrics use every validation user
