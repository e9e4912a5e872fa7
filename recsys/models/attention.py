r"""Graph attention as sparse matrix products, so attention costs little more than LightGCN.

For one relation (src -> dst) and head h, a layer computes
:math:`\mathbf{x}'_i = \sum_{j \in \mathcal{N}(i)} \alpha^h_{ij} \mathbf{x}^h_j`, where :math:`\mathbf{x}^h` is the
h-th chunk of the embedding (heads split the dimensions, so 4 heads cost what one does) and
:math:`n_{ij} = 1/\sqrt{d_i d_j}` is LightGCN's symmetric degree normalisation. Four kinds of :math:`\alpha`:

- ``"similarity"`` (dynamic): reads both endpoints together,

  .. math::
      \alpha^h_{ij} = m_i \cdot \mathrm{softmax}_j\big(t_h \cos(\mathbf{z}^h_i, \mathbf{z}^h_j) + \log n_{ij}\big),
      \qquad m_i = \textstyle\sum_j n_{ij},

  where :math:`\mathbf{z}` are the LightGCN embeddings of the same graph (the same layers with the fixed
  normalisation, averaged; an extra forward pass without autograd) and :math:`t_h` a learned temperature per
  head. The mass into i is LightGCN's, redistributed towards neighbours similar to i (RGCF-like denoising, HGT-like
  query/key agreement): at :math:`t = 0` it is exactly LightGCN. Cosines are computed per edge with
  `torch.sparse.sampled_addmm` (`EdgeDot`), never as an [E, d] gather. Why the LightGCN embeddings and not the
  layer's input: on the default data the ego embeddings of a trained model are anti-aligned with in-genre
  listens (per-user AUC 0.39) while the propagated ones separate them (0.80); and why a softmax with a
  log-normalisation prior rather than a gate on :math:`n_{ij}`: a gate bounded in (0, 2) cannot outweigh
  degrees that differ tenfold, so a gated similarity ranked a user's listens like the normalisation (AUC 0.54).
- ``"gated"`` (static): :math:`\alpha_{ij} = n_{ij} \cdot 2\sigma(e_{ij})`,
  :math:`e_{ij} = \mathrm{LeakyReLU}(\mathbf{a}_{dst}^\top \mathbf{x}_i + \mathbf{a}_{src}^\top \mathbf{x}_j)`,
  a bounded gate on the normalisation. LeakyReLU and the gate are monotonic, so every destination ranks its
  neighbours in the same order (Brody et al., ICLR 2022).
- ``"softmax"`` (static): the classic GAT coefficient :math:`\mathrm{softmax}_j(e_{ij})` (sums to 1 per target).
- ``"none"``: :math:`\alpha_{ij} = n_{ij}`, LightGCN: the attention-off ablation.

There is no feature transform: as in LightGCN, transforms and nonlinearities hurt collaborative filtering.
Aggregation is one CSR sparse-dense product for all heads (`HeadLayout`) with a hand-written backward (`SpMM`),
several times faster than generic scatter-based message passing on CPU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.utils import softmax

from recsys.config import ATTENTION_KINDS, ModelConfig
from recsys.sparse import csr


@dataclass(frozen=True)
class HeadLayout:
    """One relation's edges expanded per head, so that the H per-head sparse products are one CSR product.

    Row (i, h) = i * H + h holds the edges into i for head h, with columns (j, h) = j * H + h: the block-diagonal
    matrix diag(A_1 .. A_H) with rows and columns interleaved, so [N, H, d] embeddings are its [N * H, d] operand
    as they lie in memory. Measured on the default data's listening relation (65K edges, 4 heads of 16): 2-3x
    faster than one product per head with the transposes and stacking it needs, forward and backward. Memory:
    two int64 per edge and head for each direction used (at 9.2M listening edges and 4 heads, 0.6 GB).

    Attributes:
        crow, col: the expanded CSR structure ([rows * H + 1], [E * H]).
        gather: [E * H] position -> flat index e * H + h into values [E, H] (edges in the adjacency's CSR order).
    """

    crow: Tensor
    col: Tensor
    gather: Tensor

    @classmethod
    def build(cls, crow: Tensor, other: Tensor, order: Tensor, heads: int) -> HeadLayout:
        """Expand a CSR structure (``crow``, with ``other`` the column of each edge in row order; ``order``: the
        adjacency's edge index at each position) to ``heads`` interleaved copies, by arithmetic (no sort)."""
        device = crow.device
        count, start = crow.diff(), crow[:-1]
        row = torch.repeat_interleave(torch.arange(len(count), device=device), count)
        head = torch.arange(heads, device=device)
        first = start.index_select(0, row)  # the row's first position, for every edge
        within = torch.arange(len(other), device=device) - first
        position = (first * heads).unsqueeze(1) + head * count.index_select(0, row).unsqueeze(1) + within.unsqueeze(1)
        position = position.reshape(-1)  # of (edge in row order, head)
        flat = (order.unsqueeze(1) * heads + head).reshape(-1)
        gather, col = torch.empty_like(position), torch.empty_like(position)
        gather[position] = flat
        col[position] = (other.unsqueeze(1) * heads + head).reshape(-1)
        expanded = torch.cat([((start * heads).unsqueeze(1) + head * count.unsqueeze(1)).reshape(-1),
                              crow[-1:] * heads])
        return cls(expanded, col, gather)


@dataclass(frozen=True)
class Adjacency:
    """The sparse structure of one relation, sorted by destination (CSR) with its transpose precomputed.

    Attributes:
        edge_index: [2, E] (src, dst) in CSR order; ``perm`` maps it back to the caller's edge order.
        crow: CSR row pointers over destinations; ``ccol``/``t_perm``: the transpose's (CSC) structure.
        norm: [E] symmetric degree normalisation 1/sqrt(deg_dst * deg_src) within this relation.
    """

    edge_index: Tensor
    perm: Tensor
    crow: Tensor
    ccol: Tensor
    t_perm: Tensor
    norm: Tensor
    num_src: int
    num_dst: int
    cache: dict[object, object] = field(default_factory=dict, compare=False, repr=False)  # derived, built once

    def heads_layout(self, heads: int, transposed: bool = False) -> HeadLayout:
        """The per-head expansion (`HeadLayout`) of this relation or of its transpose, built on first use."""
        key = ("heads", heads, transposed)
        if key not in self.cache:
            if transposed:
                self.cache[key] = HeadLayout.build(self.ccol, self.edge_index[1].index_select(0, self.t_perm),
                                                   self.t_perm, heads)
            else:
                self.cache[key] = HeadLayout.build(self.crow, self.edge_index[0],
                                                   torch.arange(self.num_edges, device=self.crow.device), heads)
        return self.cache[key]

    @property
    def mass(self) -> Tensor:
        """[N_dst]: the total normalisation into each destination, m_i = sum_j norm_ij (what similarity attention
        redistributes)."""
        if "mass" not in self.cache:
            self.cache["mass"] = torch.zeros(self.num_dst, dtype=self.norm.dtype, device=self.norm.device
                                             ).index_add_(0, self.edge_index[1], self.norm)
        return self.cache["mass"]

    @property
    def log_norm(self) -> Tensor:
        """[E, 1]: log norm_ij, similarity attention's prior."""
        if "log_norm" not in self.cache:
            self.cache["log_norm"] = self.norm.log().unsqueeze(-1)
        return self.cache["log_norm"]

    @classmethod
    def build(cls, edge_index: Tensor, num_src: int, num_dst: int, edge_weight: Tensor | None = None,
              norm: Tensor | None = None) -> Adjacency:
        """Sort edges by destination and precompute both CSR layouts and the degree normalisation.

        With ``edge_weight`` the degrees are weighted sums and each edge's norm is multiplied by its weight.
        A precomputed ``norm`` ([E], in the caller's edge order) is used as given instead: a sampled subgraph
        passes the full graph's normalisation, rescaled (see `recsys.training.minibatch`).
        """
        src, dst = edge_index
        perm = torch.argsort(dst * num_src + src)
        src, dst = src[perm], dst[perm]
        crow = torch._convert_indices_from_coo_to_csr(dst, num_dst)
        t_perm = torch.argsort(src * num_dst + dst)
        ccol = torch._convert_indices_from_coo_to_csr(src[t_perm], num_src)
        if norm is not None:
            norm = norm[perm].float()
        else:
            w = torch.ones_like(src, dtype=torch.float32) if edge_weight is None else edge_weight[perm].float()
            deg_dst = torch.zeros(num_dst, device=w.device).index_add_(0, dst, w)
            deg_src = torch.zeros(num_src, device=w.device).index_add_(0, src, w)
            norm = w * (deg_dst[dst] * deg_src[src]).clamp_min(1e-12).rsqrt()
        return cls(torch.stack([src, dst]), perm, crow, ccol, t_perm, norm, num_src, num_dst)

    @property
    def num_edges(self) -> int:
        return int(self.edge_index.size(1))

    def to(self, device: torch.device | str) -> Adjacency:
        return Adjacency(*(t.to(device) for t in (self.edge_index, self.perm, self.crow, self.ccol, self.t_perm,
                                                   self.norm)), self.num_src, self.num_dst)


def _aggregate(adj: Adjacency, values: Tensor, x: Tensor, transposed: bool = False) -> Tensor:
    """out[:, h] = A_h @ x[:, h]: values [E, H] on the (dst x src) pattern, x [N_src, H, d] -> [N_dst, H, d];
    ``transposed``: A_h^T @ x[:, h], x [N_dst, H, d] -> [N_src, H, d], with the precomputed transpose layout."""
    heads, dim = values.size(1), x.size(-1)
    layout = adj.heads_layout(heads, transposed)
    rows, cols = (adj.num_src, adj.num_dst) if transposed else (adj.num_dst, adj.num_src)
    matrix = csr(layout.crow, layout.col, values.reshape(-1).index_select(0, layout.gather),
                 (rows * heads, cols * heads))
    return (matrix @ x.reshape(-1, dim)).view(rows, heads, dim)


def _edge_dots(adj: Adjacency, x_dst: Tensor, x_src: Tensor) -> Tensor:
    """[E, H]: <x_dst[dst_e, h], x_src[src_e, h]> on the sparsity pattern (`torch.sparse.sampled_addmm`), so no
    [E, H, d] gather is ever built (10-20x slower on CPU)."""
    heads, dim = x_src.size(1), x_src.size(-1)
    layout = adj.heads_layout(heads)
    pattern = csr(layout.crow, layout.col, torch.zeros(len(layout.col), dtype=x_src.dtype, device=x_src.device),
                  (adj.num_dst * heads, adj.num_src * heads))
    dots = torch.sparse.sampled_addmm(pattern, x_dst.reshape(-1, dim), x_src.reshape(-1, dim).T).values()
    return torch.empty_like(dots).index_copy_(0, layout.gather, dots).view(-1, heads)  # back to [E, H] order


class SpMM(torch.autograd.Function):
    """out[:, h] = A_h @ x[:, h] for CSR matrices A_h sharing one sparsity pattern, differentiable in both.

    The backward uses the precomputed transpose for d/dx and `torch.sparse.sampled_addmm` for d/dvalues,
    avoiding the generic sparse autograd (5-7x slower on CPU) and an [E, H, d] gather (4x slower).
    """

    @staticmethod
    def forward(ctx, adj: Adjacency, values: Tensor, x: Tensor) -> Tensor:  # values [E, H], x [N_src, H, d]
        ctx.adj = adj
        ctx.save_for_backward(values, x)
        return _aggregate(adj, values, x)  # [N_dst, H, d]

    @staticmethod
    def backward(ctx, grad_out: Tensor) -> tuple[None, Tensor | None, Tensor | None]:
        values, x = ctx.saved_tensors
        grad_values = _edge_dots(ctx.adj, grad_out, x) if ctx.needs_input_grad[1] else None
        grad_x = _aggregate(ctx.adj, values, grad_out, transposed=True) if ctx.needs_input_grad[2] else None
        return None, grad_values, grad_x


class EdgeDot(torch.autograd.Function):
    """s[e, h] = <x_dst[dst_e, h], x_src[src_e, h]> for every edge, differentiable in both embeddings.

    The backward is two sparse products with the gradient as edge values: d/dx_dst = G @ x_src and
    d/dx_src = G^T @ x_dst, the same kernels as `SpMM`.
    """

    @staticmethod
    def forward(ctx, adj: Adjacency, x_src: Tensor, x_dst: Tensor) -> Tensor:  # [N_src, H, d], [N_dst, H, d]
        ctx.adj = adj
        ctx.save_for_backward(x_src, x_dst)
        return _edge_dots(adj, x_dst, x_src)  # [E, H]

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[None, Tensor | None, Tensor | None]:
        x_src, x_dst = ctx.saved_tensors
        grad = grad.contiguous()
        grad_src = _aggregate(ctx.adj, grad, x_dst, transposed=True) if ctx.needs_input_grad[1] else None
        grad_dst = _aggregate(ctx.adj, grad, x_src) if ctx.needs_input_grad[2] else None
        return None, grad_src, grad_dst


def edge_cosines(adj: Adjacency, x_src: Tensor, x_dst: Tensor) -> Tensor:
    """[E, H]: the cosine of each edge's endpoints per head, what similarity attention scores (before its
    temperature). It depends only on what is read, so a forward computes it once for all its layers."""
    return EdgeDot.apply(adj, F.normalize(x_src, dim=-1, eps=1e-12), F.normalize(x_dst, dim=-1, eps=1e-12))


def pair_dots(x_dst: Tensor, x_src: Tensor, dst: Tensor, src: Tensor) -> Tensor:
    """[P]: <x_dst[dst_p], x_src[src_p]> for P index pairs, differentiable in both tables.

    `EdgeDot` over the distinct pairs' sparse pattern, so no [P, d] gather is built. A BPR step's pairs on the
    default data (8,192 users x 9 songs, 64 dims), forward and backward: 13-20 ms against 15-46 ms for
    gathering the rows and multiplying them (the gather's time swings with allocation). Repeated pairs are
    scored once (torch's sampled product fails on a pattern with more entries than cells).
    """
    pairs, inverse = torch.unique(dst * x_src.size(0) + src, return_inverse=True)  # sorted: CSR order
    adj = Adjacency.build(torch.stack([pairs % x_src.size(0), pairs // x_src.size(0)]), x_src.size(0),
                          x_dst.size(0))
    dots = EdgeDot.apply(adj, x_src.unsqueeze(1), x_dst.unsqueeze(1)).squeeze(1)
    return dots.index_select(0, inverse)


def _softmax_times_mass(adj: Adjacency, logits: Tensor) -> Tensor:
    """m_i softmax_j(logits_ij) over each destination's edges ([E, H], CSR order): PyG's sparse softmax with
    the destinations' index and the mass folded into one per-node factor (one [E, H] division fewer)."""
    dst = adj.edge_index[1]
    peak = torch.segment_reduce(logits.detach(), "max", offsets=adj.crow, axis=0)  # [N_dst, H]
    weight = (logits - peak.index_select(0, dst)).exp()
    total = torch.segment_reduce(weight, "sum", offsets=adj.crow, axis=0)
    return weight * (adj.mass.unsqueeze(-1) / (total + 1e-16)).index_select(0, dst)


def _per_head_dot(x: Tensor, att: Tensor) -> Tensor:
    """[N, H, d] . [H, d] -> [N, H] as one matrix product with a block-diagonal weight (a broadcast multiply
    over [N, H, d] is several times slower on CPU)."""
    return x.reshape(x.size(0), -1) @ torch.block_diag(*att.unsqueeze(1)).T


class RelationAttention(nn.Module):
    """Attention of one relation (see the module docstring for the four kinds)."""

    def __init__(self, dim: int, heads: int, kind: str = ModelConfig.attention, negative_slope: float = 0.2,
                 stop_gradient: bool = ModelConfig.attention_stop_gradient,
                 temperature: float = ModelConfig.attention_temperature) -> None:
        super().__init__()
        if kind not in ATTENTION_KINDS:
            raise ValueError(f"attention must be one of {ATTENTION_KINDS} (got {kind!r})")
        if dim % heads:
            raise ValueError(f"embedding dim {dim} must be divisible by heads {heads}")
        self.dim, self.heads, self.kind, self.negative_slope = dim, heads, kind, negative_slope
        self.stop_gradient, self.temperature = stop_gradient, temperature
        if kind in ("gated", "softmax"):
            self.att_src = nn.Parameter(torch.empty(heads, dim // heads))
            self.att_dst = nn.Parameter(torch.empty(heads, dim // heads))
        elif kind == "similarity":
            self.log_temperature = nn.Parameter(torch.empty(heads))  # log: Adam moves it by factors, not units
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # small start: the gated and similarity layers begin as LightGCN and learn to deviate where it pays
        if self.kind in ("gated", "softmax"):
            nn.init.normal_(self.att_src, std=0.01)
            nn.init.normal_(self.att_dst, std=0.01)
        elif self.kind == "similarity":
            nn.init.constant_(self.log_temperature, math.log(self.temperature))

    def coefficients(self, adj: Adjacency, x_src: Tensor, x_dst: Tensor, cosine: Tensor | None = None) -> Tensor:
        """Attention coefficients [E, H] in the adjacency's (CSR) edge order.

        With ``stop_gradient`` the scores read the embeddings without back-propagating into them: the attention
        parameters learn to reweight edges, the embeddings are shaped by the ranking loss alone. ``cosine``:
        similarity attention's `edge_cosines` of (x_src, x_dst), when the caller computed them already.
        """
        if self.kind == "none":
            return adj.norm.unsqueeze(-1).expand(-1, self.heads)
        if self.stop_gradient:
            x_src, x_dst = x_src.detach(), x_dst.detach()
        src, dst = adj.edge_index
        if self.kind == "similarity":
            if cosine is None:
                cosine = edge_cosines(adj, x_src, x_dst)
            return _softmax_times_mass(adj, self.log_temperature.exp() * cosine + adj.log_norm)
        score_src = _per_head_dot(x_src, self.att_src)  # [N_src, H]
        score_dst = _per_head_dot(x_dst, self.att_dst)  # [N_dst, H]
        logits = F.leaky_relu(score_src.index_select(0, src) + score_dst.index_select(0, dst), self.negative_slope)
        if self.kind == "softmax":
            return softmax(logits, ptr=adj.crow, num_nodes=adj.num_dst)
        return adj.norm.unsqueeze(-1) * 2.0 * torch.sigmoid(logits)

    def forward(self, adj: Adjacency, x_src: Tensor, x_dst: Tensor, dropout: float = 0.0,
                read: tuple[Tensor, Tensor] | None = None, cosine: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Aggregate x_src [N_src, H, d] into destinations; returns (out [N_dst, H, d], alpha [E, H]).

        ``read``: (src, dst) vectors the scores read instead of (x_src, x_dst), e.g. LightGCN's final embeddings;
        ``cosine``: their `edge_cosines`, precomputed (similarity attention).
        """
        alpha = self.coefficients(adj, *(read if read is not None else (x_src, x_dst)), cosine=cosine)
        weights = F.dropout(alpha, p=dropout, training=self.training) if dropout > 0 else alpha
        return SpMM.apply(adj, weights.contiguous(), x_src), alpha

    def extra_repr(self) -> str:
        return f"dim={self.dim}, heads={self.heads}, kind={self.kind!r}, stop_gradient={self.stop_gradient}"
