"""`python -m recsys split`: a copy of a dataset with the default split frozen in a `split` column.

Other tools (and later runs with other seeds or code) then see exactly the split this run chose. The written
interactions are the loader's aggregated rows, one per (user, track): plays and ms_played summed, `timestamp`
the first play (ISO-8601, UTC), so the copy has no last-play time beyond the first. The other tables are copied
byte for byte.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from recsys.cli.common import add_force_arg, checked_output

if TYPE_CHECKING:
    import pandas as pd

    from recsys.data import Dataset


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="dataset folder to read")
    parser.add_argument("--out", required=True, help="dataset folder to write (a new folder, or an earlier copy)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random split (data without timestamps)")
    add_force_arg(parser)


def frozen_interactions(dataset: Dataset) -> pd.DataFrame:
    """The aggregated interactions of a split dataset as a table the loader reads back to the same split."""
    import pandas as pd

    inter = dataset.interactions
    columns = {"user_id": inter["user_id"], "track_id": inter["track_id"], "plays": inter["plays"]}
    if dataset.has_timestamps:
        first = inter["first_ts"]
        whole = bool((first.dt.microsecond == 0).all() and (first.dt.nanosecond == 0).all())
        columns["timestamp"] = first.dt.strftime("%Y-%m-%dT%H:%M:%SZ" if whole else "%Y-%m-%dT%H:%M:%S.%fZ")
    if "ms_played" in inter:
        columns["ms_played"] = inter["ms_played"]
    columns["split"] = inter["split"]
    return pd.DataFrame(columns)


def run(args: argparse.Namespace) -> int:
    import shutil

    from recsys.data import assign_split, load_dataset
    from recsys.data.schema import TABLE_SUFFIXES, TABLES
    from recsys.data.write import staged_folder, write_table
    from recsys.errors import ConfigError

    data, out = Path(args.data), Path(args.out)
    if out.resolve() == data.resolve():
        raise ConfigError("--out must differ from --data: the source stays as it is")
    checked_output(args.out, "dataset", args.force)
    dataset, rule = assign_split(load_dataset(data), args.seed)
    fmt = "parquet" if (data / "interactions.parquet").is_file() else "csv"
    with staged_folder(out) as folder:
        for stem in TABLES:
            for suffix in TABLE_SUFFIXES:
                if stem != "interactions" and (data / f"{stem}{suffix}").is_file():
                    shutil.copy2(data / f"{stem}{suffix}", folder / f"{stem}{suffix}")
        write_table(frozen_interactions(dataset), folder, "interactions", fmt)
    counts = dataset.interactions["split"].value_counts()
    print(f"split rule: {rule}")
    print(f"wrote {out}: " + ", ".join(f"{label} {int(counts.get(label, 0)):,}" for label in ("train", "valid", "test"))
          + " interactions (aggregated per user and track)")
    return 0
