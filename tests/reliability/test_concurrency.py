"""The Recommender under concurrent use: 8 threads get exactly the single-thread answers, and the shared model is
never changed by them. Prints the single-thread and 8-thread throughput (requests per second)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pandas as pd
import pytest
from reliability_helpers import recommender_digest

THREADS = 8
WEIGHTS = [None, 0.0, 0.3, 1.0]


def _workload(rec) -> list[tuple[str, tuple]]:
    """What dashboard sessions ask for: lists at several genre weights, profiles, explanations (two of them with
    the what-if re-runs of the model), attention subgraphs, neighbours, searches, cold start and a baseline."""
    users = rec.search_users(limit=40)["user_id"].tolist()
    tracks = rec.search_tracks(limit=10)["track_id"].tolist()
    tasks: list[tuple[str, tuple]] = [("recommend", (u, 10, w)) for u in users for w in WEIGHTS]
    tasks += [("profile", (u,)) for u in users[:20]]
    tasks += [("explain", (u, t, False)) for u, t in zip(users[:12], tracks * 2, strict=False)]
    tasks += [("explain", (u, tracks[0], True)) for u in users[:2]]
    tasks += [("subgraph", (u, t)) for u, t in zip(users[:8], tracks, strict=False)]
    tasks += [("similar", (t,)) for t in tracks]
    tasks += [("search", (q,)) for q in ("u00", "a", "t01")]
    tasks += [("cold", (g,)) for g in (rec.genres()[:2], rec.genres()[2:3], [])]
    tasks += [("baseline", (u,)) for u in users[:10]]
    return tasks


def _call(rec, task: tuple[str, tuple]) -> Any:
    kind, args = task
    if kind == "recommend":
        return rec.recommend(args[0], k=args[1], genre_weight=args[2])
    if kind == "profile":
        return rec.user_profile(*args)
    if kind == "explain":
        return rec.explain(args[0], args[1], counterfactual=args[2])
    if kind == "subgraph":
        return rec.attention_subgraph(*args)
    if kind == "similar":
        return rec.similar_tracks(*args, k=10)
    if kind == "search":
        return rec.search_users(*args), rec.search_tracks(*args)
    if kind == "cold":
        return rec.recommend_for_genres(list(args[0]), k=10)
    return rec.recommend_baseline("popularity", args[0], k=10)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, pd.DataFrame):
        return isinstance(b, pd.DataFrame) and a.equals(b) and a.attrs == b.attrs
    if isinstance(a, tuple | list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, float) and a != a:  # NaN
        return b != b
    return a == b


@pytest.fixture(scope="module")
def fresh(enhanced_run):
    """A Recommender of our own (the session's `recommender` fixture stays untouched by the cache resets here)."""
    from recsys import Recommender

    return Recommender.load(enhanced_run.checkpoint)


def _reset_caches(rec) -> None:
    """Score rows are cached per user: empty the cache so that both runs do the same work."""
    rec.ranker.clear()


def test_eight_threads_give_the_single_thread_answers(fresh, capsys) -> None:
    rec = fresh
    tasks = _workload(rec)
    for task in tasks[:3]:  # first-use work (attention, baselines) out of the timings
        _call(rec, task)
    _call(rec, ("baseline", (rec.users()[0],)))
    _call(rec, ("explain", (rec.users()[0], rec.search_tracks(limit=1)["track_id"].iat[0], False)))
    before = recommender_digest(rec)

    _reset_caches(rec)
    started = time.perf_counter()
    serial = [_call(rec, task) for task in tasks]
    serial_s = time.perf_counter() - started

    _reset_caches(rec)
    started = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        parallel = list(pool.map(lambda task: _call(rec, task), tasks))
    parallel_s = time.perf_counter() - started

    mismatched = [task for task, a, b in zip(tasks, serial, parallel, strict=True) if not _same(a, b)]
    assert not mismatched, mismatched[:5]
    assert recommender_digest(rec) == before, "concurrent calls changed the shared model"
    with capsys.disabled():
        n = len(tasks)
        print(f"\nRecommender API, {n} mixed requests: 1 thread {serial_s:.2f} s ({n / serial_s:.0f}/s), "
              f"{THREADS} threads {parallel_s:.2f} s ({n / parallel_s:.0f}/s), speed-up x{serial_s / parallel_s:.2f}")


def test_eight_threads_hammering_one_user_and_the_first_use_caches(enhanced_run) -> None:
    """A fresh service where every lazily-filled cache (attention, genre embeddings, tables, a baseline) is filled
    by 8 threads racing for it: each fill happens once and every thread sees the same answer."""
    from recsys import Recommender

    rec = Recommender.load(enhanced_run.checkpoint)
    user, track = rec.search_users(limit=1)["user_id"].iat[0], rec.search_tracks(limit=1)["track_id"].iat[0]
    genre = rec.genres()[:1]

    def everything(_: int) -> tuple:
        return (rec.recommend(user, k=20, genre_weight=0.5), rec.explain(user, track),
                rec.recommend_for_genres(genre, k=5), rec.search_users("", limit=5),
                rec.recommend_baseline("popularity", user, k=5))

    passes_before = rec.forward_passes
    with ThreadPoolExecutor(THREADS) as pool:
        answers = list(pool.map(everything, range(THREADS * 3)))
    assert all(_same(answers[0], other) for other in answers[1:])
    assert rec.forward_passes - passes_before <= 2  # the attention pass and the genre embeddings, once each


def test_baseline_lists_do_not_overwrite_the_shared_baseline(enhanced_run) -> None:
    """Masking a listener's songs in a popularity list used to write -inf into the fitted baseline itself (its
    scores are a view of one shared vector), so every later list, in every session, came out wrong."""
    from recsys import Recommender

    fresh = Recommender.load(enhanced_run.checkpoint)
    users = fresh.search_users(limit=3)["user_id"].tolist()
    first = fresh.recommend_baseline("popularity", users[2], k=10)
    digest = recommender_digest(fresh)
    for user in users[:2]:
        fresh.recommend_baseline("popularity", user, k=50)
    assert recommender_digest(fresh) == digest
    assert fresh.recommend_baseline("popularity", users[2], k=10).equals(first)
