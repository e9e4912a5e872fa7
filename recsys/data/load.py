"""Read and validate a dataset folder (docs/data-format.md) into a `Dataset`.

Every check appends to one list of `Problem`s and loading raises them all at once, so a user fixes a file in
one pass instead of one error per run. Tables are read as text first, so a bad value can be quoted exactly.
"""

from __future__ import annotations

import csv
import datetime as dt
import errno
import io
import os
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd

from recsys.data.dataset import Dataset
from recsys.data.schema import SPLIT_LABELS, TABLE_SUFFIXES, TABLES, TableSpec
from recsys.errors import DataValidationError, Problem

MAX_ROWS_PER_CHECK = 10  # rows quoted per failed check; the rest are counted
FUTURE_SLACK_S = 86_400  # timestamps later than now + 1 day are unit mistakes, not clock skew
MAX_ABS_SECONDS = 7e9  # about 2191 AD / 1748 BC: beyond that it is not a time in seconds
MAX_PLAYS = 2**53  # larger counts are not exact in float64 and overflow int64 when summed
HEADER_BYTES = 2**20  # a CSV header row longer than 1 MiB is not a table of this format


class _Problems(list):
    """Problems found so far, with a helper that quotes a few offending rows and counts the rest."""

    def rows(self, file: str, df: pd.DataFrame, mask: np.ndarray | pd.Series, column: str, message: str) -> None:
        mask = np.asarray(mask, dtype=bool)
        bad = np.flatnonzero(mask)
        for i in bad[:MAX_ROWS_PER_CHECK]:
            value = df[column].iloc[i] if column in df else None
            self.append(Problem(file, message, row=int(i) + 1, column=column, value=_plain(value)))
        if len(bad) > MAX_ROWS_PER_CHECK:
            more = len(bad) - MAX_ROWS_PER_CHECK
            self.append(Problem(file, f"{more} more row(s) with the same problem", column=column))


def _plain(value: object) -> object:
    """A value as plain Python for the message (numpy scalars print noisily)."""
    return value.item() if isinstance(value, np.generic) else value


def _not_a_file(path: Path) -> str | None:
    """Why an entry that exists is not a readable file (a loop of links, a dangling link, a folder), or None."""
    if not os.path.lexists(path) or path.is_file():
        return None
    if path.is_symlink():
        try:
            path.stat()
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                return "a loop of symbolic links (it never reaches a file)"
            return f"a symbolic link to {os.readlink(path)}, which does not exist"
    return "a folder, not a file" if path.is_dir() else "not a regular file (a device, pipe or socket)"


def _find_file(folder: Path, stem: str, problems: _Problems) -> Path | None:
    for suffix in TABLE_SUFFIXES:
        reason = _not_a_file(folder / f"{stem}{suffix}")
        if reason is not None:
            problems.append(Problem(f"{stem}{suffix}", f"cannot be read: it is {reason}"))
    found = [folder / f"{stem}{suffix}" for suffix in TABLE_SUFFIXES if (folder / f"{stem}{suffix}").is_file()]
    if len(found) > 1:
        problems.append(Problem(found[0].name, f"both {found[0].name} and {found[1].name} exist; keep one"))
        return None
    return found[0] if found else None


_LINE_END = re.compile(rb"\r\n|\n|\r")


def _csv_header(path: Path, problems: _Problems) -> list[str] | None:
    """The header row's names, read from the first MiB only; None (with a problem) when the file is not a table."""
    with open(path, "rb") as handle:
        head = handle.read(HEADER_BYTES)
    if not head.strip():
        problems.append(Problem(path.name, "the file is empty (no header row)"))
        return None
    if b"\0" in head:
        problems.append(Problem(path.name, "holds NUL bytes: not a text table (a binary, damaged or sparse file?)"))
        return None
    # the first non-blank line, ended by \n, \r\n or a lone \r as pandas reads them (it skips blank lines)
    lines = _LINE_END.split(head.lstrip(b"\r\n"), maxsplit=1)
    line = lines[0]
    if len(lines) == 1 and len(head) == HEADER_BYTES:
        problems.append(Problem(path.name, f"the header row is longer than {HEADER_BYTES:,} bytes: not a table"))
        return None
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        problems.append(_not_utf8(path))
        return None
    return next(csv.reader([text.removeprefix("\ufeff")]), [])


