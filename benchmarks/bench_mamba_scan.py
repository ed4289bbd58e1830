"""Mamba's selective scan: the fused C kernel and the chunked scan against the Python loop, mamba-minimal and attention.

    python benchmarks/bench_mamba_scan.py [--lengths 1024,8192] [--channels 128] [--state 16] [--threads 1]
                                          [--repeats 5] [--chunk 64] [--reference DIR] [--clock wall|cpu]

Gu & Dao, "Mamba: Linear-Time Sequence Modeling with Selective State Spaces", 2023,
arXiv:2312.00752. For each length L, float32, CPU, batch 1, ``channels`` SSM channels
(``d_inner``) with ``state`` states each, forward and forward + backward:

- ``fused``: :func:`mlpzoo.layers.ssm.selective_scan` with the C kernel (``fused=True``).
- ``chunked``: the same function on the exact chunked scan (``fused=False``), the fallback.
- ``loop``: the naive sequential recurrence, one :func:`selective_state_update` per token in a
  Python loop (backward by autograd through it), the baseline of the ">= 10x at L = 1024" goal.
- ``minimal``: ``MambaBlock.selective_scan`` of johnma2006/mamba-minimal, imported from ``--reference``
  (a checkout of that repository, or ``$MAMBA_MINIMAL``; it needs ``einops`` on the path), never
  from this repository. Its outputs are asserted equal to ours with the same inputs; its backward
  (quadratic in L) is timed up to L = 2048 only.
- ``attention``: causal ``scaled_dot_product_attention`` with 4 heads over the same width
  (projections excluded on both sides).

Times are medians of ``--repeats`` runs after warm-up (``--clock cpu``: thread CPU time, for
indicative numbers on a loaded machine). Memory: bytes autograd saves for backward, and the peak
resident memory of a separate process running one fused forward + backward at the largest L
(Linux ``VmHWM`` after a reset through ``/proc/self/clear_refs``). Writes benchmarks/out/mamba_scan.json
(or ``--out``) with the goals rows that benchmarks/run_all.py tabulates.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import subprocess
import sys
from pathlib import Path

import timing
import torch
import torch.nn.functional as F
from timing import goal, median_seconds

from mlpzoo.layers.ssm import selective_scan, selective_state_update
from mlpzoo.layers.ssm_kernel import kernel_status

OUT = Path(__file__).resolve().parent / "out"
LENGTHS = (256, 512, 1024, 2048, 4096, 8192)
HEADS = 4
# mamba-minimal's backward is quadratic in L (autograd of each ``deltaA[:, i]`` writes a zero-filled
# (b, L, d, n) gradient): ~20 s per pass at L = 1024, hours at 8192. Its forward is timed at every L.
MINIMAL_BACKWARD_MAX = 2048


def inputs(length: int, channels: int, state: int, grad: bool = False) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(length)
    tensors = {
        "u": torch.randn(1, length, channels, generator=gen),
        "delta": F.softplus(torch.randn(1, length, channels, generator=gen) - 2),
        "A": -torch.arange(1, state + 1, dtype=torch.float32).repeat(channels, 1),
        "B": torch.randn(1, length, state, generator=gen),
        "C": torch.randn(1, length, state, generator=gen),
        "D": torch.ones(channels),
    }
    return {k: v.requires_grad_(grad and k != "A") for k, v in tensors.items()}


def scan(t: dict, chunk: int, fused: bool) -> torch.Tensor:
    return selective_scan(t["u"], t["delta"], t["A"], t["B"], t["C"], t["D"], chunk_size=chunk, fused=fused)


def loop(t: dict) -> torch.Tensor:
    u, delta, A, B, C, D = (t[k] for k in ("u", "delta", "A", "B", "C", "D"))
    state = u.new_zeros(1, A.shape[0], A.shape[1])
    outputs = []
    for i in range(u.shape[1]):
        y, state = selective_state_update(state, u[:, i], delta[:, i], A, B[:, i, None], C[:, i, None], D)
        outputs.append(y)
    return torch.stack(outputs, 1)


def load_minimal(path: str | None):
    """mamba-minimal's ``MambaBlock.selective_scan`` from a checkout outside this repository, or None."""
    path = path or os.environ.get("MAMBA_MINIMAL")
    if not path:
        return None
    spec = importlib.util.spec_from_file_location("mamba_minimal_model", Path(path) / "model.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    # A method that never reads self: call it unbound on the same (u, delta, A, B, C, D).
    return lambda t: module.MambaBlock.selective_scan(None, t["u"], t["delta"], t["A"], t["B"], t["C"], t["D"])


def check_equal(t: dict, chunk: int, minimal) -> dict:
    """Largest absolute difference of the fused scan to the loop and to mamba-minimal; asserts <= 1e-4."""
    with torch.no_grad():
        ours = scan(t, chunk, True)
        diffs = {
            "loop": (ours - loop(t)).abs().max().item(),
            "chunked": (ours - scan(t, chunk, False)).abs().max().item(),
        }
        if minimal is not None:
            diffs["minimal"] = (ours - minimal(t)).abs().max().item()
    scale = max(1.0, ours.abs().max().item())
    for name, diff in diffs.items():
        assert diff <= 1e-4 * scale, f"fused scan differs from {name} by {diff:.2e}"
    return diffs


def attention_inputs(length: int, channels: int, grad: bool = False) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(length)
    return [torch.randn(1, HEADS, length, channels // HEADS, generator=gen).requires_grad_(grad) for _ in range(3)]


def attention(q, k, v) -> torch.Tensor:
    return F.scaled_dot_product_attention(q, k, v, is_causal=True)


def saved_bytes(fn) -> int:
    total = 0

    def pack(t):
        nonlocal total
        total += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return total


def peak_child(kind: str, length: int, args) -> dict:
    """Run one forward + backward in a fresh process; its resident-memory growth in MiB."""
    cmd = [
        sys.executable,
        __file__,
        "--peak-kind",
        kind,
        "--lengths",
        str(length),
        "--channels",
        str(args.channels),
        "--state",
        str(args.state),
        "--chunk",
        str(args.chunk),
        "--threads",
        str(args.threads),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def _resident_peak_kib() -> int:
    """Peak resident set size of this process (VmHWM), in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def run_peak(kind: str, length: int, args) -> None:
    if kind == "scan":
        tensors = inputs(length, args.channels, args.state, grad=True)

        def step():
            return scan(tensors, args.chunk, True).sum().backward()
    else:
        qkv = attention_inputs(length, args.channels, grad=True)

        def step():
            return attention(*qkv).sum().backward()

    current = int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    Path("/proc/self/clear_refs").write_text("5")  # Linux: reset the peak (VmHWM) to the current size
    step()
    peak = _resident_peak_kib()
    print(
        json.dumps(
            {
                "kind": kind,
                "length": length,
                "peak_growth_mib": (peak - current) / 1024,
                "process_peak_mib": peak / 1024,
            }
        )
    )


def fwd_bwd(fn, tensors):
    def step():
        out = fn(tensors)
        out.sum().backward()
        for t in tensors.values():
            t.grad = None

    return step


def measure(length: int, args, minimal) -> dict:
    """Forward and forward + backward seconds of every variant at one length, and saved-for-backward bytes."""
    t = inputs(length, args.channels, args.state)
    tg = inputs(length, args.channels, args.state, grad=True)
    qkv, qkv_g = attention_inputs(length, args.channels), attention_inputs(length, args.channels, grad=True)
    variants = {
        "fused": lambda x: scan(x, args.chunk, True),
        "chunked": lambda x: scan(x, args.chunk, False),
        "loop": loop,
    }
    if minimal is not None:
        variants["minimal"] = minimal
    slow = max(1, args.repeats // 2)  # the Python loop takes seconds at L = 8192
    row = {"length": length, "max_abs_diff": check_equal(t, args.chunk, minimal), "fwd_s": {}, "fwd_bwd_s": {}}
    for name, fn in variants.items():
        repeats, warmup = (slow, 1) if name in ("loop", "minimal") else (args.repeats, 2)
        with torch.no_grad():
            row["fwd_s"][name] = median_seconds(lambda fn=fn: fn(t), repeats, warmup)
        if name == "minimal" and length > MINIMAL_BACKWARD_MAX:
            continue
        row["fwd_bwd_s"][name] = median_seconds(fwd_bwd(fn, tg), repeats, warmup)
    with torch.no_grad():
        row["fwd_s"]["attention"] = median_seconds(lambda: attention(*qkv), args.repeats)
    row["fwd_bwd_s"]["attention"] = median_seconds(lambda: attention(*qkv_g).sum().backward(), args.repeats)
    row["saved_bytes"] = {
        "fused": saved_bytes(lambda: scan(tg, args.chunk, True)),
        "chunked": saved_bytes(lambda: scan(tg, args.chunk, False)),
        "attention": saved_bytes(lambda: attention(*qkv_g)),
    }
    return row


def print_row(row: dict) -> None:
    for pass_name in ("fwd_s", "fwd_bwd_s"):
        times = row[pass_name]
        cells = "".join(f"{name} {row['length'] / sec:>10.0f}   " for name, sec in times.items())
        speedups = ", ".join(f"{times[name] / times['fused']:.1f}x {name}" for name in times if name != "fused")
        print(f"L={row['length']:>5} {pass_name[:-2]:<8} tokens/s: {cells}| fused is {speedups}")
    print(
        "        saved for backward MiB: "
        + ", ".join(f"{k} {v / 2**20:.1f}" for k, v in row["saved_bytes"].items())
        + "; max |fused - other|: "
        + ", ".join(f"{k} {v:.1e}" for k, v in row["max_abs_diff"].items())
    )


def goals(rows: list[dict]) -> list[dict]:
    out = []
    for row in rows:
        if row["length"] not in (1024, 8192):
            continue
        for pass_name, label in (("fwd_s", "fwd"), ("fwd_bwd_s", "fwd+bwd")):
            times = row[pass_name]
            out.append(
                goal(
                    f"Mamba scan {label} L={row['length']}: fused vs Python loop", times["loop"] / times["fused"], 10.0
                )
            )
            if "minimal" in times:
                out.append(
                    goal(
                        f"Mamba scan {label} L={row['length']}: fused vs mamba-minimal (information)",
                        times["minimal"] / times["fused"],
                        1.0,
                    )
                )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", default=",".join(map(str, LENGTHS)))
    parser.add_argument("--channels", type=int, default=128, help="SSM channels d_inner (Mamba d_model 64, expand 2)")
    parser.add_argument("--state", type=int, default=16)
    parser.add_argument("--chunk", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--reference", help="a checkout of johnma2006/mamba-minimal (default: $MAMBA_MINIMAL)")
    parser.add_argument("--clock", choices=sorted(timing.CLOCKS), default="wall")
    parser.add_argument("--no-peak", action="store_true", help="skip the peak-memory subprocesses")
    parser.add_argument("--out", default=str(OUT / "mamba_scan.json"))
    parser.add_argument("--peak-kind", choices=("scan", "attention"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    timing.use_clock(args.clock)
    lengths = [int(v) for v in args.lengths.split(",")]
    if args.peak_kind:
        run_peak(args.peak_kind, lengths[0], args)
        return
    status = kernel_status()
    if not status["built"]:
        sys.exit(f"the fused scan kernel is not available: {status['reason']}")
    minimal = load_minimal(args.reference)
    load_before = timing.load()
    print(
        f"kernel: {status['reason']}; mamba-minimal: {'loaded' if minimal else 'not given (--reference)'}; "
        f"clock {args.clock}; load {load_before['load1']:.2f} on {load_before['cpus']} CPUs"
    )
    rows = []
    for length in lengths:
        rows.append(measure(length, args, minimal))
        print_row(rows[-1])
    peaks = {} if args.no_peak else {kind: peak_child(kind, max(lengths), args) for kind in ("scan", "attention")}
    for kind, peak in peaks.items():
        print(f"peak resident growth, fwd+bwd at L={peak['length']}: {kind} {peak['peak_growth_mib']:.0f} MiB")
    summary = {
        "channels": args.channels,
        "state": args.state,
        "chunk": args.chunk,
        "threads": args.threads,
        "repeats": args.repeats,
        "clock": args.clock,
        "kernel": status,
        "torch": torch.__version__,
        "machine": platform.processor() or platform.machine(),
        "load_before": load_before,
        "load_after": timing.load(),
        "results": rows,
        "peak": peaks,
        "goals": goals(rows),
    }
    for row in summary["goals"]:
        print(
            f"{row['goal']}: {row['measured']:.1f}x (goal >= {row['target']:g}) {'PASS' if row['passed'] else 'FAIL'}"
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2))
    print(f"load average before {load_before['load1']:.2f}, after {summary['load_after']['load1']:.2f}; wrote {out}")


if __name__ == "__main__":
    main()
