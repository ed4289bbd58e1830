"""FinalMLP on Frappe: the Trainer's samples/s against the compute limit and against FuxiCTR 2.3.10.

    python benchmarks/bench_ctr.py [--epochs 3] [--threads 1] [--fuxictr-json out/fuxictr.json] [--out PATH]

Goals (issue 17, item 5):

- the Trainer's training samples/s is at least 85 % of the compute limit: the same FinalMLP step
  (forward, loss + regulariser, backward, clipping, Adam) on batches built before the clock starts,
  epochs of the two alternating in this process (``mlpzoo.bench.ctr.trainer_vs_compute_limit``);
- the Trainer trains at least 5x as many samples/s as FuxiCTR 2.3.10 end to end, read from
  ``benchmarks/fuxictr_finalmlp.py``'s JSON measured on this machine at the same thread count
  (run_all.py runs it first when given ``--fuxictr-python``); without that file the row is missing
  and says so.

The load average is recorded before and after. Writes ``out/ctr_goals.json`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import timing
import torch
from timing import goal

from mlpzoo.bench.ctr import trainer_vs_compute_limit
from mlpzoo.data.datasets import load_dataset

OUT = Path(__file__).resolve().parent / "out"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="alternating epochs of each side")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--clock", choices=sorted(timing.CLOCKS), default="wall", help="(wall only: epochs)")
    parser.add_argument("--fuxictr-json", default=str(OUT / "fuxictr.json"))
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default=str(OUT / "ctr_goals.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    load_before = timing.load()
    dataset = load_dataset("frappe", args.data_dir)
    limit = trainer_vs_compute_limit(dataset, args.epochs, seed=2021)
    goals = [
        goal("FinalMLP Trainer samples/s / compute limit (same run)", limit["fraction"], 0.85, unit="%"),
    ]
    fuxictr_path = Path(args.fuxictr_json)
    fuxictr = json.loads(fuxictr_path.read_text()) if fuxictr_path.exists() else None
    if fuxictr is not None and int(fuxictr.get("threads", -1)) == args.threads:
        ratio = limit["trainer_samples_per_s"] / float(fuxictr["samples_per_s"])
        note = f"FuxiCTR {fuxictr['samples_per_s']:,.0f} samples/s, load {fuxictr.get('loadavg_before_after', '?')}"
        goals.append(goal("FinalMLP Trainer / FuxiCTR 2.3.10, end to end (samples/s)", ratio, 5.0, note=note))
        print(f"FuxiCTR: {note}; ratio {ratio:.2f}x")
    else:
        why = "absent" if fuxictr is None else f"measured at {fuxictr.get('threads')} threads, not {args.threads}"
        print(f"FuxiCTR ratio not computed: {fuxictr_path} {why} (run benchmarks/fuxictr_finalmlp.py)")
    report = {
        "threads": args.threads,
        "epochs": args.epochs,
        "compute_limit": limit,
        "fuxictr": fuxictr,
        "goals": goals,
        "loadavg_before": load_before,
        "loadavg_after": timing.load(),
    }
    print(
        f"Trainer {limit['trainer_samples_per_s']:,.0f} samples/s, compute limit "
        f"{limit['compute_limit_samples_per_s']:,.0f}: {limit['fraction']:.1%}; load average "
        f"{load_before['load1']:.2f} -> {report['loadavg_after']['load1']:.2f} ({os.cpu_count()} CPUs)"
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
