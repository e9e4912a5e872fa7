"""`python -m recsys faithfulness`: explanation and attention fidelity; on generated data, truth recovery."""

from __future__ import annotations

import argparse
from pathlib import Path

from recsys.cli.common import add_checkpoint_args, add_force_arg, checked_output, positive_int, print_json


def configure(parser: argparse.ArgumentParser) -> None:
    add_checkpoint_args(parser)
    parser.add_argument("--users", type=positive_int, default=50, help="users sampled for fidelity (default 50)")
    parser.add_argument("--removed", type=positive_int, default=3,
                        help="history songs (or highest-attention listens) removed per user (default 3)")
    parser.add_argument("--truth", help="generator truth file (default: <data>.truth.json when it exists)")
    parser.add_argument("--truth-users", type=positive_int, default=200, help="users sampled for truth recovery")
    parser.add_argument("--json", dest="json_out", help="also write the report to this file")
    parser.add_argument("--store", action="store_true",
                        help="write X.faithfulness.json beside the checkpoint X.pt (read by the service)")
    add_force_arg(parser)


def run(args: argparse.Namespace) -> int:
    from recsys import Recommender
    from recsys.service.faithfulness import load_truth, report, sidecar_path, store

    json_out = checked_output(args.json_out, "json", args.force, "--json") if args.json_out else None
    sidecar = checked_output(str(sidecar_path(args.checkpoint)), "json", args.force, "--store") if args.store else None
    rec = Recommender.load(args.checkpoint, args.data)
    truth_file = Path(args.truth) if args.truth else rec.data_path.with_name(rec.data_path.name + ".truth.json")
    truth = load_truth(truth_file) if truth_file.is_file() else None
    result = report(rec, truth, args.users, args.removed, args.truth_users)
    print_json({"checkpoint": args.checkpoint, **result,
                **({} if truth is not None else {"note": f"no truth file at {truth_file}: truth-based parts "
                                                         "skipped (only generated data has one)"})})
    if json_out is not None:
        store(result, json_out)
    if sidecar is not None:
        print(f"written {store(result, sidecar)}")
    return 0
