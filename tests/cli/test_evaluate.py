"""`python -m recsys evaluate`: checkpoints and fresh GATs against baselines, one report, clear errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from recsys.cli.main import main
from recsys.data.synthetic import generate
from recsys.experiments import TABLE_METRICS

SMALL = {"users": 120, "songs": 400, "artists": 40, "genres": 8, "days": 10}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A small dataset, a second one with other data, and a 2-epoch Basic GAT checkpoint for each."""
    root = tmp_path_factory.mktemp("evaluate")
    paths = {"data": root / "data", "other": root / "other"}
    generate(paths["data"], **SMALL, seed=1)
    generate(paths["other"], **SMALL, seed=2)
    for name in ("data", "other"):
        paths[f"{name}_ckpt"] = root / f"{name}.pt"
        assert main(["train", "--data", str(paths[name]), "--model", "basic", "--epochs", "2", "--quiet",
                     "--out", str(paths[f"{name}_ckpt"])]) == 0
    return paths


def test_checkpoint_against_baselines_writes_the_report(trained: dict[str, Path], tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    out, markdown = tmp_path / "report.json", tmp_path / "report.md"
    assert main(["evaluate", "--checkpoint", str(trained["data_ckpt"]), "--baselines", "popularity,ease",
                 "--json", str(out), "--markdown", str(markdown), "--store-baselines", "--quiet"]) == 0
    report = json.loads(out.read_text())
    assert report.keys() >= {"dataset", "split", "ks", "machine", "models", "std", "per_seed", "search", "goals"}
    assert report["complete"] is True
    assert Path(report["dataset"]) == trained["data"]
    assert report["split"].startswith("temporal")
    assert report["ks"] == [10, 20]
    assert report["machine"]["cpu_cores_visible"] >= 1 and report["machine"]["torch"]
    assert list(report["models"]) == ["basic_gat", "popularity", "ease"]
    for name, metrics in report["models"].items():
        assert math.isfinite(metrics["ndcg@10"]), name
        assert {f"{m}@10" for m in TABLE_METRICS} | {"ndcg@20", "train_s"} <= metrics.keys()
    assert report["models"]["basic_gat"]["epochs"] == 2
    assert report["std"]["ease"]["ndcg@10"] is None  # one seed: no spread (NaN written as null)
    assert [run["seed"] for run in report["per_seed"]] == [0]
    table = capsys.readouterr().out
    ranked = [line.split()[0] for line in table.splitlines() if line.split()[:1] in (["basic_gat"], ["ease"],
                                                                                   ["popularity"])]
    by_ndcg = sorted(report["models"], key=lambda n: -report["models"][n]["ndcg@10"])
    assert ranked == by_ndcg  # rows sorted by NDCG@10
    assert markdown.read_text().startswith("| model | ndcg@10 | recall@10 |")
    stored = json.loads(trained["data_ckpt"].with_name("data.baselines.json").read_text())
    assert stored["format"] == "recsys-baseline-topk/1" and set(stored["models"]) == {"popularity", "ease"}
    assert all(len(tracks) == 50 for tracks in stored["models"]["ease"]["users"].values())
    settings = report["per_seed"][0]["settings"]
    assert settings["basic_gat"]["checkpoint"] == str(trained["data_ckpt"]) and settings["basic_gat"]["tuned"] is False
    assert settings["ease"]["lambda"] > 0


def test_fresh_models_over_two_seeds(trained: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    assert main(["evaluate", "--data", str(trained["data"]), "--models", "basic", "--baselines", "bprmf",
                 "--seeds", "0", "1", "--epochs", "1", "--k", "5", "--lr", "0.01", "--weight-decay", "1e-4", "1e-3",
                 "--json", str(out), "--quiet"]) == 0
    report = json.loads(out.read_text())
    assert report["ks"] == [5, 10] and report["seeds"] == [0, 1]  # NDCG@10 always: the paired tests use it
    assert list(report["models"]) == ["basic_gat", "bprmf"]
    per_seed = [run["models"]["bprmf"]["ndcg@5"] for run in report["per_seed"]]
    assert report["models"]["bprmf"]["ndcg@5"] == pytest.approx(sum(per_seed) / 2)
    assert report["std"]["bprmf"]["ndcg@5"] >= 0.0
    assert [len(report["search"]["trials"][name]) for name in ("basic_gat", "bprmf")] == [2, 2]


def test_unknown_baseline_is_a_clear_error(trained: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["evaluate", "--checkpoint", str(trained["data_ckpt"]), "--baselines", "popularity,lightgnc"])
    assert code != 0
    err = capsys.readouterr().err
    assert "unknown baseline(s) 'lightgnc'" in err
    assert "known: popularity, bprmf, lightgcn, ease, lightgcn+ease, bprmf+ease, als, enhanced_noattn" in err


def test_checkpoint_and_data_mismatch_is_a_clear_error(trained: dict[str, Path],
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["evaluate", "--checkpoint", str(trained["data_ckpt"]), "--data", str(trained["other"]),
                 "--baselines", "none"])
    assert code != 0
    assert "was trained on other data" in capsys.readouterr().err


def test_checkpoints_of_different_data_are_refused(trained: dict[str, Path],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["evaluate", "--checkpoint", str(trained["data_ckpt"]), "--checkpoint", str(trained["other_ckpt"]),
                 "--baselines", "none"])
    assert code != 0
    assert "were trained on different data" in capsys.readouterr().err


def test_nothing_to_compare_without_checkpoint_or_data(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", "--models", "basic"]) != 0
    assert "--data" in capsys.readouterr().err


def test_store_baselines_needs_a_checkpoint(trained: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", "--data", str(trained["data"]), "--baselines", "ease", "--store-baselines"]) != 0
    assert "--store-baselines writes beside a checkpoint" in capsys.readouterr().err


def test_reuse_of_a_missing_report_is_a_clear_error(trained: dict[str, Path], tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", "--data", str(trained["data"]), "--baselines", "ease", "--reuse",
                 str(tmp_path / "nope.json")]) != 0
    assert "--reuse: no report at" in capsys.readouterr().err
