"""Arguments and printing shared by the serving commands (recommend, explain, demo)."""

from __future__ import annotations

import argparse
import json
from typing import Any

DEFAULT_CHECKPOINT = "checkpoints/default.pt"


def add_checkpoint_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", default=DEFAULT_CHECKPOINT, help=f"model file (default {DEFAULT_CHECKPOINT})")
    parser.add_argument("--data", help="dataset folder (default: the one recorded in the checkpoint)")


def genre_weight_arg(text: str) -> float:
    """argparse type: a number in [0, 1] (the API checks the same rule; this makes the message early)."""
    from recsys.config import check_genre_weight

    try:
        return check_genre_weight(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def format_table(frame, columns: list[str], floats: str = "{:.4f}") -> str:
    """A plain-text table of selected DataFrame columns (no index, numbers aligned)."""
    shown = frame[columns].copy()
    for column in columns:
        if shown[column].dtype.kind == "f":
            shown[column] = shown[column].map(floats.format)
    return shown.to_string(index=False)
