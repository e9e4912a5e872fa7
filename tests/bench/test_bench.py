"""Benchmarks: report structure, ratios against baselines of the same run, and a smoke run on tiny data."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pytest
import torch

from recsys.bench import BenchReport
from recsys.bench.measure import PeakMemory, percentile, time_calls


def test_ratios_are_computed_from_rows_of_the_same_report():
    report = BenchReport()
    report.add("training", "LightGCN s/epoch", 2.0, "s")
    report.add("training", "GAT s/epoch", 3.0, "s", baseline="training/LightGCN s/epoch", target="<= 3x",
               meets=True)
    report.add("training", "GAT without a baseline", 1.0, "s")
    report.add("serving", "not measured", None, "ms", note="not available")
    assert report.ratio(report.row("training/GAT s/epoch")) == 1.5
    assert report.ratio(report.row("training/GAT without a baseline")) is None
    assert report.ratio(report.row("serving/not measured")) is None
    with pytest.raises(ValueError, match="duplicate"):
        report.add("training", "GAT s/epoch", 1.0, "s")
    report.row("training/LightGCN s/epoch").value = 6.0  # the ratio follows the baseline's current value
    assert report.ratio(report.row("training/GAT s/epoch")) == 0.5
    text = report.format()
    assert "0.50x" in text and "(met)" in text and "not available" in text
    assert report.markdown().count("\n") == 1 + len(report.rows)
    as_dict = report.to_dict()
    row = next(r for r in as_dict["rows"] if r["name"] == "GAT s/epoch")
    assert row["baseline_value"] == 6.0 and row["ratio"] == 0.5


def test_percentiles_and_timing_helpers():
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 50) == 3.0
    assert percentile([1.0, 2.0], 95) == pytest.approx(1.95)
    assert math.isnan(percentile([], 50))
    latency = time_calls(time.sleep, [0.004, 0.008, 0.012])  # each call lasts at least its sleep
    assert all(a >= s * 1000 for a, s in zip(latency.samples_ms, [0.004, 0.008, 0.012], strict=True))
    assert latency.p50 == pytest.approx(sorted(latency.samples_ms)[1]) and latency.p95 >= latency.p50


def test_peak_memory_sees_a_block_the_size_it_was_allocated():
    size_mb = 64
    with PeakMemory("cpu", interval=0.001) as memory:
        block = torch.ones(size_mb * 2**20 // 4)  # written, so resident
        block += 1
    del block
    # the allocation is the RSS increase, within what the allocator and sampling may add or reuse
    assert 0.75 * size_mb <= memory.increase_mb <= 4 * size_mb


def test_a_missing_dashboard_is_reported_as_not_available(tmp_path: Path):
    from recsys.bench.dashboard import bench_dashboard

    report = BenchReport()
    bench_dashboard(report, app=tmp_path / "no_app.py", log=lambda _: None)
    row = report.row("dashboard/server start to first page")
    assert row.value is None and "not available" in row.note


@pytest.mark.slow
def test_bench_cli_on_tiny_data_reports_every_section_against_same_run_baselines(tiny_data: Path, tmp_path: Path,
                                                                                  capsys: pytest.CaptureFixture):
    from recsys.cli.main import main

    out = tmp_path / "report.json"
    code = main(["bench", "--data", str(tiny_data), "--epochs", "2", "--naive-budget", "1", "--minibatch-budget",
                 "1", "--no-dashboard", "--json", str(out), "--markdown", str(tmp_path / "table.md")])
    assert code == 0
    printed = capsys.readouterr().out
    assert "baseline (same run)" in printed and "torch" in printed
    report = json.loads(out.read_text())
    assert {"date", "torch", "torch_geometric", "python", "processor", "device"} <= set(report["meta"])
    rows = {f"{r['section']}/{r['name']}": r for r in report["rows"]}
    assert {r["section"] for r in report["rows"]} >= {"training", "quality", "memory", "serving"}
    for name in ("PyG LightGCN", "Basic GAT", "Enhanced GAT", "naive loop", "Enhanced GAT mini-batch"):
        assert f"training/{name} s/epoch" in rows and f"quality/{name} valid NDCG@10 (embeddings)" in rows
    for key in ("serving/re-rank (new genre_weight) p95", "serving/explain p95",
                "serving/recommend, first request of a user p50", "serving/top-10 batch of 120 users, per user"):
        assert rows[key]["value"] > 0
    assert rows["serving/re-rank (new genre_weight) p95"]["target"] == "< 10 ms"
    assert rows["serving/explain p95"]["target"] == "< 200 ms"
    compared = [r for r in report["rows"] if r["baseline"] is not None]
    assert len(compared) >= 15
    for row in compared:
        baseline = rows[row["baseline"]]  # the baseline is a row of the same report ...
        assert row["baseline_value"] == baseline["value"]
        if row["value"] is not None and baseline["value"]:
            assert row["ratio"] == pytest.approx(row["value"] / baseline["value"])  # ... and the ratio uses it
    epoch = rows["training/Enhanced GAT s/epoch"]
    assert epoch["baseline"] == "training/PyG LightGCN s/epoch" and epoch["target"].startswith("<= 0.5x")
    assert (tmp_path / "table.md").read_text().startswith("| section |")


def test_gpu_benchmark_code_runs_on_cpu_at_a_tiny_size():
    from recsys.bench.gpu import bench_gpu

    report = BenchReport()
    bench_gpu(report, "10m", device="cpu", budget=0.5, interactions=3000, log=lambda _: None)
    keys = {row.key for row in report.rows}
    for name in ("PyG HeteroConv(GATConv)", "PyG LightGCN", "recsys GAT"):
        assert f"gpu/{name} step at 0.003M interactions" in keys
    ours = report.row("gpu/recsys GAT step at 0.003M interactions")
    assert ours.baseline == "gpu/PyG HeteroConv(GATConv) step at 0.003M interactions"
    assert report.ratio(ours) is not None
    assert report.row("gpu/mini-batch step at 0.003M interactions").value > 0
    assert report.meta["gpu_graph"]["interactions"] == 3000


def test_scale_names_and_the_cuda_check():
    from recsys.bench.scale import SCALES
    from recsys.cli.main import main

    assert SCALES["100k"] == {"users": 100_000, "songs": 1_000_000, "artists": 50_000}
    assert main(["bench", "--scale", "10m"]) == 1  # the GPU benchmark needs --device cuda


@pytest.mark.slow
@pytest.mark.parametrize("room_for_full_step", [True, False])
def test_scale_benchmark_on_tiny_data(tiny_data: Path, monkeypatch: pytest.MonkeyPatch, room_for_full_step: bool):
    from recsys.bench import scale
    from recsys.config import TrainConfig

    monkeypatch.setattr(scale, "_fits", lambda needed, device: room_for_full_step)
    report = BenchReport()
    scale.bench_scale(report, tiny_data, budget=0.5, tc=TrainConfig(batch_size=256, fanout=(4, 2), eval_users=30),
                      serve=room_for_full_step, log=lambda _: None)
    rows = {row.key: row for row in report.rows}
    assert rows["scale/mini-batch step"].value > 0
    assert rows["scale/valid NDCG@10 after the budget (30 users)"].baseline.startswith("scale/untrained")
    memory = rows["scale/mini-batch training peak memory"]
    if room_for_full_step:
        assert rows["scale/full-graph step"].value > 0
        assert memory.baseline == "scale/full-graph step peak memory"
        assert rows["scale/mini-batch step"].baseline == "scale/full-graph step"
        assert rows["serving/recommend, first request of a user p95"].target == "< 50 ms"
    else:
        assert rows["scale/full-graph step"].value is None and "skipped" in rows["scale/full-graph step"].note
        assert memory.baseline == "scale/estimate_memory_usage (full-graph training)"
        assert rows["scale/mini-batch step"].baseline is None
    report.format()  # every baseline resolves
    json.dumps(report.to_dict())