def _parquet_header(path: Path, problems: _Problems) -> list[str] | None:
    """The column names from the Parquet footer (nothing else is read); None (with a problem) when unreadable."""
    import pyarrow.parquet as pq

    try:
        return list(pq.read_schema(path).names)
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ...: all mean "not a Parquet file"
        problems.append(Problem(path.name, f"cannot be read: {type(exc).__name__}: {exc}"))
        return None


def _header(path: Path, spec: TableSpec, problems: _Problems) -> list[str] | None:
    """The header's names when none is repeated or missing (else None, with problems), checked before the rows
    are parsed: a wrong 300 MB file fails at once. pandas renames a repeated CSV name ('plays.1'), so
    duplicates can only be seen here."""
    raw = _csv_header(path, problems) if path.suffix == ".csv" else _parquet_header(path, problems)
    if raw is None:
        return None
    names = [str(c).strip() for c in raw]
    duplicated = sorted({c for c in names if names.count(c) > 1})
    for column in duplicated:
        problems.append(Problem(path.name, "column name appears more than once", column=column))
    missing = [c for c in spec.required_columns if c not in names]
    for column in missing:
        problems.append(Problem(path.name, f"missing required column; has {names[:20]}", column=column))
    return None if missing or duplicated else raw


def _read_table(path: Path, spec: TableSpec, problems: _Problems) -> pd.DataFrame | None:
    """Read one table after its header passed; ID columns become text, CSV columns all start as text."""
    header = _header(path, spec, problems)
    if header is None:
        return None
    known = (*spec.required_columns, *spec.optional_columns)
    try:
        if path.suffix == ".csv":
            df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
        else:
            columns = None if spec.keep_extra else [c for c in header if c.strip() in known]
            df = pd.read_parquet(path, columns=columns)
    except UnicodeDecodeError:
        problems.append(_not_utf8(path))
        return None
    except pd.errors.EmptyDataError:
        problems.append(Problem(path.name, "the file is empty (no header row)"))
        return None
    except pd.errors.ParserError as exc:
        problems.append(_ragged(path.name, exc))
        return None
    except MemoryError:  # pyarrow's ArrowMemoryError is one too
        problems.append(Problem(path.name, f"too large to read into memory ({path.stat().st_size:,} bytes)"))
        return None
    except Exception as exc:  # pyarrow and the csv parser raise many types; all mean "unreadable"
        problems.append(Problem(path.name, f"cannot be read: {type(exc).__name__}: {exc}"))
        return None
    # CSV rows with one field more than the header has names: pandas would silently make the first column the
    # index and shift the others by one.
    if path.suffix == ".csv" and not isinstance(df.index, pd.RangeIndex):
        problems.append(Problem(path.name, "the rows have more fields than the header row has names", row=1))
        return None
    df.columns = [str(c).strip() for c in df.columns]
    if not spec.keep_extra:
        df = df[[c for c in df.columns if c in known]]
    if path.suffix != ".csv" and not _typed_cells_ok(df, path.name, spec, problems):
        return None
    for column in spec.id_columns:
        if column in df:
            df[column] = _as_text(df[column])
    return df.reset_index(drop=True)


_NOT_UTF8 = object()


def _utf8(value: object) -> object:
    """A binary cell as text (a marker when it is not UTF-8); other values unchanged."""
    if not isinstance(value, bytes | bytearray):
        return value
    try:
        return bytes(value).decode("utf-8")
    except UnicodeDecodeError:
        return _NOT_UTF8


