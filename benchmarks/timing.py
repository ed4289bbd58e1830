"""Timing shared by the benchmark scripts (run as ``python benchmarks/bench_*.py``).

Wall-clock by default. ``use_clock("cpu")`` times with the calling thread's CPU time instead: on a
loaded machine that counts only the time the benchmark actually ran (indicative numbers from a shared
machine; single-threaded runs only, since other threads' work is not counted).
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

CLOCKS = {"wall": time.perf_counter, "cpu": time.thread_time}
_clock = CLOCKS["wall"]


def use_clock(name: str) -> None:
    global _clock
    _clock = CLOCKS[name]


def wall_times(fn: Callable[[], object], repeats: int, warmup: int = 2) -> list[float]:
    """Seconds of ``repeats`` calls of ``fn`` after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = _clock()
        fn()
        times.append(_clock() - start)
    return times


def median_seconds(fn: Callable[[], object], repeats: int, warmup: int = 2) -> float:
    return statistics.median(wall_times(fn, repeats, warmup))


def timed_ms(fn: Callable[[], object], repeats: int, warmup: int = 2) -> tuple[float, float]:
    """Median and minimum in milliseconds (the minimum shows what machine load added to the median)."""
    times = wall_times(fn, repeats, warmup)
    return statistics.median(times) * 1e3, min(times) * 1e3


def goal(
    name: str, measured: float, target: float, higher_is_better: bool = True, note: str = "", unit: str = "x"
) -> dict:
    """One row of the summary table (benchmarks/run_all.py): a measured ratio against its target.

    ``unit``: ``"x"`` (a ratio), ``"%"`` (a fraction shown as a percentage) or ``"yes/no"`` (1 or 0)."""
    passed = measured >= target if higher_is_better else measured <= target
    return {
        "unit": unit,
        "goal": name,
        "measured": measured,
        "target": target,
        "higher_is_better": higher_is_better,
        "passed": bool(passed),
        "note": note,
    }


def machine_busy_seconds() -> float | None:
    """CPU seconds every process on the machine has spent busy since boot (all CPUs, from /proc/stat); None
    where /proc/stat is unavailable. The difference over a benchmark, less the benchmark's own CPU time,
    is what other processes took from it."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    ticks = [int(v) for v in fields[:8]]  # user nice system idle iowait irq softirq steal
    busy = sum(ticks) - ticks[3] - ticks[4]
    return busy / os.sysconf("SC_CLK_TCK")


def load() -> dict:
    """1/5/15-minute load averages and the CPU count, printed beside every result."""
    one, five, fifteen = os.getloadavg()
    return {"load1": one, "load5": five, "load15": fifteen, "cpus": os.cpu_count()}
