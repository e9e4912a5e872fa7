"""Stored results beside a checkpoint: baseline top-k lists and faithfulness figures are read, never computed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from recsys import CheckpointError, RecsysError


def _copy(checkpoint: Path, folder: Path):
    """The checkpoint under a new name, so sidecars written here stay away from the shared fixture."""
    from recsys import Recommender

    target = folder / "model.pt"
    shutil.copyfile(checkpoint, target)
    return Recommender.load(target), target


def _write(path: Path, value: dict) -> None:
    path.write_text(json.dumps(value), encoding="utf-8")


@pytest.fixture(scope="module")
def stored(enhanced_run, tmp_path_factory):
    """A Recommender with a small baselines file: two models, lists for two users."""
    rec, target = _copy(enhanced_run.checkpoint, tmp_path_factory.mktemp("stored"))
    users = rec.search_users(limit=2)["user_id"].tolist()
    songs = [rec.maps.song.id_of(i) for i in range(30)]
    dataset = rec.model_card()["dataset"]
    _write(target.with_suffix(".baselines.json"), {
        "format": "recsys-baseline-topk/1", "dataset_fingerprint": dataset["fingerprint"],
        "split_fingerprint": dataset.get("split_fingerprint", ""), "k": 20,
        "models": {"bprmf": {"label": "BPR-MF", "users": {users[0]: songs[:20], users[1]: songs[10:30]}},
                   "ease": {"label": "EASE", "users": {users[0]: songs[5:25]}}}})
    _write(target.with_suffix(".faithfulness.json"), {"fidelity": {"ratio": 2.5}, "truth_recovery": None,
                                                      "attention_auc": None, "attention_fidelity": None})
    return rec, users, songs


def test_stored_lists_are_served_without_fitting(stored, monkeypatch):
    """BPR-MF used to be fitted here on a dashboard request and crashed (`Can't call numpy() on Tensor that
    requires grad`); now its stored list is read, and no baseline is ever fitted."""
    from recsys.baselines.base import Baseline

    def refuse(*_args, **_kwargs):
        raise AssertionError("the service fitted a baseline")

    monkeypatch.setattr(Baseline, "fit", refuse)
    rec, users, songs = stored
    assert rec.baseline_names() == ["popularity", "bprmf", "ease"]
    frame = rec.recommend_baseline("bprmf", users[0], k=10)
    assert frame["track_id"].tolist() == songs[:10] and frame["rank"].tolist() == list(range(1, 11))
    assert list(frame.columns) == list(rec.recommend(users[0], k=1).columns)
    assert frame["score"].isna().all()  # a stored list has ranks, not scores
    assert rec.recommend_baseline("ease", users[0], k=50).attrs["note"].startswith("k=50 exceeds the 20")
    assert rec.recommend_baseline("ease", users[1]).attrs["note"].endswith("(no training history)")
    assert rec.recommend_baseline("popularity", users[0], k=5)["score"].is_monotonic_decreasing


def test_popularity_masks_the_users_songs(stored):
    rec, users, _ = stored
    heard = {rec.maps.song.id_of(s) for s in rec.scorer.history(rec.user_index(users[0])).tolist()}
    frame = rec.recommend_baseline("popularity", users[0], k=50)
    assert not heard & set(frame["track_id"]) and len(frame) == 50


def test_an_unknown_or_missing_baseline_says_how_to_create_it(stored, recommender):
    rec, users, _ = stored
    with pytest.raises(RecsysError, match=r"the stored lists .* have: popularity, bprmf, ease"):
        rec.recommend_baseline("lightgcn", users[0])
    with pytest.raises(RecsysError, match="--store-baselines"):
        recommender.recommend_baseline("bprmf", users[0])  # the shared fixture has no baselines file
    assert recommender.baseline_names() == ["popularity"]


def test_lists_for_other_data_are_refused(enhanced_run, tmp_path):
    rec, target = _copy(enhanced_run.checkpoint, tmp_path)
    _write(target.with_suffix(".baselines.json"), {"format": "recsys-baseline-topk/1", "dataset_fingerprint": "x",
                                                   "split_fingerprint": "y", "k": 1, "models": {}})
    with pytest.raises(CheckpointError, match="written for other data"):
        rec.baseline_names()
    target.with_suffix(".baselines.json").write_text("{broken", encoding="utf-8")
    rec, _ = _copy(enhanced_run.checkpoint, tmp_path)
    with pytest.raises(CheckpointError, match="not a valid JSON file"):
        rec.baseline_names()


def test_faithfulness_is_read_from_its_sidecar(stored, recommender):
    rec, _, _ = stored
    assert rec.faithfulness()["fidelity"] == {"ratio": 2.5}
    assert recommender.faithfulness() is None
