"""FlashKAT (2025): does reducing GR-KAN's coefficient gradients per block speed up training?

Paper: Raffel & Chen, "FlashKAT: Understanding and Addressing Performance Bottlenecks in the
Kolmogorov-Arnold Transformer", 2025, arXiv:2505.13813. The abstract: KAT's slowdown "can be
isolated to memory stalls and, more specifically, in the backward pass of GR-KAN caused by
inefficient gradient accumulation"; FlashKAT's restructured kernel "minimizes gradient accumulation
with atomic adds" and reaches "a training speedup of 86.5x compared with the state-of-the-art KAT".

What KAT's kernel does (its public CUDA and Triton kernels, github.com/Adamdad/rational_kat_cu): one
thread per element computes the element's ten coefficient partials and atomically adds each into
its group's float32 gradient, so all elements of a group contend for the same ten addresses.

Experiment (a benchmark, no data): :class:`~mlpzoo.layers.kan.GRKANLinear` three ways, identical
but for the rational's backward:

- ``flashkat``: :func:`~mlpzoo.layers.kan.group_rational`, partials summed per channel block over
  rows, then folded into groups (FlashKAT's restructuring, on our eager ops);
- ``kat``: :func:`~mlpzoo.layers.kan.atomic_group_rational`, the same forward, the same per-element
  partials and the same ``grad_x``, but every partial added into its group's slot element by element
  with ``index_add_`` (``atomicAdd`` per element on a CUDA GPU, as KAT's kernel; a serial loop of
  scalar adds on the CPU);
- ``autograd``: :func:`~mlpzoo.layers.kan.naive_group_rational` differentiated by autograd (KAT's
  pure-torch form), for reference only.

Per size, in one run and on one machine: the time of a training step of the layer (zero_grad +
forward + backward of ``x``, the coefficients and the linear weights) and of the rational alone
(forward + backward), timed in interleaved rounds so background load hits all alike; the speed-up
is the median over rounds of the per-round ratio ``kat / flashkat`` (``_q25``: its lower quartile).
Gradients of all three are compared in the same run (float32) and on a small layer in float64. On
the CPU always, and on a CUDA GPU when ``torch.cuda.is_available()``.
"""

from __future__ import annotations

import math
import os
import statistics
import time

import torch

from mlpzoo.claims.base import ClaimContext, ClaimSpec, Evidence
from mlpzoo.layers.kan import GRKANLinear, atomic_group_rational, group_rational

LARGE = 2.0
GROUPS = 8
GRAD_TOLERANCE = 1e-3  # float32: the backwards sum the coefficient gradients in different orders
FLOAT64_TOLERANCE = 1e-9
BACKWARDS = ("flashkat", "kat", "autograd")

SPEC = ClaimSpec(
    claim="Reducing GR-KAN's coefficient gradients per block, instead of accumulating them element by element as KAT's "
    "kernel does, gives a large training-step speed-up.",
    paper_numbers={"abstract": "training speed-up of 86.5x over KAT (whole KAT training, GPU)"},
    seeds={"quick": 1, "full": 1, "gpu": 1},
    replicated_by="interleaved timing rounds (20 per size at the full budget); the spread is over rounds",
    # (label, in, out, leading shape of the input)
    settings={
        "quick": {
            "reps": 5,
            "cases": [("256x256 b1024", 256, 256, (1024,)), ("KAT mixer 8x65x96->384", 96, 384, (8, 65))],
        },
        "full": {
            "reps": 20,
            "cases": [
                ("64x64 b4096", 64, 64, (4096,)),
                ("256x256 b1024", 256, 256, (1024,)),
                ("1000x1000 b100", 1000, 1000, (100,)),
                ("KAT-T mixer fc1 64x197x192->768", 192, 768, (64, 197)),
                ("KAT-T mixer fc2 64x197x768->192", 768, 192, (64, 197)),
            ],
        },
    },
    notes=(
        (
            f"Measured: the same GRKANLinear ({GROUPS} groups, GELU init, float32) with three rational backwards. "
            "step_* = zero_grad + forward + backward of the whole layer; rational_* = the group rational alone, "
            "forward + backward. Speed-ups are flashkat against kat (KAT's per-element accumulation); autograd is "
            "for reference."
        ),
        (
            "The kat baseline accumulates with index_add_: atomicAdd per element and partial on a CUDA GPU (as KAT's "
            "CUDA and Triton kernels), a serial loop of scalar adds on the CPU, where there is no atomic contention "
            "to remove. The paper's 86.5x is whole-KAT training on a GPU, so a CPU-only run can be at most 'partly "
            "reproduced'."
        ),
        f"'Large' means at least {LARGE}x (median of per-round ratios) with the lower quartile above 1.",
        (
            "Full budget: 5 sizes x 20 rounds, a few minutes on one thread (the largest size's kat step took 1.4 s on "
            "a loaded 2-core machine)."
        ),
    ),
)


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


