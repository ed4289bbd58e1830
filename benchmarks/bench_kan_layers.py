"""Speed and saved-for-backward memory of the KAN layers against MLP layers and a naive B-spline KAN.

    python benchmarks/bench_kan_layers.py [--repeats 11] [--threads 2] [--sizes 64,64,4096 ...] [--no-fused]

For each (in, out, batch), float32, CPU, ``torch.set_num_threads(threads)``: median wall time (ms)
of a forward (autograd recording) and of forward + backward (``out.sum().backward()``, grads
set to None first) over ``--repeats`` runs after three warm-up runs; the minimum is recorded too. The input requires
grad, as it does
for a hidden layer, so every layer computes its input gradient. Layers:

- ``bspline``: BSplineKANLinear (G=5, k=3), ``bspline_fused``: the same with ``fused=True`` (dense
  basis and its input gradient as ``torch.compile`` kernels; its first forward+backward, which
  compiles or loads inductor's disk cache, is reported as ``first_call_ms``), ``rbf``: RBFKANLinear
  (8 centres), ``relu_kan``: ReLUKANLinear (G=5, k=3).
- ``efficient_kan``: efficient-kan's own ``KANLinear`` (Blealtan/efficient-kan), imported from the
  checkout given by ``--efficient-kan DIR`` (or ``$EFFICIENT_KAN``), never from this repository, with
  ``bspline``'s weights copied in; outputs are asserted equal. The ">= 3x faster than efficient-kan"
  goals are read against it.
- ``fastkan``: FastKAN's own ``FastKANLayer`` (ZiyaoLi/fast-kan: LayerNorm, 8 Gaussian RBFs, base
  branch), imported from ``--fastkan DIR`` (or ``$FASTKAN``): a timing reference at the same shape
  (another parametrisation, so no output check); information only.
- ``dense_floor``: fwd+bwd of the matrix product alone in efficient-kan's spline shape,
  ``(B, (G + k) in) @ ((G + k) in, out)`` with gradients for both operands: the floor of the dense
  parametrisation, the "within 1.3x" goal at (1000, 1000, 100).
- ``naive_dense``: efficient-kan's approach written here (dense Cox-de Boor bases, one matmul),
  kept for runs without the reference checkout.
- ``linear_silu``: ``nn.Sequential(nn.Linear(in, out), nn.SiLU())``.
- ``mlp_eq[layer]``: ``Linear(in, h) -> SiLU -> Linear(h, out)`` with ``h`` chosen so its
  parameter count matches that KAN layer's (the "MLP layer of equal parameters").

``bspline`` is the eager default path: on CPU its spline branch runs the sparse C kernel of
``bspline_kernel.c`` (cubic: rows sorted per input by interval, whole layout up to ``SPARSE_MAX_BYTES``,
chunks of outputs above it from ``CHUNKED_MIN_ROWS`` rows on), the dense product otherwise: so the sparse
kernel at (64, 64, 4096) and (256, 256, 1024), the dense product at (1000, 1000, 100). ``--clock cpu``
times thread CPU time (indicative numbers on a loaded machine; with ``--threads 1`` only).

Saved bytes: total size of the tensors autograd saves during one forward
(``saved_tensors_hooks``), parameter-sized ones included, and the part with a batch dimension
("act"). The issue's reference figures (median
fwd+bwd on its machine) are printed beside. Writes benchmarks/out/kan_layers.json (or ``--out``).

With fewer free cores than threads (check ``uptime``), each multi-threaded op waits for a
descheduled thread and times inflate by whole scheduler ticks, most for the layers with the most
ops; ``--threads 1`` then gives the meaningful comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import timing
import torch
import torch.nn.functional as F
from timing import goal, timed_ms
from torch import nn

from mlpzoo.layers.kan import BSplineKANLinear, RBFKANLinear, ReLUKANLinear

OUT = Path(__file__).resolve().parent / "out"
SIZES = [(64, 64, 4096), (256, 256, 1024), (1000, 1000, 100)]
REFERENCE_MS = {  # the figures, median fwd+bwd, G=5 k=3, at SIZES
    "efficient-kan KANLinear": (97, 105, 150),
    "FastKAN": (28, 36, 43),
    "pykan": (650, 2150, 2930),
    "Linear+SiLU": (1.4, 3.0, 4.4),
}


class NaiveDenseKAN(nn.Module):
    """efficient-kan's KANLinear forward: dense Cox-de Boor bases, one matmul, plain autograd."""

    def __init__(self, in_features, out_features, grid_size=5, spline_order=3, grid_range=(-1.0, 1.0)):
        super().__init__()
        self.grid_size, self.spline_order = grid_size, spline_order
        h = (grid_range[1] - grid_range[0]) / grid_size
        knots = torch.arange(-spline_order, grid_size + spline_order + 1) * h + grid_range[0]
        self.register_buffer("grid", knots.expand(in_features, -1).contiguous())
        self.base_weight = nn.Parameter(torch.empty(out_features, in_features))
        self.spline_weight = nn.Parameter(torch.randn(out_features, in_features, grid_size + spline_order) * 0.01)
        self.spline_scaler = nn.Parameter(torch.empty(out_features, in_features))
        nn.init.kaiming_uniform_(self.base_weight, a=5**0.5)
        nn.init.kaiming_uniform_(self.spline_scaler, a=5**0.5)

    def b_splines(self, x):
        grid = self.grid
        x = x.unsqueeze(-1)
        bases = ((x >= grid[:, :-1]) & (x < grid[:, 1:])).to(x.dtype)
        for k in range(1, self.spline_order + 1):
            bases = (x - grid[:, : -(k + 1)]) / (grid[:, k:-1] - grid[:, : -(k + 1)]) * bases[:, :, :-1] + (
                grid[:, k + 1 :] - x
            ) / (grid[:, k + 1 :] - grid[:, 1:(-k)]) * bases[:, :, 1:]
        return bases

    def forward(self, x):
        base = F.linear(F.silu(x), self.base_weight)
        scaled = self.spline_weight * self.spline_scaler.unsqueeze(-1)
        spline = F.linear(self.b_splines(x).view(x.shape[0], -1), scaled.view(scaled.shape[0], -1))
        return base + spline


