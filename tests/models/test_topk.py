"""Top-k with the history masked in place: the same songs as a dense mask, never a known song."""

from __future__ import annotations

import math

import torch

from recsys.models.topk import masked_topk
from recsys.sparse import dense_rows, pairs_to_csr


def test_masked_topk_matches_a_dense_mask_and_skips_known_songs():
    generator = torch.Generator().manual_seed(0)
    known = pairs_to_csr(torch.stack([torch.randint(0, 6, (40,), generator=generator),
                                      torch.randint(0, 50, (40,), generator=generator)]), 6, 50)
    rows = torch.tensor([4, 0, 5])
    scores = torch.randn(3, 50, generator=generator)
    expected = scores.masked_fill(dense_rows(known, rows).bool(), -math.inf).topk(7, dim=1)
    index, values = masked_topk(scores.clone(), known, rows, 7)
    assert torch.equal(index, expected.indices) and torch.equal(values, expected.values)
    history = dense_rows(known, rows).bool()
    assert not bool(history.gather(1, index).any())
    index, _ = masked_topk(scores.clone(), None, rows, 100)  # k above the catalogue: every song, none masked
    assert index.shape == (3, 50)
