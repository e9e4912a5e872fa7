"""The dashboard with awkward data, bad checkpoints and files that change under it (AppTest, in-process).

Already covered in tests/dashboard (see docs/reliability.md): garbage query parameters (test_pages), a junk
checkpoint, a checkpoint replaced on disk, a chosen dataset folder that disappears (test_sidebar), hostile names on
every page (test_hostile_names) and in a real browser (test_browser).
"""

from __future__ import annotations

import gc
import shutil
from pathlib import Path

import pytest
import torch
from apptest_helpers import assert_clean, texts
from reliability_helpers import NEW_USER, TEST_ONLY_USER, recommender_digest, tiny_config

PAGES = ["overview", "recommendations", "explanation", "compare", "cold_start", "explore"]


@pytest.mark.parametrize("user", [TEST_ONLY_USER, NEW_USER])
def test_a_listener_without_history_gets_popular_songs_and_a_note(odd, open_app, user) -> None:
    at = open_app(odd.checkpoint.parent, "recommendations", user=user)
    assert_clean(at)
    assert at.session_state["view.user"] == user
    assert any("no listening history: popular songs" in i for i in texts(at, "info"))
    assert len(at.dataframe[-1].value) == 10
    at.slider(key="w.gw").set_value(0.8).run()  # the slider still works (and changes nothing for them)
    assert_clean(at)
    at = open_app(odd.checkpoint.parent, "explanation", user=user)
    assert_clean(at)
    assert any("has no listening history" in i for i in texts(at, "info"))


@pytest.mark.parametrize("page", PAGES)
def test_every_page_works_on_a_dataset_without_genre_files(odd_no_genres, open_app, page) -> None:
    at = open_app(odd_no_genres.checkpoint.parent, page)
    assert_clean(at)
    assert at.title


def _bad_checkpoints(folder: Path, good: Path, marker: Path) -> dict[str, str]:
    """file name -> what its error must say."""

    class Boom:
        def __reduce__(self):
            return (Path.touch, (marker,))

    torch.save({"format": "recsys-checkpoint", "format_version": 1, "x": Boom()}, folder / "evil.pt")
    torch.save({"format": "recsys-checkpoint", "format_version": 999}, folder / "future.pt")
    payload = torch.load(good, weights_only=True)
    payload["dataset"] = {**payload["dataset"], "fingerprint": "0000000000000000"}
    torch.save(payload, folder / "otherdata.pt")
    (folder / "empty.pt").write_bytes(b"")
    return {"evil.pt": "refused to load", "future.pt": "format version 999", "otherdata.pt": "other data",
            "empty.pt": "corrupted"}


def test_bad_checkpoints_are_explained_not_run(odd, open_app, tmp_path) -> None:
    marker = tmp_path / "executed"
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    shutil.copy(odd.checkpoint, folder / "default.pt")
    expected = _bad_checkpoints(folder, odd.checkpoint, marker)
    at = open_app(folder, "recommendations")
    assert_clean(at)
    for name, fragment in expected.items():
        at.selectbox(key="w.model").set_value(name).run()
        assert not at.exception, (name, [e.value for e in at.exception])
        errors = texts(at, "error")
        assert len(errors) == 1 and name in errors[0] and fragment in errors[0].lower(), (name, errors)
        assert "Traceback" not in " ".join(errors)
    at.selectbox(key="w.model").set_value("default.pt").run()
    assert_clean(at)  # and the good one still works after all that
    assert not marker.exists(), "a pickled object ran code while the dashboard read a checkpoint"


def test_the_checkpoints_own_dataset_folder_disappears_and_comes_back(odd, open_app, tmp_path) -> None:
    """Without a dataset folder chosen in the sidebar the model uses the one it was trained on; remove it."""
    from recsys.data import load_dataset
    from recsys.training import train

    data = shutil.copytree(odd.data, tmp_path / "data")
    folder = tmp_path / "checkpoints"
    train(load_dataset(data), tiny_config(), out=folder / "default.pt", progress=False, log=lambda _: None)
    at = open_app(folder, "recommendations")
    assert_clean(at)
    moved = data.rename(tmp_path / "elsewhere")
    at.run()
    assert not at.exception
    errors = texts(at, "error")
    assert errors and ("disappeared" in errors[0] or "not found" in errors[0]), errors
    moved.rename(data)
    at.run()
    assert_clean(at)
    assert len(at.dataframe[-1].value) == 10


def test_a_checkpoint_deleted_while_the_app_runs(odd, open_app, tmp_path) -> None:
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    shutil.copy(odd.checkpoint, folder / "default.pt")
    shutil.copy(odd.checkpoint, folder / "second.pt")
    at = open_app(folder, "recommendations", model="second.pt")
    assert_clean(at)
    (folder / "second.pt").unlink()
    at.run()
    assert not at.exception
    assert any("second.pt" in w and "not in the checkpoint folder" in w for w in texts(at, "warning"))
    assert at.selectbox(key="w.model").value == "default.pt" and len(at.dataframe[-1].value) == 10
    (folder / "default.pt").unlink()
    at.run()
    assert not at.exception
    assert any("python -m recsys train" in e for e in texts(at, "error"))


def test_sessions_share_one_model_and_never_change_it(odd, open_app, monkeypatch) -> None:
    """Sessions that move sliders, open explanations with the what-if analysis, compare baselines and explore get the
    one cached Recommender (no session loads or copies it), and its tensors are bit-for-bit the same afterwards."""
    from dashboard import resources
    from recsys import Recommender

    folder = odd.checkpoint.parent
    monkeypatch.setenv("RECSYS_CHECKPOINT_DIR", str(folder))
    shared = resources.load(resources.checkpoint_files()[0]).rec
    before = recommender_digest(shared)
    loads = []
    original = Recommender.load.__func__
    monkeypatch.setattr(Recommender, "load", classmethod(lambda cls, *a, **k: loads.append(a) or original(cls, *a,
                                                                                                            **k)))
    user = shared.search_users(limit=1)["user_id"].iat[0]
    at = open_app(folder, "recommendations", user=user)
    for weight in (0.0, 0.5, 1.0):
        at.slider(key="w.gw").set_value(weight).run()
        assert_clean(at)
    at = open_app(folder, "explanation", user=user)
    at.button(key="w.whatif").click().run()  # re-runs the model on edited graphs: must not touch the shared one
    assert_clean(at)
    for page in ("compare", "explore", "cold_start"):
        assert_clean(open_app(folder, page, user=user))
    assert loads == [], "a session loaded its own copy of the model"
    assert gc.get_freeze_count() > 100_000  # torch's and the model's objects stay out of per-run collections
    assert resources.load(resources.checkpoint_files()[0]).rec is shared
    assert recommender_digest(shared) == before
