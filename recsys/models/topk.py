"""Top-k over the whole catalogue with the user's own songs excluded, without a dense mask.

`Scorer.topk` used to build a dense [B, songs] 0/1 history (`dense_rows`), turn it into a bool mask and fill:
three catalogue-sized temporaries per user. Here the history positions are read from the CSR rows and set to
-inf in place (`index_put_`), so the only catalogue-sized tensor is the score row itself.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from recsys.sparse import row_positions


def masked_topk(scores: Tensor, exclude: Tensor | None, rows: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """Top-k (indices [B, k], values [B, k]) of ``scores`` [B, S] after setting ``exclude``'s entries to -inf.

    Args:
        scores: scores of the users ``rows``; modified in place (callers pass a fresh tensor).
        exclude: CSR [U, S] of songs never to return (the training history), or None.
        rows: [B] the users' rows in ``exclude``.
    """
    if exclude is not None:
        which, positions = row_positions(exclude, rows)
        scores.index_put_((which, exclude.col_indices()[positions]), torch.tensor(-math.inf, dtype=scores.dtype))
    values, index = scores.topk(min(k, scores.size(1)), dim=1)
    return index, values
