"""Shared by the reliability tests: the odd dataset, a tiny training config, and `python -m recsys` in a subprocess.

The odd dataset is a tiny generated one (40 listeners, 120 songs) with a frozen split and:
  - a listener whose every interaction is in test (TEST_ONLY_USER), so they have no training history;
  - a listener listed in users.csv without any interaction (NEW_USER), named with HTML and quotes;
  - a song without any genre (NO_GENRE_TRACK, by an artist without genres), titled like an XSS probe, by an artist
    whose name holds quotes, an emoji and a newline, played in training by three listeners.
The no-genre copy is the same data without any genre file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

TINY = {"users": 40, "songs": 120, "artists": 15, "genres": 6, "days": 7, "seed": 3}
TEST_ONLY_USER = "u0005"
NEW_USER = "u_new"
NO_GENRE_TRACK = "t_nogenre"
HOSTILE_TITLE = "<img src=x onerror=alert(1)>"
HOSTILE_ARTIST = "Quote \"O'Brien\" 🎷\nsecond line"
HOSTILE_USER = "New <b>listener</b> & “friends”"
CLI_TIMEOUT = 300  # s: one `python -m recsys` run on the tiny data, on a busy 2-core machine


def make_odd_dataset(out: Path, genres: bool = True) -> Path:
    """Write the odd dataset (CSV) to ``out``; see the module docstring."""
    import pandas as pd

    from recsys.data import assign_split, load_dataset
    from recsys.data.synthetic import generate

    generate(out, fmt="csv", **TINY)
    (out.parent / f"{out.name}.truth.json").unlink(missing_ok=True)
    split, _ = assign_split(load_dataset(out), seed=0)
    labels = split.interactions.set_index(["user_id", "track_id"])["split"]
    inter = pd.read_csv(out / "interactions.csv", dtype=str, keep_default_na=False)
    inter["split"] = labels.reindex(pd.MultiIndex.from_frame(inter[["user_id", "track_id"]])).to_numpy()
    inter.loc[inter["user_id"] == TEST_ONLY_USER, "split"] = "test"
    played = pd.DataFrame({"user_id": ["u0001", "u0002", "u0003"], "track_id": NO_GENRE_TRACK,
                           "timestamp": "1704089600", "ms_played": "1000", "split": "train"})
    pd.concat([inter, played], ignore_index=True).to_csv(out / "interactions.csv", index=False)
    _append(out / "tracks.csv", {"track_id": NO_GENRE_TRACK, "artist_id": "a_nogenre", "title": HOSTILE_TITLE,
                                 "duration_ms": "200000"})
    _append(out / "artists.csv", {"artist_id": "a_nogenre", "name": HOSTILE_ARTIST})
    _append(out / "users.csv", {"user_id": NEW_USER, "name": HOSTILE_USER, "user_type": "new"})
    if not genres:
        for path in out.glob("*genre*.csv"):
            path.unlink()
    return out


def _append(path: Path, row: dict[str, str]) -> None:
    import pandas as pd

    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    pd.concat([table, pd.DataFrame([row])], ignore_index=True).to_csv(path, index=False)


def tiny_config():
    """A model small enough to train in a second: the cases here are about behaviour, not quality."""
    from recsys.config import Config, ModelConfig, TrainConfig

    return Config(ModelConfig(embedding_dim=16, hidden_dim=16), TrainConfig(epochs=3, batch_size=512, seed=0))


def cli_env() -> dict[str, str]:
    """`python -m recsys` runs with one thread (deterministic sums, no contention) and the repo on the path."""
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE",
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}


def cli_command(*args: object) -> list[str]:
    return [sys.executable, "-m", "recsys", *map(str, args)]


def run_cli(*args: object, timeout: float = CLI_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """`python -m recsys ARGS` in a subprocess, from the repository root; output captured as text."""
    return subprocess.run(cli_command(*args), cwd=ROOT, env=cli_env(), capture_output=True, text=True,
                          timeout=timeout, check=False)


def assert_clear_failure(proc: subprocess.CompletedProcess[str], *fragments: str, code: int = 1) -> str:
    """Exit code ``code``, no traceback anywhere, and an `error: ...` line on stderr naming every fragment."""
    output = proc.stdout + proc.stderr
    assert "Traceback" not in output, output[-3000:]
    assert proc.returncode == code, (proc.returncode, output[-3000:])
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(("error:", "python -m recsys"))]
    assert errors, proc.stderr
    message = proc.stderr
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    return message


def recommender_digest(rec) -> str:
    """A hash of every tensor a Recommender serves from (weights, graph, scorer, lookups, fitted baselines); the
    caches it fills as it answers (score rows, tables) aside.

    Equal digests before and after a workload mean the workload did not change the shared model.
    """
    import hashlib

    import torch

    digest = hashlib.sha256()

    def add(name: str, value: object, depth: int = 0) -> None:
        if isinstance(value, torch.Tensor):
            if value.layout == torch.sparse_csr:
                for part in (value.crow_indices(), value.col_indices(), value.values()):
                    add(name, part, depth)
                return
            digest.update(f"{name}:{value.dtype}:{tuple(value.shape)}".encode())
            digest.update(value.detach().contiguous().cpu().numpy().tobytes())
        elif isinstance(value, str | int | float | bool) or value is None:
            digest.update(f"{name}={value!r}".encode())
        elif isinstance(value, dict) and depth < 4:
            for key in sorted(value, key=str):
                add(f"{name}.{key}", value[key], depth + 1)
        elif isinstance(value, list | tuple) and depth < 4:
            for i, item in enumerate(value):
                add(f"{name}[{i}]", item, depth + 1)
        elif hasattr(value, "__dict__") and depth < 3 and not isinstance(value, type):
            add(name, vars(value), depth + 1)

    add("model", rec.model.state_dict())
    for store in rec.graph.stores:
        add(f"graph.{getattr(store, '_key', '')}", dict(store.items()))
    add("scorer", {f: getattr(rec.scorer, f) for f in rec.scorer.__dataclass_fields__})
    add("lookups", [rec.library.listeners, rec.library.song_artist, rec.library.mix, rec.library.genres_by_song])
    add("baselines", rec.baseline_names())  # stored lists, read once; shared and read-only like the model
    digest.update(repr(rec.maps.user.ids.tolist()).encode())
    return digest.hexdigest()
