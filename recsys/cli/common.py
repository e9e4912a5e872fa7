"""Shared by the commands: checkpoint arguments, output paths checked before any work, and text made safe for
the terminal."""

from __future__ import annotations

import argparse
import json
import os
import stat
import tempfile
import zipfile
from pathlib import Path
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


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (a count of users, songs or removals)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number (got {text!r})") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 (got {value})")
    return value


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def format_table(frame, columns: list[str], floats: str = "{:.4f}") -> str:
    """A plain-text table of selected DataFrame columns (no index, numbers aligned, text made safe and capped at
    MAX_CELL characters: one 20,000-character title padded every row of `recommend` to 16 MB)."""
    shown = frame[columns].copy()
    for column in columns:
        if shown[column].dtype.kind == "f":
            shown[column] = shown[column].map(floats.format)
        elif shown[column].dtype.kind not in "iub":  # text (object or pandas' string dtype), lists
            shown[column] = shown[column].map(_cell)
    return shown.to_string(index=False)


def _cell(value: object) -> str:
    text = ", ".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
    return terminal_text(text, MAX_CELL)


# ---- text for the terminal ------------------------------------------------------------------------------------
# Names come from datasets and checkpoints: an ANSI escape in a title cleared the terminal in `explain`, and a
# right-to-left override reversed the rest of the line. Control characters (C0, DEL, C1), line separators and
# bidirectional controls are shown escaped (`\x1b`, `\u202e`); --json output is never changed.
MAX_CELL = 60  # characters per table cell
MAX_TEXT = 300  # characters per text field of an explanation or profile
_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_UNSAFE = [*range(0x20), *range(0x7f, 0xa0), 0x2028, 0x2029, *map(ord, _BIDI)]
_ESCAPES = {code: chr(code).encode("unicode_escape").decode("ascii") for code in _UNSAFE}
_ESCAPES_KEEP_NEWLINES = {**_ESCAPES, ord("\n"): "\n"}


def terminal_text(value: object, width: int | None = None, keep_newlines: bool = False) -> str:
    """`value` as text that cannot control the terminal, each line cut to `width` characters (with '…')."""
    text = str(value).translate(_ESCAPES_KEEP_NEWLINES if keep_newlines else _ESCAPES)
    if width is None:
        return text
    return "\n".join(line if len(line) <= width else line[:width - 1] + "…" for line in text.split("\n"))


def for_terminal(value: Any, width: int = MAX_TEXT) -> Any:
    """A result (dicts, lists, strings, numbers) with every string made safe by `terminal_text`, for printing."""
    if isinstance(value, str):
        return terminal_text(value, width)
    if isinstance(value, dict):
        return {key: for_terminal(item, width) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [for_terminal(item, width) for item in value]
    return value


# ---- outputs --------------------------------------------------------------------------------------------------
# What each kind of output may replace without --force: only a file (or folder) this project wrote.
OUTPUT_KINDS = {"checkpoint": "a recsys checkpoint", "json": "a JSON report", "markdown": "a Markdown table",
                "history": "a recsys-history/1 file", "dataset": "a dataset folder"}
EXAMPLE_NAMES = {"checkpoint": "model.pt", "json": "report.json", "markdown": "report.md", "history": "history.json"}
HISTORY_FORMAT = "recsys-history/1"  # what `import-history --out` writes and `--history` reads
SNIFF_BYTES = 64 * 2**20  # a report or a checkpoint's pickle larger than this is not one we wrote


def add_force_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--force", action="store_true",
                        help="replace an existing output even when it is not one recsys wrote, or is a link (the "
                             "link itself is replaced, never what it points at); a folder holding other files "
                             "is never replaced")


def checked_output(text: str, kind: str, force: bool = False, option: str = "--out") -> Path:
    """Check an output path before any work and return it; raises ConfigError with the reason.

    The rules (docs/reliability.md): a trailing slash names a folder; a symbolic link is never followed and
    replaced only with --force; special files (devices, pipes, sockets) are never replaced; an existing file or
    folder is replaced only when it is an output of the same kind this project wrote (its format is checked), or
    with --force; a dataset's own table files and folders holding other files are never replaced. The folder
    that will hold the output is created, and must take files.
    """
    from recsys.errors import ConfigError

    what = OUTPUT_KINDS[kind]
    path = Path(text)

    def refuse(reason: str) -> ConfigError:
        return ConfigError(f"{option} {text}: {reason}")

    if kind != "dataset" and text.endswith(("/", os.sep)):
        raise refuse(f"the trailing '/' names a folder; give a file name such as {path / EXAMPLE_NAMES[kind]}")
    try:
        status = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):  # nothing there yet (a parent that is a file: see below)
        status = None
    except OSError as exc:  # a loop of links above, a name too long
        raise refuse(f"cannot be used ({exc.strerror or exc})") from None
    if status is not None:
        _check_existing(path, status, kind, what, force, refuse)
    _check_folder(path, refuse)
    return path


