"""The loader's contract (docs/data-format.md): every bad input is one located Problem, good input loads as given."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recsys.data import Dataset, load_dataset
from recsys.data.schema import TABLES
from recsys.data.write import write_table
from recsys.errors import DataValidationError, Problem

INTERACTIONS = "user_id,track_id,plays\nu1,t1,2\nu2,t1,1\n"
TRACKS = "track_id,artist_id,title\nt1,a1,Song\n"
ARTISTS = "artist_id,name\na1,Artist\n"


def write(folder: Path, **tables: str | bytes | pd.DataFrame) -> Path:
    """Tables as files: text or bytes become <stem>.csv, DataFrames <stem>.parquet. Starts from a valid dataset."""
    folder.mkdir(parents=True, exist_ok=True)
    for stem, content in {"interactions": INTERACTIONS, "tracks": TRACKS, "artists": ARTISTS, **tables}.items():
        if content is None:
            continue
        if isinstance(content, pd.DataFrame):
            content.to_parquet(folder / f"{stem}.parquet", index=False)
        elif isinstance(content, bytes):
            (folder / f"{stem}.csv").write_bytes(content)
        else:
            (folder / f"{stem}.csv").write_text(content, encoding="utf-8")
    return folder


def problems(folder: Path) -> list[Problem]:
    with pytest.raises(DataValidationError) as info:
        load_dataset(folder)
    return info.value.problems


def only_problem(folder: Path) -> Problem:
    found = problems(folder)
    assert len(found) == 1, found
    return found[0]


def assert_problem(p: Problem, file: str, message: str, row: int | None = None, column: str | None = None,
                   value: object = None) -> None:
    assert (p.file, p.row, p.column, p.value) == (file, row, column, value), p
    assert message in p.message, p


# ---------------------------------------------------------------------------------------------- bad input


def test_folder_that_does_not_exist(tmp_path: Path) -> None:
    p = only_problem(tmp_path / "nope")
    assert_problem(p, str(tmp_path / "nope"), "dataset folder not found")


def test_a_file_instead_of_a_folder(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text("a\n")
    assert_problem(only_problem(tmp_path / "x.csv"), str(tmp_path / "x.csv"), "not a dataset folder: it is a file")


@pytest.mark.parametrize("stem", ["interactions", "tracks", "artists"])
def test_missing_required_file(tmp_path: Path, stem: str) -> None:
    assert_problem(only_problem(write(tmp_path, **{stem: None})), f"{stem}.csv|.parquet", "required file is missing")


def test_missing_column(tmp_path: Path) -> None:
    p = only_problem(write(tmp_path, interactions="user,track_id\nu1,t1\n"))
    assert_problem(p, "interactions.csv", "missing required column", column="user_id")


def test_missing_columns_in_an_optional_file(tmp_path: Path) -> None:
    p = only_problem(write(tmp_path, artist_genres="artist_id,style\na1,Rock\n"))
    assert_problem(p, "artist_genres.csv", "missing required column", column="genre")


def test_non_numeric_plays(tmp_path: Path) -> None:
    p = only_problem(write(tmp_path, interactions="user_id,track_id,plays\nu1,t1,2\nu2,t1,two\n"))
    assert_problem(p, "interactions.csv", "not a number", row=2, column="plays", value="two")


def test_empty_file(tmp_path: Path) -> None:
    assert_problem(only_problem(write(tmp_path, tracks=b"")), "tracks.csv", "empty (no header row)")


def test_header_only_interactions(tmp_path: Path) -> None:
    p = only_problem(write(tmp_path, interactions="user_id,track_id,plays\n"))
    assert_problem(p, "interactions.csv", "header but no rows")


@pytest.mark.parametrize(("plays", "message", "value"), [
    ("", "missing value", ""),
    ("nan", "not a number", "nan"),
    ("inf", "not a number", "inf"),
    ("-3", "must be >= 1", "-3"),
    ("0", "must be >= 1", "0"),
    ("1.5", "not an integer", "1.5"),
    ("99999999999999999999", "must be <=", "99999999999999999999"),
])
def test_bad_plays(tmp_path: Path, plays: str, message: str, value: str) -> None:
    p = only_problem(write(tmp_path, interactions=f"user_id,track_id,plays\nu1,t1,1\nu2,t1,{plays}\n"))
    assert_problem(p, "interactions.csv", message, row=2, column="plays", value=value)


def test_missing_plays_in_parquet(tmp_path: Path) -> None:
    inter = pd.DataFrame({"user_id": ["u1", "u2"], "track_id": ["t1", "t1"], "plays": [3.0, np.nan]})
    p = only_problem(write(tmp_path, interactions=inter))
    assert (p.file, p.row, p.column, p.message) == ("interactions.parquet", 2, "plays", "missing value")
    assert np.isnan(p.value)  # NaN != NaN, so not through assert_problem


def test_negative_ms_played(tmp_path: Path) -> None:
    p = only_problem(write(tmp_path, interactions="user_id,track_id,ms_played\nu1,t1,-5\n"))
    assert_problem(p, "interactions.csv", "must be >= 0", row=1, column="ms_played", value="-5")


@pytest.mark.parametrize(("stem", "text", "column"), [
    ("tracks", "track_id,artist_id\nt1,a1\nt1,a1\n", "track_id"),
    ("artists", "artist_id,name\na1,A\na1,B\n", "artist_id"),
    ("genres", "genre\nRock\nRock\n", "genre"),
    ("users", "user_id\nu1\nu1\nu2\n", "user_id"),
])
def test_duplicate_ids(tmp_path: Path, stem: str, text: str, column: str) -> None:
    p = only_problem(write(tmp_path, **{stem: text}))
    value = "u1" if stem == "users" else text.splitlines()[1].split(",")[0]
    assert_problem(p, f"{stem}.csv", "duplicate ID", row=2, column=column, value=value)


def test_empty_id(tmp_path: Path) -> None:
    p = only_problem(write(tmp_path, tracks="track_id,artist_id\nt1,a1\n ,a1\n"))
    assert_problem(p, "tracks.csv", "empty ID", row=2, column="track_id", value=" ")


def test_track_with_unknown_artist(tmp_path: Path) -> None:
    p = only_problem(write(tmp_path, tracks="track_id,artist_id\nt1,a1\nt2,a9\n"))
    assert_problem(p, "tracks.csv", "not found in artists", row=2, column="artist_id", value="a9")


def test_interaction_with_unknown_track(tmp_path: Path) -> None:
    p = only_problem(write(tmp_path, interactions="user_id,track_id\nu1,t1\nu1,t7\n"))
    assert_problem(p, "interactions.csv", "not found in tracks", row=2, column="track_id", value="t7")


@pytest.mark.parametrize(("tables", "file", "column", "value", "target"), [
    ({"track_genres": "track_id,genre\nt1,Rock\nt5,Rock\n"}, "track_genres.csv", "track_id", "t5", "tracks"),
    ({"artist_genres": "artist_id,genre\na1,Rock\na5,Rock\n"}, "artist_genres.csv", "artist_id", "a5", "artists"),
    ({"artist_genres": "artist_id,genre\na1,Rock\na1,Jaz\n", "genres": "genre\nRock\nJazz\n"},
     "artist_genres.csv", "genre", "Jaz", "genres"),
    ({"genres": "genre,parent\nRock,\nPunk,Rok\n"}, "genres.csv", "parent", "Rok", "genres"),
])
def test_genre_rows_pointing_at_unknown_ids(tmp_path: Path, tables: dict[str, str], file: str, column: str,
                                            value: str, target: str) -> None:
    p = only_problem(write(tmp_path, **tables))
    assert_problem(p, file, f"not found in {target}", row=2, column=column, value=value)


def test_non_positive_genre_weight(tmp_path: Path) -> None:
    p = only_problem(write(tmp_path, artist_genres="artist_id,genre,weight\na1,Rock,0\n"))
    assert_problem(p, "artist_genres.csv", "must be > 0", row=1, column="weight", value="0")


@pytest.mark.parametrize("stamp", ["yesterday", "2024-13-01", "0001-13-01"])
def test_unparsable_timestamp(tmp_path: Path, stamp: str) -> None:
    p = only_problem(write(tmp_path, interactions=f"user_id,track_id,timestamp\nu1,t1,2024-03-01\nu2,t1,{stamp}\n"))
    assert_problem(p, "interactions.csv", "unparsable timestamp", row=2, column="timestamp", value=stamp)


@pytest.mark.parametrize("stamp", ["0001-01-01", "0001-01-01T00:00:00Z", "1500-06-01 12:00", "-99999999999"])
def test_valid_iso_dates_before_the_supported_range_are_out_of_range(tmp_path: Path, stamp: str) -> None:
    # before: year 1 (valid ISO-8601) was called "unparsable"; pandas' nanoseconds cannot hold it
    p = only_problem(write(tmp_path, interactions=f"user_id,track_id,timestamp\nu1,t1,2024-03-01\nu2,t1,{stamp}\n"))
    assert_problem(p, "interactions.csv", "timestamp out of range (earliest supported 1748-", row=2,
                   column="timestamp", value=stamp)
    assert "unparsable" not in p.message


@pytest.mark.parametrize("stamp", ["1709317325000", "2999-01-01T00:00:00Z"])
def test_future_timestamp(tmp_path: Path, stamp: str) -> None:
    p = only_problem(write(tmp_path, interactions=f"user_id,track_id,timestamp\nu1,t1,{stamp}\n"))
    assert_problem(p, "interactions.csv", "in the future", row=1, column="timestamp", value=stamp)


def test_unknown_split_label(tmp_path: Path) -> None:
    p = only_problem(write(tmp_path, interactions="user_id,track_id,split\nu1,t1,train\nu2,t1,training\n"))
    assert_problem(p, "interactions.csv", "unknown split label", row=2, column="split", value="training")


def test_missing_split_label_in_parquet(tmp_path: Path) -> None:
    inter = pd.DataFrame({"user_id": ["u1", "u2", "u2"], "track_id": ["t1", "t1", "t1"],
                          "split": ["train", None, "test"]})
    p = only_problem(write(tmp_path, interactions=inter))  # unknown, and not also a conflict with 'test'
    assert (p.file, p.row, p.column) == ("interactions.parquet", 2, "split")
    assert "unknown split label" in p.message and pd.isna(p.value)


def test_conflicting_split_labels_for_one_pair(tmp_path: Path) -> None:
    p = only_problem(write(tmp_path, interactions="user_id,track_id,split\nu1,t1,train\nu2,t1,test\nu1,t1,test\n"))
    assert_problem(p, "interactions.csv", "carry different split labels", row=3, column="split",
                   value=["test", "train"])
    assert "rows [1, 3]" in p.message


def test_non_utf8_text(tmp_path: Path) -> None:
    p = only_problem(write(tmp_path, artists="artist_id,name\na1,Café\n".encode("latin-1")))
    assert_problem(p, "artists.csv", "not UTF-8", row=1, value=b"\xe9")


def test_users_file_that_disagrees_with_interactions(tmp_path: Path) -> None:
    p = only_problem(write(tmp_path, users="user_id\nu1\nu3\n"))
    assert_problem(p, "interactions.csv", "not found in users", row=2, column="user_id", value="u2")


def test_both_csv_and_parquet_for_one_stem(tmp_path: Path) -> None:
    write(tmp_path, tracks=pd.DataFrame({"track_id": ["t1"], "artist_id": ["a1"]}))
    (tmp_path / "tracks.csv").write_text(TRACKS)
    p = only_problem(tmp_path)
    assert_problem(p, "tracks.csv", "both tracks.csv and tracks.parquet exist")


def test_rows_with_more_fields_than_the_header(tmp_path: Path) -> None:
    # Every row one field too many: pandas would silently shift the columns (first one as the index).
    p = only_problem(write(tmp_path, interactions="user_id,track_id\nu1,t1,5\nu2,t1,3\n"))
    assert_problem(p, "interactions.csv", "more fields than the header", row=1)
    # Only some rows too long: the parser names the line.
    p = only_problem(write(tmp_path, interactions="user_id,track_id\nu1,t1\nu2,Hello, World\n"))
    assert_problem(p, "interactions.csv", "3 fields where the header has 2", row=2)


def test_column_name_twice(tmp_path: Path) -> None:
    p = only_problem(write(tmp_path, interactions="user_id,track_id, user_id\nu1,t1,u2\n"))
    assert_problem(p, "interactions.csv", "appears more than once", column="user_id")


def test_missing_id_in_a_nullable_integer_parquet_column(tmp_path: Path) -> None:
    inter = pd.DataFrame({"user_id": pd.Series([1, None], dtype="Int64"), "track_id": ["t1", "t1"]})
    p = only_problem(write(tmp_path, interactions=inter))
    assert_problem(p, "interactions.parquet", "empty ID", row=2, column="user_id", value="")


def test_all_problems_are_listed_at_once(tmp_path: Path) -> None:
    write(tmp_path,
          interactions="user_id,track_id,plays,split\nu1,t1,x,train\nu1,t1,2,test\nu2,t9,1,train\n",
          tracks="track_id,artist_id\nt1,a1\nt2,a7\n",
          artists="artist_id,name\na1,A\na1,B\n",
          genres=b"genre\nRock\n\xff\n")
    found = problems(tmp_path)
    assert {(p.file, p.row, p.column, str(p.value)) for p in found} == {
        ("interactions.csv", 1, "plays", "x"),
        ("interactions.csv", 3, "track_id", "t9"),
        ("interactions.csv", 2, "split", "['test', 'train']"),
        ("tracks.csv", 2, "artist_id", "a7"),
        ("artists.csv", 2, "artist_id", "a1"),
        ("genres.csv", 2, None, str(b"\xff")),
    }
    message = str(DataValidationError(found, path=tmp_path))
    assert "6 problem(s)" in message and "interactions.csv, row 3, column 'track_id'" in message


def test_many_bad_rows_are_counted_not_all_quoted(tmp_path: Path) -> None:
    rows = "".join(f"u{i},t1,0\n" for i in range(25))
    found = problems(write(tmp_path, interactions="user_id,track_id,plays\n" + rows))
    assert [p.row for p in found[:10]] == list(range(1, 11))
    assert found[10].row is None and "15 more row(s)" in found[10].message


# issue 10's loader gaps: each of these failed before its fix (docs/reliability.md)

def test_a_column_name_repeated_exactly_is_refused(tmp_path: Path) -> None:
    # before: pandas renamed the copy to 'plays.1', the loader dropped it, and the file loaded silently
    p = only_problem(write(tmp_path, interactions="user_id,track_id,plays,plays\nu1,t1,2,5\n"))
    assert_problem(p, "interactions.csv", "appears more than once", column="plays")


def test_the_header_is_checked_before_the_rows_are_parsed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # before: a 300 MB file was parsed whole (24 s, 1.5 GB) before "missing required column"
    folder = write(tmp_path, interactions="user,track_id\n" + "u1,t1\n" * 1000)
    parsed: list[str] = []
    real = pd.read_csv
    monkeypatch.setattr(pd, "read_csv", lambda path, *a, **k: parsed.append(Path(path).name) or real(path, *a, **k))
    assert_problem(only_problem(folder), "interactions.csv", "missing required column", column="user_id")
    assert "interactions.csv" not in parsed


def test_a_sparse_file_is_refused_from_its_first_bytes(tmp_path: Path) -> None:
    # before: a 2 GB sparse file (a header, then holes) ended in ArrowMemoryError; 256 MiB of holes here
    folder = write(tmp_path)
    with open(folder / "interactions.csv", "r+b") as handle:
        handle.seek(0, 2)
        handle.truncate(2**28)
    assert_problem(only_problem(folder), "interactions.csv", "holds NUL bytes")


def test_parquet_true_false_plays_are_refused_like_csv(tmp_path: Path) -> None:
    # before: Parquet booleans counted as 1 play while CSV 'True' was "not a number"
    inter = pd.DataFrame({"user_id": ["u1", "u2"], "track_id": ["t1", "t1"], "plays": [True, False]})
    found = problems(write(tmp_path, interactions=inter))
    assert [(p.row, p.column) for p in found] == [(1, "plays"), (2, "plays")]
    assert all("not a number (true/false)" in p.message for p in found)
    csv_problem = only_problem(write(tmp_path / "csv", interactions="user_id,track_id,plays\nu1,t1,True\n"))
    assert_problem(csv_problem, "interactions.csv", "not a number", row=1, column="plays", value="True")


def test_nested_parquet_text_is_refused_by_column(tmp_path: Path) -> None:
    # before: a struct title loaded and was shown as the Python repr "{'en': 'Song'}"
    tracks = pd.DataFrame({"track_id": ["t1"], "artist_id": ["a1"], "title": [{"en": "Song", "fr": "Chanson"}]})
    p = only_problem(write(tmp_path, tracks=tracks))
    assert_problem(p, "tracks.parquet", "a list or a mapping (nested Parquet type)", row=1, column="title",
                   value={"en": "Song", "fr": "Chanson"})


def test_links_that_lead_nowhere_are_named(tmp_path: Path) -> None:
    # before: a loop of links (and a dangling link) said "required file is missing"
    folder = write(tmp_path, interactions=None, tracks=None)
    (folder / "interactions.csv").symlink_to("interactions.csv")
    (folder / "tracks.csv").symlink_to("gone.csv")
    found = problems(folder)
    assert [(p.file, p.message) for p in found] == [
        ("interactions.csv", "cannot be read: it is a loop of symbolic links (it never reaches a file)"),
        ("tracks.csv", "cannot be read: it is a symbolic link to gone.csv, which does not exist")]
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    assert_problem(only_problem(tmp_path / "loop"), str(tmp_path / "loop"), "it is a loop of symbolic links")


def test_a_bad_byte_after_a_quoted_newline_names_its_row(tmp_path: Path) -> None:
    # before: lines were counted, so the embedded newline moved the report one row down
    text = b'artist_id,name\na1,"Two\nlines"\na2,Caf' + b"\xe9\n"
    p = only_problem(write(tmp_path, artists=text, tracks="track_id,artist_id\nt1,a1\n"))
    assert_problem(p, "artists.csv", "not UTF-8", row=2, value=b"\xe9")


# ---------------------------------------------------------------------------------------------- good input


def full_tables() -> dict[str, pd.DataFrame]:
    """One dataset with every table and optional column, as DataFrames whose CSV and Parquet forms agree."""
    return {
        "interactions": pd.DataFrame({
            "user_id": ["u1", "u1", "u2", "u1", "u3"], "track_id": ["t1", "t2", "t1", "t1", "t3"],
            "plays": [1, 2, 3, 4, 1], "ms_played": [1000.0, 2000.0, np.nan, 500.0, 0.0],
            "timestamp": ["2024-03-01T18:22:05Z", "2024-03-02T08:00:00Z", "2024-03-03T10:00:00Z",
                          "2024-02-28T00:00:00Z", "2024-03-05T00:00:00Z"]}),
        "tracks": pd.DataFrame({"track_id": ["t1", "t2", "t3"], "artist_id": ["a1", "a1", "a2"],
                                "title": ["Blue in Green", "", "So What"], "duration_ms": [327000, 200000, 540000],
                                "album": ["Kind of Blue", "", "Kind of Blue"]}),  # metadata: kept as given
        "artists": pd.DataFrame({"artist_id": ["a1", "a2"], "name": ["Miles Davis", "Bill Evans"]}),
        "track_genres": pd.DataFrame({"track_id": ["t3"], "genre": ["Modal"], "weight": [2.0]}),
        "artist_genres": pd.DataFrame({"artist_id": ["a1", "a1"], "genre": ["Jazz", "Modal"], "weight": [1.0, 0.5]}),
        "genres": pd.DataFrame({"genre": ["Jazz", "Modal"], "parent": ["", "Jazz"], "popularity": [10.0, 2.0]}),
        "users": pd.DataFrame({"user_id": ["u1", "u2", "u3", "u4"], "name": ["Ann", "", "Cy", "Dee"]}),
    }


def write_frames(folder: Path, tables: dict[str, pd.DataFrame], fmt: str) -> Path:
    folder.mkdir(parents=True)
    for stem, df in tables.items():
        write_table(df, folder, stem, fmt)
    return folder


def test_csv_and_parquet_give_the_same_dataset_and_fingerprint(tmp_path: Path) -> None:
    tables = full_tables()
    from_csv = load_dataset(write_frames(tmp_path / "csv", tables, "csv"))
    parquet_tables = {**tables, "interactions": tables["interactions"].assign(
        timestamp=pd.to_datetime(tables["interactions"]["timestamp"]))}  # a real timestamp column in Parquet
    from_parquet = load_dataset(write_frames(tmp_path / "parquet", parquet_tables, "parquet"))
    assert from_csv == from_parquet
    assert from_csv.fingerprint == from_parquet.fingerprint != ""
    assert from_csv.path != from_parquet.path
    other = load_dataset(write_frames(tmp_path / "other", {**tables, "artists": tables["artists"].assign(
        name=["Miles Davis", "B. Evans"])}, "csv"))
    assert other != from_csv and other.fingerprint != from_csv.fingerprint


def test_repeated_rows_are_aggregated(tmp_path: Path) -> None:
    ds = load_dataset(write_frames(tmp_path / "d", full_tables(), "csv"))
    inter = ds.interactions.set_index(["user_id", "track_id"])
    assert len(inter) == 4  # u1-t1 twice
    u1t1 = inter.loc[("u1", "t1")]
    assert u1t1["plays"] == 5
    assert u1t1["ms_played"] == 1500.0
    assert u1t1["first_ts"] == pd.Timestamp("2024-02-28T00:00:00Z")
    assert u1t1["last_ts"] == pd.Timestamp("2024-03-01T18:22:05Z")
    assert np.isnan(inter.loc[("u2", "t1"), "ms_played"])  # unknown stays unknown, not 0
    assert ds.interactions["plays"].dtype == np.int64
    assert list(ds.interactions["user_id"]) == ["u1", "u1", "u2", "u3"]  # order of first appearance


def test_iso_and_unix_timestamps_mean_the_same_instant(tmp_path: Path) -> None:
    stamps = ["2024-03-01T18:22:05Z", "2024-03-01T19:22:05+01:00", "2024-03-01T18:22:05", "1709317325",
              "1709317325.0", " 1709317325 "]
    rows = "".join(f"u{i},t1,{s}\n" for i, s in enumerate(stamps))
    ds = load_dataset(write(tmp_path, interactions="user_id,track_id,timestamp\n" + rows))
    assert (ds.interactions["first_ts"] == pd.Timestamp("2024-03-01T18:22:05Z")).all()
    assert ds.has_timestamps


def test_unix_seconds_in_parquet_and_ancient_dates(tmp_path: Path) -> None:
    inter = pd.DataFrame({"user_id": ["u1", "u2"], "track_id": ["t1", "t1"], "timestamp": [1709317325, 0]})
    ds = load_dataset(write(tmp_path, interactions=inter))
    assert list(ds.interactions["first_ts"]) == [pd.Timestamp("2024-03-01T18:22:05Z"), pd.Timestamp(0, tz="UTC")]


def test_ids_stay_strings(tmp_path: Path) -> None:
    ds = load_dataset(write(tmp_path, interactions="user_id,track_id\n007,7\n7,007\n",
                            tracks="track_id,artist_id\n7,1\n007,01\n", artists="artist_id\n1\n01\n"))
    assert sorted(ds.tracks["track_id"]) == ["007", "7"]
    assert set(ds.interactions["user_id"]) == {"007", "7"} and ds.summary()["users"] == 2
    assert dict(zip(ds.tracks["track_id"], ds.tracks["artist_id"], strict=True)) == {"7": "1", "007": "01"}


def test_integer_ids_in_parquet_become_strings(tmp_path: Path) -> None:
    ds = load_dataset(write(tmp_path,
                            interactions=pd.DataFrame({"user_id": [1, 2], "track_id": [7, 7]}),
                            tracks=pd.DataFrame({"track_id": [7], "artist_id": [3.0]}),
                            artists=pd.DataFrame({"artist_id": [3]})))
    assert list(ds.interactions["user_id"]) == ["1", "2"]
    assert list(ds.tracks["artist_id"]) == ["3"]  # a float 3.0 from Parquet is the ID '3', not '3.0'


def test_names_survive_as_they_are(tmp_path: Path) -> None:
    names = ['<b>Bold</b> & "quoted"', "O'Brien, Jr.", "emoji 🎷🎶", "two\nlines", "  padded", "Ǳ café ß"]
    tracks = pd.DataFrame({"track_id": [f"t{i}" for i in range(len(names))], "artist_id": "a1", "title": names})
    inter = pd.DataFrame({"user_id": "u1", "track_id": tracks["track_id"]})
    for fmt in ("csv", "parquet"):
        ds = load_dataset(write_frames(tmp_path / fmt, {"interactions": inter, "tracks": tracks,
                                                         "artists": pd.DataFrame({"artist_id": ["a1"]})}, fmt))
        # Surrounding spaces are trimmed for display; everything else is kept byte for byte.
        assert list(ds.tracks["title"]) == [n.strip() for n in names]
        assert list(ds.artists["name"]) == ["a1"]  # no name: the ID stands in


def test_missing_names_in_parquet_fall_back_to_the_id(tmp_path: Path) -> None:
    ds = load_dataset(write(tmp_path, artists=pd.DataFrame({"artist_id": ["a1"], "name": [None]})))
    assert list(ds.artists["name"]) == ["a1"]


@pytest.mark.parametrize("inter", ["user_id,track_id\nu1,t1\n", "user_id,track_id\nu1,t1\nu2,t1\nu3,t1\n"])
def test_a_single_user_or_a_single_song_loads(tmp_path: Path, inter: str) -> None:
    ds = load_dataset(write(tmp_path, interactions=inter))
    assert ds.summary()["tracks"] == 1 and ds.summary()["plays"] == inter.count("\n") - 1


def test_users_file_with_users_without_interactions(tmp_path: Path) -> None:
    ds = load_dataset(write(tmp_path, users="user_id,name,country\nu1,Ann,SE\nu2,,NO\nnew,Newbie,DK\n"))
    assert list(ds.users["user_id"]) == ["u1", "u2", "new"]
    assert list(ds.users["name"]) == ["Ann", "u2", "Newbie"]
    assert list(ds.users["country"]) == ["SE", "NO", "DK"]  # extra columns are kept as metadata
    assert set(ds.interactions["user_id"]) == {"u1", "u2"}


def test_songs_inherit_their_artists_genres(tmp_path: Path) -> None:
    ds = load_dataset(write_frames(tmp_path / "d", full_tables(), "csv"))
    got = {(r.track_id, r.genre, r.weight) for r in ds.song_genres().itertuples()}
    assert got == {("t3", "Modal", 2.0), ("t1", "Jazz", 1.0), ("t1", "Modal", 0.5), ("t2", "Jazz", 1.0),
                   ("t2", "Modal", 0.5)}
    assert ds.has_genres
    assert list(ds.genres["parent"]) == ["", "Jazz"]


def test_without_genre_files_there_are_no_genres(tmp_path: Path) -> None:
    ds = load_dataset(write(tmp_path))
    assert not ds.has_genres and len(ds.genres) == 0 and len(ds.song_genres()) == 0


def test_genre_vocabulary_without_a_genres_file_is_the_union(tmp_path: Path) -> None:
    ds = load_dataset(write(tmp_path, track_genres="track_id,genre\nt1,Bop\n",
                            artist_genres="artist_id,genre\na1,Jazz\n"))
    assert list(ds.genres["genre"]) == ["Bop", "Jazz"] and ds.has_genres
    assert list(ds.song_genres()["genre"]) == ["Bop"]  # own genres win over the artist's


def test_other_files_are_ignored(tmp_path: Path) -> None:
    write(tmp_path)
    (tmp_path / "notes.txt").write_bytes(b"\xff\xfe not a table")
    (tmp_path / "raw_export.csv").write_text("whatever\n")
    assert load_dataset(tmp_path).summary()["interactions"] == 2


def test_utf8_with_byte_order_mark_loads(tmp_path: Path) -> None:
    ds = load_dataset(write(tmp_path, artists="\ufeffartist_id,name\na1,Ärzte\n".encode()))
    assert list(ds.artists["name"]) == ["Ärzte"]


def test_parquet_written_with_its_index_loads(tmp_path: Path) -> None:
    inter = pd.DataFrame({"user_id": ["u1", "x", "u2"], "track_id": ["t1", "t1", "t1"]}).iloc[[0, 2]]
    inter.to_parquet(write(tmp_path, interactions=None) / "interactions.parquet")  # index [0, 2] stored with it
    assert list(load_dataset(tmp_path).interactions["user_id"]) == ["u1", "u2"]


def test_list_metadata_in_parquet_does_not_break_the_fingerprint(tmp_path: Path) -> None:
    tracks = pd.DataFrame({"track_id": ["t1"], "artist_id": ["a1"], "tags": [["x", "y"]]})
    assert load_dataset(write(tmp_path, tracks=tracks)).fingerprint


# ---------------------------------------------------------------------------------------------- fuzzing

NOISE = ["", " ", "0", "-1", "1.5", "nan", "inf", "1e30", "007", "99999999999999", '"', ",", "\n", "é", "🎷", "None"]
GENRES = ["Rock", "Jazz", "Pop", "Folk", "Soul", "Funk"]
LIKELY = {  # per column, values that often make a valid dataset, so the fuzzing gets past the first checks
    "user_id": ["u0", "u1"], "track_id": ["t0", "t1"], "artist_id": ["a0"], "genre": GENRES[:2], "parent": ["", "Rock"],
    "plays": ["1", "3"], "ms_played": ["0", "1000", ""], "duration_ms": ["1000", ""],
    "weight": ["1", "0.5"], "popularity": ["2", ""], "timestamp": ["2024-01-01T00:00:00Z", "1709317325"],
    "split": ["train", "valid", "test"], "title": ["A", "<b>"], "name": ["Ann", ""], "extra": ["x"],
}


def cell(column: str) -> st.SearchStrategy[str]:
    """Mostly a plausible value of the column, sometimes noise or any short text."""
    return st.integers(0, 29).flatmap(lambda k: st.sampled_from(LIKELY.get(column, ["x"])) if k > 1
                                     else st.sampled_from(NOISE) if k == 1 else st.text(max_size=3))


@st.composite
def table_texts(draw: st.DrawFn) -> dict[str, str]:
    """A folder as {stem: csv text}: well-formed tables with random cells, or (one time in three) broken files."""
    broken = draw(st.integers(0, 2)) == 0
    folder: dict[str, str] = {}
    for stem, spec in TABLES.items():
        present = not broken or draw(st.integers(0, 4)) > 0 if spec.required else draw(st.booleans())
        if not present:
            continue
        optional = draw(st.lists(st.sampled_from([*spec.optional_columns, "extra"]), unique=True, max_size=3))
        header = [*spec.required_columns, *optional]
        if broken and draw(st.booleans()):  # drop, rename or repeat columns
            header = draw(st.lists(st.sampled_from([*header, "", "x", " user_id"]), max_size=5))
        ragged = broken and draw(st.booleans())
        rows = []
        for r in range(draw(st.integers(0 if broken else 1, 6))):
            width = draw(st.integers(0, 6)) if ragged else len(header)
            rows.append([draw(cell(header[i] if i < len(header) else "x")) for i in range(width)])
            if stem in ("tracks", "artists", "users", "genres") and rows[-1] and draw(st.integers(0, 19)):
                rows[-1][0] = GENRES[r] if stem == "genres" else f"{stem[0]}{r}"  # IDs unique in their table
        buffer = io.StringIO()
        if broken and draw(st.booleans()):  # naive joining: unquoted commas, quotes and newlines break rows
            buffer.write("\n".join(",".join(row) for row in [header, *rows]))
        else:
            csv.writer(buffer, lineterminator="\n").writerows([header, *rows])
        folder[stem] = buffer.getvalue()
    return folder


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table_texts())
def test_fuzz_loads_or_raises_data_validation_error(folder: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for stem, text in folder.items():
            (Path(tmp) / f"{stem}.csv").write_text(text, encoding="utf-8")
        try:
            ds = load_dataset(tmp)
        except DataValidationError as exc:
            assert exc.problems and all(isinstance(p, Problem) for p in exc.problems)
            assert str(exc).startswith("invalid dataset")
        else:
            assert isinstance(ds, Dataset) and ds.fingerprint
            assert ds.summary()["interactions"] >= 1
            assert set(ds.song_genres()["genre"]) <= set(ds.genres["genre"])
