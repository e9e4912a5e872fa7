"""The shared sidebar: switching checkpoints, bad checkpoints, dataset folders, files replaced while running."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from apptest_helpers import assert_clean, texts


def _model_line(at) -> str:
    return " ".join(c for c in texts(at, "caption") if "GAT" in c)


def test_switching_checkpoints_default_basic_and_back(app_factory, users):
    at = app_factory("recommendations", user=users[1])
    assert "enhanced GAT" in _model_line(at)
    enhanced = at.dataframe[-1].value["title"].tolist()
    at.selectbox(key="w.model").set_value("basic.pt").run()
    assert_clean(at)
    assert "basic GAT" in _model_line(at)
    assert at.query_params["model"] == "basic.pt" and at.query_params["user"] == users[1]
    assert at.dataframe[-1].value["title"].tolist() != enhanced
    at.selectbox(key="w.model").set_value("default.pt").run()
    assert_clean(at)
    assert "enhanced GAT" in _model_line(at)
    assert at.dataframe[-1].value["title"].tolist() == enhanced


def test_model_in_the_link_selects_the_checkpoint(app_factory):
    at = app_factory("overview", model="basic.pt")
    assert_clean(at)
    assert at.selectbox(key="w.model").value == "basic.pt"
    at = app_factory("overview", model="../../etc/passwd")
    assert not at.exception
    assert any("model must be the file name" in w for w in texts(at, "warning"))
    assert at.selectbox(key="w.model").value == "default.pt"


def test_junk_checkpoint_is_a_friendly_error(app_factory, tmp_path):
    (tmp_path / "default.pt").write_bytes(b"this is not a checkpoint \x00\x01\x02" * 100)
    for page in ("overview", "recommendations", "explanation"):
        at = app_factory(page, folder=tmp_path)
        assert not at.exception
        errors = texts(at, "error")
        assert len(errors) == 1 and "default.pt" in errors[0] and "corrupted" in errors[0], errors
        assert "Traceback" not in " ".join(errors)


def test_empty_checkpoint_folder_says_how_to_train(app_factory, tmp_path):
    at = app_factory("overview", folder=tmp_path)
    assert not at.exception
    assert any("python -m recsys train" in e for e in texts(at, "error"))


def test_dataset_folder_that_is_missing_or_disappears(app_factory, small_data, tmp_path, monkeypatch):
    monkeypatch.setenv("RECSYS_DATA_ROOTS", str(tmp_path))  # only folders under a dataset root are served
    at = app_factory("overview")
    at.text_input(key="w.data").set_value(str(tmp_path / "nowhere")).run()
    assert not at.exception
    assert any("Dataset folder not found" in e for e in texts(at, "error"))
    copy = tmp_path / "copy"
    shutil.copytree(small_data, copy)
    at.text_input(key="w.data").set_value(str(copy)).run()
    assert_clean(at)
    shutil.rmtree(copy)
    at.run()
    assert not at.exception
    assert any("Dataset folder not found" in e for e in texts(at, "error"))


def test_checkpoint_replaced_on_disk_is_reloaded(app_factory, checkpoint_dir, tmp_path, users):
    folder = tmp_path / "live"
    folder.mkdir()
    shutil.copy(checkpoint_dir / "default.pt", folder / "default.pt")
    at = app_factory("overview", folder=folder)
    assert "enhanced GAT" in _model_line(at)
    _replace(folder / "default.pt", checkpoint_dir / "basic.pt")
    at.run()
    assert_clean(at)
    assert "basic GAT" in _model_line(at)
    _replace(folder / "default.pt", None)
    at.run()
    assert not at.exception
    assert any("corrupted" in e or "not a recsys checkpoint" in e for e in texts(at, "error"))


def _replace(path: Path, source: Path | None) -> None:
    """Overwrite a file (with another file, or junk) and make sure its mtime moves."""
    stamp = path.stat().st_mtime_ns
    if source is None:
        path.write_bytes(b"junk" * 64)
    else:
        shutil.copy(source, path)
    if path.stat().st_mtime_ns == stamp:
        time.sleep(0.01)
        os.utime(path)
