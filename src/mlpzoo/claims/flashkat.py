"""FlashKAT (2025): does reducing GR-KAN's coefficient gradients per block speed up training?

Paper: Raffel & Chen, "FlashKAT: Understanding and Addressing Performance Bottlenecks in the
Kolmogorov-Arnold Transformer", 2025, arXiv:2505.13813. KAT's GR-KAN backward accumulates the
rational's coefficient gradients element by element (atomic adds into a few shared values);
FlashKAT restructures it to reduce per block first and reports "a training speedup of 86.5x
compared with the state-of-the-art KAT" on GPUs.

Experiment (a benchmark, no data): :class:`~mlpzoo.layers.kan.GRKANLinear` with the block-reduced
custom backward (:func:`~mlpzoo.layers.kan.group_rational`) against the same layer whose rational
is :func:`~mlpzoo.layers.kan.naive_group_rational`: the same forward in plain torch ops (KAT's
pure-torch form, stacked powers contracted with the coefficients) differentiated by autograd.
Per size, in one run and on one machine: the median time of a training step of the layer
(forward + backward of ``x``, the coefficients and the linear weights) and of the rational alone,
timed in interleaved rounds so background load hits both alike; the gradients of the two are
compared in the same run. On the CPU always, and on a CUDA GPU when ``torch.cuda.is_available()``.

The baseline is not KAT's CUDA kernel, whose per-element atomics are what FlashKAT removes, but
the autograd version of the same maths; "large" here means at least ``LARGE`` times faster.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from pathlib import Path

import torch

from mlpzoo.claims.base import Budget, ClaimResult, now_iso
from mlpzoo.layers.kan import GRKANLinear, group_rational, naive_group_rational

PAPER_ID = "flashkat"
TITLE = "FlashKAT: Understanding and Addressing Performance Bottlenecks in the Kolmogorov-Arnold Transformer (2025, arXiv:2505.13813)"
CLAIM = "Reducing GR-KAN's coefficient gradients per block gives a large training-step speed-up over the naive GR-KAN."
PAPER_NUMBERS = {"training speed-up (paper, GPU, whole KAT)": "86.5x over KAT's GR-KAN kernel"}
LARGE = 2.0
GROUPS = 8
GRAD_TOLERANCE = 1e-3  # float32: the two sum the coefficient gradients in different orders
# (label, in, out, leading shape of the input)
SETTINGS = {
    "quick": {"reps": 5, "cases": [("256x256 b1024", 256, 256, (1024,)), ("KAT mixer 8x65x96->384", 96, 384, (8, 65))]},
    "full": {"reps": 20, "cases": [
        ("64x64 b4096", 64, 64, (4096,)),
        ("256x256 b1024", 256, 256, (1024,)),
        ("1000x1000 b100", 1000, 1000, (100,)),
        ("KAT-T mixer fc1 64x197x192->768", 192, 768, (64, 197)),
        ("KAT-T mixer fc2 64x197x768->192", 768, 192, (64, 197)),
    ]},
}


def _settings(budget: Budget) -> dict:
    return SETTINGS.get(budget.name, SETTINGS["full"])


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn, device: torch.device):
    def run() -> float:
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        return (time.perf_counter() - start) * 1e3

    return run


def gradient_errors(custom: GRKANLinear, naive: GRKANLinear, x: torch.Tensor, grad_y: torch.Tensor) -> dict[str, float]:
    """Max relative difference ``max|g_custom - g_naive| / max|g_naive|`` of each gradient (x and parameters).

    Denominator coefficients that are exactly 0 are left out of ``rational.b``: there the custom
    backward takes ``d|b|/db = +1`` on purpose (so a zero coefficient can move) and autograd takes 0.
    """
    grads = []
    for layer in (custom, naive):
        xg = x.detach().clone().requires_grad_()
        layer.zero_grad(set_to_none=True)
        layer(xg).backward(grad_y)
        grads.append({"x": xg.grad, **{name: p.grad for name, p in layer.named_parameters()}})
    nonzero_b = custom.rational.b.detach() != 0
    grads[0]["rational.b"] = grads[0]["rational.b"] * nonzero_b
    return {name: ((grads[0][name] - g).abs().max() / g.abs().max().clamp_min(1e-30)).item() for name, g in grads[1].items()}


def bench_case(in_f: int, out_f: int, lead: tuple[int, ...], reps: int, device: torch.device) -> dict:
    """Median ms of a layer step and of the rational's forward + backward, custom vs naive; gradient errors."""
    torch.manual_seed(0)
    custom = GRKANLinear(in_f, out_f, groups=GROUPS).to(device)
    naive = GRKANLinear(in_f, out_f, groups=GROUPS, naive=True).to(device)
    naive.load_state_dict(custom.state_dict())
    x = torch.randn(*lead, in_f, device=device)
    xg = x.clone().requires_grad_()
    grad_y = torch.randn(*lead, out_f, device=device)
    grad_r = torch.randn_like(x)
    a, b = custom.rational.a, custom.rational.b

    def step(layer):
        def fn():
            layer.zero_grad(set_to_none=True)
            xg.grad = None
            layer(xg).backward(grad_y)
        return fn

    def rational(fn):
        def run():
            torch.autograd.grad(fn(xg, a, b, GROUPS), (xg, a, b), grad_r)
        return run

    jobs = {"step_custom": step(custom), "step_naive": step(naive),
            "rational_custom": rational(group_rational), "rational_naive": rational(naive_group_rational)}
    timers = {k: _timed(fn, device) for k, fn in jobs.items()}
    for timer in timers.values():  # warm-up
        timer()
    samples = {k: [] for k in timers}
    for _ in range(reps):
        for k, timer in timers.items():
            samples[k].append(timer())
    ms = {k: statistics.median(v) for k, v in samples.items()}
    errors = gradient_errors(custom, naive, x, grad_y)
    worst = max(errors, key=lambda k: math.inf if math.isnan(errors[k]) else errors[k])  # NaN counts as worst
    return {**{f"{k}_ms": v for k, v in ms.items()},
            "step_speedup": ms["step_naive"] / ms["step_custom"],
            "rational_speedup": ms["rational_naive"] / ms["rational_custom"],
            "step_speedup_min_based": min(samples["step_naive"]) / min(samples["step_custom"]),
            "grad_max_rel_error": errors[worst], "grad_worst": worst}


