"""Read the listening exports people can download (Spotify, Last.fm, ListenBrainz) into one plays frame.

Every reader returns the same columns (`PLAY_COLUMNS`): listener, artist, track, played_at (UTC), ms_played
(nullable: Last.fm and ListenBrainz do not say) and skipped (False unless the export says so). Only these fields
are copied out of a record, so personal fields (IP addresses, user agents, countries, platforms) are never kept;
a username becomes an opaque listener ID (a keyed hash with a key drawn once per process), so one person's files
pool together within a run but the ID does not reveal, or let anyone test, the name.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from recsys.data.exports.checks import (
    MAX_EXPORT_BYTES,
    ExportProblem,
    ExportValidationError,
    check_size,
    name_problem,
)
from recsys.errors import ConfigError

EXPORT_FORMATS = ("spotify", "spotify-extended", "lastfm-csv", "listenbrainz")
PLAY_COLUMNS = ("listener", "artist", "track", "played_at", "ms_played", "skipped")
FUTURE_SLACK_S = 86_400  # as the dataset loader: later than now + 1 day is a unit mistake (ms given as s)

# Per JSON format: output column -> field in a record ("a.b" is a nested field). Only these are ever read.
JSON_FIELDS: dict[str, dict[str, str]] = {
    "spotify": {"artist": "artistName", "track": "trackName", "played_at": "endTime", "ms_played": "msPlayed"},
    "spotify-extended": {"artist": "master_metadata_album_artist_name", "track": "master_metadata_track_name",
                         "played_at": "ts", "ms_played": "ms_played", "skipped": "skipped", "listener": "username"},
    "listenbrainz": {"artist": "track_metadata.artist_name", "track": "track_metadata.track_name",
                     "played_at": "listened_at", "listener": "user_name"},
}
# Fields a record must have; Spotify's extended history has null names for podcast episodes and audiobooks.
REQUIRED = {"spotify": ("artist", "track", "played_at", "ms_played"),
            "spotify-extended": ("played_at", "ms_played"),
            "listenbrainz": ("artist", "track", "played_at")}
# Field names that identify the other formats, for "this looks like ..." hints.
SIGNATURES = {"endTime": "spotify", "master_metadata_track_name": "spotify-extended", "listened_at": "listenbrainz",
              "episodeName": "a Spotify podcast history (not music)"}  # the last match is the hint shown
LASTFM_HEADER = ("artist", "album", "track", "date")
# Each format's own way of writing a time; ISO-8601 and Unix seconds are accepted everywhere as well.
TIME_FORMATS = {"spotify": "%Y-%m-%d %H:%M", "spotify-extended": "ISO8601", "listenbrainz": "ISO8601",
                "lastfm-csv": "%d %b %Y %H:%M"}  # "05 Mar 2021 18:22", as lastfm-to-csv and similar write it

_KEY = secrets.token_bytes(16)


def opaque_listener(username: str) -> str:
    """An ID for a username that cannot be turned back into it (keyed hash; the key never leaves the process)."""
    return "listener-" + hashlib.blake2b(username.encode("utf-8"), key=_KEY, digest_size=6).hexdigest()


def read_listening_export(data: bytes | str | Path, fmt: str, name: str = "upload",
                          max_bytes: int = MAX_EXPORT_BYTES, listener: str | None = None) -> pd.DataFrame:
    """Parse one export (file path or uploaded bytes) into a plays frame with `PLAY_COLUMNS`.

    Args:
        data: the file's bytes (an upload, parsed in memory) or a path to read.
        fmt: one of `EXPORT_FORMATS`.
        name: what messages call the input (for a path left at "upload", the file name).
        max_bytes: inputs above this size are refused before parsing.
        listener: the listener ID where the format names no user (default: `name`).

    Returns:
        One row per play; `attrs["read"]` counts records read and records that are not music.

    Raises:
        ConfigError: unknown format.
        ExportValidationError (a DataValidationError): too large, not UTF-8, not the format, broken JSON, or
            records with missing or malformed fields or unsafe names; every problem names file, record, field.
    """
    if fmt not in EXPORT_FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}")
    if not isinstance(data, bytes):
        path = Path(data)
        name = path.name if name == "upload" else name
        with path.open("rb") as handle:
            blob = handle.read(max_bytes + 1)  # never more than the limit in memory, whatever the file's size
            check_size(os.fstat(handle.fileno()).st_size if len(blob) > max_bytes else len(blob), max_bytes, fmt,
                       name)
    else:
        blob = data
        check_size(len(blob), max_bytes, fmt, name)
    try:
        text = blob.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problem = ExportProblem(name, f"not UTF-8 text (first bad byte at offset {exc.start})")
        raise ExportValidationError([problem], fmt, name) from None
    if not text.strip():
        raise ExportValidationError([ExportProblem(name, "the file is empty")], fmt, name)
    problems: list[ExportProblem] = []
    frame, extra = (_read_lastfm_csv if fmt == "lastfm-csv" else _read_json)(text, fmt, name, problems)
    frame["listener"] = frame["listener"].where(frame["listener"].notna(), listener or name)
    if not problems and frame.empty:
        problems.append(ExportProblem(name, "no plays in the file"))
    if problems:
        raise ExportValidationError(sorted(problems, key=lambda p: p.row or 0), fmt, name)
    frame.attrs["read"] = {"format": fmt, "name": name, **extra, "plays": len(frame)}
    return frame


def _read_json(text: str, fmt: str, name: str, problems: list[ExportProblem]) -> tuple[pd.DataFrame, dict]:
    records = _json_records(text, fmt, name, problems)
    if records is None or not _looks_like(records, fmt, name, problems):
        return _frame({}), {}
    fields = JSON_FIELDS[fmt]
    paths = {column: tuple(field.split(".")) for column, field in fields.items()}
    columns: dict[str, list[Any]] = {c: [] for c in fields}
    numbers: list[int] = []
    not_music = 0
    for number, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            problems.append(ExportProblem(name, "expected an object", row=number, value=type(record).__name__))
            continue
        values = {column: _get(record, path) for column, path in paths.items()}
        missing = [c for c in REQUIRED[fmt] if values[c] is None]
        problems.extend(ExportProblem(name, "missing field", row=number, column=fields[c]) for c in missing)
        if missing:
            continue
        if values["track"] is None or values["artist"] is None:
            not_music += 1  # a podcast episode or audiobook in Spotify's extended history: not a problem
            continue
        for column in fields:
            columns[column].append(values[column])
        numbers.append(number)
    return _validated(columns, numbers, fmt, name, problems), {"records": len(records), "not_music": not_music}


def _json_records(text: str, fmt: str, name: str, problems: list[ExportProblem]) -> list | None:
    """The list of records: a JSON array, or (ListenBrainz) JSON lines or an API response's payload."""
    stripped = text.lstrip()
    if fmt == "listenbrainz" and stripped.startswith("{") and '"payload"' in stripped[:200]:
        value = _parse(text, name, problems)
        return None if value is None else _listens_payload(value, name, problems)
    if fmt == "listenbrainz" and stripped and not stripped.startswith("["):
        records = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                value = _parse(line, name, problems, number)
                if value is None:
                    return None
                records.append(value)
        return records
    value = _parse(text, name, problems)
    if value is not None and not isinstance(value, list):
        problems.append(ExportProblem(name, f"expected a JSON array of plays, found a JSON {type(value).__name__}"))
        return None
    return value


