"""Benchmarks: training speed and quality, serving latency, memory and the dashboard's start-up.

Every figure is printed beside a baseline measured in the same run, as a ratio, because the machines these run
on are shared and noisy. Run with ``python -m recsys bench [--scale default|100k|1m] [--device cpu|cuda]``;
the GPU benchmark (``--device cuda --scale 10m``) lives in `recsys.bench.gpu`. Results: docs/performance.md.
"""

from recsys.bench.report import BenchReport, Row, machine_info
from recsys.bench.run import BenchOptions, run_bench

__all__ = ["BenchOptions", "BenchReport", "Row", "machine_info", "run_bench"]