def _typed_cells_ok(df: pd.DataFrame, file: str, spec: TableSpec, problems: _Problems) -> bool:
    """Parquet cells have types: binary cells become text (they must be UTF-8, like a CSV file), an ID is text or
    a number, never a list, a mapping or true/false, and no column of the format holds lists or mappings.
    Returns False (table unusable) after a problem."""
    ok = True
    known = (*spec.required_columns, *spec.optional_columns)
    for column in df.columns:
        values = df[column]
        if values.dtype != object:
            if column in spec.id_columns and values.dtype.kind == "b":
                problems.rows(file, df, np.ones(len(df), bool), column, "an ID must be text or a number, not "
                              "true/false")
                ok = False
            continue
        decoded = values.map(_utf8)
        bad = decoded.map(lambda v: v is _NOT_UTF8).to_numpy(dtype=bool)
        problems.rows(file, df, bad, column, "not UTF-8 text (save text columns as UTF-8 strings)")
        ok &= not bad.any()
        nested = decoded.map(lambda v: not pd.api.types.is_scalar(v)).to_numpy(dtype=bool)
        if column in spec.id_columns:
            wrong = nested | decoded.map(lambda v: isinstance(v, bool | np.bool_)).to_numpy(dtype=bool)
            problems.rows(file, df, wrong, column, "an ID must be text or a number, not a list, a mapping or "
                          "true/false")
            ok &= not wrong.any()
        elif column in known:  # a struct title would be shown as a Python repr; extra metadata may hold lists
            problems.rows(file, df, nested, column, "a list or a mapping (nested Parquet type) where text or a "
                          "number belongs")
            ok &= not nested.any()
        if ok:
            df[column] = decoded
    return ok


def _not_utf8(path: Path) -> Problem:
    """Locate the first byte that is not UTF-8: the data row (header = row 0) and the byte itself."""
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # records, not lines: a quoted field may hold newlines. The sentinel starts (or extends) the bad record.
        row = sum(1 for _ in csv.reader(io.StringIO(data[:exc.start].decode("utf-8") + "X", newline=""))) - 1
        byte = data[exc.start]
        return Problem(path.name, f"not UTF-8 text (byte {byte:#04x} at offset {exc.start}; save it as UTF-8)",
                       row=row or None, value=bytes([byte]))
    return Problem(path.name, "not UTF-8 text")


def _ragged(file: str, exc: pd.errors.ParserError) -> Problem:
    """A CSV row with more fields than the header (the C parser names the line)."""
    match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
    if match is None:
        return Problem(file, f"cannot be read: {exc}")
    expected, line, saw = (int(g) for g in match.groups())
    return Problem(file, f"{saw} fields where the header has {expected} (unquoted comma?)", row=line - 1)


def _as_text(series: pd.Series) -> pd.Series:
    """IDs are strings: integers from Parquet become '7' (also when stored as 7.0), missing values ''."""
    if series.dtype.kind == "f":
        present = series.dropna().to_numpy()
        if (np.abs(present) < 2**53).all() and np.array_equal(present, np.trunc(present)):
            series = series.astype("Int64")
    return _text(series)


def _text(series: pd.Series) -> pd.Series:
    """Every value as text, vectorised; missing ones (None, NaN, pd.NA, NaT) as ''."""
    return series.astype(str).fillna("")


def _numeric(df: pd.DataFrame, file: str, column: str, problems: _Problems, *, integer: bool = False,
             minimum: float | None = None, strict_min: bool = False, maximum: float | None = None,
             allow_empty: bool = False) -> pd.Series:
    """Parse a numeric column, reporting every value that is empty, non-numeric or out of range."""
    raw = df[column]
    if raw.dtype.kind == "b":  # Parquet true/false is no count, as CSV 'True' is not a number
        problems.rows(file, df, np.ones(len(raw), bool), column, "not a number (true/false)")
        return pd.Series(np.nan, index=raw.index)
    text = _text(raw).str.strip() if raw.dtype.kind not in "iuf" else None
    values = pd.to_numeric(text if text is not None else raw, errors="coerce").astype("float64")
    values = values.where(np.isfinite(values))  # 'inf' is no count, duration or weight
    empty = (text == "").to_numpy() if text is not None else raw.isna().to_numpy()
    if allow_empty:
        bad = values.isna().to_numpy() & ~empty
    else:
        problems.rows(file, df, empty, column, "missing value")
        bad = values.isna().to_numpy() & ~empty
    problems.rows(file, df, bad, column, "not a number")
    finite = values.notna().to_numpy()
    if integer:
        problems.rows(file, df, finite & (np.mod(values.fillna(0), 1) != 0).to_numpy(), column, "not an integer")
    if minimum is not None:
        low = (values <= minimum) if strict_min else (values < minimum)
        rule = f"must be {'>' if strict_min else '>='} {minimum:g}"
        problems.rows(file, df, finite & low.to_numpy(), column, rule)
    if maximum is not None:
        problems.rows(file, df, finite & (values > maximum).to_numpy(), column, f"must be <= {maximum:.0f}")
    return values


