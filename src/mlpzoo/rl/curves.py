"""Return curves: from finished episodes to a curve on a fixed step grid, its area, steps to a threshold, a plot.

Sample efficiency in RL papers (MENTOR's included) is read off the return curve: how high it rises
and how soon. Two scalar summaries make that comparable across seeds: the normalised area under the
curve (the mean return over training) and the first step at which the curve reaches a return threshold.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def return_curve(episodes: list[tuple[int, float]], total_steps: int, points: int) -> tuple[list[int], list[float]]:
    """``(steps, returns)`` on ``points`` evenly spaced steps up to ``total_steps``.

    ``episodes`` are ``(step at which the episode finished, its return)``. Each point holds the mean
    return of the episodes that finished in its window; a window without a finished episode repeats
    the previous point (the first point falls back to the first episode's return).
    """
    edges = np.linspace(0, total_steps, points + 1)
    finished = np.array([s for s, _ in episodes], dtype=float)
    returns = np.array([r for _, r in episodes], dtype=float)
    curve: list[float] = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (finished > lo) & (finished <= hi)
        if inside.any():
            curve.append(float(returns[inside].mean()))
        else:
            curve.append(curve[-1] if curve else (float(returns[0]) if len(returns) else 0.0))
    return [int(s) for s in edges[1:]], curve


def area_under_curve(curve: list[float]) -> float:
    """The normalised area under a return curve on an even grid: its mean return over training."""
    return float(np.mean(curve)) if curve else float("nan")


def steps_to_threshold(steps: list[int], curve: list[float], threshold: float, total_steps: int) -> int:
    """The first step whose curve point reaches ``threshold``; ``total_steps`` when it never does (censored)."""
    for step, value in zip(steps, curve):
        if value >= threshold:
            return int(step)
    return int(total_steps)


def plot_return_curves(curves: dict[str, list[dict]], path: Path, title: str, threshold: float | None = None) -> Path:
    """One panel: per arm, each seed's curve as a thin line and the mean with a one-standard-error band.

    ``curves`` maps an arm label to runs with ``steps`` and ``curve`` lists.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    for color, (label, runs) in zip(plt.rcParams["axes.prop_cycle"].by_key()["color"], curves.items()):
        steps = np.array(runs[0]["steps"])
        values = np.array([run["curve"] for run in runs], dtype=float)
        for row in values:
            ax.plot(steps, row, color=color, alpha=0.25, linewidth=0.8)
        mean = values.mean(0)
        se = values.std(0, ddof=1) / np.sqrt(len(values)) if len(values) > 1 else np.zeros_like(mean)
        ax.plot(steps, mean, color=color, linewidth=2, label=f"{label} (n={len(values)})")
        ax.fill_between(steps, mean - se, mean + se, color=color, alpha=0.2)
    if threshold is not None:
        ax.axhline(threshold, color="grey", linestyle="--", linewidth=1, label=f"threshold {threshold:g}")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("episode return")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
