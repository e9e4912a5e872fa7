"""`python -m recsys bench`: speed, quality, memory and latency, each as a ratio to a baseline of the same run."""

from __future__ import annotations

import argparse
from pathlib import Path

from recsys.cli.common import add_force_arg, checked_output

SCALES = ("default", "100k", "1m", "10m", "100m")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scale", choices=SCALES, default="default",
                        help="default: the built-in data (1,000 users); 100k: 100,000 users, 1M songs, ~10M "
                             "interactions (mini-batch); 1m: 1M users (~100M interactions); 10m/100m: the GPU "
                             "benchmark (with --device cuda)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--json", metavar="OUT", help="also write the report as JSON")
    parser.add_argument("--markdown", metavar="OUT", help="also write the table as Markdown")
    parser.add_argument("--data", help="benchmark this dataset folder instead of the scale's generated one")
    parser.add_argument("--data-root", default="data/bench", help="where generated datasets are cached")
    parser.add_argument("--epochs", type=int, help="maximum epochs per training row (default 50)")
    parser.add_argument("--budget", type=float,
                        help="seconds of mini-batch training at 100k/1m (default 1200) or on the GPU (default 120)")
    parser.add_argument("--naive-budget", type=float, default=90.0,
                        help="seconds for the naive-loop row at the default scale (default 90)")
    parser.add_argument("--minibatch-budget", type=float, default=90.0,
                        help="seconds for the mini-batch row at the default scale (default 90)")
    parser.add_argument("--batch-size", type=int, default=8192, help="mini-batch edges per step at scale")
    parser.add_argument("--fanout", type=int, nargs="+", default=[10, 5], metavar="N",
                        help="mini-batch neighbours per relation and hop (default 10 5)")
    parser.add_argument("--no-dashboard", action="store_true", help="skip the dashboard start-up row")
    add_force_arg(parser)


def run(args: argparse.Namespace) -> int:
    from recsys.bench import BenchOptions, BenchReport, run_bench
    from recsys.data.write import write_text_atomic
    from recsys.errors import ConfigError

    json_out, markdown_out = (checked_output(path, kind, args.force, option) if path else None for path, kind, option
                              in ((args.json, "json", "--json"), (args.markdown, "markdown", "--markdown")))
    if args.scale in ("10m", "100m") and not args.device.startswith("cuda"):
        raise ConfigError(f"--scale {args.scale} is the GPU benchmark: add --device cuda")
    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ConfigError("--device cuda: no CUDA device is available here")
    options = BenchOptions(scale=args.scale, device=args.device, data=Path(args.data) if args.data else None,
                           data_root=Path(args.data_root), epochs=args.epochs, budget=args.budget,
                           naive_budget=args.naive_budget, minibatch_budget=args.minibatch_budget,
                           batch_size=args.batch_size, fanout=tuple(args.fanout), dashboard=not args.no_dashboard)
    report = BenchReport()
    try:
        run_bench(options, log=lambda line: print(line, flush=True), report=report)
    finally:  # a long run that fails late still leaves what it measured
        if json_out:
            print(f"report written to {report.save_json(json_out)}")
        if markdown_out:
            write_text_atomic(markdown_out, report.markdown() + "\n")
            print(f"table written to {markdown_out}")
    print()
    print(report.format())
    meta = report.meta
    print(f"\n{meta['date']}; {meta['processor']}, {meta['cpu_cores_visible']} cores visible, "
          f"torch {meta['torch']}, PyG {meta['torch_geometric']}, Python {meta['python']}")
    return 0
