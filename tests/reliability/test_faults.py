"""Faults: a training run killed with SIGKILL resumes to the same result; a checkpoint write that fails (disk full,
a path that cannot hold files) leaves the previous checkpoint intact and says why, from the command line.

The unit-level versions (a crash raised inside `train`, a failing `torch.save`, a read-only folder) are in
tests/training/test_checkpoint.py; these go through `python -m recsys train` in real processes.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
from reliability_helpers import CLI_TIMEOUT, ROOT, assert_clear_failure, cli_command, cli_env

from recsys.errors import CheckpointError
from recsys.training import load_checkpoint

# Small and slow enough per epoch (~0.2-0.6 s: batches of 256 on 4.6K training edges) that the test can see the
# epoch-2 checkpoint and kill the run well before its end, on an idle or a busy machine.
KILL_CONFIG = {"model": {"embedding_dim": 16, "hidden_dim": 16}, "training": {"batch_size": 256, "patience": 50,
                                                                            "seed": 3}}
EPOCHS = 6
KILL_AT_EPOCH = 2


def _train_command(data: Path, out: Path, config: Path, *extra: str) -> list[str]:
    return cli_command("train", "--data", data, "--out", out, "--config", config, "--epochs", EPOCHS,
                       "--checkpoint-every", 1, "--quiet", *extra)


def _epoch(path: Path) -> int | None:
    """The epoch of the checkpoint at ``path``; None when there is none yet (every read sees a whole file)."""
    try:
        payload = load_checkpoint(path)
    except CheckpointError as exc:
        assert "not found" in str(exc), f"a torn checkpoint was visible: {exc}"  # atomic writes: never torn
        return None
    state = payload.get("training_state")
    return state["epoch"] if state else EPOCHS + 1  # a finished run


@pytest.mark.slow
def test_sigkill_mid_training_then_resume_gives_the_uninterrupted_result(small_data, tmp_path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(KILL_CONFIG))
    env = cli_env()
    reference = subprocess.Popen(_train_command(small_data, tmp_path / "reference.pt", config), cwd=ROOT, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    victim = subprocess.Popen(_train_command(small_data, tmp_path / "run.pt", config), cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        seen, deadline = None, time.monotonic() + CLI_TIMEOUT
        while (seen or 0) < KILL_AT_EPOCH:
            assert victim.poll() is None, f"the run ended before it could be killed: {victim.communicate()}"
            assert time.monotonic() < deadline, "no epoch-2 checkpoint in time"
            time.sleep(0.02)
            seen = _epoch(tmp_path / "run.pt")
        os.kill(victim.pid, signal.SIGKILL)
        victim.communicate(timeout=60)
        assert victim.returncode == -signal.SIGKILL
        ref_out, ref_err = reference.communicate(timeout=CLI_TIMEOUT)
        assert reference.returncode == 0, ref_err[-3000:]
    finally:
        for process in (reference, victim):
            if process.poll() is None:
                process.kill()
                process.communicate()

    partial = load_checkpoint(tmp_path / "run.pt")  # whole, readable, and not marked complete
    killed_at = partial["training_state"]["epoch"]
    assert KILL_AT_EPOCH <= killed_at < EPOCHS and not partial["complete"]

    resumed = subprocess.run(_train_command(small_data, tmp_path / "run.pt", config, "--resume"), cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=CLI_TIMEOUT, check=False)
    assert resumed.returncode == 0 and "Traceback" not in resumed.stderr, resumed.stderr[-3000:]
    assert f"resuming at epoch {killed_at}" in resumed.stdout
    # the printed test metrics, the stored metrics, the training curve and every weight match the uninterrupted run
    assert resumed.stdout.splitlines()[-1] == ref_out.splitlines()[-1]  # "test: ndcg@10 ..., recall@10 ..."
    full, again = load_checkpoint(tmp_path / "reference.pt"), load_checkpoint(tmp_path / "run.pt")
    assert again["complete"] and again["train"]["epochs"] == EPOCHS
    assert again["metrics"]["test"] == pytest.approx(full["metrics"]["test"], abs=1e-6)
    assert [h["loss"] for h in again["history"]] == pytest.approx([h["loss"] for h in full["history"]], abs=1e-6)
    _assert_same(full["state_dict"], again["state_dict"], "state_dict")


def _assert_same(a: object, b: object, where: str) -> None:
    """Equal nested weights: tensors to 1e-6, dicts and lists item by item, anything else exactly."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.shape == b.shape and torch.allclose(a, b, atol=1e-6, rtol=0), where
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for key in a:
            _assert_same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_same(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def _no_bigger_files(limit: int):
    """preexec_fn: writes past ``limit`` bytes fail with EFBIG, as on a full disk (SIGXFSZ ignored, not fatal)."""
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def test_disk_full_while_writing_keeps_the_previous_checkpoint_and_says_why(odd, tmp_path) -> None:
    target = tmp_path / "model.pt"
    previous = odd.checkpoint.read_bytes()
    target.write_bytes(previous)
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps({"model": {"embedding_dim": 16, "hidden_dim": 16}, "training": {"epochs": 2}}))
    run = subprocess.run(cli_command("train", "--data", odd.data, "--out", target, "--config", config, "--quiet"),
                         cwd=ROOT, env=cli_env(), capture_output=True, text=True, timeout=CLI_TIMEOUT, check=False,
                         preexec_fn=_no_bigger_files(16_384))
    assert_clear_failure(run, f"cannot write checkpoint {target}", "File too large",
                         "any previous checkpoint there is unchanged")
    assert target.read_bytes() == previous
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt", "tiny.json"], "a temporary file was left"
