"""Parameter counts and memory estimates, checked in tests against real models."""

from __future__ import annotations

from torch import nn

BYTES_PER_FLOAT = 4
MB = 1024 * 1024
LISTEN_RELATIONS = 2  # listens and its reverse
ARTIST_RELATIONS = 2  # by and its reverse
GENRE_RELATIONS = 4  # song has_genre, user prefers, and their reverses
ARTIST_GENRE_RELATIONS = 2  # artist has_genre and its reverse


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def estimate_parameters(num_users: int, num_songs: int, num_artists: int, num_genres: int = 0,
                        embedding_dim: int = 64, num_layers: int = 2, heads: int = 4, hidden_dim: int | None = None,
                        use_genres: bool | None = None, use_artists: bool = True, attention: str = "gated") -> int:
    """Exact trainable parameter count of a GAT recommender with these sizes.

    Embedding tables, an optional input projection, and per layer and relation the attention's parameters
    (gated, softmax: one vector per side, hidden_dim values each; similarity: a temperature per
    head; none: nothing), plus one scale weight per layer and scale (local, and global with genres).
    ``heads`` splits dimensions, so for the vector attentions it does not change the count.
    """
    hidden = hidden_dim or embedding_dim
    genres = num_genres > 0 if use_genres is None else (use_genres and num_genres > 0)
    nodes = num_users + num_songs + (num_artists if use_artists else 0) + (num_genres if genres else 0)
    relations = LISTEN_RELATIONS + (ARTIST_RELATIONS if use_artists else 0)
    relations += (GENRE_RELATIONS + (ARTIST_GENRE_RELATIONS if use_artists else 0)) if genres else 0
    projection = embedding_dim * hidden if hidden != embedding_dim else 0
    per_relation = {"gated": 2 * hidden, "softmax": 2 * hidden, "similarity": heads, "none": 0}[attention]
    per_layer = relations * per_relation + (2 if genres else 1)
    return nodes * embedding_dim + projection + num_layers * per_layer


def estimate_memory_usage(num_users: int, num_songs: int, num_artists: int, num_genres: int = 0,
                          embedding_dim: int = 64, num_layers: int = 2, heads: int = 4, hidden_dim: int | None = None,
                          use_genres: bool | None = None, num_edges: int = 0, training: bool = False,
                          item_item_topk: int | None = 0, use_artists: bool = True, attention: str = "gated") -> float:
    """Estimated memory in MB (float32): parameters, plus gradients, Adam state and activations when training.

    Args:
        num_edges: directed message-passing edges (both directions); each stores per-head coefficients.
        training: add gradients and Adam's two moments (3x parameters) and the activations kept for backward.
        item_item_topk: neighbours per song of the item-item term (0: no term; None: dense songs x songs).
    """
    hidden = hidden_dim or embedding_dim
    params = estimate_parameters(num_users, num_songs, num_artists, num_genres, embedding_dim, num_layers, heads,
                                 hidden_dim, use_genres, use_artists, attention)
    floats = params * (4 if training else 1)
    if num_edges:
        nodes = num_users + num_songs + num_artists + num_genres
        per_edge = heads * (4 if training else 1)  # logits, gate, coefficient, dropped coefficient
        floats += num_layers * (num_edges * per_edge + nodes * hidden * (2 if training else 1))
    if item_item_topk is None:
        ii_bytes = num_songs * num_songs * BYTES_PER_FLOAT
    else:
        ii_bytes = num_songs * item_item_topk * (BYTES_PER_FLOAT + 8)  # float value + int64 index
    return (floats * BYTES_PER_FLOAT + ii_bytes) / MB
