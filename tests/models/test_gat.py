"""The Basic and Enhanced GATs: sizes, forward pass, real attention, and the seed's methods."""

from __future__ import annotations

import math

import pytest
import torch

from recsys.config import ModelConfig
from recsys.data import assign_split
from recsys.graph import LISTENS, build_graph
from recsys.models import (
    EnhancedGATRecommender,
    GATRecommender,
    build_model,
    estimate_memory_usage,
    estimate_parameters,
    resolve_use_artists,
)
from recsys.models.scoring import MAX_GENRE_WEIGHT


@pytest.fixture(scope="module")
def graph(small_dataset):
    return build_graph(assign_split(small_dataset, 0)[0])


def nodes(graph) -> dict[str, int]:
    return {t: graph[t].num_nodes for t in graph.node_types}


@pytest.mark.parametrize("config", [ModelConfig.basic(), ModelConfig(), ModelConfig(attention="softmax", heads=2),
                                    ModelConfig(attention="similarity"), ModelConfig(attention="none"),
                                    ModelConfig(hidden_dim=32), ModelConfig(use_genres=False),
                                    ModelConfig(use_artists=False), ModelConfig.basic(use_artists=False)])
def test_parameter_estimate_is_exact(graph, config):
    n = nodes(graph)
    model = build_model(config, n)
    use_artists = resolve_use_artists(config, n)
    expected = estimate_parameters(n["user"], n["song"], n["artist"], n["genre"], config.embedding_dim,
                                   config.num_layers, config.heads, config.hidden_dim,
                                   config.use_enhanced and config.use_genres, use_artists, config.attention)
    assert model.num_parameters() == expected
    megabytes = estimate_memory_usage(n["user"], n["song"], n["artist"], n["genre"], config.embedding_dim,
                                      config.num_layers, config.heads, config.hidden_dim,
                                      config.use_enhanced and config.use_genres, use_artists=use_artists,
                                      attention=config.attention)
    assert megabytes == pytest.approx(expected * 4 / 2**20)


def test_default_scale_sizes_match_the_seed():
    basic = estimate_parameters(1000, 5000, 500, 35, embedding_dim=32, num_layers=1, use_genres=False)
    enhanced = estimate_parameters(1000, 5000, 500, 35, embedding_dim=64, num_layers=2)
    assert 190_000 < basic < 220_000  # "about 200K"
    assert enhanced > 400_000
    assert estimate_memory_usage(1000, 5000, 500, 35, num_edges=100_000, training=True) > \
        estimate_memory_usage(1000, 5000, 500, 35)


def test_artists_used_only_when_they_group_songs(graph):
    n = nodes(graph)
    assert resolve_use_artists(ModelConfig(), n)  # generated data: about 10 songs per artist
    assert not resolve_use_artists(ModelConfig(), {**n, "artist": n["song"]})  # Last.fm: each item its own artist
    assert resolve_use_artists(ModelConfig(use_artists=True), {**n, "artist": n["song"]})
    model = build_model(ModelConfig(use_artists=False), n)
    assert "artist" not in model.node_types and all("artist" not in (et[0], et[2]) for et in model.edge_types)
    z = model(*model.full_inputs(graph))
    assert set(z) == {"user", "song", "genre"}


def test_model_selection_by_use_enhanced(graph):
    assert type(build_model(ModelConfig.basic(), nodes(graph))) is GATRecommender
    enhanced = build_model(ModelConfig(), nodes(graph))
    assert isinstance(enhanced, EnhancedGATRecommender) and enhanced.uses_genres
    assert "genre" in enhanced.node_types and "genre" not in GATRecommender.node_types


def test_forward_shapes_and_attention_per_layer_and_relation(graph):
    model = build_model(ModelConfig(num_layers=3), nodes(graph)).eval()
    z, attention = model(*model.full_inputs(graph), return_attention=True)
    assert set(z) == {"user", "song", "artist", "genre"}
    assert all(v.shape == (graph[t].num_nodes, 64) and torch.isfinite(v).all() for t, v in z.items())
    assert len(attention) == 3
    for layer in attention:
        assert set(layer) == set(model.edge_types)
        for edge_type, (edge_index, alpha) in layer.items():
            assert edge_index.shape == graph[edge_type].edge_index.shape
            assert alpha.shape == (edge_index.size(1), 4)


