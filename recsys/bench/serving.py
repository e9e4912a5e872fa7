"""Serving benchmarks through `recsys.Recommender`: recommend, re-rank, explain, and top-K for a batch of users.

Each latency is set beside a naive way of answering the same request measured in the same run: the model's own
methods, which run a forward pass per request (what the service's cached `Scorer` avoids), or one user at a
time instead of a batch.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from recsys.bench.measure import Stopwatch, time_calls
from recsys.bench.report import BenchReport
from recsys.service.recommender import Recommender

TARGET_RERANK_P95_MS = 10.0
TARGET_EXPLAIN_P95_MS = 200.0
TARGET_LARGE_RECOMMEND_MS = 50.0
TARGET_FOLD_IN_MS = 50.0  # issue 12: one listener's fold-in at the default scale
GENRE_WEIGHTS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.0)


def active_users(rec: Recommender, n: int, seed: int = 0) -> list[str]:
    """``n`` users with training history, drawn reproducibly."""
    counts = rec.scorer.known.crow_indices().diff()
    active = (counts > 0).nonzero().flatten()
    chosen = active[torch.randperm(len(active), generator=torch.Generator().manual_seed(seed))[:n]]
    return [str(rec.maps.user.id_of(int(u))) for u in chosen]


def bench_serving(report: BenchReport, rec: Recommender, users: int = 40, explains: int = 15,
                  naive_requests: int = 3, batch: int = 256, large: bool = False,
                  log: Callable[[str], None] = print) -> None:
    """Add the serving rows (p50 and p95 in ms) for ``rec``.

    Args:
        users: distinct users for recommend and re-rank (each first request computes and caches the user's row).
        explains: (user, top song) pairs explained.
        naive_requests: requests answered the naive way (a forward pass each; slow on large graphs).
        batch: users ranked over the whole catalogue at once.
        large: a catalogue of a million songs: check the 50 ms target of one recommendation.
    """
    ids = active_users(rec, users)
    log(f"serving: recommend / re-rank for {len(ids)} users")
    first = time_calls(lambda u: rec.recommend(u, k=10), ids, warmup=0)
    # re-rank: the same users (rows cached) with another genre weight each time
    pairs = [(u, GENRE_WEIGHTS[i % len(GENRE_WEIGHTS)]) for i, u in enumerate(ids)]
    rerank = time_calls(lambda p: rec.recommend(p[0], k=10, genre_weight=p[1]), pairs)
    naive = time_calls(lambda u: rec.model.recommend(rec.user_index(u), rec.graph, k=10), ids[:naive_requests])
    report.add("serving", "naive recommend (forward pass per request) p50", naive.p50, "ms")
    report.add("serving", "recommend, first request of a user p50", first.p50, "ms",
               baseline="serving/naive recommend (forward pass per request) p50")
    target = meets = None
    if large:
        target, meets = f"< {TARGET_LARGE_RECOMMEND_MS:.0f} ms", first.p50 < TARGET_LARGE_RECOMMEND_MS
    report.add("serving", "recommend, first request of a user p95", first.p95, "ms",
               baseline="serving/naive recommend (forward pass per request) p50", target=target, meets=meets)
    report.add("serving", "re-rank (new genre_weight) p50", rerank.p50, "ms",
               baseline="serving/recommend, first request of a user p50")
    report.add("serving", "re-rank (new genre_weight) p95", rerank.p95, "ms",
               baseline="serving/recommend, first request of a user p50",
               target=f"< {TARGET_RERANK_P95_MS:.0f} ms", meets=rerank.p95 < TARGET_RERANK_P95_MS)
    # fold-in: the same listeners' training histories as a new listener's (no retraining), beside recommend
    histories = [list(zip(h["track_id"], h["plays"].astype(float), strict=True))
                 for h in (rec.user_history(u) for u in ids)]
    folded = time_calls(lambda h: rec.recommend_for_history(h, k=10), histories, warmup=1)
    report.add("serving", "fold-in recommend_for_history (own history) p50", folded.p50, "ms",
               baseline="serving/recommend, first request of a user p50")
    report.add("serving", "fold-in recommend_for_history (own history) p95", folded.p95, "ms",
               baseline="serving/recommend, first request of a user p95",
               target=None if large else f"<= {TARGET_FOLD_IN_MS:.0f} ms",
               meets=None if large else folded.p95 <= TARGET_FOLD_IN_MS,
               note="a listener's training history folded in as if new: propagation of one vector, no training")
    log(f"serving: explain for {explains} pairs")
    explain_pairs = [(u, str(rec.recommend(u, k=1)["track_id"].iat[0])) for u in ids[:explains]]
    rec.explain(*explain_pairs[0])  # first call computes the attention of the whole graph once (cached)
    explained = time_calls(lambda p: rec.explain(p[0], p[1]), explain_pairs)
    naive_explain = time_calls(
        lambda p: rec.model.explain_recommendation(rec.user_index(p[0]), rec.track_index(p[1]), rec.graph),
        explain_pairs[:naive_requests])
    report.add("serving", "naive explain (model.explain_recommendation) p50", naive_explain.p50, "ms")
    report.add("serving", "explain p50", explained.p50, "ms",
               baseline="serving/naive explain (model.explain_recommendation) p50")
    report.add("serving", "explain p95", explained.p95, "ms",
               baseline="serving/naive explain (model.explain_recommendation) p50",
               target=f"< {TARGET_EXPLAIN_P95_MS:.0f} ms", meets=explained.p95 < TARGET_EXPLAIN_P95_MS)
    bench_topk(report, rec, batch, log)


def bench_topk(report: BenchReport, rec: Recommender, batch: int, log: Callable[[str], None] = print) -> None:
    """Top-10 over the whole catalogue, seen songs excluded: a batch of users at once vs one at a time."""
    scorer = rec.scorer
    users = torch.arange(min(batch, scorer.num_users))
    log(f"serving: top-10 over {scorer.num_songs:,} songs for {len(users)} users")
    scorer.topk(users[:2], 10)  # warm-up
    with Stopwatch() as batched:
        scorer.topk(users, 10)
    singles = users[:min(len(users), 64)]
    with Stopwatch() as one_by_one:
        for u in singles.tolist():
            scorer.topk(torch.tensor([u]), 10)
    report.add("serving", "top-10 one user at a time, per user", one_by_one.seconds * 1000 / len(singles), "ms",
               note=f"{len(singles)} users")
    report.add("serving", f"top-10 batch of {len(users)} users, per user", batched.seconds * 1000 / len(users),
               "ms", baseline="serving/top-10 one user at a time, per user",
               note=f"{batched.seconds * 1000:.0f} ms per batch, {scorer.num_songs:,} songs")
