"""The model's attention coefficients on the training graph, computed by one forward pass on first use.

A folded-in listener brings its own coefficients (the edges into its node, `Listener.attention`); every
lookup here takes the listener, so trained and folded-in listeners are read the same way.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from recsys.models.gat import top_incoming_attention
from recsys.service.listener import AttentionList, Listener

USER_FROM_SONGS = ("song", "rev_listens", "user")
TOP_ATTENTION_EDGES = 5


class AttentionMaps:
    """Per layer, relation -> (edge_index [2, E], alpha [E, heads]) of the training graph, cached."""

    def __init__(self, forward: Callable[[], AttentionList]) -> None:
        self._forward = forward  # runs the model with return_attention=True, in eval mode, without gradients
        self._layers: AttentionList | None = None
        self._lock = threading.Lock()

    def layers(self) -> AttentionList:
        with self._lock:
            if self._layers is None:
                self._layers = self._forward()
            return self._layers

    def _of(self, listener: Listener | None, relation: tuple[str, str, str]) -> AttentionList:
        """The coefficients a lookup into ``relation`` reads: the listener's own for edges into a folded-in user."""
        if listener is not None and listener.attention is not None and relation[2] == "user":
            return listener.attention
        return self.layers()

    def has(self, relation: tuple[str, str, str]) -> bool:
        return relation in self.layers()[0]

    def into(self, relation: tuple[str, str, str], target: int, sources: Tensor, layer: int = 0,
             listener: Listener | None = None) -> Tensor:
        """[len(sources), heads] coefficients of the edges sources -> target in one layer (0 where absent)."""
        edge_index, alpha = self._of(listener, relation)[layer][relation]
        mine = (edge_index[1] == target).nonzero().flatten()
        out = torch.zeros(len(sources), alpha.size(1))
        where = {int(s): i for i, s in enumerate(sources.tolist())}
        for e in mine.tolist():
            i = where.get(int(edge_index[0, e]))
            if i is not None:
                out[i] = alpha[e]
        return out

    def edge(self, relation: tuple[str, str, str], target: int, source: int) -> float | None:
        """The head-averaged coefficient of one first-layer edge; None when the model has no such edge."""
        if not self.has(relation):
            return None
        alpha = self.into(relation, target, torch.tensor([source]))[0]
        return float(alpha.mean()) if alpha.abs().sum() > 0 else None

    def strongest_into(self, listener: Listener, song: int, top: int = TOP_ATTENTION_EDGES) -> list[dict[str, Any]]:
        """The strongest incoming edges of the listener and of the song, per layer and relation (raw indices)."""
        if listener.attention is None:
            return top_incoming_attention(self.layers(), {"user": listener.node, "song": song}, top)
        mine = top_incoming_attention(listener.attention, {"user": listener.node}, top)
        theirs = top_incoming_attention(self.layers(), {"song": song}, top)
        return sorted(mine + theirs, key=lambda block: block["layer"])
