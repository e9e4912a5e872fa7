"""Writing outputs safely: files through a temporary file renamed into place, dataset folders through a staged
folder renamed into place. Readers never see a half-written file or dataset.

An existing dataset folder is replaced only when it holds nothing but dataset tables, so a mistyped --out cannot
delete unrelated files; a symbolic link at the target is never followed (recsys.cli.common checks outputs first).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pandas as pd

from recsys.data.schema import TABLE_SUFFIXES, TABLES
from recsys.errors import ConfigError

TABLE_FILES = frozenset(f"{stem}{suffix}" for stem in TABLES for suffix in TABLE_SUFFIXES)


@contextlib.contextmanager
def atomic_file(path: str | Path) -> Iterator[BinaryIO]:
    """Yield a binary handle on a temporary file beside `path`; on success it is flushed to disk and renamed over
    `path` (os.replace: a link at `path` is replaced, never followed), on error it is removed.

    Raises OSError when the folder takes no files or the disk is full; the previous `path` is then unchanged.
    """
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp creates 0600; an output is as readable as any file
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write UTF-8 text through `atomic_file`, creating the folder first; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as handle:
        handle.write(text.encode("utf-8"))
    return path


def foreign_entries(folder: Path) -> list[str]:
    """Names in an existing folder that are not dataset tables (empty: the folder is a dataset folder or empty)."""
    return sorted(p.name for p in folder.iterdir() if p.name not in TABLE_FILES)


def _target(out: Path) -> Path:
    """An absolute path whose last part is not resolved: a link there is refused, not followed."""
    out = Path(os.path.abspath(out))
    return out if out.name else out.resolve()


@contextlib.contextmanager
def staged_folder(out: Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside `out`; on success it replaces `out`, on error it is removed.

    Readers never see a half-written dataset. An existing `out` is only replaced when it is a folder (not a link)
    holding nothing but dataset tables, so a mistyped --out cannot delete unrelated files.
    """
    out = _target(Path(out))
    if out.is_symlink():
        raise ConfigError(f"{out} is a symbolic link; a dataset is never written through a link (give the real "
                          "folder, or remove the link)")
    if out.exists():
        if not out.is_dir():
            raise ConfigError(f"{out} exists and is not a folder")
        foreign = foreign_entries(out)
        if foreign:
            raise ConfigError(f"{out} exists and holds files that are not dataset tables ({', '.join(foreign[:5])});"
                              " choose another --out or remove it")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.{uuid.uuid4().hex[:12]}.tmp"  # mkdir, unlike mkdtemp, honours the umask
    tmp.mkdir()
    try:
        yield tmp
        if out.exists():
            old = tmp.with_suffix(".old")
            out.rename(old)
            try:
                tmp.rename(out)
            except BaseException:
                old.rename(out)  # put the previous dataset back
                raise
            shutil.rmtree(old)
        else:
            tmp.rename(out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def write_table(df: pd.DataFrame, folder: Path, stem: str, fmt: str) -> None:
    """One table as `<stem>.csv` (UTF-8) or `<stem>.parquet`, without the index."""
    if fmt == "csv":
        df.to_csv(folder / f"{stem}.csv", index=False, encoding="utf-8")
    else:
        df.to_parquet(folder / f"{stem}.parquet", index=False)
