"""Wall-clock timing shared by the benchmark scripts (run as ``python benchmarks/bench_*.py``)."""

from __future__ import annotations

import statistics
import time
from typing import Callable


def wall_times(fn: Callable[[], object], repeats: int, warmup: int = 2) -> list[float]:
    """Seconds of ``repeats`` calls of ``fn`` after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def median_seconds(fn: Callable[[], object], repeats: int, warmup: int = 2) -> float:
    return statistics.median(wall_times(fn, repeats, warmup))


def timed_ms(fn: Callable[[], object], repeats: int, warmup: int = 2) -> tuple[float, float]:
    """Median and minimum in milliseconds (the minimum shows what machine load added to the median)."""
    times = wall_times(fn, repeats, warmup)
    return statistics.median(times) * 1e3, min(times) * 1e3
