"""`python -m recsys recommend`: top-K recommendations for one user."""

from __future__ import annotations

import argparse

from recsys.cli.common import add_checkpoint_args, format_table, genre_weight_arg, print_json, terminal_text


def configure(parser: argparse.ArgumentParser) -> None:
    add_checkpoint_args(parser)
    parser.add_argument("--user", required=True, help="user ID as in the data")
    parser.add_argument("--k", type=int, default=10, help="number of songs (default 10)")
    parser.add_argument("--genre-weight", type=genre_weight_arg, help="genre weight in [0, 1] (default: adaptive)")
    parser.add_argument("--include-known", action="store_true", help="also rank songs the user already played")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    from recsys import Recommender

    rec = Recommender.load(args.checkpoint, args.data)
    frame = rec.recommend(args.user, k=args.k, genre_weight=args.genre_weight, exclude_known=not args.include_known)
    if args.json:
        print_json({"user_id": args.user, "strategy": frame.attrs.get("strategy"), "note": frame.attrs.get("note"),
                    "recommendations": frame.to_dict(orient="records")})
        return 0
    print(terminal_text(f"top {len(frame)} for user {args.user} ({frame.attrs.get('strategy')}; {rec.describe()})"))
    if frame.attrs.get("note"):
        print(terminal_text(frame.attrs["note"]))
    print(format_table(frame, ["rank", "track_id", "title", "artist", "genres", "score", "base_score",
                               "genre_score"]))
    return 0
