r"""BPR-MF: one free embedding per user and song, score :math:`\langle e_u, e_s \rangle`, no propagation.

What the GATs add over plain matrix factorisation is the graph; training both with the same loop isolates it.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.data import HeteroData

from recsys.baselines.base import EmbeddingBaseline
from recsys.training.trainer import Trainable


class MatrixFactorization(nn.Module):
    """User and song embedding tables, initialised like the GATs' (normal, std 0.1)."""

    def __init__(self, num_users: int, num_songs: int, embedding_dim: int) -> None:
        super().__init__()
        self.user = nn.Embedding(num_users, embedding_dim)
        self.song = nn.Embedding(num_songs, embedding_dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.normal_(self.user.weight, std=0.1)
        nn.init.normal_(self.song.weight, std=0.1)

    def tables(self) -> tuple[Tensor, Tensor]:
        """(user [U, D], song [S, D]): the final embeddings are the ego embeddings."""
        return self.user.weight, self.song.weight


class BPRMF(EmbeddingBaseline):
    """Matrix factorisation trained with BPR by `recsys.training.trainer.fit`."""

    name = "bprmf"

    def trainable(self, graph: HeteroData, device: torch.device) -> Trainable:
        model = MatrixFactorization(graph["user"].num_nodes, graph["song"].num_nodes, self.embedding_dim).to(device)
        return Trainable(model, model.tables, model.tables)
