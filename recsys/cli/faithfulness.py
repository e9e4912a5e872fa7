"""`python -m recsys faithfulness`: explanation and attention fidelity; on generated data, truth recovery."""

from __future__ import annotations

import argparse
from pathlib import Path

from recsys.cli.common import add_checkpoint_args, print_json


def configure(parser: argparse.ArgumentParser) -> None:
    add_checkpoint_args(parser)
    parser.add_argument("--users", type=int, default=50, help="users sampled for fidelity (default 50)")
    parser.add_argument("--removed", type=int, default=3,
                        help="history songs (or highest-attention listens) removed per user (default 3)")
    parser.add_argument("--truth", help="generator truth file (default: <data>.truth.json when it exists)")
    parser.add_argument("--truth-users", type=int, default=200, help="users sampled for truth recovery")
    parser.add_argument("--json", dest="json_out", help="also write the report to this file")
    parser.add_argument("--store", action="store_true",
                        help="write X.faithfulness.json beside the checkpoint X.pt (read by the service)")


def run(args: argparse.Namespace) -> int:
    from recsys import Recommender
    from recsys.service.faithfulness import load_truth, report, sidecar_path, store

    rec = Recommender.load(args.checkpoint, args.data)
    truth_file = Path(args.truth) if args.truth else rec.data_path.with_name(rec.data_path.name + ".truth.json")
    truth = load_truth(truth_file) if truth_file.is_file() else None
    result = report(rec, truth, args.users, args.removed, args.truth_users)
    print_json({"checkpoint": args.checkpoint, **result,
                **({} if truth is not None else {"note": f"no truth file at {truth_file}: truth-based parts "
                                                         "skipped (only generated data has one)"})})
    if args.json_out:
        store(result, args.json_out)
    if args.store:
        print(f"written {store(result, sidecar_path(args.checkpoint))}")
    return 0