def _parse(text: str, name: str, problems: list[ExportProblem], line: int | None = None) -> Any:
    """json.loads, with a problem naming the line and column instead of an exception."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        csv_like = text.lstrip()[:1] not in ("[", "{") and "," in text[:500]
        lines_like = exc.msg == "Extra data" and text.lstrip().startswith("{")
        hint = ("; it looks like CSV (use --format lastfm-csv)" if csv_like else
                "; it looks like JSON lines (use --format listenbrainz)" if lines_like else "")
        problems.append(ExportProblem(name, f"not valid JSON: {exc.msg} (column {exc.colno}){hint}",
                                      row=line or exc.lineno, unit="line"))
    except RecursionError:
        problems.append(ExportProblem(name, "not valid JSON: nested too deeply", row=line, unit="line"))
    return None


def _listens_payload(value: Any, name: str, problems: list[ExportProblem]) -> list | None:
    listens = value.get("payload", {}).get("listens") if isinstance(value, dict) else None
    if not isinstance(listens, list):
        problems.append(ExportProblem(name, "expected ListenBrainz listens (an array, JSON lines, or "
                                            "{'payload': {'listens': [...]}})"))
        return None
    return listens


def _looks_like(records: list, fmt: str, name: str, problems: list[ExportProblem]) -> bool:
    """False (with one clear problem) when no early record has the format's fields: the wrong --format."""
    sample = [r for r in records[:20] if isinstance(r, dict)]
    fields = JSON_FIELDS[fmt]
    wanted = [fields[c] for c in ("artist", "track", "played_at")]
    if not sample or any(all(_has(r, f) for f in wanted) for r in sample):
        return True
    keys = sorted({k for r in sample for k in r})
    guesses = [SIGNATURES[k] for k in SIGNATURES if k in keys and SIGNATURES[k] != fmt]
    hint = f"; it looks like {guesses[-1]}" if guesses else ""
    problems.append(ExportProblem(name, f"not a {fmt} export: records have fields {keys[:8]}, expected "
                                        f"{', '.join(wanted)}{hint}"))
    return False


