r"""Graph attention as sparse matrix products, so attention costs little more than LightGCN.

For one relation (src -> dst) and head h, a layer computes

.. math::
    \mathbf{x}'_i = \sum_{j \in \mathcal{N}(i)} \alpha^h_{ij} \mathbf{x}^h_j, \qquad
    e^h_{ij} = \mathrm{LeakyReLU}(\mathbf{a}^{h\top}_{dst} \mathbf{x}^h_i + \mathbf{a}^{h\top}_{src} \mathbf{x}^h_j)

where :math:`\mathbf{x}^h` is the h-th chunk of the embedding (heads split the dimensions, as in multi-head
attention, so 4 heads cost what one does). Two normalisations of :math:`e` are offered:

- ``"gated"`` (default): :math:`\alpha_{ij} = \frac{1}{\sqrt{d_i d_j}} \cdot 2\sigma(e_{ij})`, a bounded gate on
  LightGCN's symmetric degree normalisation. At zero attention it is exactly LightGCN, which keeps the degree
  information that plain softmax attention throws away (that costs ranking quality on collaborative data).
- ``"softmax"``: the classic GAT coefficient, :math:`\alpha_{ij} = \mathrm{softmax}_j(e_{ij})` over the incoming
  edges of i (sums to 1 per target and head).

There is no feature transform: as in LightGCN, transforms and nonlinearities hurt collaborative filtering.
Aggregation is one CSR sparse-dense product per head with a hand-written backward (`SpMM`), several times
faster than generic scatter-based message passing on CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.utils import softmax

from recsys.sparse import csr

ATTENTION_KINDS = ("gated", "softmax")


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


class SpMM(torch.autograd.Function):
    """out[:, h] = A_h @ x[:, h] for CSR matrices A_h sharing one sparsity pattern, differentiable in both.

    The backward uses the precomputed transpose for d/dx and `torch.sparse.sampled_addmm` for d/dvalues,
    avoiding the generic sparse autograd (5-7x slower on CPU) and an [E, H, d] gather (4x slower).
    """

    @staticmethod
    def forward(ctx, adj: Adjacency, values: Tensor, x: Tensor) -> Tensor:  # values [E, H], x [N_src, H, d]
        ctx.adj = adj
        ctx.save_for_backward(values, x)
        src, _ = adj.edge_index
        heads_values = values.T.contiguous()  # [H, E]: one contiguous row per head
        heads_x = x.transpose(0, 1).contiguous()  # [H, N_src, d]
        out = [csr(adj.crow, src, heads_values[h], (adj.num_dst, adj.num_src)) @ heads_x[h]
               for h in range(values.size(1))]
        return torch.stack(out, dim=1)  # [N_dst, H, d]

    @staticmethod
    def backward(ctx, grad_out: Tensor) -> tuple[None, Tensor | None, Tensor | None]:
        adj: Adjacency = ctx.adj
        values, x = ctx.saved_tensors
        src, dst = adj.edge_index
        heads = values.size(1)
        grad = grad_out.transpose(0, 1).contiguous()  # [H, N_dst, d]
        grad_values = grad_x = None
        if ctx.needs_input_grad[1]:  # d/dvalue_e = <grad_out[dst_e], x[src_e]>, sampled on the sparsity pattern
            pattern = csr(adj.crow, src, torch.zeros_like(values[:, 0]), (adj.num_dst, adj.num_src))
            heads_x_t = x.permute(1, 2, 0).contiguous()  # [H, d, N_src]
            grad_values = torch.stack([torch.sparse.sampled_addmm(pattern, grad[h], heads_x_t[h]).values()
                                       for h in range(heads)], dim=1)  # [E, H]
        if ctx.needs_input_grad[2]:
            dst_t = dst.index_select(0, adj.t_perm)
            values_t = values.index_select(0, adj.t_perm).T.contiguous()  # [H, E] in transposed order
            grad_x = torch.stack([csr(adj.ccol, dst_t, values_t[h], (adj.num_src, adj.num_dst)) @ grad[h]
                                  for h in range(heads)], dim=1)
        return None, grad_values, grad_x


def _per_head_dot(x: Tensor, att: Tensor) -> Tensor:
    """[N, H, d] . [H, d] -> [N, H] as one matrix product with a block-diagonal weight (a broadcast multiply
    over [N, H, d] is several times slower on CPU)."""
    return x.reshape(x.size(0), -1) @ torch.block_diag(*att.unsqueeze(1)).T


class RelationAttention(nn.Module):
    """Attention of one relation: two vectors per head score each edge from its two endpoints."""

    def __init__(self, dim: int, heads: int, kind: str = "gated", negative_slope: float = 0.2,
                 stop_gradient: bool = True) -> None:
        super().__init__()
        if kind not in ATTENTION_KINDS:
            raise ValueError(f"attention must be one of {ATTENTION_KINDS} (got {kind!r})")
        if dim % heads:
            raise ValueError(f"embedding dim {dim} must be divisible by heads {heads}")
        self.dim, self.heads, self.kind, self.negative_slope = dim, heads, kind, negative_slope
        self.stop_gradient = stop_gradient
        self.att_src = nn.Parameter(torch.empty(heads, dim // heads))
        self.att_dst = nn.Parameter(torch.empty(heads, dim // heads))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # small start: the gated layer begins as LightGCN and learns to deviate where it pays
        nn.init.normal_(self.att_src, std=0.01)
        nn.init.normal_(self.att_dst, std=0.01)

    def coefficients(self, adj: Adjacency, x_src: Tensor, x_dst: Tensor) -> Tensor:
        """Attention coefficients [E, H] in the adjacency's (CSR) edge order.

        With ``stop_gradient`` the scores read the embeddings without back-propagating into them: the attention
        vectors learn to reweight edges, the embeddings are shaped by the ranking loss alone. Measured: +0.0015
        to +0.002 validation NDCG@10 on Last.fm and the synthetic data, and it never hurt.
        """
        if self.stop_gradient:
            x_src, x_dst = x_src.detach(), x_dst.detach()
        src, dst = adj.edge_index
        score_src = _per_head_dot(x_src, self.att_src)  # [N_src, H]
        score_dst = _per_head_dot(x_dst, self.att_dst)  # [N_dst, H]
        logits = F.leaky_relu(score_src.index_select(0, src) + score_dst.index_select(0, dst), self.negative_slope)
        if self.kind == "softmax":
            return softmax(logits, ptr=adj.crow, num_nodes=adj.num_dst)
        return adj.norm.unsqueeze(-1) * 2.0 * torch.sigmoid(logits)

    def forward(self, adj: Adjacency, x_src: Tensor, x_dst: Tensor, dropout: float = 0.0) -> tuple[Tensor, Tensor]:
        """Aggregate x_src [N_src, H, d] into destinations; returns (out [N_dst, H, d], alpha [E, H])."""
        alpha = self.coefficients(adj, x_src, x_dst)
        weights = F.dropout(alpha, p=dropout, training=self.training) if dropout > 0 else alpha
        return SpMM.apply(adj, weights, x_src), alpha

    def extra_repr(self) -> str:
        return f"dim={self.dim}, heads={self.heads}, kind={self.kind!r}, stop_gradient={self.stop_gradient}"
