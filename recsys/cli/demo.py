"""`python -m recsys demo`: a tour of a trained model for one user (the seed's test_enhanced_model.py)."""

from __future__ import annotations

import argparse
import time

from recsys.cli.common import MAX_CELL, add_checkpoint_args, for_terminal, format_table, terminal_text
from recsys.cli.recommend import COLUMNS


def configure(parser: argparse.ArgumentParser) -> None:
    add_checkpoint_args(parser)
    parser.add_argument("--user", help="user ID (default: the first user)")
    parser.add_argument("--top-k", type=int, default=5, help="recommendations to show and explain (default 5)")
    parser.add_argument("--verbose", action="store_true", help="full explanation of every recommendation")


def run(args: argparse.Namespace) -> int:
    import torch

    from recsys import Recommender
    from recsys.cli.explain import render
    from recsys.evaluation import evaluate_scores, ranking_task
    from recsys.models import estimate_memory_usage
    from recsys.training.trainer import catalogue_stats

    rec = Recommender.load(args.checkpoint, args.data)
    model, card = rec.model, rec.model_card()
    n = model.num_nodes
    print("== model")
    print(f"{rec.describe()}")
    print(f"layers {model.num_layers}, heads {model.heads}, attention {model.attention}, genres "
          f"{'yes' if model.uses_genres else 'no'}, item-item term {'yes' if model.item_item_weight else 'no'}")
    estimate = estimate_memory_usage(n["user"], n["song"], n["artist"], n["genre"], model.embedding_dim,
                                     model.num_layers, model.heads, model.hidden_dim, model.uses_genres)
    print(f"parameters {card['parameters']:,} ({estimate:.2f} MB as float32); scale weights {card['scale_weights']}")
    print("== forward check")
    started = time.perf_counter()
    with torch.no_grad():
        z, attention = model(*model.full_inputs(rec.graph), return_attention=True)
    elapsed = (time.perf_counter() - started) * 1000
    finite = all(bool(torch.isfinite(v).all()) for v in z.values())
    shapes = ", ".join(f"{t} {tuple(v.shape)}" for t, v in z.items())
    print(f"full-graph forward in {elapsed:.1f} ms; embeddings {shapes}; finite: {finite}; "
          f"attention: {len(attention)} layer(s) x {len(attention[0])} relation(s)")
    user = args.user or rec.users()[0]
    profile = for_terminal(rec.user_profile(user))
    print(f"== user {terminal_text(user, MAX_CELL)} ({profile['name']}): {profile['interactions']} songs, "
          f"{profile['plays']} plays, "
          f"adaptive genre weight {profile['adaptive_genre_weight']:.3f}")
    print("top genres: " + ", ".join(f"{g['genre']} {g['share']:.0%}" for g in profile["top_genres"][:5]))
    frame = rec.recommend(user, k=args.top_k)
    print(f"== top {len(frame)} ({frame.attrs.get('strategy')})")
    print(format_table(frame.assign(genres=frame["genres"].map(", ".join)), COLUMNS))
    print("== explanations")
    for row in frame.itertuples():
        exp = for_terminal(rec.explain(user, row.track_id))
        print(f"{row.rank}. " + (render(exp) if args.verbose else exp["sentence"]))
    print("== evaluation (test split, full catalogue, train and valid masked)")
    task = ranking_task(rec.dataset, rec.maps, "test")
    metrics = evaluate_scores(rec.scorer.scores, task, [10], catalogue_stats(rec.graph))
    print(", ".join(f"{k} {metrics[k]:.4f}" for k in ("ndcg@10", "recall@10", "precision@10", "hit_rate@10",
                                                       "mrr@10", "coverage@10", "novelty@10", "diversity@10")))
    return 0
