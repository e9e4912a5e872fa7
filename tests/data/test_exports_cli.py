"""`python -m recsys import-history`: history.json against the default model, pooled datasets, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recsys.cli.main import main
from recsys.data import load_dataset

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "exports"
CHECKPOINT = str(REPO / "checkpoints" / "default.pt")
SPOTIFY = str(FIXTURES / "StreamingHistory0.json")
EXTENDED = str(FIXTURES / "Streaming_History_Audio_2023_0.json")


def run(*argv: str) -> int:
    return main(["import-history", *argv])


def test_history_file_for_the_default_model(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "history.json"
    assert run("--format", "spotify-extended", EXTENDED, "--checkpoint", CHECKPOINT, "--out", str(out)) == 0
    written = json.loads(out.read_text(encoding="utf-8"))
    assert written["format"] == "recsys-history/1"
    assert written["history"] == [["t0055", 1.0], ["t0015", 0.5], ["t0022", 0.25]]
    report = written["report"]
    assert (report["plays"], report["matched_plays"], report["match_rate"], report["mode"]) == (4, 3, 0.75, "track")
    assert report["files"] == [{"format": "spotify-extended", "name": "Streaming_History_Audio_2023_0.json",
                                "records": 5, "not_music": 1, "plays": 4}]
    assert str(FIXTURES) not in text_of(out)  # folder names (/home/alice/...) stay out of the file
    text = out.read_text(encoding="utf-8")
    assert not any(p in text for p in ("alice.smith85", "81.2.69.142", "Pixel", "listener-"))
    printed = capsys.readouterr().out
    assert f"wrote {out}: 3 songs, matched 3 of 4 plays (75.0%)" in printed
    assert "Zafen - Teszi Thaidomer (1 play(s)): The Athemkans - Teszi Thaidomer" in printed


def text_of(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def test_several_files_and_both_outputs_at_once(tmp_path: Path) -> None:
    out, folder, second = tmp_path / "h.json", tmp_path / "team", tmp_path / "second.json"
    second.write_bytes(Path(SPOTIFY).read_bytes())
    assert run("--format", "spotify", f"me={SPOTIFY}", f"me={second}", "--checkpoint", CHECKPOINT,
               "--out", str(out), "--out-dataset", str(folder)) == 0
    history = dict(json.loads(out.read_text(encoding="utf-8"))["history"])
    assert history == {"t0012": 2.0, "t0738": 2.0, "t2973": 2.0, "t4557": 2.0, "t3439": 0.5}  # plays add up
    dataset = load_dataset(folder)
    assert dataset.users["user_id"].tolist() == ["me"] and int(dataset.interactions["plays"].sum()) == 12


def test_pooled_dataset_one_listener_per_file_or_user(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder = tmp_path / "team"
    assert run("--format", "listenbrainz", str(FIXTURES / "listens.json"), str(FIXTURES / "listens.jsonl"),
               "--out-dataset", str(folder), "--table-format", "csv") == 0
    dataset = load_dataset(folder)
    assert len(dataset.users) == 1  # both files are bob's: one user, his plays pooled
    assert int(dataset.interactions["plays"].sum()) == 6
    assert "1 listener(s), 3 tracks, 3 artists, 3 interactions from 6 of 6 plays" in capsys.readouterr().out
    assert (folder / "interactions.csv").is_file()


def test_two_files_with_one_stem_need_labels(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "StreamingHistory0.json").write_bytes(Path(SPOTIFY).read_bytes())
    code = run("--format", "spotify", SPOTIFY, str(tmp_path / "a" / "StreamingHistory0.json"),
               "--out-dataset", str(tmp_path / "team"))
    assert code == 1 and "would both be listener 'StreamingHistory0'; name them with LABEL=FILE" in \
        capsys.readouterr().err
    assert not (tmp_path / "team").exists()
    out = tmp_path / "h.json"  # a history is one listener: the stems do not matter
    assert run("--format", "spotify", SPOTIFY, str(tmp_path / "a" / "StreamingHistory0.json"), "--checkpoint",
               CHECKPOINT, "--out", str(out)) == 0
    assert json.loads(text_of(out))["report"]["plays"] == 16


def test_targets_are_never_clobbered(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    mine = tmp_path / "notes.json"
    mine.write_text('{"my": "notes"}', encoding="utf-8")
    for extra in ([], ["--force"]):
        assert run("--format", "spotify", SPOTIFY, "--checkpoint", CHECKPOINT, "--out", str(mine), *extra) == 1
    err = capsys.readouterr().err
    assert err.count("notes.json: exists and is not a recsys-history/1 file (JSON of another format)") == 2
    assert mine.read_text(encoding="utf-8") == '{"my": "notes"}'
    folder = tmp_path / "team"
    folder.mkdir()
    (folder / "photo.jpg").write_bytes(b"\xff\xd8")
    assert run("--format", "spotify", SPOTIFY, "--out-dataset", str(folder), "--force") == 1
    assert "holds files that are not dataset tables (photo.jpg)" in capsys.readouterr().err
    assert sorted(p.name for p in folder.iterdir()) == ["photo.jpg"]


def test_force_replaces_our_own_history(tmp_path: Path) -> None:
    out = tmp_path / "h.json"
    out.write_text(json.dumps({"format": "recsys-history/1", "history": [], "report": {}}), encoding="utf-8")
    assert run("--format", "spotify", SPOTIFY, "--checkpoint", CHECKPOINT, "--out", str(out), "--force",
               "--match", "artist") == 0
    written = json.loads(out.read_text(encoding="utf-8"))
    assert written["report"]["mode"] == "artist" and written["history"]


@pytest.mark.parametrize(("file", "fmt", "expected"), [
    ("hostile/html_name.json", "spotify", "record 2, field 'trackName': name contains HTML markup"),
    ("hostile/broken.json", "spotify", "line 4: not valid JSON"),
    ("StreamingHistory0.json", "lastfm-csv", "not a Last.fm CSV: the file is JSON"),
])
def test_hostile_files_change_nothing(tmp_path: Path, capsys: pytest.CaptureFixture, file: str, fmt: str,
                                      expected: str) -> None:
    code = run("--format", fmt, str(FIXTURES / file), "--checkpoint", CHECKPOINT, "--out",
               str(tmp_path / "h.json"), "--out-dataset", str(tmp_path / "team"))
    err = capsys.readouterr().err
    assert code == 1 and err.startswith(f"error: invalid {fmt} export ") and expected in err
    assert "Traceback" not in err and list(tmp_path.iterdir()) == []


def test_a_100_mb_file_changes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    big = tmp_path / "big.json"
    with big.open("wb") as handle:
        handle.truncate(100 * 2**20)
    assert run("--format", "spotify", str(big), "--out-dataset", str(tmp_path / "team")) == 1
    assert "file is 100.0 MB; the limit is 50 MB" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["big.json"]


def test_an_output_is_required(capsys: pytest.CaptureFixture) -> None:
    assert run("--format", "spotify", SPOTIFY) == 1
    assert "nothing to write: pass --out history.json, --out-dataset DIR, or both" in capsys.readouterr().err
