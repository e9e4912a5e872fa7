"""`python -m recsys explain`: why one track was recommended to one user."""

from __future__ import annotations

import argparse
from typing import Any

from recsys.cli.common import add_checkpoint_args, for_terminal, genre_weight_arg, print_json


def configure(parser: argparse.ArgumentParser) -> None:
    add_checkpoint_args(parser)
    parser.add_argument("--user", required=True, help="user ID as in the data")
    parser.add_argument("--track", required=True, help="track ID as in the data")
    parser.add_argument("--genre-weight", type=genre_weight_arg, help="genre weight in [0, 1] (default: adaptive)")
    parser.add_argument("--counterfactual", action="store_true",
                        help="also re-score without each history song (runs the model again per song)")
    parser.add_argument("--json", action="store_true", help="print the full explanation as JSON")


def render(exp: dict[str, Any]) -> str:
    """A readable text version of an explanation (used by explain and demo)."""
    lines = [exp["sentence"], "",
             f"score {exp['score']:.4f} = base {exp['base_score']:.4f} (embedding {exp['embedding_score']:.4f} + "
             f"item-item {exp['item_item_score']:.4f}) + genre weight {exp['genre_weight']:.3f} x genre influence "
             f"{exp['genre_influence']:.4f}" + (f"; rank {exp['rank']}" if exp.get("rank") else "")]
    genre = exp.get("genre_influence_details")
    if genre and genre["genre_details"]:
        lines.append(f"genres in common: {genre['num_common_genres']} (user has {genre['total_genres_user']}, "
                     f"song has {genre['total_genres_song']})")
        lines += [f"  {d['genre']:<20} affinity {d['user_affinity']:.3f} x strength {d['song_strength']:.3f} = "
                  f"{d['contribution']:.3f}" for d in genre["genre_details"]]
    artist = exp["artist_influence"]
    lines.append(f"artist {artist['artist']}: {artist['songs_played_by_artist']} song(s) played, "
                 f"{artist['user_plays_of_artist']} plays, similarity {artist['similarity']:.3f}")
    if exp["history_contributions"]:
        lines.append("history songs that contribute most:")
        lines += [f"  {c['title']} ({c['artist']}): {c['total']:+.4f} (item-item {c['item_item']:+.4f}, "
                  f"attention path {c['attention_path']:+.4f})" for c in exp["history_contributions"][:5]]
    cf = exp.get("counterfactual")
    if cf:
        rescored = f"re-scored {cf['candidates_rescored']} of {cf['history_size']} history songs"
        lines.append(f"counterfactual ({rescored}):")
        lines += [f"  without {c['title']}: score {c['score_without']:.4f} ({-c['drop']:+.4f})"
                  for c in cf["items"][:5]]
        if cf["top_removed_together"]:
            joint = cf["top_removed_together"]
            lines.append(f"  without the top {len(joint['track_ids'])} together: {joint['score_without']:.4f} "
                         f"({-joint['drop']:+.4f})")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from recsys import Recommender

    rec = Recommender.load(args.checkpoint, args.data)
    exp = rec.explain(args.user, args.track, genre_weight=args.genre_weight, counterfactual=args.counterfactual)
    print_json(exp) if args.json else print(render(for_terminal(exp)))
    return 0