def _check_existing(path: Path, status: os.stat_result, kind: str, what: str, force: bool, refuse) -> None:
    """Refuse to replace an existing path unless it is `kind`'s own output (or --force allows it)."""
    mode = status.st_mode
    if stat.S_ISLNK(mode):
        if not force:
            raise refuse(f"is a symbolic link (to {os.readlink(path)}); outputs never follow links: give the real "
                         "path, or add --force to replace the link itself")
        if kind == "dataset":
            path.unlink()  # the staged folder is renamed into place of the link, not into its target
        return
    if stat.S_ISDIR(mode):
        if kind != "dataset":
            raise refuse(f"is a folder; give a file name such as {path / EXAMPLE_NAMES[kind]}")
        from recsys.data.write import foreign_entries

        foreign = foreign_entries(path)
        if foreign:
            raise refuse(f"is a folder and holds files that are not dataset tables ({', '.join(foreign[:5])}); "
                         "it is never replaced: choose another folder or remove it yourself")
        return
    if not stat.S_ISREG(mode):
        raise refuse("is a special file (a device, pipe or socket); outputs are written only to regular files")
    from recsys.data.write import TABLE_FILES

    parent = path.parent
    if path.name in TABLE_FILES and any((parent / name).is_file() for name in ("interactions.csv",
                                                                               "interactions.parquet")):
        raise refuse(f"is a table of the dataset {parent}; outputs never replace dataset files")
    reason = _not_kind(path, kind)
    if reason is not None and not force:
        raise refuse(f"exists and is not {what} ({reason}); choose another path, or add --force to replace it")
    if kind == "dataset":
        path.unlink()  # --force: a file where the dataset folder goes


def _not_kind(path: Path, kind: str) -> str | None:
    """Why the regular file at `path` is not `kind`'s output (None: it is one), read without unpickling."""
    if kind == "dataset":
        return "a file, where a dataset folder goes"
    try:
        if kind == "checkpoint":
            if not zipfile.is_zipfile(path):
                return "not a torch zip file"
            with zipfile.ZipFile(path) as archive:
                pickles = [i for i in archive.infolist() if i.filename.endswith("/data.pkl")]
                if len(pickles) != 1 or pickles[0].file_size > SNIFF_BYTES:
                    return "a zip file that is not a torch checkpoint"
                found = b"recsys-checkpoint" in archive.read(pickles[0])
            return None if found else "a torch file of another program"
        if path.stat().st_size > SNIFF_BYTES:
            return "larger than any report this project writes"
        text = path.read_text(encoding="utf-8")
    except (OSError, zipfile.BadZipFile, UnicodeDecodeError, ValueError) as exc:
        return f"unreadable: {type(exc).__name__}"
    if kind in ("json", "history"):
        try:
            value = json.loads(text)
        except ValueError:
            return "not JSON"
        if not isinstance(value, dict):
            return "JSON, but not an object"
        return None if kind == "json" or value.get("format") == HISTORY_FORMAT else "JSON of another format"
    first = next((line for line in text.splitlines() if line.strip()), "")
    return None if first.lstrip().startswith("|") or not text.strip() else "not a Markdown table"


def _check_folder(path: Path, refuse) -> None:
    """The output's folder must exist or be creatable, and take files (probed beside the target, as written)."""
    blocking = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise refuse(f"{blocking} is a file, not a folder")
    parent = Path(os.path.abspath(path)).parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise refuse(f"cannot create the folder {parent} ({exc.strerror or exc})") from None
    try:
        tempfile.TemporaryFile(dir=parent).close()
    except OSError as exc:
        raise refuse(f"cannot create files in {parent} ({exc.strerror or exc})") from None
