"""`python -m recsys evaluate`: rank the full catalogue and compare GATs with baselines on one split.

Either evaluate checkpoints (``--checkpoint``, repeatable; they must share dataset and split) or train the GATs
fresh in the run (``--models basic,enhanced``, once per ``--seeds``), or both; the baselines are trained on the
same split in the same run, every trainable one with the same lr x L2 search on the first seed's validation.
Prints a table sorted by NDCG@10 and the paired comparisons; ``--json`` (rewritten after every seed) and
``--markdown`` save the report, ``--store-baselines`` the baselines' top-k lists beside the checkpoint.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from recsys.cli.common import add_force_arg, checked_output, terminal_text

DEFAULT_BASELINES = "popularity,bprmf,lightgcn,ease,lightgcn+ease,bprmf+ease"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", action="append", metavar="CKPT",
                        help="a trained GAT to evaluate; repeat for several (same dataset and split)")
    parser.add_argument("--models", metavar="KINDS",
                        help="GATs to train fresh in this run (searched like the baselines): basic, enhanced or "
                             "both (comma-separated)")
    parser.add_argument("--data", help="dataset folder (default: the checkpoint's; required with --models alone)")
    parser.add_argument("--baselines", default=DEFAULT_BASELINES,
                        help="comma-separated: popularity, bprmf, lightgcn, ease, lightgcn+ease, bprmf+ease, "
                             f"enhanced_noattn (the attention-off ablation), all or none (default {DEFAULT_BASELINES})")
    parser.add_argument("--k", type=int, nargs="+", default=[10, 20], metavar="K", help="cut-offs (default 10 20)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], metavar="SEED",
                        help="repeat the run per seed and report mean and std (default 0)")
    parser.add_argument("--epochs", type=int, help="epoch cap of every model trained in the run (default 400: "
                                                   "early stopping ends the runs)")
    parser.add_argument("--lr", type=float, nargs="+", metavar="LR",
                        help="learning rates of the search (default 0.01 0.005)")
    parser.add_argument("--weight-decay", type=float, nargs="+", metavar="L2",
                        help="L2 strengths of the search (default 1e-4 1e-3)")
    parser.add_argument("--no-tune", action="store_true", help="no search: train with the TrainConfig defaults")
    parser.add_argument("--reuse", metavar="REPORT", nargs="+",
                        help="earlier --json reports of the same data: copy the contenders they hold for a seed "
                             "with the same split instead of refitting them")
    parser.add_argument("--json", metavar="OUT", help="write the report as JSON (NaN as null), after every seed")
    parser.add_argument("--markdown", metavar="OUT", help="write the tables as Markdown")
    parser.add_argument("--store-baselines", action="store_true",
                        help="write the top-50 lists of every baseline to X.baselines.json beside the (first) "
                             "checkpoint X.pt, for the service and dashboard")
    parser.add_argument("--quiet", action="store_true", help="print only the tables")
    add_force_arg(parser)


def run(args: argparse.Namespace) -> int:
    from recsys.data import load_dataset
    from recsys.data.write import write_text_atomic
    from recsys.errors import ConfigError
    from recsys.experiments import (
        baselines_path,
        compare,
        contender_names,
        format_comparison,
        format_markdown,
        format_table,
        gat_kinds,
        load_checkpoints,
        store_baselines,
        trial_grid,
        write_json,
    )
    from recsys.experiments.compare import STORE_K, merge_reports

    baselines = contender_names(args.baselines)  # fail on a typo before any loading or training
    json_out = checked_output(args.json, "json", args.force, "--json") if args.json else None
    markdown_out = checked_output(args.markdown, "markdown", args.force, "--markdown") if args.markdown else None
    fresh = gat_kinds(args.models or "")
    grid = trial_grid(args.lr, args.weight_decay)
    if not args.checkpoint and args.data is None:
        raise ConfigError("evaluate needs --checkpoint CKPT or --data DIR (with --models to train GATs here)")
    if args.store_baselines and not args.checkpoint:
        raise ConfigError("--store-baselines writes beside a checkpoint: pass --checkpoint CKPT")
    if args.store_baselines:
        checked_output(str(baselines_path(args.checkpoint[0])), "json", args.force, "--store-baselines")
    reuse = merge_reports([_read_report(Path(path)) for path in args.reuse]) if args.reuse else None
    log = (lambda _: None) if args.quiet else print
    trained, split_rule = [], None
    if args.checkpoint:
        trained, dataset, split_rule = load_checkpoints(args.checkpoint, args.data)
    else:
        dataset = load_dataset(args.data)

    def stored(split, graph, users, lists) -> None:
        path = store_baselines(baselines_path(args.checkpoint[0]), split, graph, users, lists, STORE_K)
        print(f"wrote {path} ({', '.join(lists)})")

    report = compare(dataset, trained=trained, fresh=fresh, baselines=baselines, seeds=args.seeds,
                     epochs=args.epochs, ks=args.k, split_rule=split_rule, grid=grid, tune=not args.no_tune,
                     store_k=STORE_K if args.store_baselines else None, on_topk=stored, reuse=reuse,
                     on_seed=(lambda partial: write_json(json_out, partial)) if json_out else None, log=log)
    print(terminal_text(format_table(report), keep_newlines=True))  # model names come from checkpoints
    if json_out:
        print(f"wrote {write_json(json_out, report)}")
    if markdown_out:
        text = format_markdown(report) + "\n\n" + format_comparison(report, markdown=True)
        write_text_atomic(markdown_out, text.rstrip() + "\n")
        print(f"wrote {markdown_out}")
    return 0


def _read_report(path: Path) -> dict:
    """An earlier report, or a clear error naming the file."""
    from recsys.errors import ConfigError

    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"--reuse: no report at {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--reuse: {path} is not a JSON report ({exc})") from None
