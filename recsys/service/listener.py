"""`Listener`: what ranking and explanations need to know about one listener, trained or folded in.

A trained user and a history folded into the trained model (`recsys.service.foldin`) are described the same
way, so the ranking, the explanation and the attention subgraph have one code path for both.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import Tensor

from recsys.graph import SONG_GENRE
from recsys.graph.build import user_genre_shares

AttentionList = list[dict[tuple[str, str, str], tuple[Tensor, Tensor]]]


@dataclass(frozen=True, eq=False)
class Listener:
    """One listener as vectors and indices (read-only).

    Attributes:
        user_id, name: external ID and display name (a folded-in history: "history" / "your history").
        index: the user's node index in the training graph; None for a folded-in history.
        node: the listener's index as a target in ``attention`` (its own node index, or one past the last user).
        history: [n] song indices listened to, ascending; plays: [n] plays of each.
        vector: [D] final embedding z_u (propagated through the model).
        genres, shares: [g] genre indices and each genre's share of plays (summing to 1); affinity: the shares
            with unit L2 norm (the profile the genre influence uses).
        adaptive_weight: the genre weight used when none is given.
        attention: a folded-in history's own attention (per layer, relation -> (edge_index, alpha)) on the edges
            into its node; None for a trained user, whose attention is the training graph's.
        key: what the vectors were computed from (cache key of the listener's score rows).
    """

    user_id: str
    name: str
    index: int | None
    node: int
    history: Tensor
    plays: Tensor
    vector: Tensor
    genres: Tensor
    shares: Tensor
    affinity: Tensor
    adaptive_weight: float
    key: tuple
    attention: AttentionList | None = None

    @property
    def folded(self) -> bool:
        return self.index is None

    def with_shares(self, genres: Tensor, shares: Tensor, why: object) -> Listener:
        """The same listener with other genre shares (``why``: what makes them differ, e.g. a half-life)."""
        return replace(self, genres=genres, shares=shares, affinity=unit(shares), key=(*self.key, why))


def unit(values: Tensor) -> Tensor:
    return values / values.norm().clamp_min(1e-12)


def genre_shares(graph, songs: Tensor, plays: Tensor) -> tuple[Tensor, Tensor]:
    """(genre indices ascending, shares) of a history's plays, computed exactly as `build_graph` computes them."""
    if SONG_GENRE not in graph.edge_types or len(songs) == 0:
        return torch.zeros(0, dtype=torch.long), torch.zeros(0)
    mix = graph[SONG_GENRE]
    song_genre = (mix.edge_index[0].numpy(), mix.edge_index[1].numpy(), mix.edge_weight.numpy().astype(np.float64))
    _, genres, shares = user_genre_shares(np.zeros(len(songs), np.int64), songs.numpy(),
                                          plays.numpy().astype(np.float64), song_genre, 1, graph["song"].num_nodes,
                                          graph["genre"].num_nodes)
    order = np.argsort(genres)
    return torch.as_tensor(genres[order]), torch.as_tensor(shares[order], dtype=torch.float32)
