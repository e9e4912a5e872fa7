"""Matching plays to a catalogue: name keys, rules, weights, artist catalogues and the match report."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pandas as pd
import pytest

from recsys.data import load_dataset
from recsys.data.exports import (
    WEIGHTS,
    catalogue_from_dataset,
    is_artist_catalogue,
    match_history,
    read_listening_export,
)
from recsys.data.exports.names import artist_key, loose_title_key, title_key
from recsys.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "exports"

CATALOGUE = pd.DataFrame({
    "track_id": ["t1", "t2", "t3", "t4", "t5"],
    "title": ["Here Comes the Sun", "Here Comes the Sun - Live", "Crazy in Love", "Jóga", "Blue in Green"],
    "artist": ["The Beatles", "The Beatles", "Beyoncé", "Björk", "Miles Davis"],
    "genres": [["Rock"], ["Rock"], ["Pop"], ["Electronic"], ["Jazz"]],
})


def plays(*rows: tuple, **columns) -> pd.DataFrame:
    """A plays frame from (artist, track[, ms_played[, skipped]]) rows."""
    defaults = (None, None, 200_000, False)
    full = [(*r, *defaults[len(r):]) for r in rows]
    frame = pd.DataFrame({
        "listener": "me", "artist": [r[0] for r in full], "track": [r[1] for r in full],
        "played_at": pd.Timestamp("2023-11-02", tz="UTC"),
        "ms_played": pd.array([r[2] for r in full], dtype="Int64"), "skipped": [r[3] for r in full]})
    return frame.assign(**columns)


@pytest.mark.parametrize(("a", "b"), [
    ("Beyoncé feat. JAY-Z", "beyonce"), ("The Beatles", "Beatles"), ("Simon & Garfunkel", "Simon and Garfunkel"),
    ("SIGUR RÓS", "Sigur Ros"), ("Bosdrin O’Shaiguldal", "Bosdrin O'Shaiguldal"), ("A ft. B", "A (featuring C)"),
    ("BARIŞ GÜNEY", "Barış Güney"), ("Røyksopp", "Royksopp"), ("Little Feat feat. X", "Little Feat"),
    ("A feat. B feat. C", "A"), ("##### feat. X", "#####"),
])
def test_artist_keys_that_agree(a: str, b: str) -> None:
    assert artist_key(a) == artist_key(b)


@pytest.mark.parametrize(("a", "b"), [
    ("Crazy In Love (feat. JAY-Z)", "crazy in love"), ("Song [ft. X]", "Song"), ("Café", "CAFE"),
])
def test_title_keys_that_agree(a: str, b: str) -> None:
    assert title_key(a) == title_key(b)


@pytest.mark.parametrize(("a", "b"), [
    ("Here Comes the Sun - Remastered 2009", "Here Comes the Sun"), ("Song (2011 Remaster)", "Song"),
    ("Song - Radio Edit", "Song"), ("Song [Live]", "Song"), ("Café del Mar - Energy 52 Remix", "Cafe del Mar"),
])
def test_loose_title_keys_drop_version_notes(a: str, b: str) -> None:
    assert title_key(a) != title_key(b) and loose_title_key(a) == loose_title_key(b)


@pytest.mark.parametrize(("a", "b"), [("Live Forever", "Forever"), ("Mix Tape", "Tape"), ("Help!", "Help Me")])
def test_keys_keep_titles_apart(a: str, b: str) -> None:
    assert loose_title_key(a) != loose_title_key(b)


@pytest.mark.parametrize(("a", "b"), [("#####", "†‡†"), ("Little Feat", "Little"), ("!!!", "")])
def test_keys_keep_artists_apart(a: str, b: str) -> None:
    assert artist_key(a) != artist_key(b)


def test_rules_exact_title_before_loose() -> None:
    result = match_history(plays(("the beatles", "Here Comes The Sun - Live"), ("Beatles", "Here Comes the Sun"),
                                 ("The Beatles", "Here Comes the Sun - Remastered 2009"),
                                 ("Beyonce feat. JAY-Z", "Crazy In Love (feat. JAY-Z)"), ("BJORK", "Joga")),
                           CATALOGUE)
    assert dict(result.history) == {"t2": 1.0, "t1": 2.0, "t3": 1.0, "t4": 1.0}
    assert result.report["matched_by"] == {"title": 4, "loose_title": 1, "artist": 0}
    assert result.report["mode"] == "track"


def test_weights_full_skipped_short_silent() -> None:
    result = match_history(plays(("Björk", "Jóga", 200_000, False), ("Björk", "Jóga", 200_000, True),
                                 ("Björk", "Jóga", 10_000, False), ("Björk", "Jóga", 10_000, True),
                                 ("Björk", "Jóga", 0, False), ("Miles Davis", "Blue in Green", 0, False),
                                 ("Miles Davis", "Blue in Green", pd.NA, False)), CATALOGUE)
    # 1 + 0.5 + 0.25 + 0.25 (short and skipped: the weaker rule) + 0; a play of unknown length counts fully
    assert result.history == [("t4", 2.0), ("t5", 1.0)]
    assert WEIGHTS == {"full": 1.0, "skipped": 0.5, "short": 0.25, "silent": 0.0}
    report = result.report
    assert (report["short_plays"], report["skipped_plays"], report["silent_plays"]) == (2, 2, 2)
    assert (report["matched_plays"], report["tracks"], report["weight"]) == (7, 2, 3.0)


def test_history_is_heaviest_first_then_by_id() -> None:
    result = match_history(plays(("Miles Davis", "Blue in Green"), ("Björk", "Jóga"), ("Björk", "Jóga"),
                                 ("Beyoncé", "Crazy in Love")), CATALOGUE)
    assert result.history == [("t4", 2.0), ("t3", 1.0), ("t5", 1.0)]


def test_report_lists_unmatched_with_candidates() -> None:
    result = match_history(plays(("The Beatles", "Here Comes the Sunn"), ("The Beatles", "Here Comes the Sunn"),
                                 ("Miles Davies", "Blue In Green"), ("Nobody", "Nothing at All")), CATALOGUE)
    report = result.report
    assert (report["plays"], report["matched_plays"], report["unmatched_plays"], report["match_rate"]) == (4, 0, 4, 0.0)
    assert report["unmatched_names"] == 3
    first, second, third = report["unmatched"]
    assert (first["artist"], first["track"], first["plays"]) == ("The Beatles", "Here Comes the Sunn", 2)
    assert [c["track_id"] for c in first["candidates"]] == ["t1"]  # "Live" is the same loose title: one row
    assert [c["track_id"] for c in second["candidates"]] == ["t5"]  # the title under any artist
    assert second["candidates"][0] == {"track_id": "t5", "title": "Blue in Green", "artist": "Miles Davis"}
    assert third["candidates"] == []
    json.dumps(report)  # plain data, for history.json and the dashboard


def test_artist_catalogue_is_detected_and_matched_by_artist() -> None:
    artists = pd.DataFrame({"track_id": ["1", "2", "3"], "title": ["The Beatles", "Björk", "Miles Davis"],
                            "artist": ["The Beatles", "Björk", "Miles Davis"], "genres": [[], [], []]})
    assert is_artist_catalogue(artists) and not is_artist_catalogue(CATALOGUE)
    result = match_history(plays(("Beatles", "Yesterday"), ("björk feat. Thom Yorke", "Hunter"),
                                 ("Bjork", "Joga", 5_000), ("Miles Davi", "So What")), artists)
    assert result.report["mode"] == "artist"
    assert result.history == [("2", 1.25), ("1", 1.0)]  # Björk: a full play and a short one
    assert result.report["matched_by"]["artist"] == 3
    (missed,) = result.report["unmatched"]
    assert missed == {"artist": "Miles Davi", "plays": 1,
                      "candidates": [{"track_id": "3", "title": "Miles Davis", "artist": "Miles Davis"}]}


def test_artist_items_with_credits_keep_their_own_plays() -> None:
    artists = pd.DataFrame({"track_id": ["1", "2"], "title": ["Afrojack ft. Eva Simons", "Afrojack"],
                            "artist": ["Afrojack ft. Eva Simons", "Afrojack"], "genres": [[], []]})
    result = match_history(plays(("AFROJACK", "Take Over Control"), ("Afrojack feat. Eva Simons", "Take Over"),
                                 ("Afrojack feat. Someone Else", "Other")), artists)
    assert result.history == [("2", 2.0), ("1", 1.0)]  # another credit goes to the artist alone


def test_caller_can_force_the_mode() -> None:
    by_artist = match_history(plays(("Miles Davis", "So What")), CATALOGUE, artist_only=True)
    assert by_artist.history == [("t5", 1.0)] and by_artist.report["mode"] == "artist"
    assert match_history(plays(("Miles Davis", "So What")), CATALOGUE, artist_only=False).history == []


def test_missing_columns_are_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="missing column"):
        match_history(pd.DataFrame({"artist": ["A"]}), CATALOGUE)


def test_empty_plays_give_an_empty_history() -> None:
    result = match_history(plays().iloc[:0], CATALOGUE)
    assert result.history == [] and result.report["plays"] == 0 and result.report["match_rate"] == 0.0


@pytest.fixture(scope="module")
def default_catalogue() -> pd.DataFrame:
    """The catalogue of the default model (data/synthetic), as Recommender.catalogue() gives it."""
    return catalogue_from_dataset(load_dataset(REPO / "data" / "synthetic"))


def test_catalogue_frame(default_catalogue: pd.DataFrame) -> None:
    assert list(default_catalogue.columns) == ["track_id", "title", "artist", "genres"]
    first = default_catalogue.iloc[0]
    assert (first["track_id"], first["title"], first["artist"], first["genres"]) == (
        "t0001", "Teszi Thaidomer", "The Athemkans", ["Indie Pop"])
    assert len(default_catalogue) == 5000


def test_fixtures_match_the_default_catalogue(default_catalogue: pd.DataFrame) -> None:
    """The hand-written exports use names from data/synthetic, written the ways exports write them."""
    catalogue = default_catalogue
    spotify = match_history(read_listening_export(FIXTURES / "StreamingHistory0.json", "spotify"), catalogue)
    assert spotify.history == [("t0012", 1.0), ("t0738", 1.0), ("t2973", 1.0), ("t4557", 1.0), ("t3439", 0.25)]
    assert spotify.report["unmatched"][0]["candidates"][0]["title"] == "Risdalzas"  # the typo's correction
    extended = match_history(read_listening_export(FIXTURES / "Streaming_History_Audio_2023_0.json",
                                                   "spotify-extended"), catalogue)
    assert extended.history == [("t0055", 1.0), ("t0015", 0.5), ("t0022", 0.25)]
    # "Teszi Thaidomer" is credited to the wrong artist: the candidate names the right one
    assert extended.report["unmatched"][0]["candidates"][0] == {"track_id": "t0001", "title": "Teszi Thaidomer",
                                                                "artist": "The Athemkans"}


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def test_every_default_song_is_found_under_the_spellings_exports_use(default_catalogue: pd.DataFrame) -> None:
    """All 5,000 songs of data/synthetic, each written one of four ways, match their own track (100%)."""
    catalogue = default_catalogue
    spellings = [lambda t, a: (_strip_accents(t), _strip_accents(a)), lambda t, a: (t.upper(), a.lower()),
                 lambda t, a: (f"{t} (feat. Somebody Else)", f"{a} feat. Somebody Else"),
                 lambda t, a: (f"{t} - Remastered 2011", a)]
    written = [spellings[i % 4](t, a) for i, (t, a) in enumerate(zip(catalogue["title"], catalogue["artist"],
                                                                      strict=True))]
    result = match_history(plays(*[(a, t) for t, a in written]), catalogue)
    assert result.report["match_rate"] == 1.0
    assert sorted(track for track, _ in result.history) == sorted(catalogue["track_id"])