def _check_ids(df: pd.DataFrame, file: str, column: str, problems: _Problems, unique: bool) -> None:
    problems.rows(file, df, (df[column].str.strip() == "").to_numpy(), column, "empty ID")
    if unique:
        problems.rows(file, df, df[column].duplicated(keep="first").to_numpy(), column, "duplicate ID")


def _check_refs(df: pd.DataFrame, file: str, column: str, known: pd.Index, target: str, problems: _Problems) -> None:
    """Every non-empty value of `column` must be one of `known` (the IDs of table `target`)."""
    unknown = ~df[column].isin(known).to_numpy() & (df[column] != "").to_numpy()
    problems.rows(file, df, unknown, column, f"not found in {target}")


def _epoch_seconds(stamps: pd.Series) -> pd.Series:
    """Seconds since 1970 in the stamps' own unit: year 1 in microseconds would overflow nanoseconds."""
    return (stamps - pd.Timestamp(0, tz="UTC").as_unit(stamps.dt.unit)).dt.total_seconds()


def _parse_timestamps(df: pd.DataFrame, file: str, problems: _Problems) -> pd.Series:
    """ISO-8601 text or Unix seconds to UTC datetimes; unparsable and future values are problems."""
    raw = df["timestamp"]
    if raw.dtype.kind in "iuf":
        seconds = raw.astype("float64")
    elif raw.dtype.kind == "M":
        seconds = _epoch_seconds(pd.to_datetime(raw, utc=True))
    else:
        text = _text(raw).str.strip()
        seconds = pd.to_numeric(text, errors="coerce").astype("float64")
        is_text = seconds.isna() & (text != "")
        if is_text.any():
            stamps = pd.to_datetime(text[is_text], format="ISO8601", utc=True, errors="coerce")
            seconds[is_text] = _epoch_seconds(stamps)
            outside = is_text & seconds.isna()  # pandas' nanoseconds end in 1677 and 2262; Python reads year 1
            seconds[outside] = text[outside].map(_iso_seconds)
    future = seconds > time.time() + FUTURE_SLACK_S
    unparsable = seconds.isna()
    too_early = seconds < -MAX_ABS_SECONDS
    problems.rows(file, df, unparsable.to_numpy(), "timestamp",
                  "unparsable timestamp (ISO-8601 or Unix seconds expected)")
    earliest = pd.Timestamp(-MAX_ABS_SECONDS, unit="s").strftime("%Y-%m-%d")
    problems.rows(file, df, too_early.to_numpy(), "timestamp",
                  f"timestamp out of range (earliest supported {earliest}; a unit or typing mistake?)")
    problems.rows(file, df, future.to_numpy(), "timestamp",
                  "timestamp is in the future (milliseconds given as seconds?)")
    return pd.to_datetime(seconds.where(~future & ~unparsable & ~too_early), unit="s", utc=True)


def _iso_seconds(text: str) -> float:
    """Seconds since 1970 of an ISO-8601 text that pandas cannot hold (year 1 to 9999; naive means UTC); NaN if
    it is not ISO-8601."""
    try:
        stamp = dt.datetime.fromisoformat(text)
    except ValueError:
        return float("nan")
    stamp = stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)
    return (stamp - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)).total_seconds()


