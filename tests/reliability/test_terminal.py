"""Text printed to a terminal cannot control it (recsys.cli.common.terminal_text) and table cells are capped; the
--json output stays exact. Before: an ANSI title cleared the terminal in `explain`, a right-to-left override
printed raw, and one 20,000-character title padded `recommend` output to 16 MB."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from reliability_helpers import tiny_config

from recsys.cli.common import MAX_CELL, for_terminal, terminal_text
from recsys.cli.main import main

CLEAR = "\x1b[2J\x1b[H\x1b[31mred title"
RTL = "abc\u202edcba txt.exe"
LONG = "L" * 20_000
BELL_ARTIST = "Artist\x07\x9b31m\u2028next"
UNSAFE = ("\x1b", "\x07", "\x9b", "\u202e", "\u2028")


def test_terminal_text_escapes_controls_and_keeps_other_text() -> None:
    assert terminal_text(CLEAR) == "\\x1b[2J\\x1b[H\\x1b[31mred title"
    assert terminal_text(RTL) == "abc\\u202edcba txt.exe"
    assert terminal_text("tab\there\nnew\x7f") == "tab\\there\\nnew\\x7f"
    assert terminal_text("two\nlines", keep_newlines=True) == "two\nlines"
    kept = "Café 🎷 👨‍👩‍👧 日本語 مرحبا"  # accents, emoji with joiners, wide and right-to-left letters
    assert terminal_text(kept) == kept
    assert terminal_text(LONG, 60) == "L" * 59 + "…"
    assert for_terminal({"a": [CLEAR, 3, {"b": RTL}], "n": None}) == {
        "a": [terminal_text(CLEAR), 3, {"b": terminal_text(RTL)}], "n": None}


@pytest.fixture(scope="module")
def hostile(odd, tmp_path_factory: pytest.TempPathFactory):
    """The odd dataset with titles that try to control the terminal, one 20,000 characters long, and a model."""
    from recsys.data import load_dataset
    from recsys.training import train

    root = tmp_path_factory.mktemp("hostile")
    data = Path(shutil.copytree(odd.data, root / "data"))
    tracks = pd.read_csv(data / "tracks.csv", dtype=str, keep_default_na=False)
    tracks["title"] = [CLEAR, RTL, LONG, *tracks["title"][3:]]
    tracks.to_csv(data / "tracks.csv", index=False)
    artists = pd.read_csv(data / "artists.csv", dtype=str, keep_default_na=False)
    artists.loc[artists["artist_id"] == tracks["artist_id"][0], "name"] = BELL_ARTIST
    artists.to_csv(data / "artists.csv", index=False)
    checkpoint = root / "model.pt"
    train(load_dataset(data), tiny_config(), out=checkpoint, progress=False, log=lambda _: None)
    return checkpoint, tracks["track_id"][:3].tolist()


def _run(capsys, *argv: object) -> str:
    assert main([str(a) for a in argv]) == 0
    return capsys.readouterr().out


def test_recommend_prints_safe_capped_cells_and_exact_json(hostile, capsys) -> None:
    checkpoint, _ = hostile
    argv = ["recommend", "--checkpoint", checkpoint, "--user", "u0001", "--k", "500", "--include-known"]
    table = _run(capsys, *argv)
    assert not any(mark in table for mark in UNSAFE)
    assert "\\x1b[2J" in table and "\\u202e" in table
    width = max(map(len, table.splitlines()[2:]))
    assert width < 12 * MAX_CELL, width  # every row was padded to 20,000 characters
    records = json.loads(_run(capsys, *argv, "--json"))["recommendations"]
    titles = {r["title"] for r in records}
    assert {CLEAR, RTL, LONG} <= titles  # the JSON keeps every character


def test_explain_and_demo_never_send_control_characters(hostile, capsys) -> None:
    checkpoint, tracks = hostile
    for track in tracks:
        text = _run(capsys, "explain", "--checkpoint", checkpoint, "--user", "u0001", "--track", track)
        assert not any(mark in text for mark in UNSAFE), text[:500]
        assert max(map(len, text.splitlines())) < 1000
    exact = json.loads(_run(capsys, "explain", "--checkpoint", checkpoint, "--user", "u0001", "--track", tracks[0],
                            "--json"))
    assert exact["title"] == CLEAR
    demo = _run(capsys, "demo", "--checkpoint", checkpoint, "--user", "u0001", "--top-k", "3", "--verbose")
    assert not any(mark in demo for mark in UNSAFE)


def test_error_lines_are_escaped_too(hostile, capsys) -> None:
    checkpoint, _ = hostile
    assert main(["recommend", "--checkpoint", str(checkpoint), "--user", "\x1b[2Jnobody\u202e"]) == 1
    err = capsys.readouterr().err
    assert not any(mark in err for mark in UNSAFE) and err.startswith("error: unknown user")
