"""One benchmark run at a chosen scale: the sections in order, into one report."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from recsys.bench.report import BenchReport, machine_info
from recsys.config import TrainConfig

DATA_ROOT = Path("data") / "bench"  # generated datasets are cached here (ignored by git)
CPU_SCALES = ("default", "100k", "1m")
GPU_ONLY_SCALES = ("10m", "100m")
SCALE_BUDGET = 1200.0  # seconds of mini-batch training at 100k / 1m on CPU
GPU_BUDGET = 120.0  # seconds of mini-batch training in the GPU benchmark (a GPU session is short)


@dataclass
class BenchOptions:
    """What to run and how long each part may take.

    Attributes:
        scale: ``default`` (1,000 users), ``100k`` (100,000 users, 1M songs, ~10M interactions), ``1m`` (1M
            users, ~100M interactions), or on CUDA ``10m`` / ``100m`` (the GPU benchmark, `recsys.bench.gpu`).
        device: ``cpu`` or ``cuda``.
        data: a dataset folder to use instead of the generated one of ``scale``.
        epochs: maximum epochs of each training row (default: TrainConfig's).
        naive_budget, minibatch_budget: seconds for the naive-loop and mini-batch rows at the default scale.
        budget: seconds of mini-batch training at 100k / 1m (default 1200), or on the GPU (default 120).
        batch_size, fanout: mini-batch training at scale.
        serving_users, explains: requests timed by the serving rows.
        dashboard: time the dashboard's start-up.
    """

    scale: str = "default"
    device: str = "cpu"
    data: Path | None = None
    data_root: Path = DATA_ROOT
    epochs: int | None = None
    naive_budget: float = 90.0
    minibatch_budget: float = 90.0
    budget: float | None = None
    batch_size: int = 8192
    fanout: tuple[int, ...] = (10, 5)
    serving_users: int = 40
    explains: int = 15
    dashboard: bool = True
    seed: int = 0


def run_bench(options: BenchOptions, log: Callable[[str], None] = print,
              report: BenchReport | None = None) -> BenchReport:
    """Run the benchmark ``options`` asks for; rows go into ``report`` (a new one by default) as they are measured,
    so a caller holding it keeps the rows measured before a failure."""
    report = report if report is not None else BenchReport()
    report.meta.update({**machine_info(options.device), "scale": options.scale,
                        "options": {k: str(v) for k, v in asdict(options).items()}})
    tc = TrainConfig(seed=options.seed, device=options.device, batch_size=options.batch_size,
                     fanout=tuple(options.fanout), **({"epochs": options.epochs} if options.epochs else {}))
    if options.scale in GPU_ONLY_SCALES:
        from recsys.bench.gpu import bench_gpu

        bench_gpu(report, options.scale, options.device, budget=options.budget or GPU_BUDGET, log=log)
        return report
    if options.scale not in CPU_SCALES:
        raise ValueError(f"scale must be one of {CPU_SCALES + GPU_ONLY_SCALES} (got {options.scale!r})")
    data = options.data
    if data is None:
        from recsys.bench.scale import ensure_data

        data, generated = ensure_data(options.scale, options.data_root, log)
        if generated is not None:
            report.add("data", f"generate the {options.scale} dataset", generated, "s")
    report.meta["data_path"] = str(data)
    if options.scale == "default":
        _default_scale(report, Path(data), tc, options, log)
    else:
        from recsys.bench.scale import bench_scale

        bench_scale(report, Path(data), options.budget or SCALE_BUDGET, tc, options.device, log=log)
    return report


def _default_scale(report: BenchReport, data: Path, tc: TrainConfig, options: BenchOptions,
                   log: Callable[[str], None]) -> None:
    from recsys.bench.serving import bench_serving
    from recsys.bench.training import bench_training
    from recsys.data import load_dataset
    from recsys.evaluation import ranking_task
    from recsys.service.recommender import Recommender
    from recsys.training.restore import restore

    dataset = load_dataset(data)
    report.meta["data"] = dataset.summary()
    tc = TrainConfig(**{**asdict(tc), "batch_size": TrainConfig().batch_size})  # the recipe's batch at this scale
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = Path(tmp) / "enhanced.pt"
        bench_training(report, dataset, lambda result: ranking_task(result.dataset, result.graph.id_maps, "valid"),
                       tc, checkpoint, options.device, options.naive_budget, options.minibatch_budget, log)
        rec = Recommender.from_restored(restore(checkpoint, data))
        bench_serving(report, rec, users=options.serving_users, explains=options.explains, log=log)
    if options.dashboard:
        from recsys.bench.dashboard import bench_dashboard

        bench_dashboard(report, log=log)
