"""Mamba's chunked selective scan against the token-by-token Python loop and causal attention.

    python benchmarks/bench_mamba_scan.py [--lengths 256,512,...,8192] [--channels 128] [--state 16]
                                          [--threads 1] [--repeats 5] [--chunk 64]

Gu & Dao, "Mamba: Linear-Time Sequence Modeling with Selective State Spaces", 2023,
arXiv:2312.00752. For each length L, float32, CPU, batch 1, ``channels`` SSM channels
(``d_inner``) with ``state`` states each:

- ``scan``: :func:`mlpzoo.layers.ssm.selective_scan` over the whole sequence (forward, and
  forward + backward).
- ``loop``: the naive sequential recurrence, one :func:`selective_state_update` per token in a
  Python loop (what generation does; forward only), the baseline of the ">= 10x at L = 1024" target.
- ``attention``: causal ``scaled_dot_product_attention`` with 4 heads over the same width
  (projections excluded on both sides), forward and forward + backward.

Tokens/s use the median of ``--repeats`` runs after one warm-up. Memory: bytes autograd saves
for backward at every L (``saved_tensors_hooks``), and the peak resident memory of a separate
process running one forward + backward at the largest L (Linux ``VmHWM`` after resetting it
through ``/proc/self/clear_refs``, minus the resident memory before the step). Writes benchmarks/out/mamba_scan.json (or ``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from timing import median_seconds  # noqa: E402

from mlpzoo.layers.ssm import selective_scan, selective_state_update

OUT = Path(__file__).resolve().parent / "out"
LENGTHS = (256, 512, 1024, 2048, 4096, 8192)
HEADS = 4


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


def scan(t: dict, chunk: int) -> torch.Tensor:
    return selective_scan(t["u"], t["delta"], t["A"], t["B"], t["C"], t["D"], chunk_size=chunk)


def loop(t: dict) -> torch.Tensor:
    u, delta, A, B, C, D = (t[k] for k in ("u", "delta", "A", "B", "C", "D"))
    state = u.new_zeros(1, A.shape[0], A.shape[1])
    outputs = []
    for i in range(u.shape[1]):
        y, state = selective_state_update(state, u[:, i], delta[:, i], A, B[:, i, None], C[:, i, None], D)
        outputs.append(y)
    return torch.stack(outputs, 1)


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
    cmd = [sys.executable, __file__, "--peak-kind", kind, "--lengths", str(length), "--channels", str(args.channels),
           "--state", str(args.state), "--chunk", str(args.chunk), "--threads", str(args.threads)]
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
        step = lambda: scan(tensors, args.chunk).sum().backward()
    else:
        qkv = attention_inputs(length, args.channels, grad=True)
        step = lambda: attention(*qkv).sum().backward()
    current = int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    Path("/proc/self/clear_refs").write_text("5")  # Linux: reset the peak (VmHWM) to the current size
    step()
    peak = _resident_peak_kib()
    print(json.dumps({"kind": kind, "length": length, "peak_growth_mib": (peak - current) / 1024,
                      "process_peak_mib": peak / 1024}))


def measure(length: int, args) -> dict:
    """Speed and saved-for-backward bytes of the scan, the loop and attention at one length."""
    t = inputs(length, args.channels, args.state)
    qkv = attention_inputs(length, args.channels)
    with torch.no_grad():
        scan_s = median_seconds(lambda: scan(t, args.chunk), args.repeats)
        loop_s = median_seconds(lambda: loop(t), max(1, args.repeats // 2))
        attn_s = median_seconds(lambda: attention(*qkv), args.repeats)
    tg = inputs(length, args.channels, args.state, grad=True)
    qkv_g = attention_inputs(length, args.channels, grad=True)
    scan_fb = median_seconds(lambda: scan(tg, args.chunk).sum().backward(), args.repeats)
    attn_fb = median_seconds(lambda: attention(*qkv_g).sum().backward(), args.repeats)
    return {"length": length, "scan_tokens_per_s": length / scan_s, "loop_tokens_per_s": length / loop_s,
            "attention_tokens_per_s": length / attn_s, "scan_over_loop": loop_s / scan_s,
            "scan_over_attention": attn_s / scan_s, "scan_fwd_bwd_tokens_per_s": length / scan_fb,
            "attention_fwd_bwd_tokens_per_s": length / attn_fb,
            "scan_saved_bytes": saved_bytes(lambda: scan(tg, args.chunk)),
            "attention_saved_bytes": saved_bytes(lambda: attention(*qkv_g))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", default=",".join(map(str, LENGTHS)))
    parser.add_argument("--channels", type=int, default=128, help="SSM channels d_inner (Mamba d_model 64, expand 2)")
    parser.add_argument("--state", type=int, default=16)
    parser.add_argument("--chunk", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=str(OUT / "mamba_scan.json"))
    parser.add_argument("--peak-kind", choices=("scan", "attention"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    lengths = [int(v) for v in args.lengths.split(",")]
    if args.peak_kind:
        run_peak(args.peak_kind, lengths[0], args)
        return
    load_before = os.getloadavg()
    rows = []
    print(f"{'L':>6}{'scan tok/s':>13}{'loop tok/s':>13}{'attn tok/s':>13}{'scan/loop':>11}{'scan/attn':>11}"
          f"{'scan f+b tok/s':>16}{'attn f+b tok/s':>16}{'scan saved MiB':>16}{'attn saved MiB':>16}")
    for length in lengths:
        rows.append(measure(length, args))
        row = rows[-1]
        print(f"{length:>6}{row['scan_tokens_per_s']:>13.0f}{row['loop_tokens_per_s']:>13.0f}"
              f"{row['attention_tokens_per_s']:>13.0f}{row['scan_over_loop']:>11.1f}{row['scan_over_attention']:>11.2f}"
              f"{row['scan_fwd_bwd_tokens_per_s']:>16.0f}{row['attention_fwd_bwd_tokens_per_s']:>16.0f}"
              f"{row['scan_saved_bytes'] / 2**20:>16.1f}{row['attention_saved_bytes'] / 2**20:>16.1f}")
    peaks = {kind: peak_child(kind, max(lengths), args) for kind in ("scan", "attention")}
    for kind, peak in peaks.items():
        print(f"peak resident growth, fwd+bwd at L={peak['length']}: {kind} {peak['peak_growth_mib']:.0f} MiB")
    at_1024 = next((r["scan_over_loop"] for r in rows if r["length"] == 1024), None)
    if at_1024 is not None:
        print(f"scan vs Python loop at L=1024: {at_1024:.1f}x (target >= 10)")
    summary = {"channels": args.channels, "state": args.state, "chunk": args.chunk, "threads": args.threads,
               "repeats": args.repeats, "torch": torch.__version__, "machine": platform.processor() or platform.machine(),
               "loadavg_before": load_before, "loadavg_after": os.getloadavg(), "results": rows, "peak": peaks}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2))
    print(f"load average before {load_before[0]:.2f}, after {summary['loadavg_after'][0]:.2f}; wrote {out}")


if __name__ == "__main__":
    main()
