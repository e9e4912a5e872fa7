"""The stored model card (`recsys.card`): what it holds, that reading it needs no torch, and that a card which no
longer matches its checkpoint or its dataset is never trusted."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from recsys.card import card_path, read_model_card
from recsys.cli.main import main


@pytest.fixture
def carded(recommender, small_data: Path, tmp_path: Path) -> Path:
    """A copy of the small checkpoint and of its dataset, with a card written for the pair."""
    data = tmp_path / "data"
    shutil.copytree(small_data, data)
    checkpoint = tmp_path / "model.pt"
    shutil.copy(recommender.checkpoint, checkpoint)
    card = recommender.card()
    card = replace(card, card={**card.card, "checkpoint": str(checkpoint),
                               "dataset": {**card.card["dataset"], "path": str(data)}}, data_path=data)
    card.write(card_path(checkpoint))
    return checkpoint


def test_the_card_holds_what_the_overview_shows(recommender, carded: Path):
    card = read_model_card(carded)
    assert card is not None
    live = recommender.model_card()
    assert card.model_card()["config"] == live["config"] and card.model_card()["history"] == live["history"]
    assert card.model_card()["checkpoint"] == str(carded)
    assert card.dataset_summary() == recommender.dataset_summary()
    assert card.genres() == recommender.genres()
    for rollup in (False, True):
        stored, computed = card.genre_distribution(rollup), recommender.genre_distribution(rollup)
        assert list(stored["genre"]) == list(computed["genre"])
        assert stored["plays"].to_numpy() == pytest.approx(computed["plays"].to_numpy(), rel=1e-6)
    assert card.describe().startswith(recommender.describe().split(" (")[0])


def test_reading_a_card_imports_no_torch(carded: Path):
    code = ("import sys; from recsys import read_model_card; card = read_model_card(sys.argv[1]); "
            "print(card is not None, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(carded)], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "False"], out.stderr


def test_a_card_that_no_longer_matches_is_ignored(carded: Path):
    data = Path(json.loads(card_path(carded).read_text(encoding="utf-8"))["card"]["dataset"]["path"])
    table = data / "interactions.parquet"
    original = table.read_bytes()
    table.write_bytes(original + b"\0")  # the dataset changed after the card was written
    assert read_model_card(carded) is None
    table.write_bytes(original)
    assert read_model_card(carded) is not None
    (data / "notes.txt").write_text("a new file in the dataset folder", encoding="utf-8")
    assert read_model_card(carded) is None
    (data / "notes.txt").unlink()
    with carded.open("ab") as handle:  # the checkpoint was replaced
        handle.write(b"\0")
    assert read_model_card(carded) is None


def test_a_card_without_a_recorded_dataset_folder_is_ignored(carded: Path, monkeypatch: pytest.MonkeyPatch):
    body = json.loads(card_path(carded).read_text(encoding="utf-8"))
    monkeypatch.chdir(body["card"]["dataset"]["path"])  # "" must not mean the working directory, even this one
    body["card"]["dataset"]["path"] = ""
    card_path(carded).write_text(json.dumps(body), encoding="utf-8")
    assert read_model_card(carded) is None


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '{"format": "recsys-model-card/1"}', ""])
def test_a_malformed_card_is_ignored(carded: Path, text: str):
    card_path(carded).write_text(text, encoding="utf-8")
    assert read_model_card(carded) is None


def test_no_card_reads_as_none(recommender):
    assert read_model_card(Path(recommender.checkpoint).with_name("nothing-here.pt")) is None


def test_the_card_command_writes_it_and_never_replaces_a_foreign_file(recommender, tmp_path: Path, capsys):
    checkpoint = tmp_path / "model.pt"
    shutil.copy(recommender.checkpoint, checkpoint)
    assert main(["card", "--checkpoint", str(checkpoint)]) == 0
    assert read_model_card(checkpoint) is not None
    card_path(checkpoint).write_text("my own notes", encoding="utf-8")
    assert main(["card", "--checkpoint", str(checkpoint)]) == 1
    assert "not a JSON report" in capsys.readouterr().err
    assert card_path(checkpoint).read_text(encoding="utf-8") == "my own notes"
