"""The README's result blocks are regenerated from the JSON reports; text outside the markers stays."""

from __future__ import annotations

import json
from pathlib import Path

from recsys.experiments.readme import render


def test_blocks_are_rewritten_from_the_reports(tmp_path: Path) -> None:
    report = {"ks": [10], "models": {"ease": {"ndcg@10": 0.25}}, "std": {}, "per_seed": [
        {"seed": 0, "settings": {"ease": {"lambda": 200.0}}, "comparison": None}]}
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "docs" / "results").mkdir(parents=True)
    (tmp_path / "checkpoints" / "default.eval.json").write_text(json.dumps(report))
    readme = tmp_path / "README.md"
    readme.write_text("before\n<!-- results:default -->\nold table\n<!-- /results:default -->\nafter\n"
                      "<!-- results:lastfm -->\nkept\n<!-- /results:lastfm -->\n")
    lines = render(readme, tmp_path)
    text = readme.read_text()
    assert text.startswith("before\n<!-- results:default -->\n| model | ndcg@10 |")
    assert "old table" not in text and "| ease | 0.2500 |" in text and "| ease | - | - | - | - | 200 | - |" in text
    assert text.endswith("after\n<!-- results:lastfm -->\nkept\n<!-- /results:lastfm -->\n")
    assert "| ease | 0.2500 |" in (tmp_path / "docs" / "results" / "synthetic.md").read_text()
    assert lines[1] == "lastfm: docs/results/lastfm.json missing, block kept"
