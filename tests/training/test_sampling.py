"""Negative sampling never hands back one of the user's positives."""

from __future__ import annotations

import pytest
import torch

from recsys.models.losses import bpr_loss, l2_penalty
from recsys.training.sampling import BITMAP_MAX_CELLS, NegativeSampler


@pytest.mark.parametrize("bitmap", [True, False])
def test_negatives_are_never_positives(monkeypatch, bitmap):
    if not bitmap:
        monkeypatch.setattr("recsys.training.sampling.BITMAP_MAX_CELLS", 0)
    generator = torch.Generator().manual_seed(0)
    num_users, num_songs = 30, 12
    users = torch.arange(num_users).repeat_interleave(8)
    songs = torch.randint(0, num_songs, (len(users),), generator=generator)  # dense: ~50% of cells positive
    sampler = NegativeSampler(torch.stack([users, songs]), num_songs, generator)
    assert (sampler.bitmap is not None) == bitmap
    positives = set(zip(users.tolist(), songs.tolist(), strict=True))
    negatives, valid = sampler.sample(users, 16)
    pairs = zip(users.repeat_interleave(16).tolist(), negatives.flatten().tolist(), valid.flatten().tolist(),
                strict=True)
    assert all((u, s) not in positives for u, s, ok in pairs if ok)
    assert valid.float().mean() > 0.99


def test_user_who_played_everything_gets_masked_negatives():
    users = torch.zeros(4, dtype=torch.long)
    sampler = NegativeSampler(torch.stack([users, torch.arange(4)]), 4, torch.Generator().manual_seed(0))
    _, valid = sampler.sample(torch.tensor([0]), 5)
    assert not valid.any()
    assert BITMAP_MAX_CELLS > 4


def test_bpr_loss_by_hand():
    pos, neg = torch.tensor([2.0]), torch.tensor([[0.0, 2.0]])
    expected = (torch.nn.functional.softplus(torch.tensor(-2.0)) + torch.log(torch.tensor(2.0))) / 2
    assert torch.isclose(bpr_loss(pos, neg), expected)
    mask = torch.tensor([[1.0, 0.0]])
    assert torch.isclose(bpr_loss(pos, neg, mask=mask), torch.nn.functional.softplus(torch.tensor(-2.0)))
    assert torch.isclose(l2_penalty(torch.ones(2, 3), torch.ones(1, 3), batch_size=3), torch.tensor(1.5))
