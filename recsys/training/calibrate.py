"""After training: fit an item-item (EASE) term, tune its weight on valid, fix the score scale.

One procedure for every blend of embeddings and EASE: the Enhanced GAT's global scale and the
``lightgcn+ease`` / ``bprmf+ease`` baselines are calibrated by `tune_item_item`, on the same grid.

The item-item term has a closed form, so it is fitted once per L2 strength rather than learned. Its weight beta
is chosen on the validation split from a grid in units of the spread ratio std(embedding scores) / std(fitted
item-item scores), both over the same sample of users' full score rows: at beta_relative = 1 the two parts vary
equally. (Until this version the ratio was measured before the term was fitted, so it was always 1 and the
grid was in raw units: the default model's beta of 20.6 was 8 x that, the grid's edge.) The Enhanced model's
term is sparse (`ItemItemTerm`), so its lambda and beta are chosen on that term's own scores, after exact EASE
screened the grid (`_tune_shipped_term`); the blends keep exact EASE. Finally sigma makes base scores
unit-variance, so that a genre weight means the same on every dataset.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from recsys.config import Config
from recsys.data import Dataset
from recsys.evaluation import RankingTask
from recsys.evaluation.metrics import accuracy_metrics
from recsys.graph import LISTENS
from recsys.models import GATRecommender
from recsys.models.item_item import ItemItemTerm, ease_scores
from recsys.models.scoring import Scorer
from recsys.sparse import dense_rows

LAMBDAS = (20.0, 50.0, 100.0, 200.0, 500.0, 1000.0)  # EASE L2 strengths (EASE alone chose 100-500 on both data)
BETAS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)  # item-item weight in units of the spread ratio (module doc)
SAMPLE_USERS = 512  # users whose full score rows estimate the spreads and sigma
EXACT_SCREEN_MAX_BYTES = 4 * 2**30  # exact EASE's dense arrays (`exact_screening_fits`) above this:
UNSCREENED_LAMBDA = 100.0  # ... no screening; the shipped term is fitted at this lambda (EASE alone chose 100-500)


def exact_screening_fits(num_users: int, num_songs: int) -> bool:
    """Whether exact EASE's closed form (the lambda screen) fits in memory: its dense min(users, songs)^2 solve
    (float64, about 3 copies), the users x songs float64 product beside it and the float32 scores kept for
    every lambda. At 100,000 users x 1M songs the solve alone is 80 GB, so calibration there goes straight to
    the shipped sparse term. (Validation rows stay dense [users, songs] either way: at a million songs
    calibration itself needs a machine sized for that.)"""
    cells = num_users * num_songs
    needed = 3 * 8 * min(num_users, num_songs) ** 2 + 8 * cells + 4 * cells * len(LAMBDAS)
    return needed <= EXACT_SCREEN_MAX_BYTES


@dataclass(frozen=True)
class ItemItemChoice:
    """What `tune_item_item` chose on validation.

    Attributes:
        lam: EASE L2 strength.
        beta: absolute weight of the item-item scores added to the embedding scores (0: the term is off).
        beta_relative: beta in units of ``spread_ratio`` (the grid value).
        spread_ratio: std(embedding scores) / std(item-item scores) at ``lam``, over the sample users.
        scale: sigma, the std of (embedding + beta * item-item) scores over the sample users.
        valid_ndcg: validation NDCG@k of the chosen blend.
        valid_ndcg_embedding: validation NDCG@k of the embeddings alone (beta = 0).
    """

    lam: float
    beta: float
    beta_relative: float
    spread_ratio: float
    scale: float
    valid_ndcg: float
    valid_ndcg_embedding: float

    def details(self) -> dict[str, float]:
        """The choice as report fields."""
        return {"item_item_lambda": self.lam, "item_item_beta": self.beta,
                "item_item_beta_relative": self.beta_relative, "item_item_spread_ratio": self.spread_ratio,
                "score_scale": self.scale, "valid_ndcg_blend": self.valid_ndcg,
                "valid_ndcg_embedding": self.valid_ndcg_embedding}


def _spread(scores: Tensor) -> float:
    return float(scores.std()) or 1.0


def sample_users(num_users: int) -> Tensor:
    """A fixed sample of user indices (seed 0), so calibration is deterministic."""
    generator = torch.Generator().manual_seed(0)
    return torch.randperm(num_users, generator=generator)[:SAMPLE_USERS]


_EASE_CACHE: dict[tuple[str, int, int, float], Tensor] = {}
EASE_CACHE_ENTRIES = len(LAMBDAS)  # one per lambda of the grid


def ease_user_scores(listens: Tensor, num_users: int, num_songs: int, lam: float, users: Tensor) -> Tensor:
    """EASE scores [len(users), S] of the training pairs ``listens`` at ``lam``, shared within an experiment.

    The scores are a pure function of the training pairs and lambda, and every calibration of one seed (the
    EASE baseline, both blends, the Enhanced GAT and its ablation) asks for the same ones: with fewer users than
    songs all users' scores are computed once and kept (at most `EASE_CACHE_ENTRIES`, users x songs float32
    each: 133 MB on Last.fm, less than one B); a new training set empties the cache.
    """
    if num_users >= num_songs:  # primal form: users x songs would outgrow B; compute the rows asked for
        return ease_scores(listens[0], listens[1], num_users, num_songs, lam, users)
    digest = hashlib.sha1(listens.cpu().numpy().tobytes()).hexdigest()
    key = (digest, num_users, num_songs, float(lam))
    if key not in _EASE_CACHE:
        if any(k[0] != digest for k in _EASE_CACHE) or len(_EASE_CACHE) >= EASE_CACHE_ENTRIES:
            _EASE_CACHE.clear()
        _EASE_CACHE[key] = ease_scores(listens[0], listens[1], num_users, num_songs, lam)
    return _EASE_CACHE[key][users]


def tune_item_item(embedding: Callable[[Tensor], Tensor], listens: Tensor, num_users: int, num_songs: int,
                   valid: RankingTask, k: int = 10, lambdas: tuple[float, ...] = LAMBDAS,
                   betas: tuple[float, ...] = BETAS,
                   item_scores: Callable[[float, Tensor], Tensor] | None = None) -> ItemItemChoice:
    """Choose EASE's lambda and the blend weight beta on validation NDCG@k for ``embedding + beta * EASE``.

    Args:
        embedding: user indices [B] -> embedding scores [B, num_songs] (a frozen model or baseline).
        listens: [2, E] training (user, song) pairs the EASE term is fitted on.
        valid: the validation task (its users are ranked for every candidate, their training songs masked
            once: on Last.fm 48 candidates in about a minute instead of four on a busy machine).
        item_scores: (lambda, users) -> item-item scores [B, num_songs]; default: exact EASE's.
    """
    sample = sample_users(num_users)
    users = torch.cat([valid.users, sample])
    emb = embedding(users).detach().float()  # [V + sample, S]
    seen = dense_rows(valid.exclude, valid.users).bool()
    emb_valid, emb_sample = emb[:len(valid.users)].masked_fill(seen, -math.inf), emb[len(valid.users):]
    emb_spread = _spread(emb_sample)
    table = torch.empty_like(emb_valid)  # reused for every candidate: each is one add and one top-k

    def blend_ndcg(item_item: Tensor, beta: float) -> float:
        torch.add(emb_valid, item_item, alpha=beta, out=table)
        return accuracy_metrics(table.topk(k, dim=1).indices, valid.relevant, [k])[f"ndcg@{k}"]

    embedding_only = blend_ndcg(torch.zeros_like(emb_valid), 0.0)
    best = ItemItemChoice(lambdas[0], 0.0, 0.0, 1.0, emb_spread, embedding_only, embedding_only)
    for lam in lambdas:
        ii = item_scores(lam, users) if item_scores is not None else \
            ease_user_scores(listens, num_users, num_songs, lam, users)
        ii_valid, ii_sample = ii[:len(valid.users)], ii[len(valid.users):]
        ratio = emb_spread / _spread(ii_sample)
        for relative in betas:
            if relative == 0.0:
                continue  # the embeddings alone: measured once above
            metric = blend_ndcg(ii_valid, relative * ratio)
            if metric > best.valid_ndcg:
                beta = relative * ratio
                best = ItemItemChoice(lam, beta, relative, ratio, _spread(emb_sample + beta * ii_sample), metric,
                                      embedding_only)
    return best


def calibrate(model: GATRecommender, graph: HeteroData, dataset: Dataset, valid: RankingTask,
              config: Config) -> dict[str, float]:
    """Fit and weigh the model's item-item term (Enhanced) and set sigma; returns the choices for the report."""
    term = model.item_item_module()
    model.set_calibration(1.0, 0.0)
    if term is not None:
        term.clear()
    scorer = model.prepare(graph)  # the only forward pass: beta and sigma are arithmetic on its outputs
    if term is None:
        scale = _spread(scorer.embedding_scores(sample_users(graph["user"].num_nodes)))
        model.set_calibration(scale)
        return {"score_scale": scale}
    listens, num_users, num_songs = graph[LISTENS].edge_index, graph["user"].num_nodes, graph["song"].num_nodes
    screen: dict[str, float] = {}
    if exact_screening_fits(num_users, num_songs):
        choice = tune_item_item(scorer.embedding_scores, listens, num_users, num_songs, valid, config.training.eval_k)
        screen = {"item_item_screen_lambda": choice.lam, "valid_ndcg_screen": choice.valid_ndcg}
        if choice.beta:
            choice = _tune_shipped_term(term, scorer, listens, num_users, valid, config.training.eval_k, choice.lam)
    else:  # exact EASE's closed form would not fit: fit the shipped term once, at a fixed lambda, tune beta on it
        choice = _tune_shipped_term(term, scorer, listens, num_users, valid, config.training.eval_k, UNSCREENED_LAMBDA,
                                    neighbours=False)
    if not choice.beta:
        term.clear()  # the embeddings alone won: ship no unused matrix
    model.set_calibration(choice.scale, choice.beta)
    return {**choice.details(), **screen, "valid_ndcg_tuned": choice.valid_ndcg}


