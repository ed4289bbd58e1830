"""``train.fused: auto`` on a KAN model: measured step times, compile time and the rule's decisions.

    python benchmarks/bench_fused_auto.py [--threads 1] [--steps 5] [--width 256] [--batch 1024]

Model: two GR-KAN layers (KAT's ``GRKANLinear``, group rational + linear) and a linear head, a
training step being forward, cross-entropy, backward and Adam on a fixed random batch. Measured in
one process: the eager step (median of ``--steps`` after a warm-up), the first compiled step
(compiling, or loading inductor's cache in ``~/.cache/mlpzoo/inductor`` from an earlier run), and
the compiled step. From those, :func:`mlpzoo.train.fused.decide` is asked about a quick run (60 s of
eager steps) and a long run (15 min), the two ends of the claim budgets. Goals:

- the quick run compiles nothing (rule says eager);
- the long run under the rule takes no longer than eager: ``(compile + steps x compiled step) /
  (steps x eager step)`` when the rule compiles, 1.0 when it does not (at most 1.0);
- the compiled / eager step time (information).

Writes ``out/fused_auto.json`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import timing
import torch
from timing import goal
from torch import nn

from mlpzoo.layers.kan.rational import GRKANLinear
from mlpzoo.train.fused import FusedTimings, decide, fusable_layers

OUT = Path(__file__).resolve().parent / "out"
QUICK_S, LONG_S = 60.0, 900.0


def step_times(model, optimizer, x, y, steps: int) -> list[float]:
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--clock", choices=sorted(timing.CLOCKS), default="wall", help="(wall only: compiling)")
    parser.add_argument("--out", default=str(OUT / "fused_auto.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load_before = timing.load()
    torch.manual_seed(0)
    model = nn.Sequential(
        GRKANLinear(args.width, args.width), GRKANLinear(args.width, args.width), nn.Linear(args.width, 10)
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = torch.randn(args.batch, args.width), torch.randint(0, 10, (args.batch,))
    eager = statistics.median(step_times(model, optimizer, x, y, args.steps + 1)[1:])
    for layer in fusable_layers(model):
        layer.fused = "auto"
    from mlpzoo.layers import native

    native.use_inductor_cache()
    first = step_times(model, optimizer, x, y, 1)[0]
    fused = statistics.median(step_times(model, optimizer, x, y, args.steps))
    measured = FusedTimings(eager, fused, max(0.0, first - fused))
    quick_steps, long_steps = int(QUICK_S / eager), int(LONG_S / eager)
    quick, long = decide(quick_steps, eager, measured), decide(long_steps, eager, measured)
    long_ratio = (measured.compile_s + long_steps * fused) / (long_steps * eager) if long == "fused" else 1.0
    goals = [
        goal("fused auto: quick run (60 s eager) stays eager", float(quick == "eager"), 1.0, unit="yes/no"),
        goal(
            f"fused auto: long run (15 min eager) time / eager (rule: {long})", long_ratio, 1.0, higher_is_better=False
        ),
        goal(
            "fused auto: compiled step / eager step, GR-KAN x2 (information)",
            fused / eager,
            1.0,
            higher_is_better=False,
        ),
    ]
    report = {
        "threads": args.threads,
        "width": args.width,
        "batch": args.batch,
        "eager_step_s": eager,
        "fused_step_s": fused,
        "first_fused_step_s": first,
        "compile_s": measured.compile_s,
        "decisions": {"quick": quick, "long": long},
        "goals": goals,
        "loadavg_before": load_before,
        "loadavg_after": timing.load(),
    }
    print(
        f"eager step {eager * 1e3:.1f} ms, compiled step {fused * 1e3:.1f} ms, first compiled step {first:.1f} s; "
        f"rule: quick run -> {quick}, 15-min run -> {long} (time ratio {long_ratio:.3f}); load "
        f"{load_before['load1']:.2f} -> {report['loadavg_after']['load1']:.2f}"
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
