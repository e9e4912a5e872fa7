r"""The item-item (EASE) term: a closed-form linear model of which songs predict which.

EASE (Steck, 2019) solves :math:`\min_B \|X - XB\|^2 + \lambda\|B\|^2` with :math:`\mathrm{diag}(B) = 0`:
:math:`P = (X^\top X + \lambda I)^{-1}`, :math:`B_{ij} = -P_{ij}/P_{jj}`. With fewer users than songs the
dual form is much cheaper (a users x users inverse):
:math:`P = \frac{1}{\lambda}(I - M)`, :math:`M = X^\top (XX^\top + \lambda I)^{-1} X`, so
:math:`B_{ij} = M_{ij}/(1 - M_{jj})`. Columns are computed in chunks and only the ``topk`` largest weights
(by magnitude) of each column are kept, so memory stays at songs x chunk and the result is sparse; the EASE
baseline asks for the full dense matrix instead (``topk=None``).

A song's score for a user is a sum over the user's own history, which also explains it: "because you played X".
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor, nn

from recsys.sparse import csr

CHUNK = 2048


def fit_ease(user_index: Tensor, song_index: Tensor, num_users: int, num_songs: int, lam: float,
             topk: int | None = 128) -> Tensor:
    """Fit EASE on binary (user, song) pairs; returns B^T [songs, songs] (row j: predictors of j).

    Args:
        user_index, song_index: training interactions.
        lam: L2 strength (larger: smoother, more popularity-like).
        topk: weights kept per target song (sparse CSR result); None keeps all of them (dense float32 result).
    """
    x = _binary(user_index, song_index, num_users, num_songs)
    if topk is None:
        bt = np.empty((num_songs, num_songs), dtype=np.float32)
        for start, b in _ease_columns(x, lam):
            bt[start:start + b.shape[1]] = b.T  # column j of B is row j of B^T
        return torch.from_numpy(bt)
    parts = [_top_per_column(b, start, topk) for start, b in _ease_columns(x, lam)]
    source, target, value = (np.concatenate(arrays) for arrays in zip(*parts, strict=True))
    bt = sp.csr_matrix((value.astype(np.float32), (target, source)), shape=(num_songs, num_songs))
    bt.sort_indices()
    return csr(torch.from_numpy(bt.indptr.astype(np.int64)), torch.from_numpy(bt.indices.astype(np.int64)),
               torch.from_numpy(bt.data), (num_songs, num_songs))


def ease_scores(user_index: Tensor, song_index: Tensor, num_users: int, num_songs: int, lam: float,
                users: Tensor | None = None) -> Tensor:
    r"""EASE scores :math:`XB` [len(users), songs] (float32; all users when None) without forming B.

    With :math:`P = (X^\top X + \lambda I)^{-1}` and :math:`B = I - P\,\mathrm{diag}(P)^{-1}`,
    :math:`XB = X - XP\,\mathrm{diag}(P)^{-1}`; in the dual form :math:`XP = K^{-1}X` with
    :math:`K = XX^\top + \lambda I` and :math:`P_{jj} = (1 - x_j^\top K^{-1} x_j)/\lambda`. A users x users
    solve and one sparse product: on Last.fm (1,892 users, 17,632 songs) seconds instead of the ~20 s of B,
    so tuning lambda (and the blends' weight) on validation costs little. Same result as ``history @ B``.
    In the dual form the result (users x songs) is smaller than B (songs x songs).
    """
    x = _binary(user_index, song_index, num_users, num_songs)
    rows = np.arange(num_users) if users is None else users.cpu().numpy()
    if num_users < num_songs:
        gram = (x @ x.T).toarray()
        gram[np.diag_indices_from(gram)] += lam
        xp = np.asarray(x.T @ np.linalg.inv(gram)).T  # K^-1 X [U, S] (K symmetric)
        diag_p = (1.0 - np.asarray(x.multiply(xp).sum(axis=0)).ravel()) / lam
        xp = xp[rows]
    else:
        gram = (x.T @ x).toarray()
        gram[np.diag_indices_from(gram)] += lam
        p = np.linalg.inv(gram)
        xp, diag_p = np.asarray(x[rows] @ p), np.diag(p)
    return torch.from_numpy((x[rows].toarray() - xp / diag_p).astype(np.float32))


def _binary(user_index: Tensor, song_index: Tensor, num_users: int, num_songs: int) -> sp.csr_matrix:
    """The binary users x songs matrix X of the training pairs (duplicates collapse to 1)."""
    ones = np.ones(len(user_index), dtype=np.float64)
    x = sp.csr_matrix((ones, (user_index.cpu().numpy(), song_index.cpu().numpy())), shape=(num_users, num_songs))
    x.data[:] = 1.0
    return x


def _ease_columns(x: sp.csr_matrix, lam: float) -> Iterator[tuple[int, np.ndarray]]:
    """(first column, B[:, chunk]) for consecutive chunks of columns of B, in the dual or the primal form."""
    num_users, num_songs = x.shape
    xt = x.T.tocsr()
    if num_users < num_songs:
        gram = (x @ xt).toarray()
        gram[np.diag_indices_from(gram)] += lam
        inverse = np.linalg.inv(gram)  # [U, U]
        for start in range(0, num_songs, CHUNK):
            stop = min(start + CHUNK, num_songs)
            m = np.asarray(xt @ (xt[start:stop] @ inverse).T)  # [S, c] = X^T K^-1 X[:, chunk]
            cols = np.arange(stop - start)
            b = m / (1.0 - m[start + cols, cols])
            b[start + cols, cols] = 0.0
            yield start, b
    else:
        gram = (xt @ x).toarray()
        gram[np.diag_indices_from(gram)] += lam
        p = np.linalg.inv(gram)
        b = -p / np.diag(p)
        np.fill_diagonal(b, 0.0)
        for start in range(0, num_songs, CHUNK):
            yield start, b[:, start:start + CHUNK]


def _top_per_column(b: np.ndarray, start: int, topk: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(source, target, weight) of the `topk` largest-magnitude weights of each column of the chunk b [S, c]."""
    k = min(topk, b.shape[0])
    idx = np.argpartition(-np.abs(b), k - 1, axis=0)[:k]  # [k, c]
    values = np.take_along_axis(b, idx, axis=0)
    keep = values != 0
    targets = np.broadcast_to(np.arange(start, start + b.shape[1]), idx.shape)
    return idx[keep], targets[keep], values[keep]


class ItemItemTerm(nn.Module):
    """B^T of EASE and the scores and contributions it gives; dense, or sparse with ``topk`` per song.

    The matrix is a closed-form function of the training interactions and lambda, so a checkpoint stores only
    lambda and topk (its extra state) and `fit` rebuilds the exact same matrix from the training graph on
    load: checkpoints stay small however large the catalogue.
    """

    def __init__(self, num_songs: int, topk: int | None = None) -> None:
        super().__init__()
        self.num_songs, self.topk = num_songs, topk
        self.lam: float | None = None
        self.matrix: Tensor | None = None  # B^T [songs, songs]: dense, or sparse CSR when topk is set

    @property
    def fitted(self) -> bool:
        return self.matrix is not None

    def fit(self, listens: Tensor, num_users: int, lam: float) -> ItemItemTerm:
        """Solve EASE on the (user, song) training pairs ``listens`` [2, E]."""
        self.lam = float(lam)
        self.matrix = fit_ease(listens[0], listens[1], num_users, self.num_songs, self.lam, self.topk)
        return self

    def clear(self) -> None:
        self.lam, self.matrix = None, None

    def scores(self, history: Tensor) -> Tensor:
        """history: dense [B, songs] (0/1) -> scores [B, songs] = history @ B."""
        assert self.matrix is not None, "item-item term not fitted"
        return (self.matrix.to(history.device) @ history.T).T

    def contributions(self, history_songs: Tensor, song: int) -> tuple[Tensor, Tensor]:
        """(history songs, weights) that sum to this song's item-item score for a user with that history."""
        assert self.matrix is not None, "item-item term not fitted"
        if self.matrix.layout == torch.strided:
            weights = self.matrix[song, history_songs]
            keep = weights != 0
            return history_songs[keep], weights[keep]
        crow, col, val = self.matrix.crow_indices(), self.matrix.col_indices(), self.matrix.values()
        lo, hi = int(crow[song]), int(crow[song + 1])
        sources, weights = col[lo:hi], val[lo:hi]
        mask = torch.isin(sources, history_songs.to(sources.device))
        return sources[mask], weights[mask]

    def get_extra_state(self) -> dict[str, float | int | None]:
        return {"lambda": self.lam, "topk": self.topk}

    def set_extra_state(self, state: dict[str, float | int | None]) -> None:
        """Restore the settings; the matrix is refitted from the training graph (`recsys.training.restore`)."""
        self.lam, self.topk, self.matrix = state.get("lambda"), state.get("topk"), None
