"""GR-KAN timing: FlashKAT-style block-reduced backward vs plain autograd vs Linear + GELU.

    python benchmarks/bench_grkan.py [--threads 2 [1]] [--reps 15] [--no-fused]

Layers (float32, same in/out): ``GRKANLinear`` (custom backward, eager ops),
``GRKANLinear(fused=True)`` (the same backward as ``torch.compile`` kernels, see
``mlpzoo.layers.kan.fused``), ``GRKANLinear(naive=True)`` (``naive_group_rational``, autograd
differentiates KAT-style stacked powers) and ``nn.Linear + nn.GELU``. The fused layer's first
forward+backward (which compiles, or loads inductor's on-disk cache) is timed apart as
``fused_first_call_ms``. Per shape: median (and min) ms of forward and of forward+backward, plus
the backward alone of the group rational (``autograd.grad`` on a kept graph). The variants are
timed in interleaved rounds so a background load hits them alike. Writes
benchmarks/out/grkan.json (results keyed by device and thread count) and prints a table; times
CUDA too when ``torch.cuda.is_available()``. On a shared, loaded machine 2 threads can be far
slower than 1 (every op's thread barrier waits for a descheduled thread), so ``--threads 2 1``
records both in one run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from mlpzoo.layers.kan.rational import GRKANLinear, group_rational, naive_group_rational

OUT = Path(__file__).resolve().parent / "out"
# (name, in, out, leading shape of the input)
CASES = [
    ("64x64 b4096", 64, 64, (4096,)),
    ("256x256 b1024", 256, 256, (1024,)),
    ("1000x1000 b100", 1000, 1000, (100,)),
    ("KAT tokens 64x197x384", 384, 384, (64, 197)),
]
# The reference figures (median fwd+bwd ms): KAT's pure-torch group rational + Linear
# and Linear + SiLU, for the first three cases.
REFERENCE = {"kat_torch_rational_linear": [9.8, 14.3, 11.4], "linear_silu": [1.4, 3.0, 4.4]}


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def _timer(fn, device):
    def run():
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        return (time.perf_counter() - start) * 1e3

    return run


def bench_case(in_f, out_f, lead, reps, device, groups=8, fused=True):
    torch.manual_seed(0)
    x = torch.randn(*lead, in_f, device=device)
    models = {
        "grkan_custom": GRKANLinear(in_f, out_f, groups=groups).to(device),
        "grkan_naive": GRKANLinear(in_f, out_f, groups=groups, naive=True).to(device),
        "linear_gelu": nn.Sequential(nn.Linear(in_f, out_f), nn.GELU()).to(device),
    }
    models["grkan_naive"].load_state_dict(models["grkan_custom"].state_dict())
    xg = x.clone().requires_grad_()
    grad_y = torch.randn(*lead, out_f, device=device)
    first_call = {}
    if fused:
        models["grkan_fused"] = GRKANLinear(in_f, out_f, groups=groups, fused=True).to(device)
        models["grkan_fused"].load_state_dict(models["grkan_custom"].state_dict())
        first_call = {"fused_first_call_ms": _timer(lambda: models["grkan_fused"](xg).backward(grad_y), device)()}
    a = models["grkan_custom"].rational.a
    b = models["grkan_custom"].rational.b
    grad_r = torch.randn_like(x)
    graphs = {
        "custom": group_rational(xg, a, b, groups),
        "naive": naive_group_rational(xg, a, b, groups),
    }
    if fused:
        graphs["fused"] = group_rational(xg, a, b, groups, fused=True)

    jobs = {}
    for name, model in models.items():

        def fwd(model=model):
            with torch.no_grad():
                model(x)

        def fwd_bwd(model=model):
            model.zero_grad(set_to_none=True)
            model(xg).backward(grad_y)

        jobs[f"{name}/fwd"] = _timer(fwd, device)
        jobs[f"{name}/fwd_bwd"] = _timer(fwd_bwd, device)
    for name, y in graphs.items():

        def bwd(y=y):
            torch.autograd.grad(y, (xg, a, b), grad_r, retain_graph=True)

        jobs[f"rational_{name}/bwd"] = _timer(bwd, device)
    samples = {k: [] for k in jobs}
    for job in jobs.values():  # warm-up
        job()
        job()
    for _ in range(reps):
        for k, job in jobs.items():
            samples[k].append(job())
    res = {k: {"median_ms": statistics.median(v), "min_ms": min(v)} for k, v in samples.items()}
    return res, first_call


def summarise(res):
    med = {k: v["median_ms"] for k, v in res.items()}
    low = {k: v["min_ms"] for k, v in res.items()}
    fused = {}
    if "grkan_fused/fwd_bwd" in med:
        fused = {
            "rational_bwd_speedup_fused_vs_naive": med["rational_naive/bwd"] / med["rational_fused/bwd"],
            "rational_bwd_speedup_fused_vs_naive_min": low["rational_naive/bwd"] / low["rational_fused/bwd"],
            "fwd_bwd_ratio_fused_vs_linear_gelu": med["grkan_fused/fwd_bwd"] / med["linear_gelu/fwd_bwd"],
            "fwd_bwd_ratio_fused_vs_linear_gelu_min": low["grkan_fused/fwd_bwd"] / low["linear_gelu/fwd_bwd"],
        }
    return {
        "rational_bwd_speedup_custom_vs_naive": med["rational_naive/bwd"] / med["rational_custom/bwd"],
        "rational_bwd_speedup_custom_vs_naive_min": low["rational_naive/bwd"] / low["rational_custom/bwd"],
        "layer_bwd_speedup_custom_vs_naive": (med["grkan_naive/fwd_bwd"] - med["grkan_naive/fwd"])
        / max(med["grkan_custom/fwd_bwd"] - med["grkan_custom/fwd"], 1e-9),
        "fwd_bwd_ratio_grkan_vs_linear_gelu": med["grkan_custom/fwd_bwd"] / med["linear_gelu/fwd_bwd"],
        "fwd_bwd_ratio_grkan_vs_linear_gelu_min": low["grkan_custom/fwd_bwd"] / low["linear_gelu/fwd_bwd"],
        **fused,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[2])
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--out", type=Path, default=OUT / "grkan.json")
    parser.add_argument("--no-fused", dest="fused", action="store_false", help="skip the torch.compile variant")
    args = parser.parse_args()
    runs = [("cpu", t) for t in args.threads] + ([("cuda", args.threads[0])] if torch.cuda.is_available() else [])
    report = {
        "torch": torch.__version__,
        "threads": args.threads,
        "reps": args.reps,
        "dtype": "float32",
        "machine": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "load_average_before": os.getloadavg(),
        "reference_fwd_bwd_ms": REFERENCE,
        "results": {},
        "targets": {
            "rational_bwd_speedup_custom_vs_naive": ">= 5",
            "fwd_bwd_ratio_grkan_vs_linear_gelu": "<= 1.5",
            "rational_bwd_speedup_fused_vs_naive": ">= 5",
            "fwd_bwd_ratio_fused_vs_linear_gelu": "<= 1.5",
        },
    }
    for device_name, threads in runs:
        device = torch.device(device_name)
        torch.set_num_threads(threads)
        rows = {}
        for i, (name, in_f, out_f, lead) in enumerate(CASES):
            reps = args.reps if len(lead) == 1 or device.type == "cuda" else max(5, args.reps // 2)
            res, first_call = bench_case(in_f, out_f, lead, reps, device, fused=args.fused)
            summary = summarise(res)
            rows[name] = {"in": in_f, "out": out_f, "input_shape": [*lead, in_f], "times": res, **summary, **first_call}
            if device.type == "cpu" and i < 3:
                rows[name]["reference_fwd_bwd_ms"] = {k: v[i] for k, v in REFERENCE.items()}
            _print_row(
                f"{device.type}, {threads} threads",
                name,
                res,
                summary,
                rows[name].get("reference_fwd_bwd_ms"),
                first_call.get("fused_first_call_ms"),
            )
        report["results"][f"{device.type}/threads={threads}"] = rows
        if device.type == "cuda":
            report["cuda_device"] = torch.cuda.get_device_name()
    report["load_average_after"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print(f"load average before {report['load_average_before']}, after {report['load_average_after']}")
    print(f"wrote {args.out}")


def _print_row(device, name, res, s, ref, first_call_ms=None):
    m = {k: v["median_ms"] for k, v in res.items()}
    print(f"[{device}] {name}")
    print(
        f"  fwd ms     custom {m['grkan_custom/fwd']:8.2f}  naive {m['grkan_naive/fwd']:8.2f}"
        f"  linear+gelu {m['linear_gelu/fwd']:8.2f}"
    )
    print(
        f"  fwd+bwd ms custom {m['grkan_custom/fwd_bwd']:8.2f}  naive {m['grkan_naive/fwd_bwd']:8.2f}"
        f"  linear+gelu {m['linear_gelu/fwd_bwd']:8.2f}"
    )
    if ref:
        print(
            f"  reference fwd+bwd ms: KAT torch rational+linear {ref['kat_torch_rational_linear']},"
            f" linear+silu {ref['linear_silu']}"
        )
    print(
        f"  rational bwd ms custom {m['rational_custom/bwd']:.2f} naive {m['rational_naive/bwd']:.2f}"
        f"  speed-up {s['rational_bwd_speedup_custom_vs_naive']:.2f}x"
        f" (min-based {s['rational_bwd_speedup_custom_vs_naive_min']:.2f}x, target >= 5)"
        f"  | GR-KAN/Linear+GELU fwd+bwd {s['fwd_bwd_ratio_grkan_vs_linear_gelu']:.2f}x"
        f" (min-based {s['fwd_bwd_ratio_grkan_vs_linear_gelu_min']:.2f}x, target <= 1.5)"
    )
    if "grkan_fused/fwd_bwd" in m:
        print(
            f"  fused: fwd {m['grkan_fused/fwd']:.2f} ms, fwd+bwd {m['grkan_fused/fwd_bwd']:.2f} ms"
            f" (first call {first_call_ms:.0f} ms), rational bwd {m['rational_fused/bwd']:.2f} ms,"
            f" speed-up vs naive {s['rational_bwd_speedup_fused_vs_naive']:.2f}x"
            f" (min-based {s['rational_bwd_speedup_fused_vs_naive_min']:.2f}x)"
            f"  | fused/Linear+GELU fwd+bwd {s['fwd_bwd_ratio_fused_vs_linear_gelu']:.2f}x"
            f" (min-based {s['fwd_bwd_ratio_fused_vs_linear_gelu_min']:.2f}x)"
        )


if __name__ == "__main__":
    main()