def _clean_interactions(df: pd.DataFrame, file: str, problems: _Problems) -> pd.DataFrame:
    out = pd.DataFrame({"user_id": df["user_id"], "track_id": df["track_id"]})
    _check_ids(df, file, "user_id", problems, unique=False)
    _check_ids(df, file, "track_id", problems, unique=False)
    if "plays" in df:
        out["plays"] = _numeric(df, file, "plays", problems, integer=True, minimum=1, maximum=MAX_PLAYS)
    else:
        out["plays"] = 1.0
    if "ms_played" in df:
        out["ms_played"] = _numeric(df, file, "ms_played", problems, minimum=0, allow_empty=True)
    if "timestamp" in df:
        out["timestamp"] = _parse_timestamps(df, file, problems)
    if "split" in df:
        labels = _text(df["split"]).str.strip().str.lower()
        problems.rows(file, df, ~labels.isin(SPLIT_LABELS).to_numpy(), "split",
                      f"unknown split label (expected one of {', '.join(SPLIT_LABELS)})")
        out["split"] = labels
    return out


def _pair_keys(inter: pd.DataFrame) -> np.ndarray:
    """One integer per distinct (user_id, track_id) pair (hash-based factorize: no sorting of strings)."""
    user_codes, _ = pd.factorize(inter["user_id"])
    track_codes, tracks = pd.factorize(inter["track_id"])
    return user_codes.astype(np.int64) * len(tracks) + track_codes


def _check_split_conflicts(inter: pd.DataFrame, file: str, problems: _Problems) -> None:
    """Rows of one (user, track) pair must carry one split label: the pair becomes one interaction.

    Unknown labels are reported on their own, so only the three valid labels can conflict here.
    """
    frame = inter.assign(_key=_pair_keys(inter), _row=np.arange(len(inter)) + 1)
    frame = frame[frame["split"].isin(SPLIT_LABELS)]
    counts = frame.groupby("_key", sort=False)["split"].nunique()
    conflicting = counts.index[counts.to_numpy() > 1]
    for key_value in conflicting[:MAX_ROWS_PER_CHECK]:
        rows = frame.loc[frame["_key"] == key_value]
        first_other = rows.loc[rows["split"] != rows["split"].iat[0], "_row"].iat[0]
        problems.append(Problem(file, f"rows {rows['_row'].tolist()[:5]} of user {rows['user_id'].iat[0]!r} and "
                                f"track {rows['track_id'].iat[0]!r} carry different split labels",
                                row=int(first_other), column="split", value=sorted(set(rows["split"]))))
    if len(conflicting) > MAX_ROWS_PER_CHECK:
        more = len(conflicting) - MAX_ROWS_PER_CHECK
        problems.append(Problem(file, f"{more} more pair(s) with different split labels", column="split"))


def _aggregate(inter: pd.DataFrame) -> pd.DataFrame:
    """One row per (user, track) in order of first appearance: plays and ms_played summed, first/last time kept."""
    groups = inter.assign(_key=_pair_keys(inter)).groupby("_key", sort=False)
    out = groups.agg(user_id=("user_id", "first"), track_id=("track_id", "first"), plays=("plays", "sum"))
    if "ms_played" in inter:
        out["ms_played"] = groups["ms_played"].sum(min_count=1)  # all missing stays missing, not 0
    if "timestamp" in inter:
        out["first_ts"] = groups["timestamp"].min()
        out["last_ts"] = groups["timestamp"].max()
    if "split" in inter:
        out["split"] = groups["split"].first()
    out["plays"] = out["plays"].astype("int64")
    return out.reset_index(drop=True)


def _play_events(inter: pd.DataFrame) -> pd.DataFrame | None:
    """(pair, timestamp, plays) per input row, ``pair`` the row of its aggregated interaction (`_aggregate`'s
    order of first appearance); None without timestamps. The graph counts only plays before a user's held-out
    period from these (`recsys.graph.build.training_plays`)."""
    if "timestamp" not in inter:
        return None
    pair, _ = pd.factorize(_pair_keys(inter))
    return pd.DataFrame({"pair": pair.astype(np.int64), "timestamp": inter["timestamp"].array,
                         "plays": inter["plays"].to_numpy(dtype=np.int64)})