@pytest.mark.parametrize("attention", ["gated", "softmax"])
def test_first_layer_recomputed_from_returned_attention(graph, attention):
    """The coefficients returned are exactly those the forward pass used."""
    model = build_model(ModelConfig(attention=attention, num_layers=1), nodes(graph)).eval()
    with torch.no_grad():
        for module in model.modules():
            if hasattr(module, "att_src"):
                module.att_src.normal_(std=0.5)
                module.att_dst.normal_(std=0.5)
        z, attention_list = model(*model.full_inputs(graph), return_attention=True)
        heads, layer = model.heads, model.layers[0]
        for node_type in ("user", "song"):
            ego = model.embedding[node_type].weight.view(-1, heads, 64 // heads)
            propagated = torch.zeros_like(ego)
            for edge_type, (edge_index, alpha) in attention_list[0].items():
                if edge_type[2] != node_type:
                    continue
                src = model.embedding[edge_type[0]].weight.view(-1, heads, 64 // heads)
                message = alpha.unsqueeze(-1) * src[edge_index[0]]
                propagated.index_add_(0, edge_index[1], layer.scale(edge_type) * message)
            expected = ((ego + propagated) / 2).reshape(ego.size(0), -1)
            assert torch.allclose(z[node_type], expected, atol=1e-5)
    if attention == "softmax":
        edge_index, alpha = attention_list[0][LISTENS]
        sums = torch.zeros(graph["song"].num_nodes, heads).index_add_(0, edge_index[1], alpha)
        received = torch.bincount(edge_index[1], minlength=graph["song"].num_nodes) > 0
        assert torch.allclose(sums[received], torch.ones_like(sums[received]), atol=1e-5)


def test_seed_methods_work_on_indices(graph):
    model = build_model(ModelConfig(), nodes(graph))
    user = int(graph[LISTENS].edge_index[0, 0])
    known = set(graph[LISTENS].edge_index[1][graph[LISTENS].edge_index[0] == user].tolist())
    songs, scores = model.recommend(user, graph, k=5)
    assert len(songs) == 5 and not known & set(songs.tolist())
    assert torch.all(scores[:-1] >= scores[1:])
    influence = model.compute_genre_influence(user, graph)
    assert influence.shape == (graph["song"].num_nodes,) and float(influence.max()) <= 1 + 1e-6
    song = int(songs[0])
    explanation = model.explain_recommendation(user, song, graph)
    assert explanation["score"] == pytest.approx(explanation["base_score"]
                                                 + explanation["genre_weight"] * explanation["genre_influence"])
    details = model.explain_genre_influence(user, song, graph)
    assert details["total_influence"] == pytest.approx(float(influence[song]), abs=1e-5)
    assert explanation["attention"], "attention edges into the user and the song are listed"
    weight = model.adaptive_genre_weight(user, graph)
    assert 0 < weight <= MAX_GENRE_WEIGHT


def test_adaptive_weight_favours_light_and_diverse_listeners(graph):
    model = build_model(ModelConfig(genre_weight=0.3), nodes(graph))
    scorer = model.prepare(graph)
    counts = scorer.known.crow_indices().diff()
    light, heavy = int(counts.argmin()), int(counts.argmax())
    assert scorer.adaptive[light] > scorer.adaptive[heavy]
    assert float(scorer.adaptive.max()) <= MAX_GENRE_WEIGHT
    # the seed's formula, capped at 0.5: base * (1 + 0.5 * (1 - activity) + 0.3 * diversity)
    assert float(scorer.adaptive.min()) >= 0.3 - 1e-6
    assert math.isclose(float(scorer.adaptive.max()), min(0.5, 0.3 * 1.8), rel_tol=0.2)


@pytest.mark.parametrize("config", [ModelConfig.basic(), ModelConfig(), ModelConfig(attention="similarity"),
                                    ModelConfig(attention="gated"), ModelConfig(attention="softmax")])
def test_every_parameter_gets_a_gradient(graph, config):
    """No dead weights: one backward pass of a ranking-like loss reaches every parameter (the Basic model has
    no global scale, since it has no genre relations to weight)."""
    model = build_model(config, nodes(graph))
    z = model(*model.full_inputs(graph))
    users, songs = graph[LISTENS].edge_index[:, :64]
    (z["user"][users] * z["song"][songs]).sum().backward()
    names = {name for name, _ in model.named_parameters()}
    assert ("layers.0.log_scale.global" in names) == config.use_enhanced
    last = f"layers.{config.num_layers - 1}.attn."
    for name, parameter in model.named_parameters():
        if name.startswith("embedding."):
            continue  # tables: only rows in the batch's neighbourhood move
        if name.startswith(last) and not name.split(".")[3].endswith(("__user", "__song")):
            continue  # the last layer's messages into artists and genres feed no user or song output
        assert parameter.grad is not None, name
        if config.attention not in ("softmax", "similarity"):  # a softmax over a song's one artist is 1
            assert parameter.grad.abs().sum() > 0, name


def test_one_user_genre_scores_match_the_batched_path(graph):
    scorer = build_model(ModelConfig(), nodes(graph)).prepare(graph)
    users = torch.arange(6)
    batched = scorer.genre_scores(users)
    for i in range(6):
        assert torch.allclose(scorer.genre_scores(users[i:i + 1])[0], batched[i], atol=1e-6)


def test_users_without_history_are_ranked_by_popularity(graph):
    from recsys.graph.edit import without_listens

    listens = graph[LISTENS].edge_index
    user = int(listens[0, 0])
    emptied = without_listens(graph, user, listens[1][listens[0] == user])
    scorer = build_model(ModelConfig(), nodes(graph)).prepare(emptied)
    scores = scorer.scores(torch.tensor([user, user + 1]))
    assert torch.equal(scores[0], scorer.popularity)
    assert not torch.equal(scores[1], scorer.popularity)
    listeners = torch.bincount(emptied[LISTENS].edge_index[1], minlength=graph["song"].num_nodes)
    assert int(scorer.popularity.argmax()) in torch.nonzero(listeners == listeners.max()).flatten().tolist()
