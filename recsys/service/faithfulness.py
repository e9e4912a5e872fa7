"""Measuring whether explanations are true to the model, and to the data's known truth.

- Fidelity: remove the m history songs an explanation ranks highest and re-run the model; the recommended
  song's score must fall more than when m random history songs are removed (same users, same songs).
- Truth recovery (generated data only): the genre that explanations credit most for a user's recommendations
  should be one of the user's true preferred genres (from the generator's truth file, which no model reads),
  and the share of recommendations in preferred genres should rise with the genre weight.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from recsys.graph.edit import without_listens
from recsys.models.gat import explain_genre_influence
from recsys.service.explain import history_contributions
from recsys.service.recommender import Recommender

GENRE_WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)


def _sample_users(rec: Recommender, n: int, min_history: int, seed: int) -> list[str]:
    table = rec.search_users(limit=len(rec.maps.user))
    eligible = sorted(table.loc[table["interactions"] >= min_history, "user_id"])
    return random.Random(seed).sample(eligible, min(n, len(eligible)))


def fidelity(rec: Recommender, users: int = 50, removed: int = 3, random_draws: int = 3,
             seed: int = 0) -> dict[str, Any]:
    """Mean score drop of the top recommendation when removing the explanation's top-m vs m random songs."""
    rng = random.Random(seed)
    top_drops, random_drops = [], []
    for user_id in _sample_users(rec, users, 2 * removed, seed):
        user = rec.user_index(user_id)
        song = rec.track_index(rec.recommend(user_id, k=1)["track_id"].iat[0])
        weight = float(rec.scorer.adaptive[user])
        score = rec.scorer.decompose(user, song, weight)["score"]
        ranked = [rec.track_index(c["track_id"]) for c in history_contributions(rec, user, song)]
        top_drops.append(score - rec.score_with_graph(without_listens(rec.graph, user, ranked[:removed]), user,
                                                      song, weight))
        draws = [score - rec.score_with_graph(without_listens(rec.graph, user, rng.sample(ranked, removed)), user,
                                              song, weight) for _ in range(random_draws)]
        random_drops.append(float(np.mean(draws)))
    top, rand = np.array(top_drops), np.array(random_drops)
    return {"pairs": len(top), "removed_per_pair": removed, "mean_drop_explained": float(top.mean()),
            "mean_drop_random": float(rand.mean()), "ratio": float(top.mean() / max(rand.mean(), 1e-12)),
            "share_pairs_explained_larger": float((top > rand).mean())}


def load_truth(path: str | Path) -> dict[str, set[str]]:
    """user_id -> the generator's true preferred genres."""
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    return {user: set(info["preferred_genres"]) for user, info in raw["users"].items()}


def truth_recovery(rec: Recommender, truth: dict[str, set[str]], users: int = 200, k: int = 10,
                   seed: int = 0) -> dict[str, Any]:
    """Share of users whose explanations' top genre is a true preferred genre; genre precision per weight."""
    sample = [u for u in _sample_users(rec, users, 1, seed) if u in truth]
    hits = 0
    precision = {w: [] for w in GENRE_WEIGHTS}
    for user_id in sample:
        credit: Counter[str] = Counter()
        user = rec.user_index(user_id)
        for track in rec.recommend(user_id, k=k)["track_id"]:
            details = explain_genre_influence(rec.scorer, user, rec.track_index(track)) or {"genre_details": []}
            for d in details["genre_details"]:
                credit[rec.maps.genre.name_of(d["genre_idx"])] += d["contribution"]
        if credit and credit.most_common(1)[0][0] in truth[user_id]:
            hits += 1
        for weight in GENRE_WEIGHTS:
            genres = rec.recommend(user_id, k=k, genre_weight=weight)["genres"]
            precision[weight].append(float(np.mean([bool(set(g) & truth[user_id]) for g in genres])))
    return {"users": len(sample), "top_explained_genre_is_preferred": hits / max(1, len(sample)),
            "genre_precision_by_weight": {str(w): float(np.mean(v)) for w, v in precision.items()}}
