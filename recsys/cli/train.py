"""`python -m recsys train`: train a Basic or Enhanced GAT and write a checkpoint."""

from __future__ import annotations

import argparse
from dataclasses import replace


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="dataset folder (docs/data-format.md)")
    model = parser.add_mutually_exclusive_group()
    model.add_argument("--model", choices=["basic", "enhanced"], help="which GAT (default: enhanced, or the config's)")
    model.add_argument("--use-enhanced", action="store_true", help="same as --model enhanced (the seed's flag)")
    parser.add_argument("--config", help="JSON or TOML file with [model] and [training] sections")
    parser.add_argument("--epochs", type=int, help="maximum epochs (default 50)")
    parser.add_argument("--seed", type=int, help="seed for the split, initialisation and sampling (default 0)")
    parser.add_argument("--device", help="cpu or cuda (default cpu)")
    parser.add_argument("--max-seconds", type=float, help="stop after this much training time")
    parser.add_argument("--checkpoint-every", type=int, help="epochs between intermediate checkpoints (default 5)")
    parser.add_argument("--resume", action="store_true", help="continue the interrupted run saved at --out")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--out", required=True, help="checkpoint to write, e.g. checkpoints/mymodel.pt")


def run(args: argparse.Namespace) -> int:
    from recsys.config import Config, ModelConfig
    from recsys.data import load_dataset
    from recsys.training import train

    config = Config.from_file(args.config) if args.config else Config()
    if args.model == "basic":
        config = replace(config, model=ModelConfig.basic())
    elif args.model == "enhanced" or args.use_enhanced:
        config = replace(config, model=replace(config.model, use_enhanced=True) if config.model.use_enhanced
                         else ModelConfig())
    overrides = {"epochs": args.epochs, "seed": args.seed, "device": args.device, "max_seconds": args.max_seconds,
                 "checkpoint_every": args.checkpoint_every}
    config = replace(config, training=replace(config.training, **{k: v for k, v in overrides.items()
                                                                    if v is not None}))
    dataset = load_dataset(args.data)
    kind = "Enhanced" if config.model.use_enhanced else "Basic"
    print(f"training the {kind} GAT on {args.data} -> {args.out}")
    result = train(dataset, config, out=args.out, resume=args.resume, progress=not args.quiet)
    print(f"parameters: {result.model.num_parameters():,}; checkpoint written to {args.out}")
    for split, metrics in (("valid", result.valid), ("test", result.test)):
        print(f"{split}: " + ", ".join(f"{k} {metrics[k]:.4f}" for k in ("ndcg@10", "recall@10", "hit_rate@10")))
    return 0
