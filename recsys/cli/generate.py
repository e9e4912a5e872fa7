"""`python -m recsys generate`: write the built-in synthetic dataset and its truth file."""

from __future__ import annotations

import argparse

from recsys.cli.common import add_force_arg, checked_output


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="dataset folder to write (replaced if it holds only tables); "
                        "the truth goes beside it as OUT.truth.json")
    parser.add_argument("--users", type=int, default=1000, help="number of listeners (default 1000)")
    parser.add_argument("--songs", type=int, default=5000, help="number of songs (default 5000)")
    parser.add_argument("--artists", type=int, default=500, help="number of artists, at most --songs (default 500)")
    parser.add_argument("--genres", type=int, default=35, help="number of genres (default 35)")
    parser.add_argument("--days", type=int, default=30, help="days of listening from 2024-01-01 UTC (default 30)")
    parser.add_argument("--seed", type=int, default=42, help="the same seed writes byte-identical files (default 42)")
    parser.add_argument("--format", choices=("parquet", "csv"), default="parquet", help="file format (default parquet)")
    add_force_arg(parser)


def run(args: argparse.Namespace) -> int:
    from recsys.data.synthetic import generate, truth_path

    out = checked_output(args.out, "dataset", args.force)
    checked_output(str(truth_path(out)), "json", args.force, "the truth file of --out")
    summary = generate(out, users=args.users, songs=args.songs, artists=args.artists, genres=args.genres,
                       days=args.days, seed=args.seed, fmt=args.format)
    print(f"wrote {summary['path']} ({summary['format']}) in {summary['seconds']:.1f} s: "
          f"{summary['users']:,} users, {summary['tracks']:,} songs, {summary['artists']:,} artists, "
          f"{summary['genres']} genres, {summary['interactions']:,} plays, "
          f"{summary['pairs']:,} distinct (user, song) pairs")
    print(f"latent truth (for tests only, never a model input): {summary['truth']}")
    return 0
