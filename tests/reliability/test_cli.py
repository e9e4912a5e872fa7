"""`python -m recsys` with bad input, as a user runs it: checked for its exit code, its one-line message on stderr,
and the absence of any traceback.

One case of each kind runs as a real `python -m recsys` process (SUBPROCESS; a few at a time, since each one that
gets past argument parsing imports torch and PyG, ~4 s of CPU on the shared machine); the other cases and a wider
matrix of valid-but-awkward calls run in-process through `recsys.cli.main.main`, the same single error boundary
that `python -m recsys` calls.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from reliability_helpers import (
    HOSTILE_TITLE,
    NEW_USER,
    NO_GENRE_TRACK,
    ROOT,
    TEST_ONLY_USER,
    assert_clear_failure,
    cli_command,
    cli_env,
    run_cli,
)

from recsys.cli.main import main

PARALLEL = 3  # processes at once: the machine has 2 cores, and a process spends part of its time reading files


class Boom:
    """Unpickling this would create a file; a checkpoint holding it must be refused without running it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@dataclass(frozen=True)
class Case:
    args: Callable[[dict[str, Path]], list[object]]  # paths -> command-line arguments
    fragments: tuple[str, ...]
    code: int = 1


def _user(paths: dict[str, Path], user: str = "u0001", *extra: object) -> list[object]:
    return ["recommend", "--checkpoint", paths["odd"], "--user", user, *extra]


CASES: dict[str, Case] = {
    # checkpoints
    "junk checkpoint": Case(lambda p: _user({**p, "odd": p["junk"]}), ("junk.pt", "truncated or corrupted")),
    "truncated checkpoint": Case(lambda p: _user({**p, "odd": p["truncated"]}), ("truncated or corrupted",)),
    "pickle with code in it": Case(lambda p: _user({**p, "odd": p["evil"]}), ("refused to load", "evil.pt")),
    "missing checkpoint": Case(lambda p: _user({**p, "odd": p["tmp"] / "nope.pt"}), ("checkpoint not found",)),
    "future format version": Case(lambda p: _user({**p, "odd": p["future"]}), ("format version 999",)),
    "weights of another model": Case(lambda p: _user({**p, "odd": p["mismatch"]}), ("weights do not fit",)),
    "checkpoint of other data": Case(lambda p: [*_user(p), "--data", p["odd_no_genres_data"]],
                                     ("trained on other data", "fingerprint")),
    # IDs and parameters
    "unknown user": Case(lambda p: _user(p, "nobody"), ("unknown user 'nobody'",)),
    "unknown track": Case(lambda p: ["explain", "--checkpoint", p["odd"], "--user", "u0001", "--track", "t9x"],
                          ("unknown track 't9x'",)),
    "k = 0": Case(lambda p: _user(p, "u0001", "--k", "0"), ("k must be a positive integer (got 0)",)),
    "k < 0": Case(lambda p: _user(p, "u0001", "--k", "-5"), ("k must be a positive integer (got -5)",)),
    "genre weight NaN": Case(lambda p: _user(p, "u0001", "--genre-weight", "nan"),
                             ("genre_weight must be in [0, 1] (got 'nan')",), code=2),
    "genre weight > 1": Case(lambda p: _user(p, "u0001", "--genre-weight", "1.5"), ("must be in [0, 1]",), code=2),
    "genre weight text": Case(lambda p: _user(p, "u0001", "--genre-weight", "abc"), ("must be a number",), code=2),
    # training
    "train a single listener": Case(lambda p: ["train", "--data", p["one_user"], "--out", p["tmp"] / "m.pt"],
                                    ("at least 2 users and 2 songs",)),
    "train a single song": Case(lambda p: ["train", "--data", p["one_song"], "--out", p["tmp"] / "m.pt"],
                                ("at least 2 users and 2 songs",)),
    "train on a missing folder": Case(lambda p: ["train", "--data", p["tmp"] / "nowhere", "--out", p["tmp"] / "m.pt"],
                                      ("dataset folder not found",)),
    "train on non-UTF-8 data": Case(lambda p: ["train", "--data", p["latin1"], "--out", p["tmp"] / "m.pt"],
                                    ("invalid dataset", "artists.csv", "not UTF-8")),
    "train --out under a file": Case(lambda p: ["train", "--data", p["odd_data"], "--out", p["file"] / "m.pt"],
                                     ("is a file, not a folder",)),
    "train --out where nothing can be created": Case(
        lambda p: ["train", "--data", p["odd_data"], "--out", "/proc/forbidden/x.pt"],
        ("--out /proc/forbidden/x.pt", "cannot create the folder")),
}


