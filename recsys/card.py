"""The model card: what a checkpoint's overview shows (card, dataset counts, genre distribution), without torch.

``X.pt`` gets ``X.card.json`` beside it (written by `python -m recsys train` and `python -m recsys card`). The
dashboard's landing page reads it instead of loading the model: importing torch and PyG alone takes 3-3.5 s on
two cores, and doing so while a first page is served made that page take 6.4 s instead of 3.4 s (measured with
a bare Streamlit app and Chromium, 2026-12-04). The card holds the SHA-256 of the checkpoint and of every file of
its dataset folder; a card that no longer matches either (retrained, data edited) is ignored, never shown.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recsys.data.write import atomic_file

CARD_FORMAT = "recsys-model-card/1"
log = logging.getLogger(__name__)


def card_path(checkpoint: str | Path) -> Path:
    """``X.pt`` -> ``X.card.json``."""
    return Path(checkpoint).with_suffix(".card.json")


def dataset_candidates(recorded: str, checkpoint: Path) -> list[Path]:
    """Where a checkpoint's recorded dataset folder may be: as written, or relative to the project."""
    return [Path(recorded), checkpoint.resolve().parent.parent / recorded]


def describe(model_type: str, parameters: int, users: int, songs: int, data_path: str | Path) -> str:
    """One line for status bars: 'enhanced GAT, 418,324 parameters, 1,000 users x 5,000 songs (data/synthetic)'."""
    return f"{model_type} GAT, {parameters:,} parameters, {users:,} users x {songs:,} songs ({data_path})"


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def folder_digests(folder: Path) -> dict[str, str]:
    """SHA-256 of every regular file in a dataset folder (hidden files aside), by name."""
    return {p.name: _sha256(p) for p in sorted(folder.iterdir()) if p.is_file() and not p.name.startswith(".")}


@dataclass(frozen=True)
class ModelCard:
    """What the overview of one checkpoint shows, with the same accessors as `recsys.Recommender`."""

    card: dict[str, Any]  # Recommender.model_card(): config, training, history, metrics, versions, dataset
    summary: dict[str, int]
    distribution: dict[str, list[dict[str, Any]]]  # "genres" and "roots" (rolled up): genre, songs, plays
    genre_names: list[str]
    users: int
    songs: int
    data_path: Path

    def model_card(self) -> dict[str, Any]:
        return self.card

    def dataset_summary(self) -> dict[str, int]:
        return self.summary

    def genres(self) -> list[str]:
        return self.genre_names

    def genre_distribution(self, rollup: bool = False):
        """Training plays and songs per genre, most played first (a pandas DataFrame, as the Recommender's)."""
        import pandas as pd

        return pd.DataFrame(self.distribution["roots" if rollup else "genres"], columns=["genre", "songs", "plays"])

    def describe(self) -> str:
        return describe(self.card["model_type"], int(self.card["parameters"]), self.users, self.songs,
                        self.data_path)

    def write(self, path: Path) -> Path:
        """Write atomically beside the checkpoint, with the digests that make a later read trust it."""
        checkpoint = Path(self.card["checkpoint"])
        stored = {k: v for k, v in self.card.items() if k != "checkpoint"}
        stored["dataset"] = {k: v for k, v in stored["dataset"].items() if k != "resolved_path"}
        body = {"format": CARD_FORMAT, "checkpoint_sha256": _sha256(checkpoint),
                "data_files": folder_digests(self.data_path), "card": stored, "summary": self.summary,
                "distribution": self.distribution, "genres": self.genre_names, "users": self.users,
                "songs": self.songs}
        with atomic_file(path) as handle:
            handle.write(json.dumps(body, indent=1).encode("utf-8"))
        return path


def read_model_card(checkpoint: str | Path) -> ModelCard | None:
    """The card beside ``checkpoint`` when it describes exactly this checkpoint and dataset, else None.

    None is an answer, not an error: without a trustworthy card a caller loads the model, which reports any real
    problem with the checkpoint or the data in its own words.
    """
    checkpoint = Path(checkpoint)
    path = card_path(checkpoint)
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        if body.get("format") != CARD_FORMAT or body["checkpoint_sha256"] != _sha256(checkpoint):
            return None
        card, recorded = body["card"], body["card"]["dataset"].get("path")
        folder = next((c for c in dataset_candidates(recorded, checkpoint) if c.is_dir()), None) if recorded else None
        if folder is None or folder_digests(folder) != body["data_files"]:  # no recorded folder: never the cwd
            return None
        card = {**card, "checkpoint": str(checkpoint), "dataset": {**card["dataset"], "resolved_path": str(folder)}}
        return ModelCard(card, body["summary"], body["distribution"], list(body["genres"]), int(body["users"]),
                         int(body["songs"]), folder)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:  # unreadable or malformed: ignored
        log.warning("ignoring model card %s: %s", path, exc)
        return None