def load_efficient_kan(path: str | None):
    """efficient-kan's ``KANLinear`` class from a checkout outside this repository, or None."""
    path = path or os.environ.get("EFFICIENT_KAN")
    if not path:
        return None
    sys.path.insert(0, str(Path(path) / "src"))
    from efficient_kan import KANLinear

    return KANLinear


def efficient_kan_like(kan_linear, ours: BSplineKANLinear) -> nn.Module:
    """efficient-kan's layer holding ``ours``' weights (its spline weight is ``(out, in, G + k)``)."""
    ref = kan_linear(ours.in_features, ours.out_features, grid_size=ours.grid_size, spline_order=ours.spline_order)
    with torch.no_grad():
        ref.base_weight.copy_(ours.base.weight)
        ref.spline_weight.copy_(ours.spline_weight.transpose(1, 2))
        ref.spline_scaler.copy_(ours.spline_scaler)
    return ref


def load_fastkan(path: str | None):
    """FastKAN's ``FastKANLayer`` class from a checkout outside this repository, or None."""
    path = path or os.environ.get("FASTKAN")
    if not path:
        return None
    sys.path.insert(0, str(Path(path)))
    from fastkan import FastKANLayer

    return FastKANLayer


class DenseFloor(nn.Module):
    """Only efficient-kan's spline product, ``bases (B, (G + k) in) @ weight^T``, both operands trainable."""

    def __init__(self, in_features: int, out_features: int, batch: int, n_bases: int = 8):
        super().__init__()
        self.bases = nn.Parameter(torch.rand(batch, n_bases * in_features))
        self.weight = nn.Parameter(torch.randn(out_features, n_bases * in_features) * 0.01)

    def forward(self, x):
        return F.linear(self.bases, self.weight)


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def equal_param_mlp(in_features: int, out_features: int, params: int) -> nn.Module:
    hidden = max(1, round((params - out_features) / (in_features + out_features + 1)))
    return nn.Sequential(nn.Linear(in_features, hidden), nn.SiLU(), nn.Linear(hidden, out_features))


def saved_bytes(module: nn.Module, x: torch.Tensor) -> tuple[int, int]:
    """Bytes autograd saves in one forward: all of them, and those with a batch dimension (the first or,
    for the cubic kernel's per-input sorted bases, the second)."""
    total = per_batch = 0

    def pack(t):
        nonlocal total, per_batch
        total += t.numel() * t.element_size()
        if x.shape[0] in t.shape[:2]:
            per_batch += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        module(x)
    return total, per_batch


