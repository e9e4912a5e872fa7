"""How good are the listeners the service builds besides the trained ones: fold-in and recent taste.

- Fold-in: each listener's own training history folded in as if new (`Recommender.recommend_for_history`, no
  retraining), ranked against the trained listener on the same users with the same masks: NDCG@10 of both,
  their ratio (issue 12: within 10%) and the top-10 overlap. Latency is `python -m recsys bench`'s job.
- Recent taste: genre shares weighted by play recency (`half_life_days`), on the dataset's own (temporal on
  the default data) split: NDCG@10 and genre precision@10 for each half-life on valid, where the half-life
  would be chosen, and on test. Genre precision@k: the share of the top k whose genres meet the genres of the
  listener's held-out songs (the "does it follow the taste" figure that NDCG does not show).

Everything goes through the service's public methods, so it measures what the dashboard and CLI serve.
"""

from __future__ import annotations

import random
import time
from typing import Any

import numpy as np
import torch

from recsys.errors import ConfigError
from recsys.evaluation import RankingTask, ranking_task
from recsys.evaluation.metrics import accuracy_metrics
from recsys.service.foldin import FOLD_IN_STEPS
from recsys.service.recommender import Recommender

HALF_LIVES = (1.0, 3.0, 7.0, 30.0, 90.0)  # days; None (all plays alike) is always measured beside them
K = 10


def _tasks(rec: Recommender, users: int | None, seed: int) -> dict[str, RankingTask]:
    """valid and test tasks restricted to the same reproducible sample of users who are in both."""
    if "split" not in rec.dataset.interactions:
        raise ConfigError("this dataset has no valid/test split to measure listeners on")
    tasks = {split: ranking_task(rec.dataset, rec.maps, split) for split in ("valid", "test")}
    common = sorted(set(tasks["valid"].users.tolist()) & set(tasks["test"].users.tolist()))
    if not common:
        raise ConfigError("no listener has held-out songs in both valid and test, so there is nothing to measure")
    chosen = set(random.Random(seed).sample(common, min(users, len(common))) if users else common)
    return {split: task.subset(torch.tensor([u in chosen for u in task.users.tolist()], dtype=torch.bool))
            for split, task in tasks.items()}


def _top(frame_of: Any, task: RankingTask, k: int) -> torch.Tensor:
    """[N, k] song indices per task user: ``frame_of(user index, extra)`` ranks, the task's mask is applied."""
    rows, crow, col = [], task.exclude.crow_indices(), task.exclude.col_indices()
    for user in task.users.tolist():
        masked = set(col[crow[user]:crow[user + 1]].tolist())
        ranked = [s for s in frame_of(user, k + len(masked)) if s not in masked][:k]
        # a short list (a catalogue nearly all masked) is padded with a masked song: never relevant, never a
        # hit (PyG reads -1 as another row's last song)
        rows.append(ranked + [min(masked, default=0)] * (k - len(ranked)))
    return torch.tensor(rows, dtype=torch.long).reshape(-1, k)


def _songs(rec: Recommender, frame) -> list[int]:
    return [rec.track_index(t) for t in frame["track_id"]]


def genre_precision(rec: Recommender, top: torch.Tensor, task: RankingTask) -> float:
    """Mean share of each user's top-k songs that carry a genre of one of the user's held-out songs."""
    mix = rec.library.mix
    held: list[set[int]] = [set() for _ in range(len(task.users))]
    for row, song in task.relevant.t().tolist():
        held[row].update(g for g, _ in mix[song])
    shares = [np.mean([bool(held[i] & {g for g, _ in mix[s]}) for s in row]) for i, row in enumerate(top.tolist())]
    return float(np.mean(shares)) if shares else float("nan")


def fold_in(rec: Recommender, tasks: dict[str, RankingTask], k: int = K) -> dict[str, Any]:
    """Trained vs folded-in (own training history) listeners: NDCG@k on valid and test, top-k overlap."""
    ids = {u: rec.maps.user.id_of(u) for u in tasks["valid"].users.tolist()}
    histories = {u: [(t, float(p)) for t, p in zip(h["track_id"], h["plays"], strict=True)]
                 for u, h in ((u, rec.user_history(i)) for u, i in ids.items())}
    out: dict[str, Any] = {"steps": FOLD_IN_STEPS}
    started = time.perf_counter()
    for split, task in tasks.items():
        trained = _top(lambda u, n: _songs(rec, rec.recommend(ids[u], k=n)), task, k)
        folded = _top(lambda u, n: _songs(rec, rec.recommend_for_history(histories[u], k=n)), task, k)
        a = accuracy_metrics(trained, task.relevant, [k])[f"ndcg@{k}"]
        b = accuracy_metrics(folded, task.relevant, [k])[f"ndcg@{k}"]
        overlap = float(np.mean([len(set(x) & set(y)) / k for x, y in zip(trained.tolist(), folded.tolist(),
                                                                           strict=True)]))
        out[split] = {f"trained_ndcg@{k}": a, f"folded_ndcg@{k}": b, "ratio": b / a if a else float("nan"),
                      f"top{k}_overlap": overlap}
    out["seconds"] = time.perf_counter() - started  # both listeners' rankings, valid and test
    return out


def recent_taste(rec: Recommender, tasks: dict[str, RankingTask], half_lives: tuple[float, ...] = HALF_LIVES,
                 k: int = K) -> dict[str, Any]:
    """NDCG@k and genre precision@k per half-life (None: every play counts alike) on valid and test."""
    ids = {u: rec.maps.user.id_of(u) for u in tasks["valid"].users.tolist()}
    out: dict[str, Any] = {"half_lives_days": list(half_lives)}
    for split, task in tasks.items():
        rows = {}
        for half_life in (None, *half_lives):
            top = _top(lambda u, n, h=half_life: _songs(rec, rec.recommend(ids[u], k=n, half_life_days=h)), task, k)
            rows["none" if half_life is None else f"{half_life:g}"] = {
                f"ndcg@{k}": accuracy_metrics(top, task.relevant, [k])[f"ndcg@{k}"],
                f"genre_precision@{k}": genre_precision(rec, top, task)}
        out[split] = rows
    chosen = max(out["valid"], key=lambda name: out["valid"][name][f"ndcg@{k}"])
    out["chosen_on_valid"] = chosen
    out["test_change"] = {metric: out["test"][chosen][metric] - out["test"]["none"][metric]
                          for metric in (f"ndcg@{k}", f"genre_precision@{k}")}
    return out


def report(rec: Recommender, users: int | None = None, half_lives: tuple[float, ...] = HALF_LIVES,
           seed: int = 0) -> dict[str, Any]:
    """Both measurements on the same users (all users held out in both valid and test unless ``users``)."""
    tasks = _tasks(rec, users, seed)
    result: dict[str, Any] = {"users": len(tasks["valid"].users), "k": K, "fold_in": fold_in(rec, tasks)}
    if "last_ts" in rec.dataset.interactions:
        result["recent_taste"] = recent_taste(rec, tasks, half_lives)
    else:
        result["recent_taste"] = {"note": "the dataset has no play timestamps, so there is no recency to weight by"}
    return result
