"""The default split rules and `python -m recsys split`, which freezes them into a copy of the data."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys.cli.main import main
from recsys.data import assign_split, load_dataset
from recsys.data.write import write_table


def write_csv(folder: Path, interactions: pd.DataFrame, **extra: str) -> Path:
    """A dataset whose catalogue covers every track in `interactions` (one artist)."""
    folder.mkdir(parents=True, exist_ok=True)
    interactions.to_csv(folder / "interactions.csv", index=False)
    tracks = sorted(set(interactions["track_id"]))
    pd.DataFrame({"track_id": tracks, "artist_id": "a1"}).to_csv(folder / "tracks.csv", index=False)
    (folder / "artists.csv").write_text("artist_id,name\na1,Artist\n")
    for stem, text in extra.items():
        (folder / f"{stem}.csv").write_text(text)
    return folder


def timed_interactions(sizes: dict[str, int], seed: int = 0) -> pd.DataFrame:
    """User u plays tracks t0..t{n-1} of its own, in that order one day apart; rows shuffled."""
    rows = [(user, f"{user}-t{i}", 1_700_000_000 + 86_400 * i) for user, n in sizes.items() for i in range(n)]
    random.Random(seed).shuffle(rows)
    return pd.DataFrame(rows, columns=["user_id", "track_id", "timestamp"])


def labels_by_pair(interactions: pd.DataFrame) -> dict[tuple[str, str], str]:
    return dict(zip(zip(interactions["user_id"], interactions["track_id"], strict=True), interactions["split"],
                    strict=True))


def test_temporal_rule(tmp_path: Path) -> None:
    # n interactions -> (train, valid, test): last 10% test, 10% before valid, each >= 1; < 5 all train.
    expected = {"u1": (1, 0, 0), "u4": (4, 0, 0), "u5": (3, 1, 1), "u10": (8, 1, 1), "u20": (16, 2, 2),
                "u30": (24, 3, 3)}
    data = write_csv(tmp_path / "d", timed_interactions({u: sum(c) for u, c in expected.items()}))
    dataset, rule = assign_split(load_dataset(data))
    assert rule.startswith("temporal")
    labels = labels_by_pair(dataset.interactions)
    for user, (n_train, n_valid, n_test) in expected.items():
        n = n_train + n_valid + n_test
        in_time_order = [labels[(user, f"{user}-t{i}")] for i in range(n)]
        assert in_time_order == ["train"] * n_train + ["valid"] * n_valid + ["test"] * n_test, user


def test_temporal_rule_orders_by_first_play(tmp_path: Path) -> None:
    inter = timed_interactions({"u": 10})
    # The user's first track comes back last: its first play is still the earliest, so it stays in train.
    replay = pd.DataFrame({"user_id": ["u"], "track_id": ["u-t0"], "timestamp": [1_700_000_000 + 86_400 * 30]})
    dataset, _ = assign_split(load_dataset(write_csv(tmp_path / "d", pd.concat([inter, replay]))))
    labels = labels_by_pair(dataset.interactions)
    assert labels[("u", "u-t0")] == "train"
    assert labels[("u", "u-t9")] == "test" and labels[("u", "u-t8")] == "valid"


def test_random_rule_is_80_10_10_and_fixed_by_the_seed(tmp_path: Path) -> None:
    inter = pd.DataFrame({"user_id": [f"u{i % 37}" for i in range(1000)], "track_id": [f"t{i}" for i in range(1000)]})
    loaded = load_dataset(write_csv(tmp_path / "d", inter))
    first, rule = assign_split(loaded, seed=7)
    again, _ = assign_split(loaded, seed=7)
    other, _ = assign_split(loaded, seed=8)
    assert rule == "random 80%/10%/10% (seed 7)"
    assert first.interactions["split"].value_counts().to_dict() == {"train": 800, "valid": 100, "test": 100}
    assert list(first.interactions["split"]) == list(again.interactions["split"])
    assert list(first.interactions["split"]) != list(other.interactions["split"])
    assert first.fingerprint == loaded.fingerprint  # the split is a choice, not data
    assert not loaded.has_split  # assign_split returns a copy


def test_split_column_is_honoured_exactly(tmp_path: Path) -> None:
    inter = timed_interactions({"u1": 10, "u2": 3})
    given = ["test"] * 3 + ["valid"] * 2 + ["train"] * 8  # not what either default rule would choose
    data = write_csv(tmp_path / "d", inter.assign(split=given))
    dataset, rule = assign_split(load_dataset(data), seed=3)
    assert "honoured" in rule
    assert list(dataset.interactions["split"]) == given


def write_rich(folder: Path, fmt: str) -> Path:
    """Timestamps, repeated rows, ms_played, genres and users, in CSV or Parquet."""
    inter = timed_interactions({"u1": 12, "u2": 6, "u3": 2})
    inter = pd.concat([inter, inter.head(4).assign(timestamp=lambda d: d["timestamp"] + 3600)], ignore_index=True)
    inter = inter.assign(ms_played=np.arange(len(inter)) * 1000.0, plays=1 + np.arange(len(inter)) % 3)
    inter["timestamp"] = pd.to_datetime(inter["timestamp"], unit="s", utc=True).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    tables = {
        "interactions": inter,
        "tracks": pd.DataFrame({"track_id": sorted(set(inter["track_id"])), "artist_id": "a1"}),
        "artists": pd.DataFrame({"artist_id": ["a1"], "name": ["Artist"]}),
        "artist_genres": pd.DataFrame({"artist_id": ["a1"], "genre": ["Jazz"]}),
        "users": pd.DataFrame({"user_id": ["u1", "u2", "u3", "u4"]}),
    }
    folder.mkdir(parents=True)
    for stem, df in tables.items():
        write_table(df, folder, stem, fmt)
    (folder / "notes.txt").write_text("not a table")
    return folder


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_cli_round_trip_reloads_with_the_same_split(tmp_path: Path, fmt: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    data = write_rich(tmp_path / "data", fmt)
    assert main(["split", "--data", str(data), "--out", str(tmp_path / "frozen")]) == 0
    assert "split rule: temporal" in capsys.readouterr().out
    original, _ = assign_split(load_dataset(data))
    frozen = load_dataset(tmp_path / "frozen")
    assert frozen.has_split
    assert labels_by_pair(frozen.interactions) == labels_by_pair(original.interactions)
    columns = ["user_id", "track_id", "plays", "ms_played", "first_ts"]
    pd.testing.assert_frame_equal(frozen.interactions[columns], original.interactions[columns])
    assert (frozen.interactions["last_ts"] == frozen.interactions["first_ts"]).all()  # one row per pair now
    for stem in ("tracks", "artists", "artist_genres", "users"):
        assert (tmp_path / "frozen" / f"{stem}.{fmt}").read_bytes() == (data / f"{stem}.{fmt}").read_bytes()
    assert (tmp_path / "frozen" / f"interactions.{fmt}").is_file()
    assert not (tmp_path / "frozen" / "notes.txt").exists()
    # Splitting the frozen copy again keeps the split and the content.
    assert main(["split", "--data", str(tmp_path / "frozen"), "--out", str(tmp_path / "again"), "--seed", "5"]) == 0
    again = load_dataset(tmp_path / "again")
    assert again == frozen and again.fingerprint == frozen.fingerprint


def test_cli_random_split_uses_the_seed(tmp_path: Path) -> None:
    inter = pd.DataFrame({"user_id": [f"u{i % 7}" for i in range(50)], "track_id": [f"t{i}" for i in range(50)],
                          "plays": 2})
    data = write_csv(tmp_path / "d", inter)
    assert main(["split", "--data", str(data), "--out", str(tmp_path / "s"), "--seed", "11"]) == 0
    expected, _ = assign_split(load_dataset(data), seed=11)
    assert labels_by_pair(load_dataset(tmp_path / "s").interactions) == labels_by_pair(expected.interactions)
    written = pd.read_csv(tmp_path / "s" / "interactions.csv")
    assert list(written.columns) == ["user_id", "track_id", "plays", "split"]


def test_cli_keeps_sub_second_timestamps(tmp_path: Path) -> None:
    inter = pd.DataFrame({"user_id": ["u1", "u1"], "track_id": ["t1", "t2"],
                          "timestamp": ["2024-03-01T18:22:05.250Z", "2024-03-01T18:22:06Z"]})
    data = write_csv(tmp_path / "d", inter)
    assert main(["split", "--data", str(data), "--out", str(tmp_path / "s")]) == 0
    stamps = load_dataset(tmp_path / "s").interactions["first_ts"]
    assert list(stamps) == [pd.Timestamp("2024-03-01T18:22:05.250Z"), pd.Timestamp("2024-03-01T18:22:06Z")]


def test_cli_refuses_to_overwrite_its_input_or_other_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_csv(tmp_path / "d", timed_interactions({"u": 3}))
    assert main(["split", "--data", str(data), "--out", str(data)]) == 1
    assert "--out must differ from --data" in capsys.readouterr().err
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    assert main(["split", "--data", str(data), "--out", str(precious)]) == 1
    assert "not dataset tables" in capsys.readouterr().err
    assert (precious / "thesis.tex").read_text() == "years of work"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d", "precious"]  # no temporary folder left behind


def test_cli_reports_invalid_data_as_one_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["split", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "s")]) == 1
    assert "dataset folder not found" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()
