"""Reliability fixtures: the odd dataset (see reliability_helpers) with and without genre files, and Enhanced models
trained on each, every model in a checkpoint folder of its own (as the dashboard serves them)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
for path in (ROOT, ROOT / "tests" / "dashboard", Path(__file__).parent):  # dashboard, apptest_helpers, helpers
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from reliability_helpers import make_odd_dataset, tiny_config  # noqa: E402


@dataclass(frozen=True)
class Trained:
    data: Path
    checkpoint: Path  # <folder>/default.pt: the folder is a dashboard checkpoint folder of its own
    result: object


def _trained(data: Path, folder: Path) -> Trained:
    from recsys.data import load_dataset
    from recsys.training import train

    checkpoint = folder / "default.pt"
    result = train(load_dataset(data), tiny_config(), out=checkpoint, progress=False, log=lambda _: None)
    return Trained(data, checkpoint, result)


@pytest.fixture(scope="session")
def odd(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    """The odd dataset and an Enhanced model trained on it."""
    root = tmp_path_factory.mktemp("odd")
    data = make_odd_dataset(root / "data")
    (root / "checkpoints").mkdir()
    return _trained(data, root / "checkpoints")


@pytest.fixture(scope="session")
def odd_no_genres(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    """The odd dataset without genre files and an Enhanced model trained on it."""
    root = tmp_path_factory.mktemp("odd_no_genres")
    data = make_odd_dataset(root / "data", genres=False)
    (root / "checkpoints").mkdir()
    return _trained(data, root / "checkpoints")


@pytest.fixture(scope="session")
def odd_rec(odd: Trained):
    from recsys import Recommender

    return Recommender.load(odd.checkpoint)


@pytest.fixture(scope="session")
def odd_no_genres_rec(odd_no_genres: Trained):
    from recsys import Recommender

    return Recommender.load(odd_no_genres.checkpoint)


@pytest.fixture
def open_app(monkeypatch: pytest.MonkeyPatch):
    """open_app(folder, page=None, **query) -> an AppTest of the real router serving ``folder``, after its first run
    (as tests/dashboard/conftest.py's app_factory, for checkpoint folders of this package)."""
    from streamlit.testing.v1 import AppTest

    def make(folder: Path, page: str | None = None, **query: str):
        monkeypatch.setenv("RECSYS_CHECKPOINT_DIR", str(folder))
        at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=90)
        at.query_params.update(query)
        if page is not None:
            at.switch_page(f"app_pages/{page}.py")
        return at.run()

    return make
