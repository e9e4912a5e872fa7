"""The shipped checkpoint gives the same recommendations, explanation numbers and test NDCG@10 as recorded.

A refactor of the service must not change what users see. The recorded values live in
``tests/service/golden_default.json``; they belong to one checkpoint (its SHA-256 is recorded too). After a
deliberate retrain of ``checkpoints/default.pt`` regenerate them, and read the diff before committing:

    PYTHONPATH=. python tests/service/test_shipped_checkpoint.py --write

and rewrite its card (what the dashboard's Overview shows): ``python -m recsys card --checkpoint X.pt``.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
CHECKPOINT = REPO / "checkpoints" / "default.pt"
GOLDEN = Path(__file__).with_name("golden_default.json")
USERS = 3  # pinned listeners: every 97th user ID, so light and heavy listeners both appear
SCORE_TOLERANCE = {"rtol": 1e-4, "atol": 1e-5}  # float32 sums may differ in order after a refactor


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _pinned_users(rec) -> list[str]:
    table = rec.search_users(limit=10**6)
    active = sorted(table[table["interactions"] > 0]["user_id"])
    return active[::97][:USERS]


def record(rec) -> dict[str, Any]:
    """Everything the golden file pins, computed through the public API only."""
    from recsys.evaluation import evaluate_scores, ranking_task
    from recsys.training.trainer import catalogue_stats

    out: dict[str, Any] = {"checkpoint_sha256": _digest(CHECKPOINT), "users": {}}
    for user in _pinned_users(rec):
        lists = {}
        for weight in (None, 0.3):
            frame = rec.recommend(user, k=10, genre_weight=weight)
            lists[str(weight)] = {"track_id": frame["track_id"].tolist(), "score": frame["score"].tolist(),
                                  "base_score": frame["base_score"].tolist(),
                                  "genre_score": frame["genre_score"].tolist()}
        exp = rec.explain(user, lists["None"]["track_id"][0])
        numbers = {key: exp[key] for key in ("score", "base_score", "embedding_score", "item_item_score",
                                             "genre_influence", "genre_weight", "rank")}
        numbers["history"] = [{key: c[key] for key in ("track_id", "item_item", "attention_path")}
                              for c in exp["history_contributions"][:5]]
        details = exp["genre_influence_details"]["genre_details"]
        numbers["genre_contributions"] = [d["contribution"] for d in details]
        out["users"][user] = {"recommend": lists, "explain": numbers}
    task = ranking_task(rec.dataset, rec.maps, "test")
    out["test_ndcg@10"] = evaluate_scores(rec.scorer.scores, task, [10], catalogue_stats(rec.graph))["ndcg@10"]
    return out


@pytest.fixture(scope="module")
def golden() -> dict[str, Any]:
    recorded = json.loads(GOLDEN.read_text(encoding="utf-8"))
    if recorded["checkpoint_sha256"] != _digest(CHECKPOINT):
        pytest.fail(f"{CHECKPOINT.name} changed since {GOLDEN.name} was recorded; regenerate it with "
                    "`PYTHONPATH=. python tests/service/test_shipped_checkpoint.py --write` and review the diff")
    return recorded


@pytest.fixture(scope="module")
def shipped():
    from recsys import Recommender

    return Recommender.load(CHECKPOINT)


def _close(actual: Any, expected: Any) -> None:
    torch.testing.assert_close(torch.tensor(actual, dtype=torch.float64), torch.tensor(expected, dtype=torch.float64),
                               **SCORE_TOLERANCE)


def test_recommendations_are_unchanged(shipped, golden):
    for user, pinned in golden["users"].items():
        for weight, expected in pinned["recommend"].items():
            frame = shipped.recommend(user, k=10, genre_weight=None if weight == "None" else float(weight))
            assert frame["track_id"].tolist() == expected["track_id"], (user, weight)
            for column in ("score", "base_score", "genre_score"):
                _close(frame[column].tolist(), expected[column])


def test_explanation_numbers_are_unchanged(shipped, golden):
    for user, pinned in golden["users"].items():
        expected = pinned["explain"]
        exp = shipped.explain(user, pinned["recommend"]["None"]["track_id"][0])
        assert exp["rank"] == expected["rank"]
        for key in ("score", "base_score", "embedding_score", "item_item_score", "genre_influence", "genre_weight"):
            _close(exp[key], expected[key])
        history = exp["history_contributions"][:5]
        assert [c["track_id"] for c in history] == [c["track_id"] for c in expected["history"]]
        for key in ("item_item", "attention_path"):
            _close([c[key] for c in history], [c[key] for c in expected["history"]])
        details = exp["genre_influence_details"]["genre_details"]
        _close([d["contribution"] for d in details], expected["genre_contributions"])


def test_test_ndcg_is_unchanged(shipped, golden):
    from recsys.evaluation import evaluate_scores, ranking_task
    from recsys.training.trainer import catalogue_stats

    task = ranking_task(shipped.dataset, shipped.maps, "test")
    ndcg = evaluate_scores(shipped.scorer.scores, task, [10], catalogue_stats(shipped.graph))["ndcg@10"]
    _close(ndcg, golden["test_ndcg@10"])


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit(f"usage: PYTHONPATH=. python {Path(__file__).relative_to(REPO)} --write")
    from recsys import Recommender

    values = record(Recommender.load(CHECKPOINT))
    GOLDEN.write_text(json.dumps(values, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {GOLDEN.relative_to(REPO)} (test NDCG@10 {values['test_ndcg@10']:.4f})")


@pytest.mark.parametrize("name", ["default.pt", "basic.pt"])
def test_the_shipped_cards_match_their_checkpoints(shipped, name):
    """The Overview draws a shipped checkpoint from its card: after a retrain, `python -m recsys card` rewrites it."""
    from recsys import read_model_card

    card = read_model_card(CHECKPOINT.with_name(name))
    assert card is not None, f"checkpoints/{name[:-3]}.card.json is missing or stale: run python -m recsys card"
    if name == "default.pt":
        assert card.model_card()["config"] == shipped.model_card()["config"]
        assert card.dataset_summary() == shipped.dataset_summary()
