"""The attention layer: exact gradients, exact coefficients, and outputs recomputable from them."""

from __future__ import annotations

import pytest
import torch

from recsys.models.attention import Adjacency, EdgeDot, RelationAttention, SpMM, pair_dots


def random_relation(num_src: int = 7, num_dst: int = 5, num_edges: int = 18, seed: int = 0) -> Adjacency:
    generator = torch.Generator().manual_seed(seed)
    key = torch.unique(torch.randint(0, num_src * num_dst, (num_edges,), generator=generator))
    edge_index = torch.stack([key % num_src, key // num_src])  # (src, dst)
    return Adjacency.build(edge_index[:, torch.randperm(edge_index.size(1), generator=generator)], num_src, num_dst)


def dense(adj: Adjacency, values: torch.Tensor) -> torch.Tensor:
    out = torch.zeros(adj.num_dst, adj.num_src, dtype=values.dtype)
    out[adj.edge_index[1], adj.edge_index[0]] = values
    return out


def test_spmm_matches_dense_and_its_gradients():
    adj = random_relation()
    values = torch.rand(adj.num_edges, 2, dtype=torch.float64, requires_grad=True)
    x = torch.randn(adj.num_src, 2, 3, dtype=torch.float64, requires_grad=True)
    out = SpMM.apply(adj, values, x)
    for h in range(2):
        assert torch.allclose(out[:, h], dense(adj, values[:, h]) @ x[:, h])
    assert torch.autograd.gradcheck(lambda v, z: SpMM.apply(adj, v, z), (values, x))


def test_degree_normalisation_is_symmetric():
    adj = random_relation()
    src, dst = adj.edge_index
    deg_src = torch.bincount(src, minlength=adj.num_src).float()
    deg_dst = torch.bincount(dst, minlength=adj.num_dst).float()
    assert torch.allclose(adj.norm, 1 / torch.sqrt(deg_src[src] * deg_dst[dst]))


def test_gated_coefficients_formula():
    adj = random_relation()
    layer = RelationAttention(dim=8, heads=2, kind="gated")
    x_src, x_dst = torch.randn(adj.num_src, 2, 4), torch.randn(adj.num_dst, 2, 4)
    alpha = layer.coefficients(adj, x_src, x_dst)
    src, dst = adj.edge_index
    logits = (x_src[src] * layer.att_src).sum(-1) + (x_dst[dst] * layer.att_dst).sum(-1)
    expected = adj.norm[:, None] * 2 * torch.sigmoid(torch.nn.functional.leaky_relu(logits, 0.2))
    assert torch.allclose(alpha, expected, atol=1e-6)


def test_softmax_coefficients_sum_to_one_per_target_and_head():
    adj = random_relation(num_edges=30)
    layer = RelationAttention(dim=8, heads=4, kind="softmax")
    with torch.no_grad():
        layer.att_src.normal_()
        layer.att_dst.normal_()
    alpha = layer.coefficients(adj, torch.randn(adj.num_src, 4, 2), torch.randn(adj.num_dst, 4, 2))
    sums = torch.zeros(adj.num_dst, 4).index_add_(0, adj.edge_index[1], alpha)
    has_edges = torch.bincount(adj.edge_index[1], minlength=adj.num_dst) > 0
    assert torch.allclose(sums[has_edges], torch.ones_like(sums[has_edges]), atol=1e-6)
    assert (alpha > 0).all()


@pytest.mark.parametrize("kind", ["similarity", "gated", "softmax", "none"])
def test_layer_output_recomputed_from_returned_coefficients(kind):
    adj = random_relation()
    layer = RelationAttention(dim=6, heads=3, kind=kind).eval()
    x_src, x_dst = torch.randn(adj.num_src, 3, 2), torch.randn(adj.num_dst, 3, 2)
    out, alpha = layer(adj, x_src, x_dst)
    for h in range(3):
        assert torch.allclose(out[:, h], dense(adj, alpha[:, h]) @ x_src[:, h], atol=1e-6)


def test_zero_attention_is_lightgcn():
    adj = random_relation()
    layer = RelationAttention(dim=4, heads=1, kind="gated").eval()
    with torch.no_grad():
        layer.att_src.zero_()
        layer.att_dst.zero_()
    x = torch.randn(adj.num_src, 1, 4)
    out, _ = layer(adj, x, torch.randn(adj.num_dst, 1, 4))
    assert torch.allclose(out[:, 0], dense(adj, adj.norm) @ x[:, 0], atol=1e-6)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="divisible"):
        RelationAttention(dim=10, heads=4)
    with pytest.raises(ValueError, match="attention must be one of"):
        RelationAttention(dim=8, heads=2, kind="dot")


@pytest.mark.parametrize("stop_gradient", [True, False])
@pytest.mark.parametrize(("kind", "learned"), [("gated", "att_src"), ("similarity", "log_temperature")])
def test_stop_gradient_keeps_scores_out_of_the_embedding_gradient(kind, learned, stop_gradient):
    adj = random_relation()
    layer = RelationAttention(dim=4, heads=2, kind=kind, stop_gradient=stop_gradient)
    x_src = torch.randn(adj.num_src, 2, 2, requires_grad=True)
    alpha = layer.coefficients(adj, x_src, torch.randn(adj.num_dst, 2, 2))
    # random weights: similarity's coefficients into a node sum to a constant, so a plain sum has no gradient
    (alpha * torch.randn_like(alpha)).sum().backward()
    assert (x_src.grad is None) == stop_gradient
    grad = getattr(layer, learned).grad
    assert grad is not None and grad.abs().sum() > 0


def test_edge_dot_matches_the_gathered_dot_and_its_gradients():
    adj = random_relation()
    x_src = torch.randn(adj.num_src, 2, 3, dtype=torch.float64, requires_grad=True)
    x_dst = torch.randn(adj.num_dst, 2, 3, dtype=torch.float64, requires_grad=True)
    src, dst = adj.edge_index
    torch.testing.assert_close(EdgeDot.apply(adj, x_src, x_dst), (x_src[src] * x_dst[dst]).sum(-1))
    assert torch.autograd.gradcheck(lambda a, b: EdgeDot.apply(adj, a, b), (x_src, x_dst))


def test_head_layouts_match_one_product_per_head_with_isolated_nodes():
    """Three heads, and nodes on both sides with no edge (empty rows of the expanded matrices)."""
    adj = random_relation(num_src=9, num_dst=8, num_edges=10, seed=3)
    assert len(adj.edge_index[0].unique()) < 9 and len(adj.edge_index[1].unique()) < 8
    values = torch.rand(adj.num_edges, 3, dtype=torch.float64)
    x = torch.randn(adj.num_src, 3, 2, dtype=torch.float64)
    y = torch.randn(adj.num_dst, 3, 2, dtype=torch.float64)
    values.requires_grad_()
    x.requires_grad_()
    out = SpMM.apply(adj, values, x)
    grad_values, grad_x = torch.autograd.grad((out * y).sum(), (values, x))
    for h in range(3):
        a = dense(adj, values[:, h].detach())
        torch.testing.assert_close(out[:, h], a @ x[:, h].detach())
        torch.testing.assert_close(grad_x[:, h], a.T @ y[:, h])
        src, dst = adj.edge_index
        torch.testing.assert_close(grad_values[:, h], (y[dst, h] * x[src, h].detach()).sum(-1))


def test_pair_dots_scores_repeated_pairs_and_more_pairs_than_cells():
    """A BPR batch repeats (user, song) pairs; here 60 pairs over a 3 x 4 table (torch's sampled product alone
    fails on more entries than cells)."""
    generator = torch.Generator().manual_seed(0)
    users = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
    songs = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
    dst, src = torch.randint(0, 3, (60,), generator=generator), torch.randint(0, 4, (60,), generator=generator)
    torch.testing.assert_close(pair_dots(users, songs, dst, src), (users[dst] * songs[src]).sum(-1))
    assert torch.autograd.gradcheck(lambda u, s: pair_dots(u, s, dst, src), (users, songs))


def test_similarity_coefficients_formula():
    """alpha_ij = m_i * softmax_j(t cos(x_i, x_j) + log n_ij), m_i = sum_j n_ij, computed densely here."""
    adj = random_relation(num_edges=30)
    layer = RelationAttention(dim=8, heads=2, kind="similarity", temperature=4.0)
    x_src, x_dst = torch.randn(adj.num_src, 2, 4), torch.randn(adj.num_dst, 2, 4)
    alpha = layer.coefficients(adj, x_src, x_dst)
    src, dst = adj.edge_index
    for e in range(adj.num_edges):
        into = (dst == dst[e]).nonzero().flatten()
        for h in range(2):
            cos = torch.nn.functional.cosine_similarity(x_src[src[into], h], x_dst[dst[e], h].expand(len(into), -1))
            logits = 4.0 * cos + adj.norm[into].log()
            expected = adj.norm[into].sum() * torch.softmax(logits, 0)[(into == e).nonzero()[0, 0]]
            torch.testing.assert_close(alpha[e, h], expected, rtol=1e-5, atol=1e-6)


def test_similarity_at_zero_temperature_and_none_are_lightgcn():
    adj = random_relation()
    similarity = RelationAttention(dim=4, heads=2, kind="similarity", temperature=1e-12)
    off = RelationAttention(dim=4, heads=2, kind="none")
    x_src, x_dst = torch.randn(adj.num_src, 2, 2), torch.randn(adj.num_dst, 2, 2)
    for layer in (similarity, off):
        torch.testing.assert_close(layer.coefficients(adj, x_src, x_dst), adj.norm[:, None].expand(-1, 2))
    assert not list(off.parameters())


def test_similarity_is_dynamic():
    """Static attention ranks a node's neighbours in one order for every destination; similarity does not."""
    edge_index = torch.tensor([[0, 1, 0, 1], [0, 0, 1, 1]])  # sources 0 and 1 into both destinations
    adj = Adjacency.build(edge_index, 2, 2)
    layer = RelationAttention(dim=2, heads=1, kind="similarity")
    x_src = torch.tensor([[[1.0, 0.0]], [[0.0, 1.0]]])
    x_dst = torch.tensor([[[1.0, 0.0]], [[0.0, 1.0]]])
    alpha = layer.coefficients(adj, x_src, x_dst)[:, 0]
    src, dst = adj.edge_index
    into_0, into_1 = alpha[dst == 0], alpha[dst == 1]
    assert into_0[src[dst == 0] == 0] > into_0[src[dst == 0] == 1]  # destination 0 prefers source 0
    assert into_1[src[dst == 1] == 1] > into_1[src[dst == 1] == 0]  # destination 1 prefers source 1


