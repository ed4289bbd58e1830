"""Mixture-of-experts MLP throughput against the dense MLP of equal active parameters.

    python benchmarks/bench_moe.py [--threads 1] [--repeats 7] [--tokens 1024,4096]

For each token count: ``MoEMLP(dim, hidden, experts, top_k, capacity_factor)`` (sorted dispatch,
``torch.bmm`` experts) and ``DenseMLPBlock(dim, top_k * hidden)`` (same active parameters up to
the router), float32, median wall time of a forward (no grad) and of forward + backward over
``--repeats`` runs after two warm-ups; tokens/s and the MoE/dense ratio measured in the same run.
Writes benchmarks/out/moe.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from timing import median_seconds  # noqa: E402

from mlpzoo.layers.moe import DenseMLPBlock, MoEMLP

OUT = Path(__file__).resolve().parent / "out"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--tokens", default="1024,4096")
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--experts", type=int, default=8)
    parser.add_argument("--top-k", type=int, default=2)
    parser.add_argument("--capacity-factor", type=float, default=1.25)
    parser.add_argument("--out", type=Path, default=OUT / "moe.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    moe = MoEMLP(args.dim, args.hidden, args.experts, args.top_k, args.capacity_factor)
    dense = DenseMLPBlock(args.dim, args.top_k * args.hidden)
    rows = []
    for tokens in (int(t) for t in args.tokens.split(",")):
        x = torch.randn(tokens, args.dim, requires_grad=True)
        row = {"tokens": tokens}
        for name, layer in (("moe", moe), ("dense", dense)):

            def forward(layer=layer, x=x):
                with torch.no_grad():
                    layer(x)

            def train_step(layer=layer, x=x):
                layer.zero_grad(set_to_none=True)
                layer(x).sum().backward()

            row[f"{name}_fwd_tokens_per_s"] = tokens / median_seconds(forward, args.repeats)
            row[f"{name}_fwdbwd_tokens_per_s"] = tokens / median_seconds(train_step, args.repeats)
        row["moe_over_dense_fwd"] = row["moe_fwd_tokens_per_s"] / row["dense_fwd_tokens_per_s"]
        row["moe_over_dense_fwdbwd"] = row["moe_fwdbwd_tokens_per_s"] / row["dense_fwdbwd_tokens_per_s"]
        row["moe_dropped_fraction"] = moe.last_dropped_fraction
        rows.append(row)
        print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}))
    report = {
        "config": vars(args) | {"out": str(args.out)},
        "torch": torch.__version__,
        "moe_total_parameters": sum(p.numel() for p in moe.parameters()),
        "moe_active_parameters": moe.active_parameters(),
        "dense_parameters": sum(p.numel() for p in dense.parameters()),
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
