"""Measuring whether explanations are true to the model, and to the data's known truth.

- Fidelity: remove the m history songs an explanation ranks highest and re-run the model; the recommended
  song's score must fall more than when m random history songs are removed (same users, same songs).
- Truth recovery (generated data only): the genre that explanations credit most for a user's recommendations
  should be one of the user's true preferred genres (from the generator's truth file, which no model reads),
  and the share of recommendations in preferred genres should rise with the genre weight.
- Attention AUC (generated data only): does the attention on a user's listens single out the listens in the
  user's true preferred genres better than LightGCN's fixed normalisation of the same edges does?
- Attention fidelity: removing the k listens with the highest attention into the user (re-running the model)
  must lower the top recommendation's score more than removing k random listens.

`report` gathers them in the format of ``X.faithfulness.json`` (`store` writes it beside the checkpoint).
"""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from recsys.data.write import write_text_atomic
from recsys.graph import LISTENS, SONG_GENRE, reverse
from recsys.graph.edit import without_listens
from recsys.models import GATRecommender, build_adjacencies
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


USER_FROM_SONGS = reverse(LISTENS)  # edges into a user: the songs they listened to


def listen_attention(model: GATRecommender, graph) -> tuple[Tensor, Tensor, Tensor]:
    """(edge_index [2, E] (song, user), attention [E], normalisation [E]) of every listen into its user.

    Attention is the coefficient averaged over heads and layers, read in eval mode; the normalisation is the
    fixed LightGCN weight of the same edge (what attention would be if it were switched off).
    """
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            x_dict, edges, weights = model.full_inputs(graph)
            _, attention = model(x_dict, edges, weights, return_attention=True)
    finally:
        model.train(was_training)
    num_nodes = {t: x.numel() for t, x in x_dict.items()}
    adj = build_adjacencies({USER_FROM_SONGS: edges[USER_FROM_SONGS]}, num_nodes,
                            weights if model.use_edge_weight else None)[USER_FROM_SONGS]
    alpha = torch.stack([layer[USER_FROM_SONGS][1].mean(1) for layer in attention]).mean(0)
    return adj.edge_index, alpha, adj.norm


def _auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """P(score of a positive > score of a negative), ties counted half (the Mann-Whitney AUC)."""
    diff = positive[:, None] - negative[None, :]
    return float((diff > 0).mean() + 0.5 * (diff == 0).mean())


def attention_auc(model: GATRecommender, graph, preferred: dict[int, set[int]], min_listens: int = 2
                  ) -> dict[str, float | int]:
    """Per-user AUC of attention on in-preferred-genre listens vs the user's other listens, and the same for
    the normalisation alone; means over users with at least ``min_listens`` of each kind.

    Args:
        preferred: user index -> the user's true preferred genre indices (from a generator's truth file).
    """
    edge_index, alpha, norm = listen_attention(model, graph)
    genre_store = graph[SONG_GENRE].edge_index
    song_genres: dict[int, set[int]] = {}
    for song, genre in genre_store.T.tolist():
        song_genres.setdefault(song, set()).add(genre)
    songs, users = edge_index.tolist()
    in_genre = np.array([bool(song_genres.get(s, set()) & preferred.get(u, set()))
                         for s, u in zip(songs, users, strict=True)])
    users_arr, alpha_arr, norm_arr = np.array(users), alpha.numpy(), norm.numpy()
    att_aucs, norm_aucs = [], []
    for user in preferred:
        mine = users_arr == user
        pos, neg = mine & in_genre, mine & ~in_genre
        if pos.sum() < min_listens or neg.sum() < min_listens:
            continue
        att_aucs.append(_auc(alpha_arr[pos], alpha_arr[neg]))
        norm_aucs.append(_auc(norm_arr[pos], norm_arr[neg]))
    if not att_aucs:
        return {"attention": float("nan"), "normalisation": float("nan"), "users": 0}
    return {"attention": float(np.mean(att_aucs)), "normalisation": float(np.mean(norm_aucs)),
            "users": len(att_aucs)}


