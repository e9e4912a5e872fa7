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

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor, nn

from recsys.sparse import csr, row_positions, transpose

CHUNK = 2048
LOCAL_BLOCK_CELLS = 2**21  # Gram cells solved per chunk in neighbourhood EASE: targets x (K + 1)^2 (16 MiB)
COOC_BUDGET = 2**25  # co-occurrence entries computed per chunk (~400 MB with the sort's temporaries)
# Chosen on validation NDCG@10 of the term alone against dense EASE (docs/performance.md, "Item-item term"):
EXACT_TOPK = 256  # exact EASE, 256 largest weights kept per song: 0.1490 vs dense 0.1520 (synthetic), 1/20 the size
# Chunks solved at once by neighbourhood EASE, in threads (scipy's products, numpy's sorts and solves release
# the GIL): 1.94x one thread on 8 chunks of the 100K bench data with 2 cores, the same weights. Each chunk in
# flight holds up to ~1 GB (its union Gram), so more threads would cost memory faster than they save time.
FIT_WORKERS = min(2, os.cpu_count() or 1)
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
    k = max(1, min(neighbours, num_songs - 1))
    work = xt @ np.diff(x.indptr).astype(np.float64)  # per song: the co-occurrence entries it costs (at most)
    chunks = list(_chunks(work, max(1, LOCAL_BLOCK_CELLS // (k + 1) ** 2), COOC_BUDGET))

    def solve(chunk: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        targets = np.arange(*chunk)
        near = _top_cooccurring(xt[targets] @ x, targets, k)  # [c, k], -1 padded
        return _local_solve(xt, targets, near, lam)

    with ThreadPoolExecutor(max(1, min(FIT_WORKERS, len(chunks)))) as pool:
        parts = list(pool.map(solve, chunks))  # in chunk order: the same result as one thread
    source, target, value = (np.concatenate(arrays) for arrays in zip(*parts, strict=True))
    return _to_csr(target, source, value, num_songs)


def _chunks(work: np.ndarray, most: int, budget: float) -> Iterator[tuple[int, int]]:
    """Consecutive [start, end) runs of at most ``most`` songs whose ``work`` sums to at most ``budget`` (a song
    costing more than the budget alone is a run of its own).

    With a fixed 1,925 songs per chunk the most played songs share a chunk: at 100K users their co-occurrence
    bound (``work``: each listener's history length, summed) is ~200M entries, dozens of times a typical
    chunk's; runs bounded by work keep every chunk's product and sort near ``budget``.
    """
    total = np.concatenate([[0.0], np.cumsum(work)])
    start = 0
    while start < len(work):
        end = int(np.searchsorted(total, total[start] + budget, side="right")) - 1
        end = min(max(end, start + 1), start + most, len(work))
        yield start, end
        start = end


def _top_cooccurring(cooc: sp.csr_matrix, targets: np.ndarray, k: int) -> np.ndarray:
    """[c, k] the k songs with most co-listeners of each target (itself excluded; -1 where fewer exist), ties by
    song index.

    Only entries at or above their row's k-th largest count (found with `np.partition`, row by row) are sorted,
    on one int64 key: on a 100K-user chunk of 1,925 popular targets (34M co-occurrence entries) 1.5 s instead of
    12.5 s for a three-key sort of every entry, with the same neighbours.
    """
    cooc = cooc.tocsr()
    n, indptr = cooc.shape[0], cooc.indptr
    rows = np.repeat(np.arange(n), np.diff(indptr))
    counts = cooc.data.astype(np.int64)
    counts[cooc.indices == targets[rows]] = -1  # the target itself: never its own neighbour
    kth = np.full(n, -1, dtype=np.int64)
    for r in np.flatnonzero(np.diff(indptr) > k):
        segment = counts[indptr[r]:indptr[r + 1]]
        kth[r] = np.partition(segment, len(segment) - k)[len(segment) - k]
    keep = (counts >= kth[rows]) & (counts >= 0)
    rows, cols, counts = rows[keep], cooc.indices[keep], counts[keep]
    top = int(counts.max()) + 2 if len(counts) else 1
    if n * top * cooc.shape[1] < 2**62:  # by row, most co-listeners first, ties by song index: one int64 key
        order = np.argsort((rows * top + (top - 1 - counts)) * cooc.shape[1] + cols)
    else:  # the key would overflow
        order = np.lexsort((cols, -counts, rows))
    rows, cols = rows[order], cols[order]
    rank = np.arange(len(rows)) - np.searchsorted(rows, np.arange(n))[rows]
    near = np.full((n, k), -1, dtype=np.int64)
    first = rank < k
    near[rows[first], rank[first]] = cols[first]
    return near


def _local_solve(xt: sp.csr_matrix, targets: np.ndarray, near: np.ndarray,
                 lam: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(source, target, weight) of EASE on each {target} + neighbours sub-catalogue, batched over the chunk.

    The chunk's Gram block over the union of its sub-catalogues is computed exactly and sparsely; each
    target's dense (k+1) x (k+1) block is read from it (`_gram_entries`; no union x union dense array).
    """
    members = np.concatenate([targets[:, None], near], axis=1)  # [c, k + 1], target first, -1 padding
    union, local = np.unique(np.where(members >= 0, members, members.max() + 1), return_inverse=True)
    local = local.reshape(members.shape)
    songs = union[union <= members.max()]
    width = members.shape[1]
    values = _gram_entries(xt[songs], np.repeat(local, width, axis=1).ravel(), np.tile(local, width).ravel())
    sub = values.reshape(len(targets), width, width)  # exact co-listener counts of each sub-catalogue
    diagonal = np.arange(sub.shape[1])
    sub[:, diagonal, diagonal] += lam  # padding rows: lam on the diagonal only, so their weight is 0
    unit = np.zeros((sub.shape[0], sub.shape[1], 1))
    unit[:, 0] = 1.0
    p = np.linalg.solve(sub, unit)[:, :, 0]  # column j of P (numpy: torch's batched inverse oversubscribes CPUs)
    weights = -p[:, 1:] / p[:, :1]  # B[n, j] = -P[n, j] / P[j, j]
    present = near >= 0
    target_of = np.broadcast_to(targets[:, None], near.shape)
    return near[present], target_of[present], weights[present].astype(np.float32)


def _gram_entries(rows: sp.csr_matrix, at_row: np.ndarray, at_col: np.ndarray,
                  block_rows: int = 256) -> np.ndarray:
    """Entries (at_row, at_col) of rows @ rows.T (songs x users -> co-listener counts); 0 beyond its size.

    The product's rows come unsorted, so they are read block by block through a dense [block_rows, songs] buffer
    rather than sorted and searched (on a 100K-user chunk, a 12,682-song union with 41M co-listener counts and
    2.1M entries read, the sort and the search took 2 s of the 5.5 s).
    """
    gram = (rows @ rows.T).tocsr()  # scipy: torch's CSR x CSR product leaks ~60 MB a call on CPU (torch 2.13)
    crow, col, data = gram.indptr, gram.indices, gram.data
    n = rows.shape[0]
    out = np.zeros(len(at_row))
    order = np.argsort(at_row, kind="stable")
    starts = np.searchsorted(at_row[order], np.arange(0, n + block_rows, block_rows))
    buffer = np.zeros((block_rows, max(n, int(at_col.max(initial=0)) + 1)), dtype=np.float32)
    for block, first in enumerate(range(0, n, block_rows)):
        last = min(first + block_rows, n)
        local_rows = np.repeat(np.arange(last - first), np.diff(crow[first:last + 1]))
        cols = col[crow[first]:crow[last]]
        buffer[local_rows, cols] = data[crow[first]:crow[last]]
        wanted = order[starts[block]:starts[block + 1]]
        out[wanted] = buffer[at_row[wanted] - first, at_col[wanted]]
        buffer[local_rows, cols] = 0.0
    return out


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
        self._b: tuple[Tensor, sp.csr_matrix] | None = None  # (matrix, its scipy copy) for `scores`

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

        A sparse history times the sparse B: work proportional to history x row length, not to songs^2 (a dense
        B is impossible at a million songs). Measured at 5,000 songs (256 weights per song), 1,000 users:
        0.23 s CPU against 0.33 s for the old dense product and 2.87 s for adding B's rows with index_add.
        """
        assert self.matrix is not None, "item-item term not fitted"
        if self.matrix.layout == torch.strided:  # legacy dense B
            return history.to_sparse_csr() @ self.matrix
        rows, items = history.nonzero(as_tuple=True)
        weights = history[rows, items].double().cpu().numpy()
        h = sp.csr_matrix((weights, (rows.cpu().numpy(), items.cpu().numpy())), shape=tuple(history.shape))
        out = (h @ self._scipy()).toarray().astype(np.float32)
        return torch.from_numpy(out).to(history.device)

    def _scipy(self) -> sp.csr_matrix:
        """B as a scipy CSR matrix (cached): scipy's sparse x sparse product is the fastest measured here."""
        if self._b is None or self._b[0] is not self.matrix:
            b = sp.csr_matrix((self.matrix.values().double().numpy(), self.matrix.col_indices().numpy(),
                               self.matrix.crow_indices().numpy()), shape=(self.num_songs, self.num_songs))
            self._b = (self.matrix, b)
        return self._b[1]

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
