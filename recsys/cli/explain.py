"""`python -m recsys explain`: why one track was recommended to one user, or to a listening history."""

from __future__ import annotations

import argparse
from typing import Any

from recsys.cli.common import add_checkpoint_args, for_terminal, genre_weight_arg, print_json
from recsys.cli.listener import add_listener_args, read_history


def configure(parser: argparse.ArgumentParser) -> None:
    add_checkpoint_args(parser)
    add_listener_args(parser)
    parser.add_argument("--track", required=True, help="track ID as in the data")
    parser.add_argument("--genre-weight", type=genre_weight_arg, help="genre weight in [0, 1] (default: adaptive)")
    parser.add_argument("--counterfactual", action="store_true",
                        help="also re-score without each history song (runs the model again per song)")
    parser.add_argument("--json", action="store_true", help="print the full explanation as JSON")


def render(exp: dict[str, Any]) -> str:
    """A readable text version of an explanation (used by explain and demo); only the parts the model has."""
    parts = " + ".join(f"{p['label']} {p['value']:+.4f}" for p in exp["parts"])
    lines = [exp["sentence"], "", f"score {exp['score']:.4f} = {parts}"
             + (f" (genre weight {exp['genre_weight']:.3f} x genre influence {exp['genre_influence']:.4f})"
                if any(p["name"] == "genre" for p in exp["parts"]) else "")
             + (f"; rank {exp['rank']}" if exp.get("rank") else "")]
    genre = exp.get("genre_influence_details")
    if genre and genre["genre_details"]:
        lines.append(f"genres in common: {genre['num_common_genres']} (listener has {genre['total_genres_user']}, "
                     f"song has {genre['total_genres_song']})")
        lines += [f"  {_genre_label(d):<28} affinity {d['user_affinity']:.3f} x strength {d['song_strength']:.3f}"
                  f" = {d['contribution']:.3f}" for d in genre["genre_details"]]
    artist = exp["artist_influence"]
    songs = artist["songs_played_by_artist"]
    lines.append(f"artist {artist['artist']}: {songs} song{'' if songs == 1 else 's'} played, "
                 f"{artist['user_plays_of_artist']} plays, similarity {artist['similarity']:.3f}")
    if exp["history_contributions"]:
        lines.append("history songs that contribute most:")
        lines += [f"  {c['title']} ({c['artist']}): {c['total']:+.4f} (item-item {c['item_item']:+.4f}, "
                  f"attention path {c['attention_path']:+.4f})" for c in exp["history_contributions"][:5]]
    cf = exp.get("counterfactual")
    if cf:
        lines.append(f"counterfactual (re-scored {cf['candidates_rescored']} of {cf['history_size']} history songs):")
        lines += [f"  without {c['title']}: score {c['score_without']:.4f} ({-c['drop']:+.4f})"
                  for c in cf["items"][:5]]
        if cf["top_removed_together"]:
            joint = cf["top_removed_together"]
            lines.append(f"  without the top {len(joint['track_ids'])} together: {joint['score_without']:.4f} "
                         f"({-joint['drop']:+.4f})")
    return "\n".join(lines)


def _genre_label(detail: dict[str, Any]) -> str:
    return detail["genre"] + (f" (part of {detail['parent']})" if detail["parent"] else "")


def run(args: argparse.Namespace) -> int:
    from recsys import Recommender

    rec = Recommender.load(args.checkpoint, args.data)
    if args.history is not None:
        exp = rec.explain_for_history(read_history(args.history), args.track, genre_weight=args.genre_weight,
                                      counterfactual=args.counterfactual)
    else:
        exp = rec.explain(args.user, args.track, genre_weight=args.genre_weight, counterfactual=args.counterfactual)
    print_json(exp) if args.json else print(render(for_terminal(exp)))
    return 0