def _write_inputs(tmp: Path, odd, odd_no_genres) -> dict[str, Path]:
    """Every bad file the cases refer to."""
    paths = {"tmp": tmp, "odd": odd.checkpoint, "odd_data": odd.data, "odd_no_genres_data": odd_no_genres.data}
    good = odd.checkpoint.read_bytes()
    (tmp / "junk.pt").write_bytes(b"this is not a checkpoint \x00\x01" * 50)
    (tmp / "truncated.pt").write_bytes(good[: len(good) // 2])
    torch.save({"format": "recsys-checkpoint", "format_version": 1, "x": Boom(tmp / "executed")}, tmp / "evil.pt")
    torch.save({"format": "recsys-checkpoint", "format_version": 999}, tmp / "future.pt")
    payload = torch.load(odd.checkpoint, weights_only=True)
    payload["state_dict"] = {k: v[..., :1] if isinstance(v, torch.Tensor) and v.dim() else v
                             for k, v in payload["state_dict"].items()}
    torch.save(payload, tmp / "mismatch.pt")
    paths.update({name: tmp / f"{name}.pt" for name in ("junk", "truncated", "evil", "future", "mismatch")})
    for name, rows in (("one_user", [("u1", f"t{i}") for i in range(6)]), ("one_song", [(f"u{i}", "t0")
                                                                                        for i in range(30)])):
        folder = tmp / name
        folder.mkdir()
        songs = sorted({t for _, t in rows})
        (folder / "interactions.csv").write_text("user_id,track_id\n" + "".join(f"{u},{t}\n" for u, t in rows))
        (folder / "tracks.csv").write_text("track_id,artist_id\n" + "".join(f"{t},a1\n" for t in songs))
        (folder / "artists.csv").write_text("artist_id,name\na1,Artist\n")
        paths[name] = folder
    latin1 = tmp / "latin1"
    latin1.mkdir()
    (latin1 / "interactions.csv").write_text("user_id,track_id\nu1,t1\nu2,t1\n")
    (latin1 / "tracks.csv").write_text("track_id,artist_id\nt1,a1\n")
    (latin1 / "artists.csv").write_bytes("artist_id,name\na1,Beyonc\u00e9\n".encode("latin-1"))
    paths["latin1"] = latin1
    (tmp / "a_file").write_text("not a folder")
    paths["file"] = tmp / "a_file"
    return paths


# Real processes for one case of each kind (the rest run in-process below: same boundary, no 4 s torch import each)
SUBPROCESS = ("junk checkpoint", "pickle with code in it", "genre weight NaN", "genre weight text",
              "train a single listener", "train on non-UTF-8 data", "train --out under a file",
              "train --out where nothing can be created")


@pytest.fixture(scope="module")
def bad_inputs(odd, odd_no_genres, tmp_path_factory) -> dict[str, Path]:
    return _write_inputs(tmp_path_factory.mktemp("cli_cases"), odd, odd_no_genres)


@pytest.fixture(scope="module")
def cli_runs(bad_inputs) -> dict[str, subprocess.CompletedProcess[str]]:
    """The SUBPROCESS cases, PARALLEL at a time."""
    with ThreadPoolExecutor(PARALLEL) as pool:
        futures = {name: pool.submit(run_cli, *CASES[name].args(bad_inputs)) for name in SUBPROCESS}
        return {name: future.result() for name, future in futures.items()}


def _check_message(name: str, message: str, tmp: Path) -> None:
    if CASES[name].code == 1:  # the error boundary: one line (a dataset lists its problems below it), no usage
        assert len(message.strip().splitlines()) == 1 or message.startswith("error: invalid dataset"), message
    assert not (tmp / "executed").exists(), "a pickled object ran code while a checkpoint was read"
    assert not (tmp / "m.pt").exists() and not list(tmp.glob(".m.pt.*")), "a failed run left a checkpoint"


@pytest.mark.parametrize("name", SUBPROCESS)
def test_bad_input_in_a_real_process(cli_runs, bad_inputs, name) -> None:
    case = CASES[name]
    _check_message(name, assert_clear_failure(cli_runs[name], *case.fragments, code=case.code), bad_inputs["tmp"])
    if "--out" in name:  # an unusable output path is found before training starts, not after it ends
        assert "training the" not in cli_runs[name].stdout, cli_runs[name].stdout


@pytest.mark.parametrize("name", [name for name in CASES if name not in SUBPROCESS])
def test_bad_input_in_process(bad_inputs, capsys, name) -> None:
    case = CASES[name]
    try:
        code = main([str(a) for a in case.args(bad_inputs)])
    except SystemExit as exc:  # argparse's own exit for a usage error
        code = exc.code
    captured = capsys.readouterr()
    proc = subprocess.CompletedProcess([], code, captured.out, captured.err)
    _check_message(name, assert_clear_failure(proc, *case.fragments, code=case.code), bad_inputs["tmp"])


def test_listeners_without_history_and_songs_without_genres_through_the_cli(odd, odd_no_genres, capsys) -> None:
    """The awkward-but-valid cases: they answer, and say which strategy they used (one as a real process)."""
    run = run_cli("recommend", "--checkpoint", odd.checkpoint, "--user", TEST_ONLY_USER, "--k", "3", "--json")
    assert run.returncode == 0 and "Traceback" not in run.stdout + run.stderr, run.stderr[-2000:]
    listing = json.loads(run.stdout)
    assert listing["strategy"] == "no listening history: popular songs" and len(listing["recommendations"]) == 3
    assert main(["recommend", "--checkpoint", str(odd_no_genres.checkpoint), "--user", NEW_USER, "--k", "500"]) == 0
    out = capsys.readouterr().out
    assert "no listening history: popular songs" in out and "k=500 exceeds the" in out
    assert main(["explain", "--checkpoint", str(odd_no_genres.checkpoint), "--user", "u0004", "--track",
                 NO_GENRE_TRACK, "--json"]) == 0
    explanation = json.loads(capsys.readouterr().out)
    assert explanation["title"] == HOSTILE_TITLE and explanation["genre_influence"] == 0.0


def test_a_reader_that_goes_away_is_not_a_traceback(odd) -> None:
    """`python -m recsys recommend ... | head -1`: the pipe closes early; exit quietly (128 + SIGPIPE)."""
    process = subprocess.Popen(cli_command("recommend", "--checkpoint", odd.checkpoint, "--user", "u0001", "--k",
                                           "100"), cwd=ROOT, env=cli_env(), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    process.stdout.close()  # before the command prints anything
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 141 and b"Traceback" not in stderr, stderr.decode()[-2000:]


# ---- in-process: the same error boundary, many more combinations ----------------------------------------------------

@pytest.mark.parametrize("which", ["odd", "odd_no_genres"])
@pytest.mark.parametrize("command", ["recommend", "explain", "demo"])
@pytest.mark.parametrize("user", [TEST_ONLY_USER, NEW_USER, "u0004"])
def test_every_command_answers_for_awkward_listeners(request, capsys, which, command, user) -> None:
    checkpoint = request.getfixturevalue(which).checkpoint
    args = {"recommend": ["--user", user, "--k", "5"], "explain": ["--user", user, "--track", NO_GENRE_TRACK],
            "demo": ["--user", user, "--top-k", "2"]}[command]
    assert main([command, "--checkpoint", str(checkpoint), *args]) == 0
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err and not out.err.strip()
    if user != "u0004" and command != "explain":
        assert "no listening history: popular songs" in out.out
    if user != "u0004" and command == "explain":
        assert "has no listening history in the training data" in out.out


@pytest.mark.parametrize(("argv", "fragment"), [
    (["recommend", "--user", "u0001", "--k", "0"], "k must be a positive integer"),
    (["recommend", "--user", TEST_ONLY_USER, "--k", "-1"], "k must be a positive integer"),
    (["recommend", "--user", "Nobody"], "unknown user 'Nobody'"),
    (["recommend", "--user", "u001"], "did you mean"),
    (["explain", "--user", NEW_USER, "--track", "nope"], "unknown track 'nope'"),
    (["demo", "--user", "nobody"], "unknown user 'nobody'"),
    (["demo", "--user", "u0001", "--top-k", "0"], "k must be a positive integer"),
])
def test_bad_ids_and_k_in_process(odd, capsys, argv, fragment) -> None:
    assert main([argv[0], "--checkpoint", str(odd.checkpoint), *argv[1:]]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and fragment in err and "Traceback" not in err


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_pickle_without_torch_zip_is_refused_too(tmp_path, capsys) -> None:
    marker = tmp_path / "executed"
    with (tmp_path / "raw.pt").open("wb") as handle:
        pickle.dump({"format": "recsys-checkpoint", "x": Boom(marker)}, handle)
    assert main(["recommend", "--checkpoint", str(tmp_path / "raw.pt"), "--user", "u1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "raw.pt" in err and not marker.exists()
    assert os.path.getsize(tmp_path / "raw.pt") > 0
