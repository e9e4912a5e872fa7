"""`python -m recsys recommend`: top-K recommendations for one user, or for a listening history (folded in)."""

from __future__ import annotations

import argparse

from recsys.cli.common import add_checkpoint_args, format_table, genre_weight_arg, print_json, terminal_text
from recsys.cli.listener import add_listener_args, read_history

COLUMNS = ["rank", "track_id", "title", "artist", "genres", "score", "base_score", "genre_score"]


def configure(parser: argparse.ArgumentParser) -> None:
    add_checkpoint_args(parser)
    add_listener_args(parser)
    parser.add_argument("--k", type=int, default=10, help="number of songs (default 10)")
    parser.add_argument("--genre-weight", type=genre_weight_arg, help="genre weight in [0, 1] (default: adaptive)")
    parser.add_argument("--recent-days", type=float, metavar="DAYS",
                        help="recent taste: weight genre shares by play recency with this half-life (--user only)")
    parser.add_argument("--include-known", action="store_true", help="also rank songs the user already played")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    from recsys import ConfigError, Recommender

    if args.history is not None and (args.recent_days is not None or args.include_known):
        raise ConfigError("--recent-days and --include-known apply to --user only")
    rec = Recommender.load(args.checkpoint, args.data)
    if args.history is not None:
        frame = rec.recommend_for_history(read_history(args.history), k=args.k, genre_weight=args.genre_weight)
        who = f"the history in {args.history}"
    else:
        frame = rec.recommend(args.user, k=args.k, genre_weight=args.genre_weight, half_life_days=args.recent_days,
                              exclude_known=not args.include_known)
        who = f"user {args.user}"
    if args.json:
        print_json({"user_id": args.user, "history": str(args.history) if args.history else None,
                    "strategy": frame.attrs.get("strategy"), "note": frame.attrs.get("note"),
                    "recommendations": frame.to_dict(orient="records")})
        return 0
    print(terminal_text(f"top {len(frame)} for {who} ({frame.attrs.get('strategy')}; {rec.describe()})"))
    if frame.attrs.get("note"):
        print(terminal_text(frame.attrs["note"]))
    print(format_table(frame.assign(genres=frame["genres"].map(", ".join)), COLUMNS))
    return 0
