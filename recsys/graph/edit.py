"""Edited copies of a training graph, for counterfactual explanations ("what if this play never happened?")."""

from __future__ import annotations

import numpy as np
import torch
from torch_geometric.data import HeteroData

from recsys.graph.build import LISTENS, PREFERS, SONG_GENRE, reverse, user_genre_shares


def without_listens(graph: HeteroData, user: int, songs: list[int] | torch.Tensor) -> HeteroData:
    """A copy of ``graph`` without the user's listening edges to ``songs`` (both directions).

    The user's genre preferences are recomputed from the remaining plays, exactly as `build_graph` computes
    them, so every derived edge stays consistent with the edited history. Other users are untouched.
    """
    songs = torch.as_tensor(songs, dtype=torch.long)
    edited = shallow_copy(graph)
    listens = graph[LISTENS]
    drop = (listens.edge_index[0] == user) & torch.isin(listens.edge_index[1], songs)
    keep = ~drop
    edited[LISTENS].edge_index = listens.edge_index[:, keep]
    edited[LISTENS].edge_weight = listens.edge_weight[keep]
    edited[LISTENS].plays = listens.plays[keep]
    edited[reverse(LISTENS)].edge_index = edited[LISTENS].edge_index.flip(0)
    edited[reverse(LISTENS)].edge_weight = edited[LISTENS].edge_weight
    if PREFERS in graph.edge_types:
        _recompute_preferences(edited, user)
    return edited


def shallow_copy(graph: HeteroData) -> HeteroData:
    """A new graph sharing every tensor with ``graph``; assigning an attribute on it leaves ``graph`` intact."""
    out = HeteroData()
    for store in graph.node_stores + graph.edge_stores:
        target = out[store._key]
        for key, value in store.items():
            target[key] = value
    out.id_maps = graph.id_maps
    return out


def _recompute_preferences(graph: HeteroData, user: int) -> None:
    listens = graph[LISTENS]
    mine = listens.edge_index[0] == user
    songs = listens.edge_index[1][mine].numpy()
    plays = listens.plays[mine].numpy().astype(np.float64)
    mix = graph[SONG_GENRE]
    song_genre = (mix.edge_index[0].numpy(), mix.edge_index[1].numpy(), mix.edge_weight.numpy().astype(np.float64))
    num_songs, num_genres = graph["song"].num_nodes, graph["genre"].num_nodes
    _, genres, shares = user_genre_shares(np.zeros(len(songs), np.int64), songs, plays, song_genre, 1, num_songs,
                                          num_genres)
    prefers = graph[PREFERS]
    others = prefers.edge_index[0] != user
    index = torch.cat([prefers.edge_index[:, others],
                       torch.stack([torch.full((len(genres),), user), torch.as_tensor(genres)])], dim=1)
    weight = torch.cat([prefers.edge_weight[others], torch.as_tensor(shares, dtype=torch.float32)])
    prefers.edge_index, prefers.edge_weight = index, weight
    graph[reverse(PREFERS)].edge_index = index.flip(0)
    graph[reverse(PREFERS)].edge_weight = weight