def _layers(in_f: int, out_f: int, device: torch.device, dtype=torch.float32) -> dict[str, GRKANLinear]:
    """The three layers with the same weights: block-reduced, per-element (KAT) and autograd backwards."""
    torch.manual_seed(0)
    layers = {
        "flashkat": GRKANLinear(in_f, out_f, groups=GROUPS),
        "kat": GRKANLinear(in_f, out_f, groups=GROUPS, atomic=True),
        "autograd": GRKANLinear(in_f, out_f, groups=GROUPS, naive=True),
    }
    for layer in layers.values():
        layer.load_state_dict(layers["flashkat"].state_dict())
    return {k: v.to(device=device, dtype=dtype) for k, v in layers.items()}


def gradient_errors(layers: dict[str, GRKANLinear], x: torch.Tensor, grad_y: torch.Tensor) -> dict[str, float]:
    """Per backward, the worst max relative difference ``max|g - g_autograd| / max|g_autograd|`` over
    the gradients of x and every parameter.

    Denominator coefficients that are exactly 0 are left out of ``rational.b``: there the custom
    backwards take ``d|b|/db = +1`` on purpose (as KAT's kernels, so a zero coefficient can move) and
    autograd takes 0.
    """
    grads = {}
    for name, layer in layers.items():
        xg = x.detach().clone().requires_grad_()
        layer.zero_grad(set_to_none=True)
        layer(xg).backward(grad_y)
        grads[name] = {"x": xg.grad, **{p: t.grad for p, t in layer.named_parameters()}}
    nonzero_b = layers["flashkat"].rational.b.detach() != 0
    reference = grads["autograd"]
    errors = {}
    for name in ("flashkat", "kat"):
        grads[name]["rational.b"] = grads[name]["rational.b"] * nonzero_b
        worst = [
            ((grads[name][p] - g).abs().max() / g.abs().max().clamp_min(1e-30)).item() for p, g in reference.items()
        ]
        errors[name] = math.nan if any(math.isnan(e) for e in worst) else max(worst)
    return errors


def bench_case(in_f: int, out_f: int, lead: tuple[int, ...], reps: int, device: torch.device) -> dict:
    """Median ms of a layer step per backward and of the rational alone; per-round speed-ups; gradient errors."""
    layers = _layers(in_f, out_f, device)
    x = torch.randn(*lead, in_f, device=device)
    xg = x.clone().requires_grad_()
    grad_y = torch.randn(*lead, out_f, device=device)
    grad_r = torch.randn_like(x)
    a, b = layers["flashkat"].rational.a, layers["flashkat"].rational.b

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

    jobs = {f"step_{name}": step(layer) for name, layer in layers.items()}
    jobs.update(rational_flashkat=rational(group_rational), rational_kat=rational(atomic_group_rational))
    timers = {k: _timed(fn, device) for k, fn in jobs.items()}
    for timer in timers.values():  # warm-up
        timer()
    samples = {k: [] for k in timers}
    for _ in range(reps):
        for k, timer in timers.items():
            samples[k].append(timer())
    step_ratios = [k / f for k, f in zip(samples["step_kat"], samples["step_flashkat"])]
    rational_ratios = [k / f for k, f in zip(samples["rational_kat"], samples["rational_flashkat"])]
    errors = gradient_errors(layers, x, grad_y)
    return {
        "elements": x.numel(),
        **{f"{k}_ms": statistics.median(v) for k, v in samples.items()},
        "step_speedup": statistics.median(step_ratios),
        "step_speedup_q25": _lower_quartile(step_ratios),
        "rational_speedup": statistics.median(rational_ratios),
        "step_speedup_vs_autograd": statistics.median(
            a / f for a, f in zip(samples["step_autograd"], samples["step_flashkat"])
        ),
        "grad_error_flashkat": errors["flashkat"],
        "grad_error_kat": errors["kat"],
    }


def _lower_quartile(values: list[float]) -> float:
    return statistics.quantiles(values, n=4)[0] if len(values) > 1 else values[0]


def float64_gradient_error() -> float:
    """Worst relative gradient difference of the two custom backwards against autograd in float64 on a small layer
    with coefficients away from the init, so every term of the gradient matters (should be ~1e-15)."""
    layers = _layers(16, 8, torch.device("cpu"), torch.float64)
    with torch.no_grad():
        layers["flashkat"].rational.a.normal_()
        layers["flashkat"].rational.b.normal_()
    for layer in layers.values():
        layer.load_state_dict(layers["flashkat"].state_dict())
    errors = gradient_errors(
        layers, torch.randn(3, 5, 16, dtype=torch.float64), torch.randn(3, 5, 8, dtype=torch.float64)
    )
    return max(errors.values())


