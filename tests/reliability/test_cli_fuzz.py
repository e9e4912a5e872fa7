"""No traceback from any CLI input: hypothesis draws argument lists for every command (valid, hostile and absent
values, unknown options, malformed files) and runs them through `recsys.cli.main.main`, the same single error
boundary `python -m recsys` calls.

The contract for each run: an exit code (0, 1 for a known error, 2 for a usage error), no traceback, a failure
that starts with one `error: ...` line, and nothing precious overwritten (a notes file, a folder of other files,
a dataset's own table, the target of a link). Bounded in time: numbers that size work (epochs, users, songs) are
drawn small, the examples are few and derandomized (the same in every run; RECSYS_FUZZ_EXAMPLES=500 and
RECSYS_FUZZ_RANDOM=1 explore further), and `bench` is left out (its smallest run trains for minutes).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from reliability_helpers import NEW_USER, NO_GENRE_TRACK, TEST_ONLY_USER

from recsys.cli.main import main

EXAMPLES = int(os.environ.get("RECSYS_FUZZ_EXAMPLES", "40"))
RANDOM = os.environ.get("RECSYS_FUZZ_RANDOM") == "1"
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=not RANDOM, database=None,
                phases=[Phase.explicit, Phase.generate],  # no shrinking: minutes per failure; argv is in the message
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

HOSTILE = ["", "-", "--", " ", "\x1b[2J", "\u202eevil", "x" * 300, "ü", "nan", "inf", "-inf", "1e309",
           "99999999999999999999", "None", "../..", "/", "-1", "0", "1.5", "0x10"]
FLAG = None  # an option without a value


@pytest.fixture(scope="module")
def world(odd, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Inputs (good and malformed) and outputs (new, and precious ones that must survive) for the fuzzer."""
    root = tmp_path_factory.mktemp("fuzz")
    data = Path(shutil.copytree(odd.data, root / "data"))
    checkpoint = Path(shutil.copy(odd.checkpoint, root / "model.pt"))
    bad_data = Path(shutil.copytree(odd.data, root / "bad_data"))
    (bad_data / "tracks.csv").write_text("track_id,track_id\nt1,t1\n", encoding="utf-8")
    nul_data = Path(shutil.copytree(odd.data, root / "nul_data"))
    with open(nul_data / "interactions.csv", "r+b") as handle:
        handle.truncate(2**20)
    (root / "junk.pt").write_bytes(os.urandom(2048))
    (root / "loop").symlink_to(root / "loop")
    (root / "dangling").symlink_to(root / "gone")
    (root / "bad.json").write_text(json.dumps({"model": {"embedding_dim": "16"}, "training": {"lr": [1]}}))
    (root / "bad.toml").write_text("[model\nheads = ", encoding="utf-8")
    (root / "ok.json").write_text(json.dumps({"model": {"embedding_dim": 8, "hidden_dim": 8},
                                              "training": {"batch_size": 512}}))
    precious = root / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("years of work")
    (root / "link.pt").symlink_to(precious / "notes.txt")
    (root / "raw").mkdir()
    (root / "raw" / "artists.dat").write_text("id\tname\n1\tA\n")
    return {"root": root, "data": data, "checkpoint": checkpoint, "bad_data": bad_data, "nul_data": nul_data,
            "precious": precious}