def float64_gradients_agree() -> float:
    """Max relative gradient difference of the two in float64 on a small layer (should be ~1e-15)."""
    torch.manual_seed(1)
    custom = GRKANLinear(16, 8, groups=GROUPS).double()
    naive = GRKANLinear(16, 8, groups=GROUPS, naive=True).double()
    naive.load_state_dict(custom.state_dict())
    with torch.no_grad():  # coefficients away from the init, so every term of the gradient matters
        custom.rational.a.normal_()
        custom.rational.b.normal_()
        naive.load_state_dict(custom.state_dict())
    x = torch.randn(3, 5, 16, dtype=torch.float64)
    return max(gradient_errors(custom, naive, x, torch.randn(3, 5, 8, dtype=torch.float64)).values())


def run(budget: Budget, data_dir=None, runs_dir: Path = Path("runs"), log=print) -> ClaimResult:
    """``data_dir`` and ``runs_dir`` are unused (a benchmark without data)."""
    started, clock = now_iso(), time.perf_counter()
    settings = _settings(budget)
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    load_before = os.getloadavg()
    table = []
    for device in devices:
        name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu, {torch.get_num_threads()} threads"
        for label, in_f, out_f, lead in settings["cases"]:
            row = {"device": name, "case": label, **bench_case(in_f, out_f, lead, settings["reps"], device)}
            log(f"[{name}] {label}: step {row['step_custom_ms']:.2f} ms vs naive {row['step_naive_ms']:.2f} ms "
                f"({row['step_speedup']:.2f}x), rational fwd+bwd {row['rational_speedup']:.2f}x, "
                f"max grad rel. error {row['grad_max_rel_error']:.1e}")
            table.append(row)
    error64 = float64_gradients_agree()
    verdict_, reason = verdict(table, error64)
    notes = [
        f"Median of {settings['reps']} interleaved rounds after a warm-up; float32; GRKANLinear with {GROUPS} groups (GELU init). "
        "step = zero_grad + forward + backward of the whole layer; rational = group rational alone, forward + backward.",
        f"Load average before the run {tuple(round(v, 2) for v in load_before)}, after {tuple(round(v, 2) for v in os.getloadavg())} "
        "(a shared machine makes timings noisy; the ratios come from interleaved rounds of the same run).",
        f"Gradients compared in every case (x, rational coefficients, linear weight and bias; tolerance {GRAD_TOLERANCE} relative "
        f"to the largest entry in float32) and in float64 on a small layer: {error64:.1e}.",
        f"The baseline is the autograd version of the same forward, not KAT's CUDA kernel; 'large' means >= {LARGE}x.",
    ]
    if len(devices) == 1:
        notes.append("No CUDA GPU here: the paper's setting (GPU kernels with atomic adds) is not measured.")
    return ClaimResult(PAPER_ID, TITLE, CLAIM, budget.name, [0], table, table, verdict_, reason, PAPER_NUMBERS, notes,
                       started, now_iso(), time.perf_counter() - clock)


def verdict(table: list[dict], float64_error: float = 0.0) -> tuple[str, str]:
    """Reproduced when the layer step is at least ``LARGE`` times faster at every size on every
    device measured; partly when it is faster everywhere but not by that much (or by that much on
    one device only); not reproduced when the naive one is as fast somewhere. When the gradients
    of the two disagree the custom backward is faulty: that is a bug here, not evidence about the
    paper, so the claim is not checkable here until it is fixed."""
    bad = [row["case"] for row in table if not row["grad_max_rel_error"] <= GRAD_TOLERANCE]  # NaN is bad too
    if bad or not float64_error <= 1e-9:
        return "not checkable here", (f"the block-reduced backward disagrees with autograd (cases {', '.join(bad) or 'float64 check'}; "
                                      f"float64 error {float64_error:.1e}): an implementation fault in mlpzoo.layers.kan, "
                                      "so the speed comparison says nothing about the claim.")
    findings, large_devices, faster_devices = [], 0, 0
    devices = list(dict.fromkeys(row["device"] for row in table))
    for device in devices:
        ratios = [row["step_speedup"] for row in table if row["device"] == device]
        rational = [row["rational_speedup"] for row in table if row["device"] == device]
        large_devices += min(ratios) >= LARGE
        faster_devices += min(ratios) > 1.0
        findings.append(f"{device}: layer training step {min(ratios):.2f}x to {max(ratios):.2f}x faster than the naive GR-KAN "
                        f"(median {statistics.median(ratios):.2f}x over {len(ratios)} sizes), rational alone "
                        f"{min(rational):.2f}x to {max(rational):.2f}x")
    if large_devices == len(devices):
        outcome = "reproduced"
    elif faster_devices == len(devices) or large_devices > 0:
        outcome = "partly reproduced"
    else:
        outcome = "not reproduced"
    cuda = "" if len(devices) > 1 else " No CUDA GPU was present, so the GPU ratio is not measured."
    return outcome, "; ".join(findings) + f"; gradients agree.{cuda}"