def preferred_genre_indices(truth: dict[str, set[str]], maps) -> dict[int, set[int]]:
    """The truth file's preferred genres as graph indices (users and genres unknown to the graph are skipped)."""
    genre_index = {maps.genre.id_of(i): i for i in range(len(maps.genre))}
    user_index = {maps.user.id_of(i): i for i in range(len(maps.user))}
    return {user_index[u]: {genre_index[g] for g in genres if g in genre_index}
            for u, genres in truth.items() if u in user_index}


def attention_fidelity(rec: Recommender, users: int = 50, k: int = 3, random_draws: int = 3,
                       seed: int = 0) -> dict[str, float | int]:
    """Mean drop of the top recommendation's score when the user's k highest-attention listens are removed,
    against k random listens of the same user (the model re-run on each edited graph).

    ``top_drop``/``random_drop``/``ratio`` are for the whole score; the ``graph_`` keys for its embedding part
    alone, the part attention computes (the item-item and genre parts read the history, not the attention).
    """
    rng = random.Random(seed)
    edge_index, alpha, _ = listen_attention(rec.model, rec.graph)
    songs_of, users_of = edge_index
    drops: dict[str, list[float]] = {"top": [], "random": [], "graph_top": [], "graph_random": []}
    for user_id in _sample_users(rec, users, 2 * k, seed):
        user = rec.user_index(user_id)
        song = rec.track_index(rec.recommend(user_id, k=1)["track_id"].iat[0])
        weight = float(rec.scorer.adaptive[user])
        mine = users_of == user
        history, attention = songs_of[mine], alpha[mine]
        strongest = history[attention.argsort(descending=True)[:k]].tolist()
        top, graph_top = _drop(rec, user, song, weight, strongest)
        draws = np.array([_drop(rec, user, song, weight, rng.sample(history.tolist(), k))
                          for _ in range(random_draws)]).mean(0)
        for key, value in zip(drops, (top, draws[0], graph_top, draws[1]), strict=True):
            drops[key].append(float(value))
    mean = {key: float(np.mean(values)) for key, values in drops.items()}
    return {"k": k, "top_drop": mean["top"], "random_drop": mean["random"], "ratio": _ratio(mean["top"],
            mean["random"]), "graph_top_drop": mean["graph_top"], "graph_random_drop": mean["graph_random"],
            "graph_ratio": _ratio(mean["graph_top"], mean["graph_random"]), "users": len(drops["top"])}


def _drop(rec: Recommender, user: int, song: int, weight: float, removed: list[int]) -> tuple[float, float]:
    """(score drop, embedding-part drop) of one pair when the user's listens to ``removed`` are taken away."""
    before = rec.scorer.decompose(user, song, weight)
    after = rec.model.prepare(without_listens(rec.graph, user, removed)).decompose(user, song, weight)
    return before["score"] - after["score"], before["embedding_score"] - after["embedding_score"]


def _ratio(top: float, random_drop: float) -> float:
    return top / random_drop if random_drop > 0 else float("inf")


def report(rec: Recommender, truth: dict[str, set[str]] | None, users: int = 50, removed: int = 3,
           truth_users: int = 200) -> dict[str, Any]:
    """Every measurement above, in the ``X.faithfulness.json`` format (truth-based parts None without truth)."""
    out: dict[str, Any] = {"fidelity": fidelity(rec, users, removed), "truth_recovery": None,
                           "attention_auc": None,
                           "attention_fidelity": attention_fidelity(rec, users, removed)}
    if truth is not None:
        out["truth_recovery"] = truth_recovery(rec, truth, truth_users)
        out["attention_auc"] = attention_auc(rec.model, rec.graph, preferred_genre_indices(truth, rec.maps))
    return out


def sidecar_path(checkpoint: str | Path) -> Path:
    """``X.faithfulness.json`` beside checkpoint ``X.pt``."""
    checkpoint = Path(checkpoint)
    return checkpoint.with_name(checkpoint.stem + ".faithfulness.json")


def store(result: dict[str, Any], path: str | Path) -> Path:
    """Write the report as UTF-8 JSON atomically (temp file in the same folder, then rename)."""
    return write_text_atomic(path, json.dumps(result, indent=2) + "\n")
