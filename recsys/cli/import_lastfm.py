"""`python -m recsys import-lastfm`: convert the HetRec 2011 Last.fm data (docs/lastfm.md)."""

from __future__ import annotations

import argparse
import time

from recsys.cli.common import add_force_arg, checked_output, terminal_text


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--raw", required=True,
                        help="the unzipped hetrec2011-lastfm-2k folder (artists.dat, tags.dat, user_artists.dat, "
                             "user_taggedartists.dat)")
    parser.add_argument("--out", default="data/lastfm", help="dataset folder to write (default: %(default)s)")
    parser.add_argument("--format", choices=("parquet", "csv"), default="parquet",
                        help="table file format (default: %(default)s)")
    add_force_arg(parser)


def run(args: argparse.Namespace) -> int:
    from recsys.data.lastfm import MIN_SUPPORT, TOP_GENRES, import_lastfm

    out = checked_output(args.out, "dataset", args.force)
    start = time.perf_counter()
    summary = import_lastfm(args.raw, out, args.format)
    seconds = time.perf_counter() - start
    names = summary.pop("genre_names")
    print(f"wrote {args.out} ({args.format}) in {seconds:.1f} s")
    print(f"  users {summary['users']:,}, items (artists) {summary['items']:,}, "
          f"interactions {summary['interactions']:,}, plays {summary['plays']:,}")
    print(f"  genres {summary['genres']} (the {TOP_GENRES} most used genre tags), artist-genre links "
          f"{summary['artist_genres']:,} (>= {MIN_SUPPORT} tag assignments each) covering "
          f"{summary['artists_with_genre']:,} artists")
    print(f"  tag assignments {summary['tag_assignments']:,}, of which {summary['tag_assignments_unknown_artist']:,} "
          f"name artists missing from artists.dat (dropped); listened artists missing from artists.dat: "
          f"{summary['unnamed_artists']}")
    print(terminal_text(f"  genres kept: {', '.join(names)}"))
    return 0
