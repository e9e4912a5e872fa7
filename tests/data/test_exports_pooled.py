"""Pooled dataset folders from several exports: valid, one listener per file or user, nothing personal kept."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from recsys.data import load_dataset
from recsys.data.exports import read_listening_export, write_pooled_dataset
from recsys.errors import ConfigError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "exports"
PERSONAL = (b"alice.smith85", b"bob_lb", b"81.2.69.142", b"2a01:cb00", b"Pixel", b"iPhone", b"spotify:track")


def frames() -> list[pd.DataFrame]:
    return [read_listening_export(FIXTURES / "StreamingHistory0.json", "spotify", listener="carol"),
            read_listening_export(FIXTURES / "Streaming_History_Audio_2023_0.json", "spotify-extended"),
            read_listening_export(FIXTURES / "scrobbles.csv", "lastfm-csv", listener="dave"),
            read_listening_export(FIXTURES / "listens.json", "listenbrainz")]


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_pooled_dataset_loads_and_keeps_plays_and_times(tmp_path: Path, fmt: str) -> None:
    out = tmp_path / "team"
    counts = write_pooled_dataset(frames(), out, fmt)
    dataset = load_dataset(out)
    # 23 plays: one of 12 s and one of 0 ms (Spotify), one of 9 s (extended), one without a time (Last.fm) left out;
    # 15 songs, as 3 of Last.fm's 6 are Spotify's under other spellings; Semves Bro's 2 scrobbles: 1 interaction
    assert counts == {"plays": 23, "kept": 19, "short": 3, "untimed": 1, "listeners": 4, "tracks": 15,
                      "artists": 14, "interactions": 18}
    assert len(dataset.users) == 4 and dataset.has_timestamps
    inter = dataset.interactions.merge(dataset.tracks, on="track_id").merge(dataset.artists, on="artist_id")
    semves = inter[inter["title"] == "Semves Bro"]
    assert semves[["user_id", "plays"]].values.tolist() == [["dave", 2]]  # two timed scrobbles, aggregated
    assert semves["first_ts"].iat[0] == pd.Timestamp("2023-11-03 19:06", tz="UTC")
    assert semves["last_ts"].iat[0] == pd.Timestamp("2023-11-03 19:10", tz="UTC")
    # one song from Spotify ("Bjodri") and Last.fm ("Bjödri") is one track, listened by both
    bjodri = inter[inter["name"] == "Sastou"]
    assert bjodri["track_id"].nunique() == 1 and sorted(bjodri["user_id"]) == ["carol", "dave"]
    # "Veime Le" and "Veime Le feat. Kabaildir" are one artist; names keep the most common spelling
    assert "Veime Le" in set(dataset.artists["name"]) and not dataset.artists["name"].str.contains("feat").any()


def test_nothing_personal_reaches_the_files(tmp_path: Path) -> None:
    write_pooled_dataset(frames(), tmp_path / "team", "csv")
    written = b"".join(p.read_bytes() for p in (tmp_path / "team").iterdir())
    assert [p for p in PERSONAL if p in written] == []
    users = load_dataset(tmp_path / "team").users["user_id"].tolist()
    assert sorted(u for u in users if u.startswith("listener-")) == sorted(users)[2:]  # alice and bob: opaque


def test_ids_are_stable_across_rebuilds(tmp_path: Path) -> None:
    write_pooled_dataset(frames(), tmp_path / "a")
    write_pooled_dataset(frames()[::-1], tmp_path / "b")
    a, b = load_dataset(tmp_path / "a"), load_dataset(tmp_path / "b")
    assert sorted(a.tracks["track_id"]) == sorted(b.tracks["track_id"])


def test_existing_targets_are_never_clobbered(tmp_path: Path) -> None:
    out = tmp_path / "team"
    write_pooled_dataset(frames()[:1], out)
    with pytest.raises(ConfigError, match="exists; choose another folder or pass --force"):
        write_pooled_dataset(frames(), out)
    assert len(load_dataset(out).users) == 1
    write_pooled_dataset(frames(), out, replace=True)
    assert len(load_dataset(out).users) == 4
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(ConfigError, match="holds files that are not dataset tables"):
        write_pooled_dataset(frames()[:1], out, replace=True)
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["team"]  # no staging folder left behind


def test_only_short_plays_is_a_clear_error(tmp_path: Path) -> None:
    short = frames()[0].assign(ms_played=pd.array([1000] * 8, dtype="Int64"))
    with pytest.raises(ConfigError, match="no plays of 30 s or more"):
        write_pooled_dataset([short], tmp_path / "team")
    assert not (tmp_path / "team").exists()