def _pools(w: dict[str, Path]) -> dict[str, list]:
    r = w["root"]
    inputs = [w["data"], w["bad_data"], w["nul_data"], r / "nowhere", r / "loop", r / "dangling", r / "junk.pt",
              "/dev/null", w["precious"]]
    outputs = [r / "out" / "new.pt", f"{r / 'outdir'}/", r / "out" / "r.json", w["precious"] / "notes.txt",
               w["precious"], w["data"] / "tracks.csv", r / "link.pt", "/dev/null", r / "loop" / "x", r / "loop"]
    checkpoints = [w["checkpoint"], r / "junk.pt", r / "nowhere.pt", r / "loop", w["data"], "/dev/null"]
    small = ["-1", "0", "1", "2", "abc", "nan", "1.5"]
    return {
        "in": inputs, "out": outputs, "ckpt": checkpoints, "small": small,
        "int": [*small, "99999999999999999999", "-99999999999"],
        "float": ["0", "0.5", "1", "1.5", "-0.1", "nan", "inf", "abc", "1e-9"],
        "user": ["u0001", TEST_ONLY_USER, NEW_USER, "nobody", "U0001", *HOSTILE[:8]],
        "track": ["t0001", NO_GENRE_TRACK, "t9x", *HOSTILE[:8]],
        "fmt": ["parquet", "csv", "xml"], "config": [r / "bad.json", r / "bad.toml", r / "ok.json", r / "loop",
                                                     r / "nowhere.json", "/dev/null"],
        "model": ["basic", "enhanced", "x"], "baselines": ["none", "popularity", "ease,popularity", "x", ""],
        "models": ["basic", "x", ""], "split": ["train", "all", "x"],
    }


# command -> option -> pool name (FLAG: no value); options in REQUIRED are present in most examples
OPTIONS: dict[str, dict[str, str | None]] = {
    "generate": {"--out": "out", "--users": "small", "--songs": "small", "--artists": "small", "--genres": "small",
                 "--days": "small", "--seed": "int", "--format": "fmt", "--force": FLAG},
    "import-lastfm": {"--raw": "in", "--out": "out", "--format": "fmt", "--force": FLAG},
    "stats": {"--data": "in", "--split": "split", "--seed": "int", "--top-genres": "int"},
    "split": {"--data": "in", "--out": "out", "--seed": "int", "--force": FLAG},
    "train": {"--data": "in", "--out": "out", "--model": "model", "--config": "config", "--epochs": "small",
              "--seed": "int", "--batch-size": "small", "--max-seconds": "float", "--checkpoint-every": "small",
              "--resume": FLAG, "--quiet": FLAG, "--eval-users": "small", "--force": FLAG},
    "evaluate": {"--checkpoint": "ckpt", "--data": "in", "--baselines": "baselines", "--models": "models",
                 "--k": "int", "--seeds": "small", "--epochs": "small", "--json": "out", "--markdown": "out",
                 "--quiet": FLAG, "--force": FLAG},
    "recommend": {"--checkpoint": "ckpt", "--data": "in", "--user": "user", "--k": "int", "--genre-weight": "float",
                  "--include-known": FLAG, "--json": FLAG},
    "explain": {"--checkpoint": "ckpt", "--data": "in", "--user": "user", "--track": "track",
                "--genre-weight": "float", "--counterfactual": FLAG, "--json": FLAG},
    "demo": {"--checkpoint": "ckpt", "--data": "in", "--user": "user", "--top-k": "small", "--verbose": FLAG},
    "faithfulness": {"--checkpoint": "ckpt", "--data": "in", "--users": "small", "--removed": "small",
                     "--truth": "config", "--truth-users": "small", "--json": "out", "--force": FLAG},
    "listeners": {"--checkpoint": "ckpt", "--data": "in", "--users": "small", "--half-life": "float", "--json": "out",
                  "--force": FLAG},
}
REQUIRED = {"generate": ("--out",), "import-lastfm": ("--raw",), "stats": ("--data",), "split": ("--data", "--out"),
            "train": ("--data", "--out", "--epochs", "--quiet"), "evaluate": ("--baselines", "--epochs", "--quiet"),
            "recommend": ("--user",), "explain": ("--user", "--track"), "demo": ("--top-k",),
            "faithfulness": ("--users", "--truth-users"), "listeners": ("--users",)}
# Work grows with these numbers, so they stay small even where the rest of the pool is hostile.
BOUNDED = {"--epochs": ["1", "0", "-1", "x"], "--users": ["2", "0", "-1", "x"], "--truth-users": ["2", "0", "x"],
           "--top-k": ["1", "2", "0", "-3"], "--seeds": ["0", "1", "-1"]}