def bench_module(module: nn.Module, x: torch.Tensor, repeats: int) -> dict:
    def fwd():
        module(x)

    def fwd_bwd():
        module.zero_grad(set_to_none=True)
        x.grad = None
        module(x).sum().backward()

    start = time.perf_counter()
    fwd_bwd()  # compiles a fused layer's kernels (or loads them from inductor's cache)
    first_call_ms = (time.perf_counter() - start) * 1e3
    total, per_batch = saved_bytes(module, x)
    fwd_ms, fwd_min = timed_ms(fwd, repeats)
    fwd_bwd_ms, fwd_bwd_min = timed_ms(fwd_bwd, repeats)
    return {
        "params": n_params(module),
        "fwd_ms": fwd_ms,
        "fwd_bwd_ms": fwd_bwd_ms,
        "fwd_min_ms": fwd_min,
        "fwd_bwd_min_ms": fwd_bwd_min,
        "saved_bytes": total,
        "saved_activation_bytes": per_batch,
        "first_call_ms": first_call_ms,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=11)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sizes", nargs="*", default=None, help="in,out,batch triples")
    parser.add_argument("--out", default=str(OUT / "kan_layers.json"), help="where the JSON goes")
    parser.add_argument("--no-fused", dest="fused", action="store_false", help="skip BSplineKANLinear(fused=True)")
    parser.add_argument("--efficient-kan", help="a checkout of Blealtan/efficient-kan (default: $EFFICIENT_KAN)")
    parser.add_argument("--fastkan", help="a checkout of ZiyaoLi/fast-kan (default: $FASTKAN)")
    parser.add_argument("--clock", choices=sorted(timing.CLOCKS), default="wall")
    parser.add_argument("--only-bspline", action="store_true", help="skip the RBF, ReLU-KAN and MLP rows")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    timing.use_clock(args.clock)
    kan_linear, fastkan_layer = load_efficient_kan(args.efficient_kan), load_fastkan(args.fastkan)
    sizes = [tuple(int(v) for v in s.split(",")) for s in args.sizes] if args.sizes else SIZES
    load_before = os.getloadavg()
    results = []
    for index, (n_in, n_out, batch) in enumerate(sizes):
        torch.manual_seed(0)
        layers = {
            "bspline": BSplineKANLinear(n_in, n_out),
            **({"bspline_fused": BSplineKANLinear(n_in, n_out, fused=True)} if args.fused else {}),
            "naive_dense": NaiveDenseKAN(n_in, n_out),
            "dense_floor": DenseFloor(n_in, n_out, batch),
            "linear_silu": nn.Sequential(nn.Linear(n_in, n_out), nn.SiLU()),
        }
        if kan_linear is not None:
            layers["efficient_kan"] = efficient_kan_like(kan_linear, layers["bspline"])
        if fastkan_layer is not None:
            layers["fastkan"] = fastkan_layer(n_in, n_out)
        if args.fused:
            layers["bspline_fused"].load_state_dict(layers["bspline"].state_dict())
        if not args.only_bspline:
            layers["rbf"], layers["relu_kan"] = RBFKANLinear(n_in, n_out), ReLUKANLinear(n_in, n_out)
            for name in ("bspline", "rbf", "relu_kan"):
                layers[f"mlp_eq[{name}]"] = equal_param_mlp(n_in, n_out, n_params(layers[name]))
        # Inputs spread over, and a little past, the grids of the spline layers.
        x = (torch.rand(batch, n_in) * 2.2 - 1.1).requires_grad_()
        x_relu = (torch.rand(batch, n_in) * 1.1 - 0.05).requires_grad_()
        row = {"in": n_in, "out": n_out, "batch": batch, "layers": {}}
        if kan_linear is not None:
            with torch.no_grad():
                ours, theirs = layers["bspline"](x), layers["efficient_kan"](x)
            row["max_abs_diff_efficient_kan"] = (ours - theirs).abs().max().item()
            assert torch.allclose(ours, theirs, atol=1e-5, rtol=1e-5), "bspline and efficient-kan outputs differ"
        for name, module in layers.items():
            row["layers"][name] = bench_module(module, x_relu if name == "relu_kan" else x, args.repeats)
        times = {name: r["fwd_bwd_ms"] for name, r in row["layers"].items()}
        row["bspline_speedup_vs_naive_dense"] = times["naive_dense"] / times["bspline"]
        row["bspline_over_linear_silu"] = times["bspline"] / times["linear_silu"]
        row["bspline_over_dense_floor"] = times["bspline"] / times["dense_floor"]
        if "efficient_kan" in times:
            row["bspline_speedup_vs_efficient_kan"] = times["efficient_kan"] / times["bspline"]
        if "fastkan" in times:
            row["bspline_speedup_vs_fastkan"] = times["fastkan"] / times["bspline"]
        if "mlp_eq[bspline]" in times:
            row["bspline_over_mlp_eq"] = times["bspline"] / times["mlp_eq[bspline]"]
        if args.fused:
            row["bspline_fused_speedup_vs_naive_dense"] = times["naive_dense"] / times["bspline_fused"]
        row["reference_fwd_bwd_ms"] = {k: v[index] if index < len(v) else None for k, v in REFERENCE_MS.items()}
        results.append(row)
        print_row(row)
    summary = {
        "threads": args.threads,
        "repeats": args.repeats,
        "clock": args.clock,
        "efficient_kan": args.efficient_kan or os.environ.get("EFFICIENT_KAN"),
        "goals": goals(results),
        "torch": torch.__version__,
        "machine": platform.processor() or platform.machine(),
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
        "results": results,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2))
    print(f"load average before {load_before[0]:.2f}, after {summary['loadavg_after'][0]:.2f}; wrote {out}")


