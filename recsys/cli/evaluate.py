"""`python -m recsys evaluate`: rank the full catalogue and compare GATs with baselines on one split.

Either evaluate checkpoints (``--checkpoint``, repeatable; they must share dataset and split) or train the GATs
fresh in the run (``--models basic,enhanced``, once per ``--seeds``), or both; the baselines are trained on the
same split in the same run. Prints a table sorted by NDCG@10; ``--json`` and ``--markdown`` save the report.
"""

from __future__ import annotations

import argparse

from recsys.cli.common import add_force_arg, checked_output, terminal_text

DEFAULT_BASELINES = "popularity,bprmf,lightgcn,ease"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", action="append", metavar="CKPT",
                        help="a trained GAT to evaluate; repeat for several (same dataset and split)")
    parser.add_argument("--models", metavar="KINDS",
                        help="GATs to train fresh in this run with default configs: basic, enhanced or both "
                             "(comma-separated)")
    parser.add_argument("--data", help="dataset folder (default: the checkpoint's; required with --models alone)")
    parser.add_argument("--baselines", default=DEFAULT_BASELINES,
                        help=f"comma-separated baselines, all or none (default {DEFAULT_BASELINES})")
    parser.add_argument("--k", type=int, nargs="+", default=[10, 20], metavar="K", help="cut-offs (default 10 20)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], metavar="SEED",
                        help="repeat the run per seed and report mean and std (default 0)")
    parser.add_argument("--epochs", type=int, help="maximum epochs of every model trained in the run (default 50)")
    parser.add_argument("--json", metavar="OUT", help="write the report as JSON (NaN as null)")
    parser.add_argument("--markdown", metavar="OUT", help="write the table as Markdown")
    parser.add_argument("--quiet", action="store_true", help="print only the table")
    add_force_arg(parser)


def run(args: argparse.Namespace) -> int:
    from recsys.baselines import baseline_names
    from recsys.data import load_dataset
    from recsys.data.write import write_text_atomic
    from recsys.errors import ConfigError
    from recsys.evaluation.compare import (
        compare,
        format_markdown,
        format_table,
        gat_kinds,
        load_checkpoints,
        to_json,
    )

    baselines = baseline_names(args.baselines)  # fail on a typo before any loading or training
    outputs = [(checked_output(path, kind, args.force, option), render) for path, kind, option, render in
               ((args.json, "json", "--json", to_json), (args.markdown, "markdown", "--markdown", format_markdown))
               if path]
    fresh = gat_kinds(args.models or "")
    if not args.checkpoint and args.data is None:
        raise ConfigError("evaluate needs --checkpoint CKPT or --data DIR (with --models to train GATs here)")
    log = (lambda _: None) if args.quiet else print
    trained, split_rule = [], None
    if args.checkpoint:
        trained, dataset, split_rule = load_checkpoints(args.checkpoint, args.data)
    else:
        dataset = load_dataset(args.data)
    report = compare(dataset, trained=trained, fresh=fresh, baselines=baselines, seeds=args.seeds,
                     epochs=args.epochs, ks=args.k, split_rule=split_rule, log=log)
    print(terminal_text(format_table(report), keep_newlines=True))  # model names come from checkpoints
    for path, render in outputs:
        write_text_atomic(path, render(report) + "\n")
        print(f"wrote {path}")
    return 0