def _device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu, {torch.get_num_threads()} threads"


def experiment(ctx: ClaimContext) -> Evidence:
    s = ctx.settings
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    ctx.expect(1 + len(devices) * len(s["cases"]))
    load_before = os.getloadavg()
    error64 = ctx.arm("float64 gradients", lambda: {"error": float64_gradient_error()}, seed=0)["error"]
    table = []
    for device in devices:
        accumulation = "index_add_ atomicAdd" if device.type == "cuda" else "index_add_ serial"
        for label, in_f, out_f, lead in s["cases"]:
            row = ctx.arm(
                f"{device.type}/{label}",
                lambda c=label, i=in_f, o=out_f, ld=tuple(lead), d=device, acc=accumulation: {
                    "device": _device_name(d),
                    "device_kind": d.type,
                    "case": c,
                    "kat_accumulation": acc,
                    **bench_case(i, o, ld, s["reps"], d),
                },
                seed=0,
            )
            row["float64_grad_error"] = error64
            ctx.log(
                f"[{row['device']}] {label}: step {row['step_flashkat_ms']:.2f} ms vs KAT-style "
                f"{row['step_kat_ms']:.2f} ms ({row['step_speedup']:.2f}x), rational fwd+bwd "
                f"{row['rational_speedup']:.2f}x, grad errors {row['grad_error_flashkat']:.1e} / "
                f"{row['grad_error_kat']:.1e}"
            )
            table.append(row)
    note = (
        f"Median of {s['reps']} interleaved rounds after a warm-up. Load average before the run "
        f"{tuple(round(v, 2) for v in load_before)}, after {tuple(round(v, 2) for v in os.getloadavg())} (a shared "
        "machine makes timings noisy; ratios are taken within each round). Gradients: float32 tolerance "
        f"{GRAD_TOLERANCE} relative to the largest entry; float64 check {error64:.1e}."
    )
    return Evidence(
        table,
        table,
        [note] + ([] if len(devices) > 1 else ["No CUDA GPU here: KAT's atomics on a GPU are not measured."]),
    )


def verdict(table: list[dict]) -> tuple[str, str]:
    """On each device the block-reduced backward is "large"-ly faster when at every size the median
    per-round step speed-up over the per-element (KAT) backward is at least ``LARGE`` and its lower
    quartile above 1, and "faster" when the lower quartile is above 1 at every size. Reproduced:
    large on every device, a CUDA GPU among them (the paper's setting). Partly: faster on every
    device, or large on some. Not reproduced otherwise. When either custom backward disagrees with
    autograd the comparison measures a bug here, not the paper: not checkable here."""
    bad = [
        f"{row['case']} ({row['device']})"
        for row in table
        if not (row["grad_error_flashkat"] <= GRAD_TOLERANCE and row["grad_error_kat"] <= GRAD_TOLERANCE)
    ]  # NaN is bad too
    error64 = max(row["float64_grad_error"] for row in table)
    if bad or not error64 <= FLOAT64_TOLERANCE:
        return "not checkable here", (
            f"a custom rational backward disagrees with autograd (cases {', '.join(bad) or 'float64 check'}; "
            f"float64 error {error64:.1e}): an implementation fault in mlpzoo.layers.kan, "
            "so the speed comparison says nothing about the claim."
        )
    findings, large, faster = [], [], []
    devices = list(dict.fromkeys(row["device"] for row in table))
    for device in devices:
        rows = [row for row in table if row["device"] == device]
        ratios = [row["step_speedup"] for row in rows]
        large.append(all(r["step_speedup"] >= LARGE and r["step_speedup_q25"] > 1.0 for r in rows))
        faster.append(all(r["step_speedup_q25"] > 1.0 for r in rows))
        findings.append(
            f"{device}: layer training step {min(ratios):.2f}x to {max(ratios):.2f}x faster than with KAT's "
            f"per-element accumulation (median {statistics.median(ratios):.2f}x over {len(rows)} sizes; lowest "
            f"lower quartile {min(r['step_speedup_q25'] for r in rows):.2f}x), rational alone "
            f"{min(r['rational_speedup'] for r in rows):.2f}x to {max(r['rational_speedup'] for r in rows):.2f}x"
        )
    gpu = any(row["device_kind"] == "cuda" for row in table)
    if all(large) and gpu:
        outcome = "reproduced"
    elif all(faster) or any(large):
        outcome = "partly reproduced"
    else:
        outcome = "not reproduced"
    cuda = (
        "" if gpu else " No CUDA GPU was measured, so the paper's setting (GPU atomics) is not checked: at most partly."
    )
    return outcome, "; ".join(findings) + f"; gradients agree.{cuda}"