def goals(results: list[dict]) -> list[dict]:
    """The issue's goals: >= 3x efficient-kan at the first two sizes, <= 1.3x the dense floor at the third."""
    out = []
    for row in results:
        shape = (row["in"], row["out"], row["batch"])
        if shape in SIZES[:2] and "bspline_speedup_vs_efficient_kan" in row:
            out.append(
                goal(
                    f"B-spline KAN fwd+bwd {shape}: speed-up vs efficient-kan",
                    row["bspline_speedup_vs_efficient_kan"],
                    3.0,
                )
            )
        if "bspline_speedup_vs_fastkan" in row:
            out.append(
                goal(
                    f"B-spline KAN fwd+bwd {shape}: speed-up vs FastKAN's layer (information)",
                    row["bspline_speedup_vs_fastkan"],
                    1.0,
                )
            )
        if shape == SIZES[2]:
            out.append(
                goal(
                    f"B-spline KAN fwd+bwd {shape}: time / dense product floor",
                    row["bspline_over_dense_floor"],
                    1.3,
                    higher_is_better=False,
                    note="the issue's alternative to 1.3x is a profile explaining why not: benchmarks/README.md, "
                    "'Why (1000, 1000, 100) misses 1.3x the dense floor'",
                )
            )
            if "bspline_speedup_vs_efficient_kan" in row:
                out.append(
                    goal(
                        f"B-spline KAN fwd+bwd {shape}: speed-up vs efficient-kan (information)",
                        row["bspline_speedup_vs_efficient_kan"],
                        1.0,
                    )
                )
    return out


def print_row(row: dict) -> None:
    print(f"\n(in, out, batch) = ({row['in']}, {row['out']}, {row['batch']})")
    print(
        f"{'layer':<20}{'params':>10}{'fwd ms':>10}{'fwd+bwd ms':>12}{'(min)':>8}{'saved MB':>10}{'of which act':>14}"
    )
    for name, r in row["layers"].items():
        print(
            f"{name:<20}{r['params']:>10}{r['fwd_ms']:>10.1f}{r['fwd_bwd_ms']:>12.1f}{r['fwd_bwd_min_ms']:>8.1f}"
            f"{r['saved_bytes'] / 2**20:>10.2f}{r['saved_activation_bytes'] / 2**20:>14.2f}"
        )
    if "bspline_speedup_vs_efficient_kan" in row:
        print(
            f"bspline fwd+bwd: {row['bspline_speedup_vs_efficient_kan']:.2f}x faster than efficient-kan's KANLinear "
            f"(outputs equal to {row['max_abs_diff_efficient_kan']:.1e})"
        )
    print(
        f"bspline fwd+bwd: {row['bspline_speedup_vs_naive_dense']:.2f}x faster than naive_dense, "
        f"{row['bspline_over_dense_floor']:.2f}x the dense product floor, {row['bspline_over_linear_silu']:.1f}x "
        "linear_silu" + (f", {row['bspline_over_mlp_eq']:.2f}x mlp_eq[bspline]" if "bspline_over_mlp_eq" in row else "")
    )
    if "bspline_fused_speedup_vs_naive_dense" in row:
        print(
            f"bspline_fused fwd+bwd: {row['bspline_fused_speedup_vs_naive_dense']:.2f}x faster than naive_dense; "
            f"first call {row['layers']['bspline_fused']['first_call_ms']:.0f} ms"
        )
    refs = ", ".join(f"{k} {v}" for k, v in row["reference_fwd_bwd_ms"].items() if v is not None)
    print(f"issue's reference fwd+bwd ms: {refs}")


if __name__ == "__main__":
    main()
