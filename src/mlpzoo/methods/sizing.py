"""Hardware-aware MLP sizing: time an MLP block's GEMMs over candidate widths, recommend the fast ones.

Paper: Zyphra, "Training Foundation Models on a Full-Stack AMD Platform: Compute, Networking, and
System Design", 2025 (catalog id ``zaya1``): "MI300X-aware transformer sizing rules for attention
and MLP blocks", from kernel microbenchmarks. The rule generalises to any device: GEMM kernels
run fastest on shapes that tile evenly (multiples of 64/128/256), so a width a few percent
larger can train in the same or less time. Here the device is whatever torch runs on.

For each hidden width ``w`` we time one training step of the block
``Linear(dim, w) -> GELU -> Linear(w, dim)`` on ``tokens`` rows (forward and backward, the input
requiring grad as in a hidden layer), median over ``repeats`` after warm-up, and report the
achieved GEMM throughput ``6 * tokens * dim * w * 2 / seconds`` (forward + both backward GEMMs of
both layers) — equivalently parameters processed per second, the "throughput per parameter" by
which widths are ranked.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from mlpzoo.errors import ConfigError

ALIGNMENTS = (64, 128, 256)


@dataclass
class WidthTiming:
    width: int
    parameters: int
    step_ms: float
    step_ms_min: float
    gflops: float  # achieved GEMM GFLOP/s of forward + backward

    def as_row(self) -> dict:
        return asdict(self)


def _check(widths: Sequence[int], dim: int, tokens: int, repeats: int) -> None:
    if not widths or any(int(w) < 1 for w in widths):
        raise ConfigError(f"widths {list(widths)} must be a non-empty list of positive integers")
    if dim < 1 or tokens < 1 or repeats < 1:
        raise ConfigError(f"dim = {dim}, tokens = {tokens} and repeats = {repeats} must be positive")


def gemm_flops(width: int, dim: int, tokens: int) -> int:
    """FLOPs of one training step of the block's two GEMMs: forward, input grad and weight grad."""
    return 3 * 2 * 2 * tokens * dim * width


def time_mlp_block(
    width: int,
    dim: int,
    tokens: int,
    repeats: int = 7,
    warmup: int = 2,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> WidthTiming:
    """Median and minimum wall time of one forward + backward of the block at ``width``."""
    _check([width], dim, tokens, repeats)
    generator = torch.Generator().manual_seed(0)
    w1 = (torch.randn(width, dim, generator=generator) / dim**0.5).to(device, dtype).requires_grad_(True)
    w2 = (torch.randn(dim, width, generator=generator) / width**0.5).to(device, dtype).requires_grad_(True)
    b1 = torch.zeros(width, device=device, dtype=dtype, requires_grad=True)
    b2 = torch.zeros(dim, device=device, dtype=dtype, requires_grad=True)
    x = torch.randn(tokens, dim, generator=generator).to(device, dtype).requires_grad_(True)
    synchronise = torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)

    def step() -> None:
        out = F.linear(F.gelu(F.linear(x, w1, b1)), w2, b2)
        out.sum().backward()
        for t in (w1, w2, b1, b2, x):
            t.grad = None

    for _ in range(warmup):
        step()
    synchronise()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        synchronise()
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    params = 2 * dim * width + width + dim
    return WidthTiming(width, params, median * 1e3, min(times) * 1e3, gemm_flops(width, dim, tokens) / median / 1e9)


def sweep(
    widths: Iterable[int],
    dim: int,
    tokens: int,
    repeats: int = 7,
    device: str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> list[WidthTiming]:
    """:func:`time_mlp_block` at every width (sorted, de-duplicated)."""
    widths = sorted({int(w) for w in widths})
    _check(widths, dim, tokens, repeats)
    return [time_mlp_block(w, dim, tokens, repeats, device=device, dtype=dtype) for w in widths]


def candidate_widths(target: int, tolerance: float = 0.1) -> list[int]:
    """``target`` and the multiples of 64, 128 and 256 within ``tolerance`` of it."""
    low, high = target * (1 - tolerance), target * (1 + tolerance)
    found = {target}
    for step in ALIGNMENTS:
        found |= {m for m in range(step * int(low // step), int(high) + step, step) if low <= m <= high and m > 0}
    return sorted(found)


def recommend(timings: Sequence[WidthTiming], targets: Iterable[int], tolerance: float = 0.1) -> list[dict]:
    """For each target width, the timed width within ``tolerance`` with the best achieved GFLOP/s.

    Returns rows ``target, recommended, target_gflops, recommended_gflops, speedup_per_parameter``
    (the ratio of achieved throughputs: how much faster each parameter trains at the recommended width).
    """
    by_width = {t.width: t for t in timings}
    rows = []
    for target in targets:
        if target not in by_width:
            raise ConfigError(f"target width {target} was not timed; include it in the sweep")
        near = [t for t in timings if abs(t.width - target) <= tolerance * target]
        best = max(near, key=lambda t: t.gflops)
        rows.append(
            {
                "target": target,
                "recommended": best.width,
                "target_gflops": by_width[target].gflops,
                "recommended_gflops": best.gflops,
                "speedup_per_parameter": best.gflops / by_width[target].gflops,
            }
        )
    return rows


def plot_sweep(timings: Sequence[WidthTiming], path, title: str = "MLP block GEMM throughput") -> None:
    """Achieved GFLOP/s against hidden width (PNG); multiples of 128 are marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    widths = [t.width for t in timings]
    rates = [t.gflops for t in timings]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.plot(widths, rates, marker=".", linewidth=1)
    aligned = [(w, r) for w, r in zip(widths, rates) if w % 128 == 0]
    if aligned:
        ax.scatter(*zip(*aligned), color="tab:red", zorder=3, label="multiple of 128")
        ax.legend()
    ax.set(xlabel="hidden width", ylabel="achieved GFLOP/s (fwd + bwd)", title=title)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
