"""Export readers: each format's hand-written fixture, personal fields dropped, and hostile input refused."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from recsys.data.exports import EXPORT_FORMATS, MAX_EXPORT_BYTES, PLAY_COLUMNS, read_listening_export
from recsys.errors import ConfigError, DataValidationError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "exports"
HOSTILE = FIXTURES / "hostile"
PERSONAL = ("alice.smith85", "bob_lb", "81.2.69.142", "2a01:cb00::1", "Pixel 7", "iPhone15,2", "Spotify/8.8.76",
            "GB", "FR", "spotify:track:")

# (file, format, plays, first play as (artist, track, played_at, ms_played, skipped))
CASES = [
    ("StreamingHistory0.json", "spotify", 8, ("Sastou", "Bjodri", "2023-11-02 07:41:00+00:00", 201344, False)),
    ("Streaming_History_Audio_2023_0.json", "spotify-extended", 4,
     ("Zafen", "Teszi Thaidomer", "2023-10-01 18:02:11+00:00", 223005, False)),
    ("scrobbles.csv", "lastfm-csv", 8, ("Sastou", "Bjödri", "2023-11-02 07:41:00+00:00", None, False)),
    ("listens.json", "listenbrainz", 3, ("Kabaildir", "Salbe", "2023-11-02 07:41:00+00:00", None, False)),
    ("listens.jsonl", "listenbrainz", 3, ("Kabaildir", "Salbe", "2023-11-02 07:41:00+00:00", None, False)),
]


@pytest.mark.parametrize(("file", "fmt", "plays", "first"), CASES, ids=[c[0] for c in CASES])
def test_each_format_reads_its_fixture(file: str, fmt: str, plays: int, first: tuple) -> None:
    frame = read_listening_export(FIXTURES / file, fmt)
    assert tuple(frame.columns) == PLAY_COLUMNS
    assert len(frame) == plays
    artist, track, played_at, ms_played, skipped = first
    row = frame.iloc[0]
    assert (row["artist"], row["track"]) == (artist, track)
    assert row["played_at"] == pd.Timestamp(played_at)
    assert (pd.isna(row["ms_played"]) if ms_played is None else row["ms_played"] == ms_played)
    assert row["skipped"] is skipped or row["skipped"] == skipped
    assert str(frame["played_at"].dtype) == "datetime64[ns, UTC]"
    assert frame.attrs["read"]["plays"] == plays


def test_bytes_and_path_give_the_same_plays() -> None:
    path = FIXTURES / "StreamingHistory0.json"
    from_bytes = read_listening_export(path.read_bytes(), "spotify", name="StreamingHistory0.json")
    pd.testing.assert_frame_equal(from_bytes, read_listening_export(path, "spotify"))


@pytest.mark.parametrize(("file", "fmt"), [(c[0], c[1]) for c in CASES], ids=[c[0] for c in CASES])
def test_personal_fields_are_dropped(file: str, fmt: str) -> None:
    frame = read_listening_export(FIXTURES / file, fmt)
    cells = " ".join(frame.map(str).to_numpy().ravel()) + json.dumps(frame.attrs, default=str)
    assert [p for p in PERSONAL if p in cells] == []


def test_usernames_become_opaque_listener_ids() -> None:
    extended = read_listening_export(FIXTURES / "Streaming_History_Audio_2023_0.json", "spotify-extended")
    listens = read_listening_export(FIXTURES / "listens.json", "listenbrainz")
    again = read_listening_export(FIXTURES / "listens.jsonl", "listenbrainz")
    (alice,), (bob,) = extended["listener"].unique(), listens["listener"].unique()
    assert re.fullmatch(r"listener-[0-9a-f]{12}", alice) and re.fullmatch(r"listener-[0-9a-f]{12}", bob)
    assert alice != bob
    assert set(again["listener"]) == {bob}  # one person's files pool together within a run


def test_formats_without_users_name_the_listener_by_the_caller() -> None:
    plays = read_listening_export(FIXTURES / "scrobbles.csv", "lastfm-csv", listener="team-member-3")
    assert set(plays["listener"]) == {"team-member-3"}
    assert set(read_listening_export(FIXTURES / "scrobbles.csv", "lastfm-csv")["listener"]) == {"scrobbles.csv"}


def test_spotify_extended_skips_and_podcasts() -> None:
    frame = read_listening_export(FIXTURES / "Streaming_History_Audio_2023_0.json", "spotify-extended")
    assert frame["skipped"].tolist() == [False, True, True, False]  # null counts as not skipped
    assert frame.attrs["read"] == {"format": "spotify-extended", "name": "Streaming_History_Audio_2023_0.json",
                                   "records": 5, "not_music": 1, "plays": 4}
    assert frame["ms_played"].tolist() == [223005, 61000, 9000, 264505]


def test_lastfm_csv_quotes_header_and_now_playing() -> None:
    frame = read_listening_export(FIXTURES / "scrobbles.csv", "lastfm-csv")
    assert frame.loc[3, ["artist", "track"]].tolist() == ["The Theimloums", "Zevosha's Ren"]  # album "Ren, Vol. 2"
    assert frame["played_at"].isna().tolist() == [False] * 7 + [True]  # the "now playing" row has no date
    with_header = b"Artist,Album,Track,Date\n" + (FIXTURES / "scrobbles.csv").read_bytes()
    pd.testing.assert_frame_equal(read_listening_export(with_header, "lastfm-csv", name="scrobbles.csv"),
                                  read_listening_export(FIXTURES / "scrobbles.csv", "lastfm-csv"))


def test_lastfm_csv_accepts_iso_and_unix_dates() -> None:
    frame = read_listening_export(b"A,,T,2023-11-02T07:41:00Z\nA,,T,1698910860\n", "lastfm-csv")
    assert frame["played_at"].tolist() == [pd.Timestamp("2023-11-02 07:41:00+00:00")] * 2


def test_listenbrainz_api_payload() -> None:
    listens = json.loads((FIXTURES / "listens.json").read_text(encoding="utf-8"))
    payload = json.dumps({"payload": {"count": 3, "user_id": "bob_lb", "listens": listens}}).encode()
    frame = read_listening_export(payload, "listenbrainz")
    assert frame["track"].tolist() == ["Salbe", "Tusenshan Borlilal Teisheibun (Live)", "Stonrimdra Kraidaintour Von"]


def _error(data: bytes | Path, fmt: str, **kwargs) -> str:
    with pytest.raises(DataValidationError) as info:
        read_listening_export(data, fmt, **kwargs)
    return str(info.value)


def test_html_names_are_refused_with_record_and_field() -> None:
    message = _error(HOSTILE / "html_name.json", "spotify")
    assert message.splitlines() == [
        "invalid spotify export html_name.json: 2 problem(s)",
        "  - html_name.json, record 2, field 'trackName': name contains HTML markup "
        "(value \"<script>alert('x')</script>\")",
        "  - html_name.json, record 3, field 'artistName': name contains HTML markup "
        "(value '<img src=x onerror=alert(1)>')",
    ]


def test_control_characters_are_refused_and_escaped_in_the_message() -> None:
    message = _error(HOSTILE / "control_chars.csv", "lastfm-csv")
    assert "control_chars.csv, row 2, field 'track': name contains control characters" in message
    assert "\x1b" not in message and "\\x1b" in message


@pytest.mark.parametrize("name", ["Rock\u202eoll", "A\x00B", "x" * 501])
def test_other_unsafe_names(name: str) -> None:
    data = json.dumps([{"endTime": "2023-11-02 07:41", "artistName": name, "trackName": "T", "msPlayed": 1}])
    assert "record 1, field 'artistName': name " in _error(data.encode(), "spotify")


def test_ordinary_punctuation_is_not_markup() -> None:
    names = ["<3", "a < b > c", "Simon & Garfunkel", "AC/DC", "Sigur Rós", "!!!", "Ye olde \"quotes\""]
    data = json.dumps([{"endTime": "2023-11-02 07:41", "artistName": n, "trackName": n, "msPlayed": 1}
                       for n in names])
    assert read_listening_export(data.encode(), "spotify")["artist"].tolist() == names


def test_broken_json_names_the_line() -> None:
    assert "broken.json, line 4: not valid JSON: Expecting ',' delimiter" in _error(HOSTILE / "broken.json", "spotify")


def test_malformed_fields_are_all_listed() -> None:
    lines = _error(HOSTILE / "bad_fields.json", "spotify").splitlines()[1:]
    assert lines == [
        "  - bad_fields.json, record 2, field 'endTime': unparsable time (value 'yesterday')",
        "  - bad_fields.json, record 2, field 'msPlayed': expected milliseconds (an integer >= 0) (value -5)",
        "  - bad_fields.json, record 3, field 'artistName': missing field",
        "  - bad_fields.json, record 4, field 'artistName': expected a non-empty name (value 42)",
        "  - bad_fields.json, record 4, field 'trackName': expected a non-empty name (value '')",
        "  - bad_fields.json, record 4, field 'msPlayed': expected milliseconds (an integer >= 0) (value '3 min')",
    ]


@pytest.mark.parametrize(("file", "fmt", "expected"), [
    ("StreamingHistory0.json", "listenbrainz", "not a listenbrainz export: records have fields ['artistName', "
     "'endTime', 'msPlayed', 'trackName'], expected track_metadata.artist_name, track_metadata.track_name, "
     "listened_at; it looks like spotify"),
    ("StreamingHistory0.json", "spotify-extended", "not a spotify-extended export"),
    ("Streaming_History_Audio_2023_0.json", "spotify", "it looks like spotify-extended"),
    ("listens.json", "spotify", "it looks like listenbrainz"),
    ("scrobbles.csv", "spotify", "it looks like CSV (use --format lastfm-csv)"),
    ("listens.json", "lastfm-csv", "not a Last.fm CSV: the file is JSON"),
    ("listens.jsonl", "spotify", "it looks like JSON lines (use --format listenbrainz)"),
    ("hostile/podcasts.json", "spotify", "it looks like a Spotify podcast history (not music)"),
])
def test_wrong_format_says_which_it_looks_like(file: str, fmt: str, expected: str) -> None:
    assert expected in _error(FIXTURES / file, fmt)


def test_a_100_mb_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    big = tmp_path / "StreamingHistory0.json"
    with big.open("wb") as handle:
        handle.truncate(100 * 2**20)  # sparse: costs no disk
    assert "StreamingHistory0.json: file is 100.0 MB; the limit is 50 MB" in _error(big, "spotify")


def test_uploads_have_a_size_limit() -> None:
    data = (FIXTURES / "StreamingHistory0.json").read_bytes()
    assert "file is 0.0 MB; the limit is 0 MB" in _error(data, "spotify", max_bytes=100)
    assert len(read_listening_export(data, "spotify", max_bytes=len(data))) == 8
    assert MAX_EXPORT_BYTES == 50 * 2**20


@pytest.mark.parametrize(("data", "expected"), [
    ("Bjödri".encode("latin-1") + b",,T,02 Nov 2023 07:41\n", "not UTF-8 text (first bad byte at offset 2)"),
    (b" \n", "the file is empty"),
    (b"[]", "no plays in the file"),
    (b'{"endTime": "2023-11-02 07:41"}', "expected a JSON array of plays, found a JSON dict"),
    (b"[" * 200_000, "not valid JSON"),
    (b'[1, {"endTime": "2023-11-02 07:41", "artistName": "A", "trackName": "T", "msPlayed": 1}]',
     "record 1: expected an object (value 'int')"),
])
def test_other_bad_input(data: bytes, expected: str) -> None:
    fmt = "lastfm-csv" if data.startswith(b"Bj") else "spotify"
    assert expected in _error(data, fmt)


def test_times_in_milliseconds_are_caught() -> None:
    line = {"listened_at": 1698910860000, "track_metadata": {"artist_name": "A", "track_name": "T"}}
    message = _error(json.dumps([line]).encode(), "listenbrainz")
    assert "record 1, field 'listened_at'" in message


def test_wrong_field_count_in_csv() -> None:
    assert "row 2: expected 4 fields (artist, album, track, date), found 3" in _error(
        b"A,B,T,02 Nov 2023 07:41\nA,B,T\n", "lastfm-csv")


def test_unknown_format() -> None:
    with pytest.raises(ConfigError, match="unknown export format 'itunes'; use one of spotify"):
        read_listening_export(b"[]", "itunes")
    assert EXPORT_FORMATS == ("spotify", "spotify-extended", "lastfm-csv", "listenbrainz")


def test_uploads_are_parsed_in_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    data = (FIXTURES / "Streaming_History_Audio_2023_0.json").read_bytes()
    assert len(read_listening_export(data, "spotify-extended", name="upload.json")) == 4
    with pytest.raises(DataValidationError):
        read_listening_export((HOSTILE / "html_name.json").read_bytes(), "spotify")
    assert list(tmp_path.iterdir()) == []


def test_the_public_api_exports_the_importers_without_torch() -> None:
    code = ("import sys, recsys; recsys.read_listening_export, recsys.match_history; "
            "assert recsys.EXPORT_FORMATS[0] == 'spotify' and recsys.MAX_EXPORT_BYTES > 0; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=FIXTURES.parents[2])
