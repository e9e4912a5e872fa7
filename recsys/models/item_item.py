r"""The item-item (EASE) term: a closed-form linear model of which songs predict which.

EASE (Steck, 2019) solves :math:`\min_B \|X - XB\|^2 + \lambda\|B\|^2` with :math:`\mathrm{diag}(B) = 0`:
:math:`P = (X^\top X + \lambda I)^{-1}`, :math:`B_{ij} = -P_{ij}/P_{jj}`. With fewer users than songs the
dual form is much cheaper (a users x users inverse):
:math:`P = \frac{1}{\lambda}(I - M)`, :math:`M = X^\top (XX^\top + \lambda I)^{-1} X`, so
:math:`B_{ij} = M_{ij}/(1 - M_{jj})`. Both need a dense songs x songs (or users x users) solve, which is out of
reach at a million songs and 100,000 users.

Neighbourhood EASE (`fit_local_ease`) scales: column j of B is restricted to j's ``neighbours`` songs with the
most co-listeners, N(j), which turns the solve into one small ridge regression per song,
:math:`B_{N(j), j} = (G_{NN} + \lambda I)^{-1} G_{N j}` with :math:`G = X^\top X`, i.e. exact EASE on the
(K+1)-song sub-catalogue {j} + N(j). The Gram blocks are exact (built from X for each chunk of targets), the
solves batched; cost O(songs * K^3 + sum over users of history^2), memory O(chunk + songs * K).

Either way the term is kept as a sparse CSR ``B`` [songs, songs] (row i: the songs that having played i
predicts, with their weights; exact EASE keeps its largest weights per song), so a score is a sum over the
user's own history, which also explains it: "because you played X". It is stored in the checkpoint (module
extra state), not refitted at load.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor, nn

from recsys.sparse import csr, row_positions, transpose

CHUNK = 2048
LOCAL_BLOCK_CELLS = 2**21  # Gram cells solved per chunk in neighbourhood EASE: targets x (K + 1)^2 (16 MiB)
# Chosen on validation NDCG@10 of the term alone against dense EASE (docs/performance.md, "Item-item term"):
EXACT_TOPK = 256  # exact EASE, 256 largest weights kept per song: 0.1490 vs dense 0.1520 (synthetic), 1/20 the size
NEIGHBOURS = 32  # neighbourhood EASE where the exact solve is out of reach: 0.1456 (synthetic), solves 33 x 33


def binary_matrix(user_index: Tensor, song_index: Tensor, num_users: int, num_songs: int) -> sp.csr_matrix:
    """The binary users x songs interaction matrix X (duplicates collapse to 1)."""
    ones = np.ones(len(user_index), dtype=np.float64)
    x = sp.csr_matrix((ones, (user_index.cpu().numpy(), song_index.cpu().numpy())), shape=(num_users, num_songs))
    x.data[:] = 1.0
    return x


def fit_ease(user_index: Tensor, song_index: Tensor, num_users: int, num_songs: int, lam: float,
             topk: int | None = 128) -> Tensor:
    """Fit exact EASE on binary (user, song) pairs; returns B^T [songs, songs] (row j: predictors of j).

    Args:
        user_index, song_index: training interactions.
        lam: L2 strength (larger: smoother, more popularity-like).
        topk: weights kept per target song (sparse CSR result); None keeps all of them (dense float32 result).
    """
    x = binary_matrix(user_index, song_index, num_users, num_songs)
    if topk is None:
        bt = np.empty((num_songs, num_songs), dtype=np.float32)
        for start, b in _ease_columns(x, lam):
            bt[start:start + b.shape[1]] = b.T  # column j of B is row j of B^T
        return torch.from_numpy(bt)
    parts = [_top_per_column(b, start, topk) for start, b in _ease_columns(x, lam)]
    source, target, value = (np.concatenate(arrays) for arrays in zip(*parts, strict=True))
    return _to_csr(target, source, value, num_songs)


def fit_local_ease(user_index: Tensor, song_index: Tensor, num_users: int, num_songs: int, lam: float,
                   neighbours: int = NEIGHBOURS) -> Tensor:
    """Neighbourhood EASE: each song regressed on its ``neighbours`` most co-listened songs; B^T as CSR.

    Equal to exact EASE when every song co-occurs with at least ``neighbours`` others (up to float rounding).
    """
    x = binary_matrix(user_index, song_index, num_users, num_songs)
    xt = x.T.tocsr()  # songs x users
    xc = x.tocsc()
    k = max(1, min(neighbours, num_songs - 1))
    chunk = max(1, LOCAL_BLOCK_CELLS // (k + 1) ** 2)
    parts = []
    for start in range(0, num_songs, chunk):
        targets = np.arange(start, min(start + chunk, num_songs))
        near = _top_cooccurring(xt[targets] @ x, targets, k)  # [c, k], -1 padded
        parts.append(_local_solve(xt, xc, targets, near, lam))
    source, target, value = (np.concatenate(arrays) for arrays in zip(*parts, strict=True))
    return _to_csr(target, source, value, num_songs)


def _top_cooccurring(cooc: sp.csr_matrix, targets: np.ndarray, k: int) -> np.ndarray:
    """[c, k] the k songs with most co-listeners of each target (itself excluded; -1 where fewer exist)."""
    cooc = cooc.tocsr()
    rows = np.repeat(np.arange(cooc.shape[0]), np.diff(cooc.indptr))
    keep = cooc.indices != targets[rows]
    rows, cols, counts = rows[keep], cooc.indices[keep], cooc.data[keep]
    order = np.lexsort((cols, -counts, rows))  # by row, most co-listeners first, ties by song index
    rows, cols = rows[order], cols[order]
    starts = np.searchsorted(rows, np.arange(cooc.shape[0]))
    rank = np.arange(len(rows)) - starts[rows]
    near = np.full((cooc.shape[0], k), -1, dtype=np.int64)
    first = rank < k
    near[rows[first], rank[first]] = cols[first]
    return near


def _local_solve(xt: sp.csr_matrix, xc: sp.csc_matrix, targets: np.ndarray, near: np.ndarray,
                 lam: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(source, target, weight) of EASE on each {target} + neighbours sub-catalogue, batched over the chunk.

    The chunk's Gram block over the union of its sub-catalogues is computed exactly and sparsely; each
    target's dense (k+1) x (k+1) block is read from it by binary search (no union x union dense array).
    """
    members = np.concatenate([targets[:, None], near], axis=1)  # [c, k + 1], target first, -1 padding
    union, local = np.unique(np.where(members >= 0, members, members.max() + 1), return_inverse=True)
    local = local.reshape(members.shape)
    songs = union[union <= members.max()]
    block = (xt[songs] @ xc[:, songs]).tocsr()  # exact co-listener counts within the union
    block.sort_indices()
    size = len(union) + 1
    keys = np.repeat(np.arange(block.shape[0]), np.diff(block.indptr)) * size + block.indices
    query = (local[:, :, None] * size + local[:, None, :]).ravel()
    found = np.minimum(np.searchsorted(keys, query), len(keys) - 1)
    values = np.where(keys[found] == query, block.data[found], 0.0) if len(keys) else np.zeros(len(query))
    sub = values.reshape(len(targets), members.shape[1], members.shape[1])
    diagonal = np.arange(sub.shape[1])
    sub[:, diagonal, diagonal] += lam  # padding rows: lam on the diagonal only, so their weight is 0
    unit = np.zeros((sub.shape[0], sub.shape[1], 1))
    unit[:, 0] = 1.0
    p = np.linalg.solve(sub, unit)[:, :, 0]  # column j of P (numpy: torch's batched inverse oversubscribes CPUs)
    weights = -p[:, 1:] / p[:, :1]  # B[n, j] = -P[n, j] / P[j, j]
    present = near >= 0
    target_of = np.broadcast_to(targets[:, None], near.shape)
    return near[present], target_of[present], weights[present].astype(np.float32)