def _get(record: dict, path: tuple[str, ...]) -> Any:
    """record[a][b]... for path (a, b, ...), None where a level is missing or not an object."""
    value: Any = record
    for part in path:
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _has(record: dict, field: str) -> bool:
    """The field is there, even if null (Spotify writes null names for podcast episodes)."""
    *parents, last = field.split(".")
    inner = _get(record, tuple(parents))
    return isinstance(inner, dict) and last in inner


def _read_lastfm_csv(text: str, fmt: str, name: str, problems: list[ExportProblem]) -> tuple[pd.DataFrame, dict]:
    """artist, album, track, date rows without a header (a header row, if any, is skipped)."""
    if text.lstrip()[:1] in ("[", "{"):
        problems.append(ExportProblem(name, "not a Last.fm CSV: the file is JSON (use --format spotify, "
                                            "spotify-extended or listenbrainz)"))
        return _frame({}), {}
    columns: dict[str, list[Any]] = {"artist": [], "track": [], "played_at": []}
    numbers: list[int] = []
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if reader.line_num == 1 and tuple(c.strip().lower() for c in row) in (LASTFM_HEADER,
                                                                                  ("artist", "album", "name", "date")):
                continue
            if len(row) != 4:
                problems.append(ExportProblem(name, f"expected 4 fields (artist, album, track, date), found "
                                                    f"{len(row)}", row=reader.line_num, unit="row"))
                continue
            columns["artist"].append(row[0])
            columns["track"].append(row[2])
            columns["played_at"].append(row[3].strip() or None)  # "now playing" rows have no date
            numbers.append(reader.line_num)
    except csv.Error as exc:
        problems.append(ExportProblem(name, f"not valid CSV: {exc}", row=reader.line_num, unit="row"))
    return _validated(columns, numbers, fmt, name, problems), {"records": len(numbers) + len(problems),
                                                             "not_music": 0}


