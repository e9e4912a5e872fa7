"""`python -m recsys listeners`: fold-in listeners against trained ones, and whether "recent taste" helps."""

from __future__ import annotations

import argparse

from recsys.cli.common import add_checkpoint_args, add_force_arg, checked_output, positive_int


def configure(parser: argparse.ArgumentParser) -> None:
    add_checkpoint_args(parser)
    parser.add_argument("--users", type=positive_int, help="sample this many users (default: every user held out "
                                                           "in both valid and test)")
    parser.add_argument("--half-life", type=float, nargs="+", metavar="DAYS",
                        help="recent-taste half-lives to measure (default 1 3 7 30 90)")
    parser.add_argument("--json", dest="json_out", help="also write the report to this file")
    add_force_arg(parser)


def run(args: argparse.Namespace) -> int:
    from recsys import Recommender
    from recsys.data.write import write_text_atomic
    from recsys.experiments.report import to_json
    from recsys.service.listener_quality import HALF_LIVES, report
    from recsys.service.profiles import check_half_life

    json_out = checked_output(args.json_out, "json", args.force, "--json") if args.json_out else None
    half_lives = tuple(args.half_life or HALF_LIVES)
    for half_life in half_lives:  # before the minutes of loading and ranking
        check_half_life(half_life)
    rec = Recommender.load(args.checkpoint, args.data)
    text = to_json({"checkpoint": args.checkpoint, **report(rec, args.users, half_lives)})
    print(text)
    if json_out is not None:
        write_text_atomic(json_out, text + "\n")
    return 0
