"""Results stored beside a checkpoint ``X.pt``: baseline top-k lists and faithfulness figures (JSON sidecars).

The service never fits a baseline: evaluation writes ``X.baselines.json`` (`python -m recsys evaluate
--checkpoint X.pt --store-baselines`) and the service reads it. Popularity is the one exception that needs no
fitting: training listeners per song, counted from the graph the service already holds.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from recsys.errors import CheckpointError, RecsysError
from recsys.service.catalogue import Catalogue
from recsys.service.ranking import check_k, table

BASELINE_FORMAT = "recsys-baseline-topk/1"
POPULARITY = "popularity"


def sidecar(checkpoint: Path, kind: str) -> Path:
    """``X.pt`` -> ``X.<kind>.json``."""
    return checkpoint.with_suffix(f".{kind}.json")


def read_sidecar(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``; None when there is no such file; CheckpointError when it is not JSON."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: not a valid JSON file ({exc})") from None
    if not isinstance(value, dict):
        raise CheckpointError(f"{path}: expected a JSON object, found {type(value).__name__}")
    return value


class StoredBaselines:
    """Top-k lists of the baselines evaluated beside one checkpoint, in the columns of `recommend`."""

    def __init__(self, checkpoint: Path, catalogue: Catalogue, dataset: dict[str, Any]) -> None:
        """``dataset``: the checkpoint's dataset record (its fingerprints must match the stored lists')."""
        self.path = sidecar(checkpoint, "baselines")
        self.catalogue = catalogue
        self.fingerprints = {"dataset_fingerprint": str(dataset.get("fingerprint", "")),
                             "split_fingerprint": str(dataset.get("split_fingerprint", ""))}
        self._stored: dict[str, Any] | None = None

    def _models(self) -> dict[str, Any]:
        if self._stored is None:  # a benign race: two threads may both read the same file once
            self._stored = self._read()
        return self._stored

    def _read(self) -> dict[str, Any]:
        stored = read_sidecar(self.path)
        if stored is None:
            return {}
        if stored.get("format") != BASELINE_FORMAT:
            raise CheckpointError(f"{self.path}: format {stored.get('format')!r} is not {BASELINE_FORMAT!r}")
        for key in ("dataset_fingerprint", "split_fingerprint"):
            mine = self.fingerprints.get(key)
            if mine and stored.get(key) != mine:
                raise CheckpointError(f"{self.path} was written for other data ({key} {stored.get(key)!r}, the "
                                      f"checkpoint's is {mine!r}); re-create it with `python -m recsys evaluate "
                                      f"--checkpoint {self.path.with_suffix('').with_suffix('.pt')} "
                                      "--store-baselines`")
        models = stored.get("models")
        if not isinstance(models, dict):
            raise CheckpointError(f"{self.path}: 'models' must be an object of baseline name -> lists")
        return models

    def names(self) -> list[str]:
        """Stored baselines, in the file's order; popularity is always available."""
        names = list(self._models())
        return names if POPULARITY in names else [POPULARITY, *names]

    def label(self, name: str) -> str:
        return str(self._models().get(name, {}).get("label", name))

    def recommend(self, name: str, user_id: str, history: torch.Tensor, k: int = 10) -> pd.DataFrame:
        """The stored top-k of baseline ``name`` for one user (songs they played are never in it)."""
        k = check_k(k)
        models = self._models()
        if name not in models:
            if name == POPULARITY:
                return self._popularity(history, k)
            known = ", ".join(self.names())
            hint = (f"the stored lists ({self.path.name}) have: {known}" if models else
                    f"no baseline lists are stored beside the checkpoint ({self.path}); create them with "
                    f"`python -m recsys evaluate --checkpoint {self.path.with_suffix('').with_suffix('.pt')} "
                    "--store-baselines`")
            raise RecsysError(f"unknown baseline {name!r}: {hint}")
        tracks = models[name].get("users", {}).get(str(user_id), [])
        songs = torch.as_tensor(self.catalogue.maps.song.indices(tracks[:k]), dtype=torch.long)
        frame = self._frame(songs)
        frame.attrs["strategy"] = name
        if not tracks:
            frame.attrs["note"] = f"{self.label(name)} has no stored list for {user_id} (no training history)"
        elif k > len(tracks):
            frame.attrs["note"] = f"k={k} exceeds the {len(tracks)} songs stored per listener; showing all"
        return frame

    def _popularity(self, history: torch.Tensor, k: int) -> pd.DataFrame:
        scores = self.catalogue.listeners.double()
        scores[history] = -math.inf
        order = torch.argsort(scores, descending=True, stable=True)
        frame = self._frame(order[: min(k, len(order) - len(history))], scores)
        frame.attrs["strategy"] = POPULARITY
        return frame

    def _frame(self, songs: torch.Tensor, scores: torch.Tensor | None = None) -> pd.DataFrame:
        """The recommendation columns; a stored list has ranks, not scores (NaN)."""
        values = scores[songs] if scores is not None else torch.full((len(songs),), math.nan, dtype=torch.float64)
        return table(self.catalogue, songs, values, values, torch.zeros(len(songs)), 0.0)
