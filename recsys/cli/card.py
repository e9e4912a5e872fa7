"""`python -m recsys card`: write X.card.json beside a checkpoint X.pt (what an overview shows, without torch)."""

from __future__ import annotations

import argparse

from recsys.cli.common import DEFAULT_CHECKPOINT, add_force_arg, checked_output


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", default=DEFAULT_CHECKPOINT, help=f"model file (default {DEFAULT_CHECKPOINT})")
    add_force_arg(parser)


def run(args: argparse.Namespace) -> int:
    from recsys import Recommender
    from recsys.card import card_path

    out = checked_output(str(card_path(args.checkpoint)), "json", args.force, "card")
    print(f"written {Recommender.load(args.checkpoint).card().write(out)}")
    return 0