def _read_all(folder: Path, problems: _Problems) -> dict[str, pd.DataFrame]:
    tables: dict[str, pd.DataFrame] = {}
    for stem, spec in TABLES.items():
        path = _find_file(folder, stem, problems)
        if path is None:
            if spec.required and not any(p.file.startswith(stem + ".") for p in problems):
                problems.append(Problem(f"{stem}.csv|.parquet", "required file is missing"))
            continue
        df = _read_table(path, spec, problems)
        if df is not None:
            tables[stem] = df
            tables[stem].attrs["file"] = path.name
    return tables


def _validate_entities(t: dict[str, pd.DataFrame], problems: _Problems) -> None:
    """Entity tables: unique IDs, valid references between tracks, artists and genres."""
    for stem, column in (("artists", "artist_id"), ("tracks", "track_id"), ("genres", "genre"), ("users", "user_id")):
        if stem in t:
            _check_ids(t[stem], t[stem].attrs["file"], column, problems, unique=True)
    if "tracks" in t:
        tracks = t["tracks"]
        file = tracks.attrs["file"]
        _check_ids(tracks, file, "artist_id", problems, unique=False)
        if "artists" in t:
            _check_refs(tracks, file, "artist_id", pd.Index(t["artists"]["artist_id"]), "artists", problems)
        if "duration_ms" in tracks:
            tracks["duration_ms"] = _numeric(tracks, file, "duration_ms", problems, minimum=0, strict_min=True,
                                             allow_empty=True)
    if "genres" in t:
        genres = t["genres"]
        if "parent" in genres:
            _check_refs(genres, genres.attrs["file"], "parent", pd.Index(genres["genre"]), "genres", problems)
        if "popularity" in genres:
            genres["popularity"] = _numeric(genres, genres.attrs["file"], "popularity", problems, minimum=0,
                                            allow_empty=True)
    for stem, owner, target in (("track_genres", "track_id", "tracks"), ("artist_genres", "artist_id", "artists")):
        if stem not in t:
            continue
        table, file = t[stem], t[stem].attrs["file"]
        _check_ids(table, file, owner, problems, unique=False)
        _check_ids(table, file, "genre", problems, unique=False)
        if target in t:
            _check_refs(table, file, owner, pd.Index(t[target][owner]), target, problems)
        if "genres" in t:
            _check_refs(table, file, "genre", pd.Index(t["genres"]["genre"]), "genres", problems)
        problems.rows(file, table, table.duplicated([owner, "genre"]).to_numpy(), "genre",
                      f"duplicate ({owner}, genre) pair")
        if "weight" in table:
            table["weight"] = _numeric(table, file, "weight", problems, minimum=0, strict_min=True)
        else:
            table["weight"] = 1.0


def load_dataset(path: str | Path) -> Dataset:
    """Read, validate and normalise a dataset folder.

    Raises:
        DataValidationError: listing every problem found (file, row, column, value).
    """
    folder = Path(path)
    if not folder.is_dir():
        reason = "a file" if folder.is_file() else _not_a_file(folder)  # None: nothing there at all
        message = "dataset folder not found" if reason is None else f"not a dataset folder: it is {reason}"
        raise DataValidationError([Problem(str(folder), message)], path=folder)
    problems = _Problems()
    t = _read_all(folder, problems)
    _validate_entities(t, problems)
    interactions = events = None
    if "interactions" in t:
        raw, file = t["interactions"], t["interactions"].attrs["file"]
        if raw.empty:
            problems.append(Problem(file, "no interactions: the file has a header but no rows"))
        cleaned = _clean_interactions(raw, file, problems)
        if "tracks" in t:
            _check_refs(raw, file, "track_id", pd.Index(t["tracks"]["track_id"]), "tracks", problems)
        if "users" in t:
            _check_refs(raw, file, "user_id", pd.Index(t["users"]["user_id"]), "users", problems)
        if "split" in cleaned:
            _check_split_conflicts(cleaned, file, problems)
        if not problems:
            interactions, events = _aggregate(cleaned), _play_events(cleaned)
    if problems:
        raise DataValidationError(problems, path=folder)
    return Dataset.from_tables(folder, interactions=interactions, events=events,
                               **{k: v for k, v in t.items() if k != "interactions"})
