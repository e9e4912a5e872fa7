"""The New listener page from songs and from an uploaded export: match report, fold-in recommendations and an
explanation; hostile uploads (too big, broken, wrong format, HTML or control characters in names) get one clear
message and change nothing. Uploads use the importers' fixtures (tests/fixtures/exports/, names from the shipped
data/synthetic catalogue), so those run against the shipped checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from apptest_helpers import assert_clean, texts

from dashboard.components import upload

ROOT = Path(__file__).resolve().parents[2]
EXPORTS = ROOT / "tests" / "fixtures" / "exports"
SHIPPED = ROOT / "checkpoints"  # default.pt on data/synthetic: the catalogue the fixtures' names come from


@pytest.fixture(scope="module")
def rec(enhanced_run):
    from recsys import Recommender

    return Recommender.load(enhanced_run.checkpoint)


@pytest.fixture(scope="module")
def shipped():
    from recsys import Recommender

    return Recommender.load(SHIPPED / "default.pt")


def _upload_page(app_factory):
    at = app_factory("cold_start", folder=SHIPPED, start="upload")
    assert_clean(at)
    return at


def _send(at, *files: tuple[str, bytes], fmt: str | None = None):
    if fmt is not None:
        at.selectbox(key="w.upload_format").set_value(fmt)
    mime = {"json": "application/json", "csv": "text/csv", "jsonl": "application/json"}
    return at.file_uploader(key="w.upload").set_value(
        [(name, data, mime[name.rsplit(".", 1)[-1]]) for name, data in files]).run()


def _fixture(name: str) -> tuple[str, bytes]:
    path = EXPORTS / name
    return path.name, path.read_bytes()


def _recommended(at) -> list[str]:
    return next(d.value for d in reversed(at.dataframe) if "rank" in d.value.columns)["title"].tolist()


def _matched(shipped, name: str, fmt: str):
    from recsys import match_history, read_listening_export

    return match_history(read_listening_export(_fixture(name)[1], fmt, name=name), shipped.catalogue())


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
    assert not at.get("iframe")
    at.toggle(key="w.foldin_graph").set_value(True).run()
    assert_clean(at)
    score = rec.explain_for_history(history, track)["score"]
    assert f"score {score:.3f}" in str(at.get("iframe")[0].proto)  # the song's hover names the folded-in score


def test_a_link_with_songs_opens_the_songs_start(app_factory, rec):
    picked = rec.search_tracks("", limit=2)["track_id"].tolist()
    at = app_factory("cold_start", songs=",".join([*picked, "no-such-song"]))
    assert not at.exception and not at.error
    assert at.radio(key="w.start").value == "songs"
    assert any("Unknown song ID(s) no-such-song" in w for w in texts(at, "warning"))
    assert _recommended(at) == rec.recommend_for_history([(t, 1.0) for t in picked], 10)["title"].tolist()


@pytest.mark.parametrize(("name", "fmt"), [("StreamingHistory0.json", "spotify"),
                                           ("Streaming_History_Audio_2023_0.json", "spotify-extended"),
                                           ("scrobbles.csv", "lastfm-csv"), ("listens.json", "listenbrainz")])
def test_an_export_shows_the_match_report_recommendations_and_an_explanation(app_factory, shipped, name, fmt):
    at = _upload_page(app_factory)
    _send(at, _fixture(name))  # the format is detected from the file name
    assert_clean(at)
    result = _matched(shipped, name, fmt)
    report = result.report
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Plays read"] == f"{report['plays']:,}"
    assert metrics["Plays matched"].startswith(f"{report['matched_plays']:,}")
    assert metrics["Songs matched"] == f"{len(result.history):,}"
    if report["unmatched"]:
        table = next(d.value for d in at.dataframe if "candidates" in d.value.columns)
        assert table["artist"].tolist() == [u["artist"] for u in report["unmatched"]]
    assert _recommended(at) == shipped.recommend_for_history(result.history, 10)["title"].tolist()
    track = at.selectbox(key="w.foldin_track").value
    assert any(shipped.explain_for_history(result.history, track)["sentence"] in i for i in texts(at, "info"))
    assert set(at.query_params) <= {"start", "k"}  # nothing of the upload goes into the link


@pytest.mark.parametrize(("name", "fmt", "message"), [
    ("hostile/broken.json", "spotify", "json"),
    ("hostile/bad_fields.json", "spotify", "record 2"),
    ("hostile/html_name.json", "spotify", "html markup"),
    ("hostile/control_chars.csv", None, "control characters"),
    ("hostile/podcasts.json", "spotify", "podcast history (not music)"),
    ("scrobbles.csv", "spotify", "spotify"),           # the wrong format chosen
    ("StreamingHistory0.json", "lastfm-csv", "lastfm"),
])
def test_hostile_uploads_get_a_clear_message_and_change_nothing(app_factory, name, fmt, message):
    at = _upload_page(app_factory)
    _send(at, _fixture("StreamingHistory0.json"))
    before = _recommended(at)
    _send(at, _fixture(name), fmt=fmt)
    assert not at.exception
    errors = texts(at, "error")
    assert len(errors) == 1 and message in errors[0].lower(), errors
    assert "Traceback" not in errors[0] and "choose the format" not in errors[0]
    assert _recommended(at) == before  # the previous upload's listener stays
    assert any("Still showing the previous upload" in c for c in texts(at, "caption"))


def test_a_file_without_a_telling_name_asks_for_the_format(app_factory):
    at = _upload_page(app_factory)
    _send(at, ("export.json", _fixture("StreamingHistory0.json")[1]))
    assert any("choose the format" in e for e in texts(at, "error"))
    at.selectbox(key="w.upload_format").set_value("spotify").run()
    assert_clean(at)
    assert len(_recommended(at)) == 10


def test_oversized_uploads_are_refused_before_parsing(app_factory, monkeypatch):
    from recsys import MAX_EXPORT_BYTES

    at = _upload_page(app_factory)
    _send(at, ("StreamingHistory0.json", b" " * (MAX_EXPORT_BYTES + 1)))  # one file over the importers' limit
    errors = texts(at, "error")
    assert len(errors) == 1 and "StreamingHistory0.json" in errors[0] and "MB" in errors[0], errors
    monkeypatch.setattr(upload, "MAX_FILES_MB", 1)  # several files together over the upload's limit
    half = json.dumps([json.loads(_fixture("StreamingHistory0.json")[1])[0]] * 9000).encode()
    assert 0.5 * 2**20 < len(half) < 2**20
    _send(at, ("StreamingHistory0.json", half), ("StreamingHistory1.json", half))
    errors = texts(at, "error")
    assert len(errors) == 1 and "at most 1 MB" in errors[0], errors
    assert not any("rank" in d.value.columns for d in at.dataframe)


@pytest.mark.parametrize(("name", "fmt"), [
    ("StreamingHistory0.json", "spotify"), ("Streaming_History_Audio_2023.json", "spotify-extended"),
    ("endsong_3.json", "spotify-extended"), ("scrobbles.csv", "lastfm-csv"), ("listenbrainz_me.jsonl", "listenbrainz"),
    ("listens.json", "listenbrainz"), ("notes.json", None)])
def test_format_from_the_file_name(name, fmt):
    assert upload.detect_format(name) == fmt
