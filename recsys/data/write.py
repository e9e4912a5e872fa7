"""Writing dataset folders safely: into a temporary folder beside the target, renamed into place at the end.

Readers never see a half-written dataset, and an existing target is replaced only when it holds nothing but
dataset tables, so a mistyped --out cannot delete unrelated files.
"""

from __future__ import annotations

import contextlib
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from recsys.data.schema import TABLE_SUFFIXES, TABLES
from recsys.errors import ConfigError


@contextlib.contextmanager
def staged_folder(out: Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside `out`; on success it replaces `out`, on error it is removed.

    Readers never see a half-written dataset. An existing `out` is only replaced when it holds nothing but
    dataset tables, so a mistyped --out cannot delete unrelated files.
    """
    out = out.resolve()  # "." has no name to put a sibling beside
    if out.exists():
        if not out.is_dir():
            raise ConfigError(f"{out} exists and is not a folder")
        tables = {f"{stem}{suffix}" for stem in TABLES for suffix in TABLE_SUFFIXES}
        foreign = sorted(p.name for p in out.iterdir() if p.name not in tables)
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
