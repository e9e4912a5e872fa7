"""`python -m recsys faithfulness`: measure explanation fidelity and, on generated data, truth recovery."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from recsys.cli.common import add_checkpoint_args, add_force_arg, checked_output, positive_int, print_json


def configure(parser: argparse.ArgumentParser) -> None:
    add_checkpoint_args(parser)
    parser.add_argument("--users", type=positive_int, default=50, help="users sampled for fidelity (default 50)")
    parser.add_argument("--removed", type=positive_int, default=3, help="history songs removed per pair (default 3)")
    parser.add_argument("--truth", help="generator truth file (default: <data>.truth.json when it exists)")
    parser.add_argument("--truth-users", type=positive_int, default=200, help="users sampled for truth recovery")
    parser.add_argument("--json", dest="json_out", help="also write the report to this file")
    add_force_arg(parser)


def run(args: argparse.Namespace) -> int:
    from recsys import Recommender
    from recsys.data.write import write_text_atomic
    from recsys.service.faithfulness import fidelity, load_truth, truth_recovery

    json_out = checked_output(args.json_out, "json", args.force, "--json") if args.json_out else None
    rec = Recommender.load(args.checkpoint, args.data)
    report = {"checkpoint": args.checkpoint, "fidelity": fidelity(rec, args.users, args.removed)}
    truth = Path(args.truth) if args.truth else rec.data_path.with_name(rec.data_path.name + ".truth.json")
    if truth.is_file():
        report["truth_recovery"] = truth_recovery(rec, load_truth(truth), args.truth_users)
    else:
        report["truth_recovery"] = f"skipped: no truth file at {truth} (only generated data has one)"
    print_json(report)
    if json_out is not None:
        write_text_atomic(json_out, json.dumps(report, indent=2))
    return 0
