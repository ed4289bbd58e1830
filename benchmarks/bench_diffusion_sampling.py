"""Sampling time per forecast: DDPM ancestral steps against flow-matching Euler and Heun steps.

    python benchmarks/bench_diffusion_sampling.py [--repeats 5] [--threads 1] [--windows 64] [--samples 8]

A GPD-sized setting (:mod:`mlpzoo.methods.gpd`): a window of 192 = 96 history + 96 horizon, the
residual-MLP denoiser of width 256 with 3 blocks, ``--windows`` histories forecast at once with
``--samples`` draws each, the history imposed by replacement (DDPM: RePaint, flow: the known
path). The networks are untrained: time depends only on the number and size of the denoiser
calls, not on the weights. Samplers:

- ``ddpm_T``: ancestral sampling with T steps (T calls); ``ddpm_T_resample2``: RePaint's
  resampling with U = 2 (2T - 1 calls).
- ``flow_euler_S`` / ``flow_heun_S``: S ODE steps (S and 2S calls).

Reported: median and minimum wall time (ms) per sampler call over ``--repeats`` runs after one
warm-up, the time per forecast (call time / windows), the denoiser calls, and each sampler's
time as a ratio to ``ddpm_1000`` (the DDPM default of Ho et al.) measured in the same run.
With fewer free cores than threads (see ``uptime``), use ``--threads 1``. Writes
benchmarks/out/diffusion_sampling.json (or ``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path

import torch
from timing import timed_ms  # noqa: E402

from mlpzoo.layers.denoise import ResidualMLPDenoiser
from mlpzoo.methods.generative import FlowMatching, GaussianDiffusion

OUT = Path(__file__).resolve().parent / "out"
WINDOW, HISTORY = 192, 96
BASELINE = "ddpm_1000"


def samplers(net: ResidualMLPDenoiser) -> dict[str, tuple]:
    """name -> (process, sample kwargs)."""
    out = {}
    for steps in (1000, 200, 50):
        out[f"ddpm_{steps}"] = (GaussianDiffusion(net, steps=steps), {})
    out["ddpm_200_resample2"] = (GaussianDiffusion(net, steps=200), {"resample": 2})
    flow = FlowMatching(net)
    for steps in (50, 20, 10):
        out[f"flow_euler_{steps}"] = (flow, {"steps": steps, "method": "euler"})
        out[f"flow_heun_{steps}"] = (flow, {"steps": steps, "method": "heun"})
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--windows", type=int, default=64, help="histories forecast in one call")
    parser.add_argument("--samples", type=int, default=8, help="draws per history")
    parser.add_argument("--out", type=Path, default=OUT / "diffusion_sampling.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    net = ResidualMLPDenoiser(WINDOW, hidden_dim=256, n_blocks=3).eval()
    rows = args.windows * args.samples
    known = torch.randn(rows, WINDOW)
    mask = torch.zeros(WINDOW, dtype=torch.bool)
    mask[:HISTORY] = True
    results = {}
    for name, (process, kwargs) in samplers(net).items():

        def run(process=process, kwargs=kwargs):
            return process.sample(rows, known=known, mask=mask, generator=torch.Generator().manual_seed(0), **kwargs)

        with torch.no_grad():
            median, minimum = timed_ms(run, args.repeats)
        results[name] = {
            "median_ms": median,
            "min_ms": minimum,
            "ms_per_forecast": median / args.windows,
            "denoiser_calls": process.function_evaluations(**kwargs),
        }
        print(
            f"{name:20s} {median:9.1f} ms (min {minimum:8.1f})  {median / args.windows:7.2f} ms/forecast  "
            f"{results[name]['denoiser_calls']:5d} calls",
            flush=True,
        )
    base = results[BASELINE]["median_ms"]
    for name, r in results.items():
        r["speedup_vs_" + BASELINE] = base / r["median_ms"]
    print(
        "\nspeed-up against "
        + BASELINE
        + ": "
        + ", ".join(f"{n} {r['speedup_vs_' + BASELINE]:.1f}x" for n, r in results.items())
    )
    report = {
        "setting": {
            "window": WINDOW,
            "history": HISTORY,
            "hidden": 256,
            "blocks": 3,
            "windows": args.windows,
            "samples": args.samples,
            "threads": args.threads,
            "repeats": args.repeats,
        },
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "torch": torch.__version__,
            "load_average": os.getloadavg(),
        },
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out}")
    return report


if __name__ == "__main__":
    main()