@st.composite
def argument_lists(draw: st.DrawFn, w: dict[str, Path], commands: tuple[str, ...]) -> list[str]:
    pools = _pools(w)
    command = draw(st.sampled_from(commands))
    options = OPTIONS[command]
    chosen = [o for o in options if o in REQUIRED[command] and draw(st.integers(0, 9)) > 0]
    chosen += draw(st.lists(st.sampled_from([o for o in options if o not in chosen]), unique=True, max_size=4))
    argv = [command]
    for option in draw(st.permutations(chosen)):
        argv.append(option)
        if options[option] is not FLAG:
            pool = BOUNDED.get(option, pools[options[option]])
            argv.append(str(draw(st.sampled_from(pool))))
    extra = draw(st.integers(0, 9))
    if extra == 0:  # an unknown option, a stray value, an option without its value
        argv.insert(draw(st.integers(1, len(argv))), draw(st.sampled_from(["--nope", "stray", "--k", "-x"])))
    elif extra == 1:
        argv.append(draw(st.sampled_from(HOSTILE)))
    return argv


def _digest(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        for file in sorted(p for p in Path(path).rglob("*") if p.is_file()) if path.is_dir() else [path]:
            digest.update(str(file).encode() + file.read_bytes())
    return digest.hexdigest()


def _check_run(argv: list[str], w: dict[str, Path]) -> None:
    precious = [w["precious"], w["data"] / "tracks.csv"]
    before = _digest(precious)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
            code = exc.code
    text = out.getvalue() + err.getvalue()
    assert "Traceback" not in text, (argv, text[-3000:])
    assert code in (0, 1, 2), (argv, code, text[-2000:])
    if code != 0:
        lines = [line for line in err.getvalue().splitlines() if line.strip()]
        message = lines[0] if code == 1 else lines[-1]
        assert message.startswith("error: ") or ": error: " in message, (argv, err.getvalue()[-2000:])
    assert _digest(precious) == before, argv
    assert (w["root"] / "link.pt").is_symlink(), argv


CHEAP = ("generate", "import-lastfm", "stats", "split")
MODEL = ("train", "evaluate", "recommend", "explain", "demo", "faithfulness", "listeners")


def test_data_commands_never_print_a_traceback(world) -> None:
    @FUZZ
    @given(argument_lists(world, CHEAP))
    def check(argv: list[str]) -> None:
        _check_run(argv, world)

    check()


def test_model_commands_never_print_a_traceback(world) -> None:
    @settings(FUZZ, max_examples=max(1, EXAMPLES // 2))
    @given(argument_lists(world, MODEL))
    def check(argv: list[str]) -> None:
        _check_run(argv, world)

    check()


@pytest.mark.parametrize("argv, fragment, code", [
    (lambda w: ["faithfulness", "--checkpoint", w["checkpoint"], "--users", "-1"], "must be at least 1", 2),
    (lambda w: ["train", "--data", w["data"], "--out", w["root"] / "out" / "c.pt", "--config", w["root"] / "bad.json",
                "--epochs", "1", "--quiet"], "embedding_dim must be int (got str '16')", 1),
    (lambda w: ["stats", "--data", w["root"] / "loop"], "it is a loop of symbolic links", 1),
    (lambda w: ["train", "--data", w["data"], "--out", w["root"] / "loop" / "m.pt", "--epochs", "1"],
     "Too many levels of symbolic links", 1),
])
def test_cases_the_fuzzer_found(world, capsys, argv, fragment: str, code: int) -> None:
    # before: a ValueError and a TypeError traceback; a loop of links was "dataset folder not found"
    try:
        result = main([str(a) for a in argv(world)])
    except SystemExit as exc:
        result = exc.code
    err = capsys.readouterr().err
    assert result == code and "Traceback" not in err and fragment in err, (result, err)
