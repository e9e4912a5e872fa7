"""`python -m recsys import-history`: listening exports -> a history for a model, or a pooled dataset folder.

`--out history.json` matches the plays to the checkpoint's catalogue and writes (track_id, weight) pairs with a
match report; `--out-dataset DIR` builds a dataset folder with one listener per file (or per username where the
export has one). Both paths are checked first (`recsys.cli.common.checked_output`): an existing file or folder is
replaced only when this project wrote it (or with --force), and a folder holding anything but dataset tables never.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from recsys.cli.common import DEFAULT_CHECKPOINT, HISTORY_FORMAT, add_force_arg, checked_output, terminal_text


def configure(parser: argparse.ArgumentParser) -> None:
    from recsys.data.exports.readers import EXPORT_FORMATS

    parser.add_argument("--format", required=True, choices=EXPORT_FORMATS, help="the export's format")
    parser.add_argument("files", nargs="+", metavar="[LABEL=]FILE",
                        help="export files; LABEL= names the listener (default: the file's stem), so several "
                             "files of one person can share one")
    parser.add_argument("--checkpoint", default=DEFAULT_CHECKPOINT,
                        help=f"model whose catalogue --out matches against (default {DEFAULT_CHECKPOINT})")
    parser.add_argument("--data", help="its dataset folder (default: the one recorded in the checkpoint)")
    parser.add_argument("--out", help="history file to write (JSON, format recsys-history/1)")
    parser.add_argument("--out-dataset", help="dataset folder to build from all files (one listener per file or user)")
    parser.add_argument("--match", choices=("auto", "track", "artist"), default="auto",
                        help="match by song, or by artist when the catalogue's items are artists (default: detect)")
    parser.add_argument("--table-format", choices=("parquet", "csv"), default="parquet",
                        help="table files of --out-dataset (default: %(default)s)")
    add_force_arg(parser)


def run(args: argparse.Namespace) -> int:
    from recsys.data.write import write_text_atomic
    from recsys.errors import ConfigError

    if not args.out and not args.out_dataset:
        raise ConfigError("nothing to write: pass --out history.json, --out-dataset DIR, or both")
    if args.out:  # a history of ours is replaced; another file never, not even with --force (a JSON of notes)
        checked_output(args.out, "history")
    if args.out_dataset:
        checked_output(args.out_dataset, "dataset", args.force, "--out-dataset")
    frames = _read_all(args.files, args.format, listeners_matter=bool(args.out_dataset))
    if args.out:
        result = _match(frames, args)
        files = [{**f.attrs["read"], "name": Path(f.attrs["read"]["name"]).name} for f in frames]  # no folders
        history = {"format": HISTORY_FORMAT, "history": [list(p) for p in result.history],
                   "report": {**result.report, "files": files}}
        write_text_atomic(args.out, json.dumps(history, indent=1, ensure_ascii=False) + "\n")
        _print_report(result.report, args.out)
    if args.out_dataset:
        from recsys.data.exports import write_pooled_dataset

        counts = write_pooled_dataset(frames, args.out_dataset, args.table_format, replace=True)  # checked above
        print(f"wrote {args.out_dataset} ({args.table_format}): {counts['listeners']} listener(s), "
              f"{counts['tracks']:,} tracks, {counts['artists']:,} artists, {counts['interactions']:,} "
              f"interactions from {counts['kept']:,} of {counts['plays']:,} plays ({counts['short']:,} under 30 s "
              f"and {counts['untimed']:,} without a time left out)")
    return 0


def _read_all(files: list[str], fmt: str, listeners_matter: bool) -> list:
    """Each file's plays; listeners named by username, else by LABEL= or the file stem.

    In a dataset, two unlabelled files with one stem and no usernames (alice/StreamingHistory0.json,
    bob/StreamingHistory0.json) would silently become one listener, so that is an error asking for labels.
    A history (--out alone) is one listener whatever the files are called.
    """
    from recsys.data.exports import read_listening_export
    from recsys.errors import ConfigError

    frames, by_stem = [], {}
    for label, path in map(_split_label, files):
        frame = read_listening_export(path, fmt, name=str(path), listener=label or path.stem)
        if listeners_matter and label is None and (frame["listener"] == path.stem).any():
            other = by_stem.setdefault(path.stem, path)
            if other != path:
                raise ConfigError(f"{other} and {path} would both be listener {path.stem!r}; "
                                  f"name them with LABEL=FILE")
        frames.append(frame)
    return frames


def _split_label(arg: str) -> tuple[str | None, Path]:
    """'alice=a.json' -> ('alice', a.json); an existing file whose name holds '=' stays a file."""
    label, sep, rest = arg.partition("=")
    if sep and label and not Path(arg).exists():
        return label, Path(rest)
    return None, Path(arg)


def _match(frames: list, args: argparse.Namespace):
    """All files as one listener's plays, matched to the catalogue of the checkpoint's dataset."""
    import pandas as pd

    from recsys.data import load_dataset
    from recsys.data.exports import catalogue_from_dataset, match_history
    from recsys.errors import CheckpointError
    from recsys.training import load_checkpoint
    from recsys.training.restore import resolve_data_path

    checkpoint = Path(args.checkpoint)
    payload = load_checkpoint(checkpoint)
    data_path = resolve_data_path(payload, checkpoint, args.data)
    dataset = load_dataset(data_path)
    if dataset.fingerprint != payload["dataset"]["fingerprint"]:
        raise CheckpointError(f"checkpoint {checkpoint} was trained on other data than {data_path}")
    artist_only = {"auto": None, "track": False, "artist": True}[args.match]
    return match_history(pd.concat(frames, ignore_index=True), catalogue_from_dataset(dataset), artist_only)


def _print_report(report: dict[str, Any], out: str) -> None:
    print(f"wrote {out}: {report['tracks']:,} {'artists' if report['mode'] == 'artist' else 'songs'}, matched "
          f"{report['matched_plays']:,} of {report['plays']:,} plays ({report['match_rate']:.1%}); "
          f"{report['short_plays']:,} short and {report['skipped_plays']:,} skipped plays weighted down")
    if report["unmatched"]:
        print(f"unmatched names ({report['unmatched_names']:,}; most played first):")
    for entry in report["unmatched"][:10]:
        name = terminal_text(entry["artist"] + (f" - {entry['track']}" if entry.get("track") else ""))
        close = "; ".join(terminal_text(f"{c['artist']} - {c['title']}") for c in entry["candidates"]) or "none close"
        print(f"  {name} ({entry['plays']} play(s)): {close}")
