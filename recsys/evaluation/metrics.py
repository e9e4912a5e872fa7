r"""Ranking metrics over top-K lists, on top of `torch_geometric.metrics` where its definitions fit.

Accuracy (averaged over users with at least one held-out song):

- Recall@K = hits / \|relevant\|; Precision@K = hits / K; HitRate@K = 1 if any hit.
- NDCG@K with binary relevance: DCG = sum over hit positions p (1-based) of 1/log2(p + 1); the ideal DCG places
  min(K, \|relevant\|) hits first.
- MRR@K = 1 / rank of the first hit (0 without one).

Beyond accuracy (over all evaluated users' lists):

- coverage: share of the catalogue recommended to at least one user;
- novelty: mean self-information -log2(popularity share of users) of recommended songs;
- intra-list genre diversity: mean over lists of 1 - cosine similarity of the genre mixes of song pairs;
- mean popularity: average number of training users of a recommended song.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch_geometric.metrics import (
    LinkPredHitRatio,
    LinkPredMetricCollection,
    LinkPredMRR,
    LinkPredNDCG,
    LinkPredPrecision,
    LinkPredRecall,
)
from torch_geometric.metrics.link_pred import LinkPredMetricData

from recsys.sparse import dense_rows

ACCURACY = {"recall": LinkPredRecall, "precision": LinkPredPrecision, "ndcg": LinkPredNDCG,
            "hit_rate": LinkPredHitRatio, "mrr": LinkPredMRR}


def accuracy_metrics(top: Tensor, relevant: Tensor, ks: list[int]) -> dict[str, float]:
    """Recall, precision, NDCG, hit rate and MRR at every k, from [N, >=max(ks)] lists and [2, R] ground truth."""
    collection = LinkPredMetricCollection([cls(k) for k in ks for cls in ACCURACY.values()])
    collection.update(top[:, :max(ks)], relevant)
    raw = collection.compute()
    names = {cls.__name__: name for name, cls in ACCURACY.items()}
    out = {}
    for key, value in raw.items():
        cls_name, k = key.split("@")
        out[f"{names[cls_name]}@{k}"] = float(value)
    return out


def per_user_ndcg(top: Tensor, relevant: Tensor, k: int) -> Tensor:
    """[N] NDCG@k of every user (row of ``top``): what a paired significance test over users compares.

    PyG's `LinkPredNDCG` computes these per-example values before averaging them (``_compute``); reusing it keeps
    one definition, and its mean over users with a held-out song is `accuracy_metrics`' ``ndcg@k`` (tested).
    """
    return LinkPredNDCG(k)._compute(LinkPredMetricData(pred_index_mat=top[:, :k], edge_label_index=relevant))


def coverage(top: Tensor, num_songs: int) -> float:
    return torch.unique(top).numel() / max(1, num_songs)


def novelty(top: Tensor, popularity: Tensor, num_users: int) -> float:
    """Mean self-information of recommended songs; unseen songs count as seen by one user."""
    share = popularity.float().clamp_min(1.0) / max(1, num_users)
    return float((-torch.log2(share[top])).mean()) if top.numel() else 0.0


def mean_popularity(top: Tensor, popularity: Tensor) -> float:
    return float(popularity.float()[top].mean()) if top.numel() else 0.0


def intra_list_diversity(top: Tensor, song_genre: Tensor | None) -> float:
    """Mean of 1 - cosine(genre mix) over song pairs within each list; NaN without genre data."""
    if song_genre is None or top.size(1) < 2:
        return math.nan
    k = top.size(1)
    totals = []
    for start in range(0, top.size(0), 256):
        block = top[start:start + 256]
        vectors = dense_rows(song_genre, block.reshape(-1)).view(block.size(0), k, -1)
        vectors = torch.nn.functional.normalize(vectors, dim=-1)
        sim = vectors @ vectors.transpose(1, 2)  # [b, k, k]
        off_diagonal = (sim.sum((1, 2)) - sim.diagonal(dim1=1, dim2=2).sum(1)) / (k * (k - 1))
        totals.append(1.0 - off_diagonal)
    return float(torch.cat(totals).mean())


def beyond_accuracy(top: Tensor, popularity: Tensor, num_users: int, song_genre: Tensor | None) -> dict[str, float]:
    k = top.size(1)
    return {f"coverage@{k}": coverage(top, popularity.numel()), f"novelty@{k}": novelty(top, popularity, num_users),
            f"diversity@{k}": intra_list_diversity(top, song_genre),
            f"popularity@{k}": mean_popularity(top, popularity)}
