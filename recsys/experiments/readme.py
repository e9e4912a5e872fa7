"""Regenerate the README's result tables and docs/results/*.md from the JSON reports, never by hand.

``python -m recsys.experiments.readme`` rewrites each block between ``<!-- results:NAME -->`` and
``<!-- /results:NAME -->`` in README.md with `format_results` of that block's report, and writes the same text to
its docs page. A block whose report is missing is left as it is (and said so).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from recsys.experiments.report import format_results

ROOT = Path(__file__).resolve().parents[2]
BLOCKS = {"default": ("checkpoints/default.eval.json", "docs/results/synthetic.md"),
          "lastfm": ("docs/results/lastfm.json", "docs/results/lastfm.md")}


def render(readme: Path = ROOT / "README.md", root: Path = ROOT) -> list[str]:
    """Rewrite the blocks and docs pages; returns one line per block saying what was done."""
    text, done = readme.read_text(encoding="utf-8"), []
    for name, (report_path, page) in BLOCKS.items():
        source = root / report_path
        if not source.is_file():
            done.append(f"{name}: {report_path} missing, block kept")
            continue
        body = format_results(json.loads(source.read_text(encoding="utf-8")))
        pattern = re.compile(rf"(<!-- results:{name} -->\n).*?(<!-- /results:{name} -->)", re.S)
        if not pattern.search(text):
            done.append(f"{name}: no <!-- results:{name} --> block in {readme.name}")
            continue
        text = pattern.sub(lambda m, body=body: m.group(1) + body + m.group(2), text)
        (root / page).write_text(f"# Results: {name} (generated from {report_path})\n\n{body}", encoding="utf-8")
        done.append(f"{name}: README block and {page} from {report_path}")
    readme.write_text(text, encoding="utf-8")
    return done


if __name__ == "__main__":
    print("\n".join(render()))
    sys.exit(0)
