"""Full-catalogue ranking: every song is a candidate, already-seen songs are masked.

A `RankingTask` fixes who is evaluated on what (held-out songs per user) and what is masked (the songs a user
saw in the splits before the target: train for valid; train and valid for test). Any recommender that can
score a batch of users against all songs (`ScoreFn`) is ranked the same way, GATs and baselines alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from recsys.data import Dataset
from recsys.graph import IdMaps, interaction_index
from recsys.sparse import dense_rows, pairs_to_csr

ScoreFn = Callable[[Tensor], Tensor]  # user indices [B] -> scores [B, num_songs]
MASK_SPLITS = {"valid": ("train",), "test": ("train", "valid")}
SCORE_BATCH_ELEMENTS = 2**24  # users x songs scored at once


@dataclass(frozen=True)
class RankingTask:
    """Users with at least one held-out song, their held-out songs, and the songs to mask.

    Attributes:
        users: [N] user indices.
        relevant: [2, R] (row into ``users``, song index): the ground truth, PyG's ``edge_label_index``.
        exclude: CSR [num_users, num_songs] of songs never to recommend (seen in earlier splits).
        train_counts: [num_users] training interactions per user (for the cold-start slice).
    """

    target: str
    users: Tensor
    relevant: Tensor
    exclude: Tensor
    train_counts: Tensor
    num_songs: int

    def subset(self, keep: Tensor) -> RankingTask:
        """The task restricted to users[keep] (a boolean mask over rows)."""
        rows = torch.full((len(self.users),), -1, dtype=torch.long)
        rows[keep] = torch.arange(int(keep.sum()))
        mapped = rows[self.relevant[0]]
        relevant = torch.stack([mapped, self.relevant[1]])[:, mapped >= 0]
        return RankingTask(self.target, self.users[keep], relevant, self.exclude, self.train_counts, self.num_songs)


def ranking_task(dataset: Dataset, maps: IdMaps, target: str = "valid") -> RankingTask:
    """Build the task for ``target`` ('valid' or 'test') from a dataset that has a split."""
    num_users, num_songs = len(maps.user), len(maps.song)
    held_out = interaction_index(dataset, maps, target)
    seen = interaction_index(dataset, maps, MASK_SPLITS[target])
    train = interaction_index(dataset, maps, "train")
    users, rows = torch.unique(held_out[0], return_inverse=True)
    train_counts = torch.bincount(train[0], minlength=num_users)
    return RankingTask(target, users, torch.stack([rows, held_out[1]]), pairs_to_csr(seen, num_users, num_songs),
                       train_counts, num_songs)


def table_scorer(users: Tensor, table: Tensor) -> ScoreFn:
    """A `ScoreFn` over precomputed score rows: ``table[i]`` scores ``users[i]`` (tuning: score once, rank often)."""
    rows = torch.full((int(users.max()) + 1 if len(users) else 0,), -1, dtype=torch.long)
    rows[users] = torch.arange(len(users))
    return lambda batch: table[rows[batch]]


@torch.no_grad()
def top_k(score_fn: ScoreFn, task: RankingTask, k: int) -> Tensor:
    """[N, k] song indices ranked for every task user over the full catalogue, seen songs masked."""
    k = min(k, task.num_songs)
    batch = max(1, SCORE_BATCH_ELEMENTS // max(1, task.num_songs))
    out = []
    for start in range(0, len(task.users), batch):
        users = task.users[start:start + batch]
        scores = score_fn(users).float()
        scores = scores.masked_fill(dense_rows(task.exclude, users).bool(), float("-inf"))
        out.append(scores.topk(k, dim=1).indices)
    return torch.cat(out) if out else torch.zeros(0, k, dtype=torch.long)
