"""Measuring helpers: wall-clock latencies with percentiles, and peak memory (CPU RSS or GPU allocations)."""

from __future__ import annotations

import math
import resource
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch

MB = 2**20


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class Latency:
    """Wall-clock times of repeated calls, in milliseconds."""

    samples_ms: list[float] = field(default_factory=list)

    @property
    def p50(self) -> float:
        return percentile(self.samples_ms, 50)

    @property
    def p95(self) -> float:
        return percentile(self.samples_ms, 95)

    @property
    def mean(self) -> float:
        return sum(self.samples_ms) / len(self.samples_ms) if self.samples_ms else math.nan


def time_calls(fn: Callable[[Any], object], inputs: Iterable[Any], warmup: int = 0,
               sync: Callable[[], None] | None = None) -> Latency:
    """Call ``fn(x)`` for each input and time every call (after ``warmup`` untimed calls on the first input)."""
    inputs = list(inputs)
    for _ in range(warmup):
        fn(inputs[0])
    latency = Latency()
    for x in inputs:
        started = time.perf_counter()
        fn(x)
        if sync is not None:
            sync()
        latency.samples_ms.append((time.perf_counter() - started) * 1000)
    return latency


def cuda_sync(device: torch.device | str) -> Callable[[], None] | None:
    """A synchronise function for timing CUDA work, None on CPU."""
    device = torch.device(device)
    return torch.cuda.synchronize if device.type == "cuda" else None


def rss_mb() -> float:
    """Resident memory of this process now (MB)."""
    import psutil

    return psutil.Process().memory_info().rss / MB


def max_rss_mb() -> float:
    """The process's lifetime peak resident memory (MB), from getrusage (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class PeakMemory:
    """Peak memory over a block: RSS sampled every ``interval`` s on CPU, peak allocated bytes on CUDA.

    ``start_mb``: the level when the block began; ``peak_mb``: the highest level seen; ``increase_mb``: their
    difference (what the block itself needed). On CPU, short spikes between two samples can be missed.
    """

    def __init__(self, device: torch.device | str = "cpu", interval: float = 0.01) -> None:
        self.device = torch.device(device)
        self.interval = interval
        self.start_mb = self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.start_mb = self.peak_mb = torch.cuda.memory_allocated(self.device) / MB
            return self
        self.start_mb = self.peak_mb = rss_mb()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak_mb = max(self.peak_mb, rss_mb())

    def __exit__(self, *exc: object) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak_mb = torch.cuda.max_memory_allocated(self.device) / MB
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak_mb = max(self.peak_mb, rss_mb())

    @property
    def increase_mb(self) -> float:
        return self.peak_mb - self.start_mb


class Stopwatch:
    """``with Stopwatch() as w: ...; w.seconds``."""

    def __init__(self, sync: Callable[[], None] | None = None) -> None:
        self.sync = sync
        self.seconds = 0.0

    def __enter__(self) -> Stopwatch:
        self._started = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.sync is not None:
            self.sync()
        self.seconds = time.perf_counter() - self._started
