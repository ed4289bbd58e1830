"""Query speed of the neural fields: Im4D's feature planes vs a coordinate MLP, NeuralGS's decode.

    python benchmarks/bench_fields.py [--threads 1] [--repeats 7] [--points 65536] [--gaussians 37000]

- im4d: points/s of a forward pass (no grad) over ``--points`` random (x, y, t) coordinates, the feature-plane
  field at the im4d claim's full size (planes 64 x 64 x 24, 16 channels, decoder 64) against the coordinate MLP
  whose width matches its parameters (within 3 %); the ratio planes / MLP is measured in the same run.
- neuralgs: Gaussians decoded per second (positions -> 11 attributes) by 16 tiny MLPs run as one batched
  product, against a Python loop over the same 16 MLPs and against one MLP of equal parameters.

Median wall time over ``--repeats`` runs after two warm-ups; writes benchmarks/out/fields.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from timing import load, median_seconds  # noqa: E402

from mlpzoo import create_model
from mlpzoo.claims.kits.fields import matched_width
from mlpzoo.measure import count_parameters

OUT = Path(__file__).resolve().parent / "out"


def per_second(count: int, fn, repeats: int) -> float:
    def run():
        with torch.no_grad():
            fn()

    return count / median_seconds(run, repeats)


def bench_im4d(points: int, repeats: int) -> dict:
    planes = create_model("im4d_planes", resolution=(64, 64, 24), channels=16).eval()
    target = count_parameters(planes)
    width = matched_width(lambda w: count_parameters(create_model("coordinate_mlp", width=w)), target)
    mlp = create_model("coordinate_mlp", width=width).eval()
    x = torch.rand(points, 3) * 2 - 1
    row = {
        "planes_parameters": target,
        "mlp_parameters": count_parameters(mlp),
        "planes_points_per_second": per_second(points, lambda: planes(x), repeats),
        "mlp_points_per_second": per_second(points, lambda: mlp(x), repeats),
    }
    row["ratio"] = row["planes_points_per_second"] / row["mlp_points_per_second"]
    return row


def bench_neuralgs(gaussians: int, repeats: int, clusters: int = 16) -> dict:
    field = create_model("neuralgs_field", num_clusters=clusters, hidden_units=(24, 24)).eval()
    target = count_parameters(field)
    width = matched_width(
        lambda w: count_parameters(create_model("neuralgs_field", num_clusters=1, hidden_units=(w, w))), target
    )
    single = create_model("neuralgs_field", num_clusters=1, hidden_units=(width, width)).eval()
    per_cluster = gaussians // clusters
    grouped = torch.rand(clusters, per_cluster, 3) * 2 - 1
    flat = grouped.reshape(1, -1, 3)
    encoding, mlps = field.encoding, field.fields

    def loop():  # the same 16 MLPs, one cluster at a time
        for k in range(clusters):
            h = encoding(grouped[k])
            for index, (weight, bias) in enumerate(zip(mlps.weights, mlps.biases)):
                h = torch.addmm(bias[k], h, weight[k])
                if index < len(mlps.weights) - 1:
                    h = torch.relu(h)

    n = clusters * per_cluster
    row = {
        "parameters": target,
        "single_parameters": count_parameters(single),
        "batched_per_second": per_second(n, lambda: field(grouped), repeats),
        "loop_per_second": per_second(n, loop, repeats),
        "single_mlp_per_second": per_second(n, lambda: single(flat), repeats),
    }
    row["batched_over_loop"] = row["batched_per_second"] / row["loop_per_second"]
    row["batched_over_single"] = row["batched_per_second"] / row["single_mlp_per_second"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--points", type=int, default=65536)
    parser.add_argument("--gaussians", type=int, default=37000)
    parser.add_argument("--out", type=Path, default=OUT / "fields.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    result = {
        "im4d": bench_im4d(args.points, args.repeats),
        "neuralgs": bench_neuralgs(args.gaussians, args.repeats),
        "load": load(),
    }
    im4d, gs = result["im4d"], result["neuralgs"]
    print(
        f"im4d: planes {im4d['planes_points_per_second']:,.0f} points/s ({im4d['planes_parameters']:,} parameters) vs "
        f"coordinate MLP {im4d['mlp_points_per_second']:,.0f} ({im4d['mlp_parameters']:,}): {im4d['ratio']:.1f}x"
    )
    print(
        f"neuralgs: batched {gs['batched_per_second']:,.0f} Gaussians/s vs loop {gs['loop_per_second']:,.0f} "
        f"({gs['batched_over_loop']:.1f}x) vs one MLP of equal size {gs['single_mlp_per_second']:,.0f} "
        f"({gs['batched_over_single']:.1f}x)"
    )
    print(f"load: {result['load']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
