"""Multi-seed comparisons: one search for every trainable contender, chosen on seed 0's validation and reused,
per-user figures that the paired tests use, resuming from an earlier report, and the stored top-k lists."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from recsys.data import load_dataset
from recsys.errors import ConfigError
from recsys.experiments import compare, contender_names, store_baselines, trial_grid
from recsys.experiments.topk import FORMAT
from recsys.training.trainer import split_fingerprint

GRID = trial_grid([0.01, 0.02], [1e-4])


@pytest.fixture(scope="module")
def dataset(tiny_data: Path):
    return load_dataset(tiny_data)


@pytest.fixture(scope="module")
def report(dataset) -> dict:
    logs: list[str] = []
    out = compare(dataset, fresh=["basic"], baselines=["popularity", "lightgcn", "lightgcn+ease"], seeds=[0, 1],
                  epochs=2, grid=GRID, log=logs.append)
    out["_logs"] = logs
    return out


def test_every_trainable_contender_gets_the_same_trials_on_seed_zero(report: dict) -> None:
    trials = report["search"]["trials"]
    assert set(trials) == {"basic_gat", "lightgcn", "lightgcn+ease"}  # popularity trains nothing
    for name, records in trials.items():
        assert [(r["lr"], r["weight_decay"]) for r in records] == [(0.01, 1e-4), (0.02, 1e-4)], name
        best = max(records, key=lambda r: r["valid_ndcg@10"])
        assert report["search"]["chosen"][name] == {"lr": best["lr"], "weight_decay": best["weight_decay"]}
    # the two contenders of one family come from the same trained LightGCN: 2 trainings on seed 0, not 4
    assert sum("] lightgcn (lr" in line for line in report["_logs"] if line.startswith("[seed 0]")) == 2


def test_the_choice_is_reused_for_later_seeds(report: dict) -> None:
    chosen = report["search"]["chosen"]
    later = report["per_seed"][1]["settings"]
    for name in ("basic_gat", "lightgcn", "lightgcn+ease"):
        assert (later[name]["lr"], later[name]["weight_decay"]) == (chosen[name]["lr"], chosen[name]["weight_decay"])
        assert later[name]["epoch_cap"] == 2 and later[name]["stopped"] == "max-epochs"
    assert sum(line.startswith("[seed 1] lightgcn (lr") for line in report["_logs"]) == \
        len({(chosen[n]["lr"], chosen[n]["weight_decay"]) for n in ("lightgcn", "lightgcn+ease")})


def test_per_user_ndcg_averages_to_the_reported_figure(report: dict) -> None:
    for run in report["per_seed"]:
        for name, values in run["per_user_ndcg@10"].items():
            assert len(values) == run["models"][name]["users"]
            torch.testing.assert_close(sum(values) / len(values), run["models"][name]["ndcg@10"], atol=1e-5,
                                       rtol=0)
        assert run["split_fingerprint"] and run["comparison"] is None  # no Enhanced GAT: nothing to compare


def test_blend_settings_record_lambda_and_beta(report: dict) -> None:
    settings = report["per_seed"][0]["settings"]["lightgcn+ease"]
    assert settings["item_item_lambda"] > 0
    assert settings["item_item_beta"] == pytest.approx(settings["item_item_beta_relative"]
                                                       * settings["item_item_spread_ratio"])
    assert settings["valid_ndcg_blend"] >= settings["valid_ndcg_embedding"]


def test_reuse_copies_what_an_earlier_report_holds(dataset, report: dict) -> None:
    logs: list[str] = []
    again = compare(dataset, fresh=["basic"], baselines=["popularity", "lightgcn", "lightgcn+ease", "ease"],
                    seeds=[0, 1], epochs=2, grid=GRID, reuse=report, log=logs.append)
    assert not any("lightgcn" in line or "basic_gat" in line for line in logs)  # nothing refitted
    assert any("] ease" in line for line in logs)
    for old, new in zip(report["per_seed"], again["per_seed"], strict=True):
        assert new["models"]["lightgcn+ease"] == old["models"]["lightgcn+ease"]
        assert set(new["models"]) == {"basic_gat", "popularity", "lightgcn", "lightgcn+ease", "ease"}
    assert again["search"]["chosen"] == report["search"]["chosen"]


def test_stored_top_k_lists_rank_unseen_songs_for_every_listener(dataset, tmp_path: Path) -> None:
    stored: dict = {}
    compare(dataset, baselines=["popularity", "ease"], seeds=[0], store_k=5,
            on_topk=lambda *args: stored.update(args=args), log=lambda _: None)
    split, graph, users, lists = stored["args"]
    path = store_baselines(tmp_path / "x.baselines.json", split, graph, users, lists, 5)
    payload = json.loads(path.read_text())
    assert payload["format"] == FORMAT and payload["k"] == 5
    assert payload["split_fingerprint"] == split_fingerprint(split)
    train = split.interactions[split.interactions["split"] == "train"]
    assert set(payload["models"]["ease"]["users"]) == set(train["user_id"])
    seen = train.groupby("user_id")["track_id"].apply(set)
    for name in ("popularity", "ease"):
        for user, tracks in payload["models"][name]["users"].items():
            assert len(tracks) == 5 and not set(tracks) & seen[user], (name, user)
    # popularity: the 5 most played-by-listeners songs the user has not heard
    counts = train.drop_duplicates(["user_id", "track_id"])["track_id"].value_counts()
    user = graph.id_maps.user.id_of(int(users[0]))
    listed = payload["models"]["popularity"]["users"][user]
    unseen = counts[~counts.index.isin(seen[user])]
    assert [counts[t] for t in listed] == list(unseen.iloc[:5])  # the top counts, ties in any order


def test_names_and_grids_are_checked() -> None:
    assert contender_names("all")[-1] == "enhanced_noattn"
    assert contender_names("none") == []
    with pytest.raises(ConfigError, match="unknown baseline"):
        contender_names("ease,lightgnc")
    with pytest.raises(ConfigError, match="learning rates must be > 0"):
        trial_grid([0.0], [1e-4])


def test_reuse_of_other_data_is_refused(dataset, report: dict) -> None:
    with pytest.raises(ConfigError, match="other data"):
        compare(dataset, baselines=["ease"], reuse={**report, "fingerprint": "0000"}, log=lambda _: None)



def test_stored_lists_of_a_later_run_join_those_of_the_same_split(dataset, tmp_path: Path) -> None:
    stored: dict = {}
    compare(dataset, baselines=["popularity", "ease"], seeds=[0], store_k=3,
            on_topk=lambda *args: stored.update(args=args), log=lambda _: None)
    split, graph, users, lists = stored["args"]
    path = tmp_path / "x.baselines.json"
    store_baselines(path, split, graph, users, {"ease": lists["ease"]}, 3)
    store_baselines(path, split, graph, users, {"popularity": lists["popularity"]}, 3)
    assert set(json.loads(path.read_text())["models"]) == {"ease", "popularity"}
    store_baselines(path, split, graph, users, {"ease": lists["ease"]}, 2)  # another k: the old lists go
    assert set(json.loads(path.read_text())["models"]) == {"ease"}


def test_reports_of_one_dataset_merge_for_reuse(dataset, report: dict) -> None:
    from recsys.experiments.compare import merge_reports

    only_lightgcn = {**report, "per_seed": [{**run, "models": {"lightgcn": run["models"]["lightgcn"]}}
                                            for run in report["per_seed"]]}
    merged = merge_reports([only_lightgcn, report])
    assert set(merged["per_seed"][0]["models"]) == set(report["per_seed"][0]["models"])
    other_split = {**report, "per_seed": [{**report["per_seed"][0], "split_fingerprint": "x"}]}
    with pytest.raises(ConfigError, match="different splits"):
        merge_reports([report, other_split])
