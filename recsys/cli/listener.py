"""The listener of a serving command: a trained user (``--user``) or a listening history file (``--history``).

A history file is what `python -m recsys import-history` writes, ``{"history": [[track_id, weight], ...], ...}``,
or a plain JSON list of track IDs (or of [track_id, plays] pairs). The service folds it into the model.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from recsys.errors import ConfigError

MAX_HISTORY_BYTES = 64 * 2**20  # far above any real history; a larger file is not one


def add_listener_args(parser: argparse.ArgumentParser) -> None:
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", help="user ID as in the data")
    who.add_argument("--history", type=Path, metavar="FILE",
                     help="listening history JSON (from import-history, or a list of track IDs), folded in")


def read_history(path: Path) -> list:
    """The history entries of a history file; ConfigError naming the file when it is not one."""
    if path.is_file() and path.stat().st_size > MAX_HISTORY_BYTES:
        raise ConfigError(f"history file {path}: larger than {MAX_HISTORY_BYTES // 2**20} MiB")
    try:
        value = json.loads(path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"history file {path}: not valid JSON ({exc})") from None
    history = value.get("history") if isinstance(value, dict) else value
    if not isinstance(history, list):
        raise ConfigError(f'history file {path}: expected {{"history": [[track_id, weight], ...]}} or a list of '
                          "track IDs")
    return history
