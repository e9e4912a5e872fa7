"""Negative sampling that never returns one of the user's own positives."""

from __future__ import annotations

import torch
from torch import Tensor

MAX_RESAMPLE_ROUNDS = 20


BITMAP_MAX_CELLS = 2**27  # users x songs up to this use a dense bitmap (16 MiB); beyond, a sorted-key search


class NegativeSampler:
    """Uniform negatives over songs, rejecting (user, song) pairs that are training positives.

    Membership is a dense bitmap lookup on small catalogues and a binary search in the sorted keys
    user * num_songs + song on large ones (memory O(E)).
    """

    def __init__(self, positives: Tensor, num_songs: int, generator: torch.Generator) -> None:
        self.num_songs = num_songs
        keys = torch.unique(positives[0] * num_songs + positives[1])  # sorted
        cells = (int(positives[0].max()) + 1 if positives.numel() else 1) * num_songs
        self.bitmap = torch.zeros(cells, dtype=torch.bool) if cells <= BITMAP_MAX_CELLS else None
        if self.bitmap is not None:
            self.bitmap[keys] = True
        self.keys = keys
        self.generator = generator

    def is_positive(self, users: Tensor, songs: Tensor) -> Tensor:
        keys = users * self.num_songs + songs
        if self.bitmap is not None:
            return self.bitmap[keys.clamp(max=len(self.bitmap) - 1)] & (keys < len(self.bitmap))
        pos = torch.searchsorted(self.keys, keys).clamp(max=len(self.keys) - 1)
        return self.keys[pos] == keys

    def sample(self, users: Tensor, n: int) -> tuple[Tensor, Tensor]:
        """([B, n] negatives, [B, n] validity mask) for the given users.

        Collisions with positives are redrawn; a draw still colliding after 20 rounds (a user who played
        nearly the whole catalogue) is masked out rather than used as a false negative.
        """
        users = users.unsqueeze(1).expand(-1, n)
        songs = torch.randint(0, self.num_songs, users.shape, generator=self.generator)
        bad = self.is_positive(users, songs)
        for _ in range(MAX_RESAMPLE_ROUNDS):
            if not bad.any():
                break
            songs[bad] = torch.randint(0, self.num_songs, (int(bad.sum()),), generator=self.generator)
            bad = self.is_positive(users, songs)
        return songs, ~bad
