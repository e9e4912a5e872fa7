"""`python -m recsys train`: train a Basic or Enhanced GAT and write a checkpoint."""

from __future__ import annotations

import argparse
from dataclasses import replace

from recsys.cli.common import add_force_arg, checked_output


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
    parser.add_argument("--batch-size", type=int, help="training edges per optimiser step (default 8192)")
    parser.add_argument("--minibatch", action="store_true",
                        help="train on each batch's sampled neighbourhood instead of the full graph (large data)")
    parser.add_argument("--fanout", type=int, nargs="+", metavar="N",
                        help="with --minibatch: neighbours sampled per relation at each hop, -1 for all (default 10 5)")
    parser.add_argument("--eval-users", type=int, help="validation users sampled for early stopping (default all)")
    parser.add_argument("--distributed", action="store_true",
                        help="DDP over the processes started by torchrun (see docs/scaling.md)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--out", required=True, help="checkpoint to write, e.g. checkpoints/mymodel.pt")
    add_force_arg(parser)


def run(args: argparse.Namespace) -> int:
    from recsys.card import card_path
    from recsys.config import Config, ModelConfig
    from recsys.data import load_dataset

    config = Config.from_file(args.config) if args.config else Config()
    if args.model == "basic":
        config = replace(config, model=ModelConfig.basic())
    elif args.model == "enhanced" or args.use_enhanced:
        config = replace(config, model=replace(config.model, use_enhanced=True) if config.model.use_enhanced
                         else ModelConfig())
    overrides = {"epochs": args.epochs, "seed": args.seed, "device": args.device, "max_seconds": args.max_seconds,
                 "checkpoint_every": args.checkpoint_every, "batch_size": args.batch_size,
                 "minibatch": args.minibatch or None, "fanout": tuple(args.fanout) if args.fanout else None,
                 "eval_users": args.eval_users}
    config = replace(config, training=replace(config.training, **{k: v for k, v in overrides.items()
                                                                    if v is not None}))
    checked_output(args.out, "checkpoint", args.force)  # before minutes of training, not after
    card = checked_output(str(card_path(args.out)), "json", args.force, "card")
    dataset = load_dataset(args.data)  # a bad path, file or config fails here, before torch is even imported
    kind = "Enhanced" if config.model.use_enhanced else "Basic"
    if args.distributed:
        from recsys.errors import ConfigError
        from recsys.training.distributed import train_distributed

        if args.resume:
            raise ConfigError("--resume is not supported with --distributed; resume in one process or start over")
        result = train_distributed(dataset, config, out=args.out, progress=not args.quiet)
        if result is None:  # not rank 0: rank 0 reports
            return 0
    else:
        from recsys.training import train

        print(f"training the {kind} GAT on {args.data} -> {args.out}")
        result = train(dataset, config, out=args.out, resume=args.resume, progress=not args.quiet)
    print(f"parameters: {result.model.num_parameters():,}; checkpoint written to {args.out}")
    from recsys import Recommender

    print(f"model card written to {Recommender.load(args.out).card().write(card)} (the dashboard's overview)")
    for split, metrics in (("valid", result.valid), ("test", result.test)):
        print(f"{split}: " + ", ".join(f"{k} {metrics[k]:.4f}" for k in ("ndcg@10", "recall@10", "hit_rate@10")))
    return 0
