"""The sidebar's "Dataset folder" serves only datasets under the dataset roots, never says whether other server
folders exist, names folders relative to their root, and parses a bad dataset once per file version (issue 10)."""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path

import pytest
from apptest_helpers import assert_clean, texts


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A dataset root holding nothing yet; the only one configured."""
    folder = tmp_path / "served"
    folder.mkdir()
    monkeypatch.setenv("RECSYS_DATA_ROOTS", str(folder))
    return folder


def _errors_after(at, text: str) -> list[str]:
    at.text_input(key="w.data").set_value(text).run()
    assert not at.exception
    return texts(at, "error")


def test_outside_the_roots_the_answer_is_the_same_whether_or_not_the_folder_exists(app_factory, root, small_data,
                                                                                    tmp_path):
    outside = tmp_path / "outside"
    shutil.copytree(small_data, outside)  # a real dataset, but not under the root
    at = app_factory("overview")
    answers = [_errors_after(at, str(path)) for path in (outside, tmp_path / "nothing-here", Path("/etc"),
                                                         Path("../../../etc"))]
    assert all(a == answers[0] for a in answers), answers
    assert len(answers[0]) == 1 and "must be under served/" in answers[0][0]
    assert str(tmp_path) not in answers[0][0]


def test_traversal_and_symlinks_out_of_a_root_are_refused(app_factory, root, small_data, tmp_path):
    outside = tmp_path / "outside"
    shutil.copytree(small_data, outside)
    (root / "link").symlink_to(outside, target_is_directory=True)
    at = app_factory("overview")
    for text in ("link", f"{root}/link", f"{root}/../outside", "served/../outside"):
        errors = _errors_after(at, text)  # "not found" among the roots, or "must be under": never loaded
        assert len(errors) == 1 and ("must be under" in errors[0] or "none of served/" in errors[0]), (text, errors)
        assert str(tmp_path) not in errors[0]


def test_a_dataset_under_a_root_loads_and_is_named_relative_to_it(app_factory, root, small_data):
    shutil.copytree(small_data, root / "copy")
    at = app_factory("overview")
    at.text_input(key="w.data").set_value("copy").run()
    assert_clean(at)
    status = " ".join(texts(at, "caption"))
    assert "served/copy" in status and str(root) not in status
    assert _errors_after(at, "gone")[0].startswith("**Dataset folder not found: 'gone' is in none of served/")
    assert _errors_after(at, str(root / "gone")) == ["**Dataset folder not found: served/gone**"]


def test_the_checkpoints_own_dataset_is_always_served(app_factory, root, small_data):
    at = app_factory("overview")  # loads the checkpoint with its own dataset first, as every session does
    at.text_input(key="w.data").set_value(str(small_data)).run()
    assert_clean(at)


def test_a_bad_dataset_is_reported_relative_to_its_root_and_parsed_once(app_factory, root, small_data,
                                                                         monkeypatch):
    bad = root / "bad"
    shutil.copytree(small_data, bad)
    (bad / "tracks.parquet").write_bytes(b"not parquet at all")
    calls = []
    restore_module = importlib.import_module("recsys.training.restore")  # the package re-exports a function so named
    real = restore_module.load_dataset
    monkeypatch.setattr(restore_module, "load_dataset", lambda path, *a, **k: calls.append(path) or real(path, *a, **k))
    at = app_factory("overview")
    errors = _errors_after(at, "bad")
    assert len(errors) == 1 and "served/bad" in errors[0] and str(root) not in errors[0], errors
    parsed = len(calls)
    at.run()
    at.run()
    assert texts(at, "error") == errors
    assert len(calls) == parsed, "a rerun parsed the bad dataset again"