def _validated(columns: dict[str, list[Any]], numbers: list[int], fmt: str, name: str,
               problems: list[ExportProblem]) -> pd.DataFrame:
    """Typed columns; malformed values become problems naming the record and the export's own field name."""
    unit = "row" if fmt == "lastfm-csv" else "record"
    field = JSON_FIELDS.get(fmt, {c: c for c in ("artist", "track", "played_at")})

    def report(column: str, message: str) -> Callable[[int, Any], None]:
        return lambda i, value: problems.append(ExportProblem(name, message, row=numbers[i], column=field[column],
                                                              value=value, unit=unit))

    for column in ("artist", "track"):
        for i, value in enumerate(columns[column]):
            if not isinstance(value, str) or not value.strip():
                report(column, "expected a non-empty name")(i, value)
            elif (why := name_problem(value)) is not None:
                report(column, why)(i, value)
    out = {"artist": [v.strip() if isinstance(v, str) else v for v in columns["artist"]],
           "track": [v.strip() if isinstance(v, str) else v for v in columns["track"]],
           "played_at": _times(columns["played_at"], fmt, report("played_at", "unparsable time")),
           "ms_played": _ms_played(columns.get("ms_played"), len(numbers),
                                   report("ms_played", "expected milliseconds (an integer >= 0)")),
           "skipped": _skipped(columns.get("skipped"), len(numbers), report("skipped", "expected true or false"))}
    future = out["played_at"] > pd.Timestamp(time.time() + FUTURE_SLACK_S, unit="s", tz="UTC")
    for i in future.to_numpy().nonzero()[0]:
        report("played_at", "time is in the future (milliseconds given as seconds?)")(int(i), columns["played_at"][i])
    listeners = columns.get("listener") or [None] * len(numbers)
    out["listener"] = [opaque_listener(u) if isinstance(u, str) and u else None for u in listeners]
    return _frame(out)


def _times(values: list[Any], fmt: str, report: Callable[[int, Any], None]) -> pd.Series:
    """UTC times: each format's own text form, else ISO-8601; numbers (and digit text) are Unix seconds."""
    raw = pd.Series(values, dtype=object)
    number = raw.map(lambda v: isinstance(v, int | float) and not isinstance(v, bool))
    text = raw.where(raw.map(lambda v: isinstance(v, str)))
    digits = text.str.fullmatch(r"\s*\d{1,12}(\.\d*)?\s*").fillna(False).astype(bool)
    seconds = pd.to_numeric(raw.where(number | digits), errors="coerce")
    parsed = pd.to_datetime(seconds.where(seconds.abs() < 1e11), unit="s", utc=True).astype("datetime64[ns, UTC]")
    for form in (TIME_FORMATS[fmt], "ISO8601"):
        todo = parsed.isna() & text.notna() & ~digits
        if todo.any():
            found = pd.to_datetime(text[todo], format=form, utc=True, errors="coerce")
            parsed[todo] = found.astype("datetime64[ns, UTC]")
    for i in (parsed.isna() & raw.notna()).to_numpy().nonzero()[0]:
        report(int(i), values[i])
    return parsed


def _ms_played(values: list[Any] | None, n: int, report: Callable[[int, Any], None]) -> pd.Series:
    if values is None:
        return pd.Series([pd.NA] * n, dtype="Int64")
    good = [isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values]
    for i in (i for i, ok in enumerate(good) if not ok):
        report(i, values[i])
    return pd.Series([v if ok else pd.NA for v, ok in zip(values, good, strict=True)], dtype="Int64")


def _skipped(values: list[Any] | None, n: int, report: Callable[[int, Any], None]) -> pd.Series:
    if values is None:
        return pd.Series([False] * n, dtype=bool)
    for i, value in enumerate(values):
        if value is not None and not isinstance(value, bool):
            report(i, value)
    return pd.Series([value is True for value in values], dtype=bool)


def _frame(columns: dict[str, Any]) -> pd.DataFrame:
    """The plays frame in `PLAY_COLUMNS` order (empty, typed, when nothing was read)."""
    if not columns:
        columns = {"listener": [], "artist": [], "track": [], "played_at": pd.Series([], dtype="datetime64[ns, UTC]"),
                   "ms_played": pd.Series([], dtype="Int64"), "skipped": pd.Series([], dtype=bool)}
    frame = pd.DataFrame({c: columns[c] for c in PLAY_COLUMNS})
    return frame.astype({"listener": object, "artist": object, "track": object})
