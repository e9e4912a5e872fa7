"""Outputs never destroy what they point at (recsys.cli.common.checked_output, recsys.data.write.atomic_file).

Every command that writes (train, generate, import-lastfm, split, evaluate --json/--markdown, faithfulness --json,
bench --json/--markdown) checks its output path before any work: only a file or folder of the same kind that this
project wrote is replaced without --force; links are never followed; special files and folders holding other
files are never replaced; a trailing slash names a folder. Writes go through a temporary file renamed into place.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from recsys.cli.common import checked_output
from recsys.cli.main import main
from recsys.data.write import write_text_atomic
from recsys.errors import ConfigError


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def _fails(argv: list[object], capsys, *fragments: str) -> str:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    assert code == 1, (code, captured.out, captured.err)
    assert "Traceback" not in captured.out + captured.err
    line = captured.err.strip()
    assert line.startswith("error: ") and len(line.splitlines()) == 1, line
    for fragment in fragments:
        assert fragment in line, (fragment, line)
    return line


@pytest.fixture
def dataset_copy(odd, tmp_path: Path) -> Path:
    """A private copy of the odd dataset (CSV), so a test that failed to protect it harms nobody else."""
    return Path(shutil.copytree(odd.data, tmp_path / "data"))


def test_train_out_on_a_dataset_table_keeps_the_table(dataset_copy, capsys):
    # before: the checkpoint replaced tracks.csv (rc 0) and the dataset was unreadable
    before = _digest(dataset_copy)
    _fails(["train", "--data", dataset_copy, "--out", dataset_copy / "tracks.csv"], capsys,
           "is a table of the dataset", "never replace dataset files")
    _fails(["train", "--data", dataset_copy, "--out", dataset_copy / "tracks.csv", "--force"], capsys,
           "is a table of the dataset")  # not even with --force
    assert _digest(dataset_copy) == before


def test_train_out_on_a_link_or_a_special_file_is_refused(dataset_copy, tmp_path, capsys):
    # before: the link and a device node were replaced by a checkpoint file
    notes = tmp_path / "notes.txt"
    notes.write_text("precious")
    link = tmp_path / "model.pt"
    link.symlink_to(notes)
    _fails(["train", "--data", dataset_copy, "--out", link], capsys, "is a symbolic link", "--force")
    assert link.is_symlink() and notes.read_text() == "precious"
    fifo = tmp_path / "pipe.pt"
    os.mkfifo(fifo)
    _fails(["train", "--data", dataset_copy, "--out", fifo], capsys, "special file")
    _fails(["train", "--data", dataset_copy, "--out", "/dev/null", "--force"], capsys, "special file")
    assert Path("/dev/null").is_char_device()


def test_trailing_slash_names_a_folder(dataset_copy, tmp_path, capsys):
    # before: `--out newdir/` wrote a file named newdir
    _fails(["train", "--data", dataset_copy, "--out", f"{tmp_path / 'newdir'}/"], capsys, "trailing '/'",
           "model.pt")
    assert not (tmp_path / "newdir").exists()
    _fails(["train", "--data", dataset_copy, "--out", tmp_path], capsys, "is a folder")


def test_only_this_projects_files_are_replaced_without_force(odd, tmp_path):
    other = tmp_path / "other.pt"
    other.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(ConfigError, match="is not a recsys checkpoint"):
        checked_output(str(other), "checkpoint")
    assert checked_output(str(other), "checkpoint", force=True) == other
    assert checked_output(str(odd.checkpoint), "checkpoint") == odd.checkpoint  # retraining over a checkpoint
    report = tmp_path / "r.json"
    report.write_text(json.dumps({"rows": []}))
    assert checked_output(str(report), "json") == report
    with pytest.raises(ConfigError, match="is not a JSON report"):
        checked_output(str(odd.checkpoint), "json")
    table = tmp_path / "t.md"
    table.write_text("| a | b |\n|---|---|\n")
    assert checked_output(str(table), "markdown") == table
    with pytest.raises(ConfigError, match="not a Markdown table"):
        checked_output(str(report), "markdown")
    link = tmp_path / "link.json"
    link.symlink_to(report)
    assert checked_output(str(link), "json", force=True) == link  # --force: the link itself is replaced ...
    write_text_atomic(link, "{}")
    assert not link.is_symlink() and json.loads(report.read_text()) == {"rows": []}  # ... never its target


def test_reports_refuse_to_replace_a_checkpoint(odd, tmp_path, capsys):
    # before: evaluate --json / faithfulness --json / bench --json wrote over whatever they were given
    before = odd.checkpoint.read_bytes()
    _fails(["evaluate", "--checkpoint", odd.checkpoint, "--baselines", "none", "--json", odd.checkpoint], capsys,
           "--json", "is not a JSON report")
    _fails(["faithfulness", "--checkpoint", odd.checkpoint, "--json", odd.checkpoint], capsys, "--json")
    _fails(["bench", "--data", odd.data, "--markdown", odd.checkpoint], capsys, "--markdown",
           "not a Markdown table")
    _fails(["bench", "--data", odd.data, "--json", f"{tmp_path}/"], capsys, "trailing '/'")
    assert odd.checkpoint.read_bytes() == before


def test_dataset_outputs_never_follow_a_link(dataset_copy, tmp_path, capsys):
    # before: generate/split resolved the link and replaced the folder it points at
    link = tmp_path / "link"
    link.symlink_to(dataset_copy, target_is_directory=True)
    before = _digest(dataset_copy)
    _fails(["generate", "--out", link, "--users", "5", "--songs", "10", "--artists", "2", "--genres", "2"], capsys,
           "is a symbolic link")
    _fails(["split", "--data", dataset_copy, "--out", link], capsys)
    _fails(["import-lastfm", "--raw", tmp_path / "raw", "--out", link], capsys, "is a symbolic link")
    assert link.is_symlink() and _digest(dataset_copy) == before


def test_dataset_outputs_replace_only_dataset_folders(dataset_copy, tmp_path, capsys):
    notes = tmp_path / "notes.txt"
    notes.write_text("precious")
    _fails(["split", "--data", dataset_copy, "--out", notes], capsys, "a file, where a dataset folder goes",
           "--force")
    assert notes.read_text() == "precious"
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.tex").write_text("years of work")
    _fails(["split", "--data", dataset_copy, "--out", home, "--force"], capsys, "never replaced", "thesis.tex")
    assert (home / "thesis.tex").read_text() == "years of work"
    assert main(["split", "--data", str(dataset_copy), "--out", str(notes), "--force"]) == 0
    assert (notes / "interactions.csv").is_file()


def test_generate_checks_its_truth_file_too(tmp_path, capsys):
    (tmp_path / "d.truth.json").write_text("not json, someone's notes")
    _fails(["generate", "--out", tmp_path / "d", "--users", "5", "--songs", "10", "--artists", "2", "--genres",
            "2"], capsys, "truth file", "not a JSON report")
    assert (tmp_path / "d.truth.json").read_text() == "not json, someone's notes" and not (tmp_path / "d").exists()


def test_a_failed_write_leaves_the_previous_file_whole(tmp_path, monkeypatch):
    # before: Path.write_text truncated the previous report first; a failure left half a file
    report = tmp_path / "r.json"
    report.write_text('{"previous": true}')

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("recsys.data.write.os.fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_text_atomic(report, json.dumps({"new": "x" * 100_000}))
    assert json.loads(report.read_text()) == {"previous": True}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]