def _tune_shipped_term(term: ItemItemTerm, scorer: Scorer, listens: Tensor, num_users: int, valid: RankingTask,
                       k: int, screened: float, neighbours: bool = True) -> ItemItemChoice:
    """Lambda and beta again on the term the model ships (sparse: top weights or neighbourhood EASE).

    Exact EASE's closed-form scores screen the grid cheaply, but truncation moves the best lambda: on the
    default data exact EASE chose 50 (valid blend 0.1594), while the shipped top-256 term scores 0.1551 at 50
    and 0.1578 at 100. So an exact term is fitted at the screened lambda and its two grid neighbours (one
    solve each, about a second at 5,000 songs) and the best of those is kept, fitted; a neighbourhood term
    (catalogues beyond an exact solve, where one fit takes minutes to hours), or without ``neighbours``, only at
    ``screened``.
    """
    candidates: tuple[float, ...] = (screened,)
    if neighbours and term.method == "exact" and screened in LAMBDAS:
        at = LAMBDAS.index(screened)
        candidates = LAMBDAS[max(0, at - 1):at + 2]
    fitted: dict[float, dict] = {}  # lambda -> the term's state fitted at it

    def shipped_scores(lam: float, users: Tensor) -> Tensor:
        term.fit(listens, num_users, lam)
        fitted[lam] = term.get_extra_state()
        return term.scores(dense_rows(scorer.known, users))

    choice = tune_item_item(scorer.embedding_scores, listens, num_users, term.num_songs, valid, k,
                            lambdas=candidates, item_scores=shipped_scores)
    term.set_extra_state(fitted[choice.lam])
    return choice
