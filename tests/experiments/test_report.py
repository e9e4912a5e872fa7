"""Reports as strict JSON written atomically, and the tables printed from them."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from recsys.experiments.report import format_markdown, machine_info, to_json, write_json


def test_json_is_strict_and_written_atomically(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "report.json"
    write_json(path, {"a": math.nan, "b": [1.0, math.inf], "c": (1, 2), "d": tmp_path})
    assert json.loads(path.read_text()) == {"a": None, "b": [1.0, None], "c": [1, 2], "d": str(tmp_path)}
    assert [p.name for p in path.parent.iterdir()] == ["report.json"]  # no temporary file left behind
    assert "NaN" not in to_json({"x": math.nan})


def test_a_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    write_json(path, {"old": 1})
    class Unprintable:
        def __str__(self) -> str:
            raise TypeError("no text form")

    with pytest.raises(TypeError, match="no text form"):
        write_json(path, {"new": 2, "x": Unprintable()})
    assert json.loads(path.read_text()) == {"old": 1}
    assert len(list(tmp_path.iterdir())) == 1


def test_machine_info_names_what_timings_depend_on() -> None:
    info = machine_info()
    assert info["cpu_cores_visible"] >= 1 and info["torch_threads"] >= 1 and info["torch"]


def test_markdown_rows_are_sorted_by_ndcg() -> None:
    report = {"ks": [10], "models": {"a": {"ndcg@10": 0.1}, "b": {"ndcg@10": 0.3}, "c": {"ndcg@10": math.nan}},
              "std": {"b": {"ndcg@10": 0.01}}}
    lines = format_markdown(report).splitlines()
    assert lines[0].startswith("| model | ndcg@10 |")
    assert [line.split("|")[1].strip() for line in lines[2:]] == ["b", "a", "c"]
    assert "0.3000±0.0100" in lines[2] and lines[4].split("|")[2].strip() == "-"
