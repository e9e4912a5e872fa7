"""The item-item term: neighbourhood EASE against exact EASE, sparse scoring against a dense product, storage."""

from __future__ import annotations

import pytest
import torch

from recsys.models.item_item import ItemItemTerm, fit_ease, fit_local_ease


def interactions(num_users: int, num_songs: int, density: float, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    users, songs = (torch.rand(num_users, num_songs, generator=generator) < density).nonzero(as_tuple=True)
    return users, songs


@pytest.mark.parametrize(("num_users", "num_songs"), [(40, 12), (10, 15)])  # primal, then dual form
def test_neighbourhood_ease_is_exact_ease_when_every_song_is_a_neighbour(num_users: int, num_songs: int):
    users, songs = interactions(num_users, num_songs, 0.7)
    exact = fit_ease(users, songs, num_users, num_songs, lam=5.0, topk=None)
    local = fit_local_ease(users, songs, num_users, num_songs, lam=5.0, neighbours=num_songs - 1).to_dense()
    cooccur = torch.zeros(num_users, num_songs)
    cooccur[users, songs] = 1.0
    assert bool((cooccur.T @ cooccur > 0).all()), "the oracle needs every pair of songs to share a listener"
    # two solvers (one dense inverse, many small solves): equal up to float rounding
    torch.testing.assert_close(local, exact, rtol=1e-4, atol=1e-5)


def test_neighbourhood_ease_keeps_only_the_most_co_listened_songs():
    users, songs = interactions(60, 30, 0.2, seed=1)
    bt = fit_local_ease(users, songs, 60, 30, lam=10.0, neighbours=4)
    x = torch.zeros(60, 30)
    x[users, songs] = 1.0
    cooc = x.T @ x
    crow, col = bt.crow_indices(), bt.col_indices()
    for target in range(30):
        chosen = col[crow[target]:crow[target + 1]]
        assert len(chosen) <= 4 and target not in chosen.tolist()
        others = cooc[target].clone()
        others[target] = -1
        if len(chosen):  # nothing left out co-occurs more often than the weakest neighbour kept
            weakest = cooc[target, chosen].min()
            left_out = torch.ones(30, dtype=torch.bool)
            left_out[chosen] = False
            left_out[target] = False
            assert bool((others[left_out] <= weakest).all())


@pytest.mark.parametrize("neighbours", [None, 5])
def test_scores_and_contributions_match_a_dense_product(neighbours: int | None):
    users, songs = interactions(30, 20, 0.3, seed=2)
    term = ItemItemTerm(20, neighbours).fit(torch.stack([users, songs]), 30, lam=3.0)
    assert term.method == ("exact" if neighbours is None else "local")
    b = term.matrix.to_dense()
    history = torch.zeros(4, 20)
    history[users[users < 4], songs[users < 4]] = 1.0
    if neighbours is None:  # 20 songs: fewer than EXACT_TOPK, so every weight of exact EASE is kept
        exact = fit_ease(users, songs, 30, 20, lam=3.0, topk=None)
        torch.testing.assert_close(b.T, exact, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(term.scores(history), history @ b, rtol=1e-5, atol=1e-6)  # two summation orders
    played = history[1].nonzero().flatten()
    for song in range(20):
        sources, weights = term.contributions(played, song)
        assert set(sources.tolist()) <= set(played.tolist())
        assert float(weights.sum()) == pytest.approx(float(history[1] @ b[:, song]), abs=1e-5)


def test_the_fitted_matrix_travels_in_the_state_dict():
    users, songs = interactions(25, 18, 0.3, seed=3)
    term = ItemItemTerm(18, 6).fit(torch.stack([users, songs]), 25, lam=2.0)
    copy = ItemItemTerm(18)
    copy.set_extra_state(term.get_extra_state())
    assert copy.fitted and copy.lam == 2.0 and copy.neighbours == 6
    assert torch.equal(copy.matrix.to_dense(), term.matrix.to_dense())  # the same stored floats, no kernel involved
    legacy = ItemItemTerm(18)
    legacy.set_extra_state({"lambda": 2.0, "topk": None})  # a checkpoint from before the matrix was stored
    assert not legacy.fitted
    legacy.fit(torch.stack([users, songs]), 25, legacy.lam)  # refitted as then: dense exact EASE, every weight
    torch.testing.assert_close(legacy.matrix, fit_ease(users, songs, 25, 18, 2.0, topk=None).T, rtol=0, atol=0)
    history = torch.zeros(2, 18)
    history[0, :5] = 1.0
    torch.testing.assert_close(legacy.scores(history), history @ legacy.matrix, rtol=1e-5, atol=1e-6)
    assert legacy.get_extra_state() == {"lambda": 2.0, "topk": None}  # saved again in its own format


def test_neighbours_are_the_most_co_listened_songs_ties_by_index():
    """The row-wise partition that prunes the sort picks exactly what a full sort would, ties included."""
    import numpy as np
    import scipy.sparse as sp

    from recsys.models.item_item import _top_cooccurring

    rng = np.random.default_rng(0)
    dense = rng.integers(0, 4, size=(40, 60)) * (rng.random((40, 60)) < 0.5)  # many ties, many zeros
    targets = rng.choice(60, size=40, replace=False)
    dense[np.arange(40), targets] = 9  # each target co-occurs most with itself: it must still be left out
    matrix = sp.csr_matrix(dense)
    wide = sp.csr_matrix((matrix.data, matrix.indices.astype(np.int64), matrix.indptr.astype(np.int64)),
                         shape=(40, 2**58))  # the same rows in a catalogue so wide the one-key sort would overflow
    for k, cooc in [(1, matrix), (3, matrix), (8, matrix), (59, matrix), (3, wide)]:
        near = _top_cooccurring(cooc, targets, k)
        for row, target in enumerate(targets):
            ranked = [c for c in np.lexsort((np.arange(60), -dense[row])) if dense[row, c] > 0 and c != target][:k]
            assert near[row].tolist() == ranked + [-1] * (k - len(ranked))


def test_chunks_bound_the_work_and_the_songs_and_cover_every_song_once():
    import numpy as np

    from recsys.models.item_item import _chunks

    work = np.array([50.0, 1.0, 1.0, 1.0, 30.0, 2.0, 2.0, 2.0, 2.0, 2.0])
    runs = list(_chunks(work, most=3, budget=10.0))
    assert runs == [(0, 1), (1, 4), (4, 5), (5, 8), (8, 10)]  # a song over the budget runs alone
    assert all(end - start <= 3 for start, end in runs)
    assert all(work[start:end].sum() <= 10.0 or end - start == 1 for start, end in runs)


def test_chunks_solved_in_threads_give_the_one_thread_result(monkeypatch):
    """Small chunks (a tiny work budget), so that several are in flight at once."""
    from recsys.models import item_item

    users, songs = interactions(50, 40, 0.25, seed=4)
    monkeypatch.setattr(item_item, "COOC_BUDGET", 40)
    monkeypatch.setattr(item_item, "FIT_WORKERS", 1)
    one = fit_local_ease(users, songs, 50, 40, lam=3.0, neighbours=6).to_dense()
    monkeypatch.setattr(item_item, "FIT_WORKERS", 3)
    threaded = fit_local_ease(users, songs, 50, 40, lam=3.0, neighbours=6).to_dense()
    chunks = list(item_item._chunks(
        item_item.binary_matrix(users, songs, 50, 40).T.tocsr() @ torch.bincount(users, minlength=50).double().numpy(),
        item_item.LOCAL_BLOCK_CELLS // 49, 40))
    assert len(chunks) >= 4
    torch.testing.assert_close(threaded, one)
