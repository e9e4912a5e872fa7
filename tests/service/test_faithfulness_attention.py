"""Attention truth and attention fidelity, on tiny graphs whose answers are known."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from recsys.config import ModelConfig
from recsys.data import assign_split, load_dataset
from recsys.graph import build_graph
from recsys.models import build_model
from recsys.service.faithfulness import _auc, attention_auc, attention_fidelity, listen_attention


def write(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(text.strip() + "\n", encoding="utf-8")


@pytest.fixture()
def jazz_fan(tmp_path: Path):
    """u1 prefers Jazz and plays two Jazz and two Rock songs; every song has one listener (equal normalisation)."""
    write(tmp_path, "interactions.csv", "user_id,track_id,split\nu1,j1,train\nu1,j2,train\nu1,r1,train\n"
                                        "u1,r2,train\nu2,x1,train")
    write(tmp_path, "tracks.csv", "track_id,artist_id\nj1,a1\nj2,a1\nr1,a2\nr2,a2\nx1,a2")
    write(tmp_path, "artists.csv", "artist_id,name\na1,Alpha\na2,Beta")
    write(tmp_path, "artist_genres.csv", "artist_id,genre\na1,Jazz\na2,Rock")
    graph = build_graph(assign_split(load_dataset(tmp_path), 0)[0], "train")
    maps = graph.id_maps
    return graph, {maps.user.index("u1"): {maps.genre.index("Jazz")}}


def one_layer(graph, attention: str):
    config = ModelConfig(attention=attention, num_layers=1, heads=1, embedding_dim=2, hidden_dim=2,
                         use_genres=False, item_item=False, use_artists=False)
    return build_model(config, {t: graph[t].num_nodes for t in graph.node_types})


def test_auc_counts_ties_half():
    assert _auc(np.array([3.0, 2.0]), np.array([1.0])) == 1.0
    assert _auc(np.array([1.0]), np.array([1.0, 2.0])) == pytest.approx(0.25)


def test_similarity_attention_finds_the_preferred_genre_where_normalisation_cannot(jazz_fan):
    graph, preferred = jazz_fan
    model = one_layer(graph, "similarity")
    maps = graph.id_maps
    with torch.no_grad():
        model.embedding["user"].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
        songs = torch.tensor([[1.0, 0.0] if maps.song.id_of(i).startswith("j") else [0.0, 1.0]
                              for i in range(graph["song"].num_nodes)])
        model.embedding["song"].weight.copy_(songs)
        model.layers[0].attn["song__rev_listens__user"].log_temperature.fill_(math.log(5.0))
    result = attention_auc(model, graph, preferred)
    assert result == {"attention": 1.0, "normalisation": 0.5, "users": 1}


def test_attention_off_is_the_normalisation(jazz_fan):
    graph, preferred = jazz_fan
    model = one_layer(graph, "none")
    _, alpha, norm = listen_attention(model, graph)
    torch.testing.assert_close(alpha, norm)
    result = attention_auc(model, graph, preferred)
    assert result["attention"] == result["normalisation"] == 0.5


def test_attention_fidelity_compares_like_with_like(recommender):
    report = attention_fidelity(recommender, users=6, k=2, random_draws=2)
    assert report["users"] == 6 and report["k"] == 2
    assert report["ratio"] == pytest.approx(report["top_drop"] / report["random_drop"])
    assert report["graph_ratio"] == pytest.approx(report["graph_top_drop"] / report["graph_random_drop"])
