"""Small CSR helpers shared by models, scoring and evaluation (a leaf module: imports only torch)."""

from __future__ import annotations

import warnings

import torch
from torch import Tensor

warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta state")
warnings.filterwarnings("ignore", message="Sparse invariant checks are implicitly disabled")  # PyG's CSR builder


def csr(crow: Tensor, col: Tensor, values: Tensor, size: tuple[int, int]) -> Tensor:
    """A CSR tensor from trusted, already sorted indices (no per-call invariant check)."""
    return torch.sparse_csr_tensor(crow, col, values, size, check_invariants=False)


def pairs_to_csr(pairs: Tensor, num_rows: int, num_cols: int, values: Tensor | None = None) -> Tensor:
    """CSR [rows, cols] from [2, E] (row, col) pairs; binary when values is None (duplicates collapse)."""
    if values is None:
        key = torch.unique(pairs[0] * num_cols + pairs[1])
        vals = torch.ones(len(key))
    else:
        key, order = torch.sort(pairs[0] * num_cols + pairs[1])
        vals = values[order].float()
    crow = torch._convert_indices_from_coo_to_csr(key // num_cols, num_rows)
    return csr(crow, key % num_cols, vals, (num_rows, num_cols))


def row_normalised(matrix: Tensor) -> Tensor:
    """The same CSR with each non-empty row scaled to unit L2 norm."""
    crow, values = matrix.crow_indices(), matrix.values()
    rows = torch.repeat_interleave(torch.arange(matrix.size(0)), crow[1:] - crow[:-1])
    norms = torch.zeros(matrix.size(0)).index_add_(0, rows, values**2).sqrt()
    return csr(crow, matrix.col_indices(), values / norms[rows].clamp_min(1e-12), tuple(matrix.shape))


def transpose(matrix: Tensor) -> Tensor:
    """The transpose of a CSR matrix, again as CSR (rows sorted, columns sorted within rows)."""
    crow, col, values = matrix.crow_indices(), matrix.col_indices(), matrix.values()
    rows = torch.repeat_interleave(torch.arange(matrix.size(0)), crow[1:] - crow[:-1])
    order = torch.argsort(col * matrix.size(0) + rows)
    new_crow = torch._convert_indices_from_coo_to_csr(col[order], matrix.size(1))
    return csr(new_crow, rows[order], values[order], (matrix.size(1), matrix.size(0)))


def row(matrix: Tensor, index: int) -> tuple[Tensor, Tensor]:
    """(column indices, values) of one CSR row."""
    crow = matrix.crow_indices()
    lo, hi = int(crow[index]), int(crow[index + 1])
    return matrix.col_indices()[lo:hi], matrix.values()[lo:hi]


def row_counts(matrix: Tensor) -> Tensor:
    """Stored entries per row of a CSR matrix."""
    crow = matrix.crow_indices()
    return crow[1:] - crow[:-1]


def row_positions(matrix: Tensor, rows: Tensor) -> tuple[Tensor, Tensor]:
    """(index into ``rows``, position in the CSR arrays) of every stored entry of the selected rows (vectorised)."""
    crow = matrix.crow_indices()
    starts, counts = crow[rows], crow[rows + 1] - crow[rows]
    which = torch.repeat_interleave(torch.arange(len(rows)), counts)
    offsets = torch.arange(len(which)) - torch.repeat_interleave(torch.cumsum(counts, 0) - counts, counts)
    return which, starts[which] + offsets


def dense_rows(matrix: Tensor, rows: Tensor) -> Tensor:
    """Selected rows of a CSR matrix as a dense [len(rows), cols] tensor (vectorised gather)."""
    which, positions = row_positions(matrix, rows)
    out = torch.zeros(len(rows), matrix.size(1), dtype=matrix.dtype)
    out[which, matrix.col_indices()[positions]] = matrix.values()[positions]
    return out
