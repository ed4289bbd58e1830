"""Ride-hailing dispatch simulator throughput: agent-steps per second (one vehicle deciding at one tick).

    python benchmarks/bench_dispatch.py [--threads 2] [--cities 1,16,64] [--repeats 5] [--clock wall|cpu]

For each number of cities simulated side by side (``DispatchSimulator(config, batch=cities)``, the
OSPO claim's city: 10 x 10 grid, 20 vehicles, 120 ticks, 2 orders/tick off-peak with rush hours):
the median time of a whole simulated day over ``--repeats`` days after one warm-up, with every idle
vehicle taking its nearest order (simulator only), and the same day with the shared MLP policy
choosing (policy forward + sampling + simulator: a training rollout without the update). Agent-steps
per second = cities x vehicles x ticks / seconds. The goal (issue 15): >= 100,000 agent-steps/s on 2
cores for the simulator. ``--clock cpu`` counts the calling thread's CPU time (one thread only), for
indicative numbers on a loaded machine. Writes benchmarks/out/dispatch.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from timing import goal, load, median_seconds, use_clock  # noqa: E402

from mlpzoo.registry import create_model
from mlpzoo.rl.dispatch import FEATURES, DispatchConfig, DispatchSimulator
from mlpzoo.rl.dispatch_train import nearest_order, sample_actions

OUT = Path(__file__).resolve().parent / "out"
TARGET = 100_000


def simulate_day(sim: DispatchSimulator, choose) -> None:
    obs = sim.reset(0)
    while not sim.done:
        obs, _, _ = sim.step(choose(obs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cities", default="1,16,64")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    parser.add_argument("--out", type=Path, default=OUT / "dispatch.json")
    args = parser.parse_args()
    if args.clock == "cpu" and args.threads != 1:
        parser.error("--clock cpu counts one thread's CPU time; use it with --threads 1")
    use_clock(args.clock)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = DispatchConfig(base_demand=2.0)
    policy = create_model("ospo_dispatch_policy", feature_dim=FEATURES)
    generator = torch.Generator().manual_seed(0)

    def with_policy(obs):
        with torch.no_grad():
            return sample_actions(policy(obs.candidates, obs.mask), generator) * obs.idle

    rows = []
    for cities in (int(c) for c in args.cities.split(",")):
        sim = DispatchSimulator(config, cities)
        agent_steps = cities * config.vehicles * config.ticks
        row = {"cities": cities, "agent_steps_per_day": agent_steps}
        for name, choose in (("simulator", nearest_order), ("rollout", with_policy)):
            seconds = median_seconds(lambda choose=choose: simulate_day(sim, choose), args.repeats, warmup=1)
            row[f"{name}_agent_steps_per_s"] = agent_steps / seconds
        rows.append(row)
        print(json.dumps({k: round(v) if isinstance(v, float) else v for k, v in row.items()}))
    best = max(row["simulator_agent_steps_per_s"] for row in rows)
    summary = goal(
        f"dispatch simulator agent-steps/s ({args.threads} thread(s), best batch)",
        best,
        TARGET,
        note=f"clock {args.clock}",
    )
    print(json.dumps(summary))
    report = {"config": vars(args) | {"out": str(args.out)}, "torch": torch.__version__, "load": load()}
    report |= {"rows": rows, "goal": summary}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
