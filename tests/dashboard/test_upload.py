"""The New listener page from songs and from an uploaded export: match report, fold-in recommendations and an
explanation; hostile uploads (too big, broken, wrong format, HTML in names) get one clear message and change nothing."""

from __future__ import annotations

import json
import re

import pytest
from apptest_helpers import assert_clean, texts

from dashboard.components import upload

HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def rec(enhanced_run):
    from recsys import Recommender

    return Recommender.load(enhanced_run.checkpoint)


def spotify(rec, n: int = 6, extra: list[dict] | None = None) -> bytes:
    """A StreamingHistory0.json of the catalogue's n most listened songs (full plays), plus ``extra`` rows."""
    songs = rec.search_tracks("", limit=n)
    rows = [{"endTime": f"2024-01-0{1 + i % 9} 10:00", "artistName": a, "trackName": t, "msPlayed": 200_000}
            for i, (a, t) in enumerate(zip(songs["artist"], songs["title"], strict=True))]
    return json.dumps(rows + (extra or [])).encode()


def _open_upload(app_factory):
    at = app_factory("cold_start", start="upload")
    assert_clean(at)
    return at


def _send(at, name: str, data: bytes, mime: str = "application/json"):
    return at.file_uploader(key="w.upload").set_value((name, data, mime)).run()


def _recommended(at) -> list[str]:
    return next(d.value for d in reversed(at.dataframe) if "rank" in d.value.columns)["title"].tolist()


def test_songs_they_love_are_folded_in(app_factory, rec):
    picked = rec.search_tracks("", limit=3)["track_id"].tolist()
    at = app_factory("cold_start", start="songs")
    assert_clean(at)
    at.multiselect(key="w.songs").set_value(picked).run()
    assert_clean(at)
    assert at.query_params["songs"] == ",".join(picked) and at.query_params["start"] == "songs"
    history = [(t, 1.0) for t in picked]
    assert _recommended(at) == rec.recommend_for_history(history, 10)["title"].tolist()
    track = at.selectbox(key="w.foldin_track").value
    assert any(rec.explain_for_history(history, track)["sentence"] in i for i in texts(at, "info"))


def test_a_link_with_songs_opens_the_songs_start(app_factory, rec):
    picked = rec.search_tracks("", limit=2)["track_id"].tolist()
    at = app_factory("cold_start", songs=",".join([*picked, "no-such-song"]))
    assert not at.exception and not at.error
    assert at.radio(key="w.start").value == "songs"
    assert any("Unknown song ID(s) no-such-song" in w for w in texts(at, "warning"))
    assert _recommended(at) == rec.recommend_for_history([(t, 1.0) for t in picked], 10)["title"].tolist()


def test_spotify_upload_shows_the_match_report_recommendations_and_an_explanation(app_factory, rec):
    at = _open_upload(app_factory)
    extra = [{"endTime": "2024-02-01 10:00", "artistName": "<b>Nobody</b>", "trackName": HOSTILE, "msPlayed": 1}]
    _send(at, "StreamingHistory0.json", spotify(rec, 6, extra))
    assert_clean(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Plays read"] == "7" and metrics["Songs matched"] == "6"
    unmatched = next(d.value for d in at.dataframe if "candidates" in d.value.columns or "track" in d.value.columns)
    assert HOSTILE in unmatched.to_string()  # shown as text in a table cell, never as markup
    for text in texts(at, "markdown") + texts(at, "caption") + texts(at, "info"):
        assert "<img" not in text and "<b>" not in text, text
    import recsys

    data = spotify(rec, 6, extra)
    history = recsys.match_history(recsys.read_listening_export(data, "spotify"), rec.catalogue()).history
    assert _recommended(at) == rec.recommend_for_history(history, 10)["title"].tolist()
    track = at.selectbox(key="w.foldin_track").value
    assert any(rec.explain_for_history(history, track)["sentence"] in i for i in texts(at, "info"))


@pytest.mark.parametrize(("name", "data", "message"), [
    ("StreamingHistory0.json", b"{not json", "json"),
    ("StreamingHistory0.json", b'{"a": 1}', "streaming"),
    ("notes.json", b"[]", "choose the format"),
])
def test_hostile_uploads_get_a_clear_message_and_change_nothing(app_factory, rec, name, data, message):
    at = _open_upload(app_factory)
    _send(at, "StreamingHistory0.json", spotify(rec))
    before = _recommended(at)
    _send(at, name, data)
    assert not at.exception
    errors = texts(at, "error")
    assert len(errors) == 1 and message in errors[0].lower(), errors
    assert "Traceback" not in errors[0]
    assert _recommended(at) == before  # the previous upload's listener stays
    assert any("Still showing the previous upload" in c for c in texts(at, "caption"))


def test_an_upload_over_the_limit_is_refused_before_it_is_read(app_factory, rec, monkeypatch):
    calls = []
    import recsys

    monkeypatch.setattr(recsys, "read_listening_export", lambda *a, **k: calls.append(a), raising=False)
    at = _open_upload(app_factory)
    _send(at, "StreamingHistory0.json", b" " * (upload.MAX_UPLOAD_MB * 2**20 + 1))
    assert not at.exception
    errors = texts(at, "error")
    assert len(errors) == 1 and f"at most {upload.MAX_UPLOAD_MB} MB" in errors[0], errors
    assert not calls
    assert not any("rank" in d.value.columns for d in at.dataframe)


@pytest.mark.parametrize(("name", "fmt"), [
    ("StreamingHistory0.json", "spotify"), ("Streaming_History_Audio_2023.json", "spotify-extended"),
    ("endsong_3.json", "spotify-extended"), ("scrobbles.csv", "lastfm-csv"), ("listenbrainz_me.json", "listenbrainz"),
    ("notes.json", None)])
def test_format_from_the_file_name(name, fmt):
    assert upload.detect_format(name) == fmt


def test_the_upload_never_enters_the_url(app_factory, rec):
    at = _open_upload(app_factory)
    _send(at, "StreamingHistory0.json", spotify(rec))
    assert set(at.query_params) <= {"start", "k", "songs", "genres", "model"}
    assert not re.search("StreamingHistory", str(dict(at.query_params)))