def _to_csr(target: np.ndarray, source: np.ndarray, value: np.ndarray, num_songs: int) -> Tensor:
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
    x = binary_matrix(user_index, song_index, num_users, num_songs)
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
    """EASE's B (row i: what having played i predicts) as sparse CSR, and the scores and contributions it gives.

    ``neighbours`` picks the fit: None solves exact EASE and keeps its `EXACT_TOPK` largest weights per song
    when the catalogue allows an exact solve (up to ``exact_max_songs`` songs), else fits neighbourhood EASE
    with `NEIGHBOURS` neighbours per song; an integer K always fits neighbourhood EASE with K neighbours. The
    fitted matrix is the module's extra state, so a checkpoint carries it and loading costs no solve.
    """

    def __init__(self, num_songs: int, neighbours: int | None = None, exact_max_songs: int = 20_000) -> None:
        super().__init__()
        self.num_songs, self.neighbours, self.exact_max_songs = num_songs, neighbours, exact_max_songs
        self.lam: float | None = None
        self.matrix: Tensor | None = None  # B [songs, songs], sparse CSR (dense for a legacy checkpoint)
        self.legacy = False  # loaded from a checkpoint that stored only lambda: refit as it was then (dense EASE)

    @property
    def fitted(self) -> bool:
        return self.matrix is not None

    @property
    def method(self) -> str:
        """``"exact"`` (EASE, top weights kept) or ``"local"`` (neighbourhood EASE), as `fit` will solve it."""
        return "exact" if self.neighbours is None and self.num_songs <= self.exact_max_songs else "local"

    def fit(self, listens: Tensor, num_users: int, lam: float) -> ItemItemTerm:
        """Solve EASE on the (user, song) training pairs ``listens`` [2, E]."""
        self.lam = float(lam)
        if self.legacy:  # the same matrix the checkpoint's model was calibrated with
            bt = fit_ease(listens[0], listens[1], num_users, self.num_songs, self.lam, topk=self.neighbours)
            self.matrix = bt.T if bt.layout == torch.strided else transpose(bt)
            return self
        if self.method == "exact":
            bt = fit_ease(listens[0], listens[1], num_users, self.num_songs, self.lam, topk=EXACT_TOPK)
        else:
            bt = fit_local_ease(listens[0], listens[1], num_users, self.num_songs, self.lam,
                                self.neighbours or NEIGHBOURS)
        self.matrix = transpose(bt)
        return self

    def clear(self) -> None:
        self.lam, self.matrix = None, None

    def scores(self, history: Tensor) -> Tensor:
        """history: dense [B, songs] weights (0/1) -> scores [B, songs] = history @ B.

        Adds the B rows of each history song into the output: work proportional to history x row length, not
        to songs^2 (a dense product over a dense B is impossible at a million songs).
        """
        assert self.matrix is not None, "item-item term not fitted"
        if self.matrix.layout == torch.strided:  # legacy dense B
            return history.to_sparse_csr() @ self.matrix
        batch, items = history.nonzero(as_tuple=True)
        weight = history[batch, items].float()
        col, val = self.matrix.col_indices(), self.matrix.values()
        which, positions = row_positions(self.matrix, items)
        out = torch.zeros(history.size(0) * self.num_songs)
        out.index_add_(0, batch[which] * self.num_songs + col[positions], weight[which] * val[positions])
        return out.view(history.size(0), self.num_songs).to(history.device)

    def contributions(self, history_songs: Tensor, song: int) -> tuple[Tensor, Tensor]:
        """(history songs, weights) that sum to this song's item-item score for a user with that history."""
        assert self.matrix is not None, "item-item term not fitted"
        if self.matrix.layout == torch.strided:  # legacy dense B
            weights = self.matrix[history_songs, song]
            keep = weights != 0
            return history_songs[keep], weights[keep]
        col, val = self.matrix.col_indices(), self.matrix.values()
        history_songs = history_songs.to(col.device)
        which, positions = row_positions(self.matrix, history_songs)
        hit = col[positions] == song
        weights = val[positions][hit]
        keep = weights != 0
        return history_songs[which[hit]][keep], weights[keep]

    def get_extra_state(self) -> dict[str, float | int | Tensor | None]:
        if self.legacy:
            return {"lambda": self.lam, "topk": self.neighbours}
        state: dict[str, float | int | Tensor | None] = {"lambda": self.lam, "neighbours": self.neighbours}
        if self.matrix is not None:  # int32 indices: half the bytes, enough for 2^31 songs and weights
            state.update({"crow": self.matrix.crow_indices().to(torch.int64),
                          "col": self.matrix.col_indices().to(torch.int32), "values": self.matrix.values()})
        return state

    def set_extra_state(self, state: dict[str, float | int | Tensor | None]) -> None:
        """Restore the settings and, when the checkpoint carries it, the fitted matrix (no solve at load)."""
        self.lam = state.get("lambda")
        self.legacy = "topk" in state  # before the matrix was stored: {"lambda", "topk"}, refitted at load
        self.neighbours = state["topk"] if self.legacy else state.get("neighbours")
        self.matrix = None
        if state.get("values") is not None:
            self.matrix = csr(state["crow"], state["col"].to(torch.int64), state["values"],
                              (self.num_songs, self.num_songs))
