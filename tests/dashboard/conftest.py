"""Dashboard fixtures: a checkpoint folder holding the session's small Enhanced (default.pt) and Basic (basic.pt)
models and an evaluation report, and a factory for AppTest runs of the real router pointed at it."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
for path in (ROOT, Path(__file__).parent):  # `dashboard` and `apptest_helpers` for the test modules
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

APP = ROOT / "dashboard" / "app.py"
TIMEOUT = 60  # the first run of a session loads a checkpoint and builds its graph
REPORT = {"dataset": "small", "split": "temporal", "seeds": [0], "models": {
    "enhanced_gat": {"ndcg@10": 0.21, "recall@10": 0.18, "hit_rate@10": 0.6, "mrr@10": 0.3, "train_s": 12.0},
    "basic_gat": {"ndcg@10": 0.15, "recall@10": 0.13, "hit_rate@10": 0.5, "mrr@10": 0.2, "train_s": 6.0},
    "ease": {"ndcg@10": 0.2, "recall@10": 0.17, "hit_rate@10": 0.58, "mrr@10": 0.28, "train_s": 1.5},
    "popularity": {"ndcg@10": 0.08, "recall@10": 0.07, "hit_rate@10": 0.3, "mrr@10": 0.1, "train_s": None}}}


STORED = {"ease": "EASE", "lightgcn": "LightGCN", "bprmf": "BPR-MF"}  # baselines in default.baselines.json


@pytest.fixture(scope="session")
def checkpoint_dir(enhanced_run, basic_run, small_dataset, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """default.pt (Enhanced) with its card, basic.pt (Basic, no card), default.eval.json and default.baselines.json
    (small dataset)."""
    from recsys import Recommender

    folder = tmp_path_factory.mktemp("dashboard_checkpoints")
    shutil.copy(enhanced_run.checkpoint, folder / "default.pt")
    Recommender.load(folder / "default.pt").write_card()
    shutil.copy(basic_run.checkpoint, folder / "basic.pt")
    (folder / "default.eval.json").write_text(json.dumps(REPORT), encoding="utf-8")
    (folder / "default.baselines.json").write_text(json.dumps(stored_baselines(folder / "default.pt", small_dataset)),
                                                   encoding="utf-8")
    return folder


def stored_baselines(checkpoint: Path, dataset) -> dict:
    """Top-k lists in the stored-baselines format: each baseline a different rotation of the catalogue (songs the
    listener played left out), so a page showing them can be checked against the file, list by list."""
    import torch

    fingerprints = torch.load(checkpoint, weights_only=True)["dataset"]
    train = dataset.interactions.groupby("user_id")["track_id"].agg(set)
    tracks = sorted(dataset.tracks["track_id"])
    models = {}
    for shift, (name, label) in enumerate(STORED.items(), start=1):
        users = {}
        for i, (user, heard) in enumerate(train.items()):
            start = (i * 7 + shift * 101) % len(tracks)
            users[str(user)] = [t for t in tracks[start:] + tracks[:start] if t not in heard][:50]
        models[name] = {"label": label, "users": users}
    return {"format": "recsys-baseline-topk/1", "dataset_fingerprint": fingerprints["fingerprint"],
            "split_fingerprint": fingerprints["split_fingerprint"], "k": 50, "models": models}


@pytest.fixture
def app_factory(checkpoint_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., object]:
    """make(page=None, folder=None, **query) -> an AppTest of the router after its first run.

    The first run opens ``page`` (a file under dashboard/app_pages; its url_path is its file name) with the
    ``query`` parameters: exactly what opening a shared link like /recommendations?user=u1&k=5 does.
    """
    from streamlit.testing.v1 import AppTest

    def make(page: str | None = None, folder: Path | None = None, **query: str):
        monkeypatch.setenv("RECSYS_CHECKPOINT_DIR", str(folder or checkpoint_dir))
        at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
        at.query_params.update(query)
        if page is not None:
            at.switch_page(f"app_pages/{page}.py")
        return at.run()

    return make


@pytest.fixture(scope="session")
def users(enhanced_run) -> list[str]:
    """Listeners of the small dataset, most active first."""
    from recsys import Recommender

    return Recommender.load(enhanced_run.checkpoint).search_users(limit=30)["user_id"].tolist()
