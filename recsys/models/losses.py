"""Ranking losses for implicit feedback."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def bpr_loss(pos: Tensor, neg: Tensor, weight: Tensor | None = None, mask: Tensor | None = None) -> Tensor:
    """BPR averaged over several negatives: mean over j of -log sigmoid(s_pos - s_neg_j).

    Args:
        pos: [B] scores of observed (user, song) pairs.
        neg: [B, n] scores of sampled negatives for the same users.
        weight: optional [B] per-positive weights (e.g. log-plays).
        mask: optional [B, n] validity of each negative (invalid ones are ignored).
    """
    losses = F.softplus(neg - pos.unsqueeze(1))
    mask = torch.ones_like(losses) if mask is None else mask
    per_positive = (losses * mask).sum(1) / mask.sum(1).clamp_min(1)
    if weight is None:
        return per_positive.mean()
    return (per_positive * weight).sum() / weight.sum()


def l2_penalty(*embeddings: Tensor, batch_size: int) -> Tensor:
    """Half the squared L2 norm of the given ego-embedding rows, per training example.

    Pass each distinct user and song of a batch once (positives and negatives), so a popular song is not
    penalised many times over within one step.
    """
    return 0.5 * sum(e.pow(2).sum() for e in embeddings) / batch_size
