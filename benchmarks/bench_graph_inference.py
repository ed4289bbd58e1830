"""Inference latency of a distilled MLP against its GCN and GraphSAGE teachers (GLNN's timing).

    python benchmarks/bench_graph_inference.py [--nodes 100000] [--batch 10] [--threads 1]

GLNN (Zhang et al., ICLR 2022, arXiv:2110.08727) times the prediction of a few target nodes:
the MLP reads only their features, a GNN must gather their neighbourhoods first. For each graph
(Cora when the data is present; a CSBM of ``--nodes`` nodes, ``--features`` features and average
degree ``--degree``), with ``--batch`` random target nodes per repetition (new ones each time):

- ``mlp``: the student, 2 layers of width 128, on the targets' feature rows;
- ``gcn``: GCN 2x64 on the exact 2-hop neighbourhood (sparse blocks with the full graph's
  normalisation; no sampling is possible for a GCN without changing its output);
- ``sage``: GraphSAGE 2x128 on a sampled 2-hop neighbourhood, fan-out ``--fanout`` (GLNN's 5,5).

Median wall time (ms) over ``--repeats`` after warm-up, the ratios teacher / MLP measured in the
same run, and, for reference, one full-graph forward of each model over all nodes. Weights are
untrained (timing does not depend on them). The adjacency is sparse throughout; peak resident
memory of the process is reported (target < 2 GiB). Writes benchmarks/out/graph_inference.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import time
from pathlib import Path

import torch

from mlpzoo.data.graphs import csbm
from mlpzoo.data.paths import data_available
from mlpzoo.data.planetoid import load_planetoid
from mlpzoo.layers.graph import CSRGraph, neighborhood_blocks
from mlpzoo.layers.mlp import MLP
from mlpzoo.models.graph import GCN, GraphSAGE
from mlpzoo.train.full_batch import feature_matrix

OUT = Path(__file__).resolve().parent / "out"


def _median_ms(fn, repeats: int) -> float:
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


@torch.no_grad()
def bench_graph(graph, args) -> dict:
    x, n = graph.x, graph.num_nodes
    mlp = MLP(x.shape[1], [128], graph.num_classes).eval()
    gcn = GCN(x.shape[1], graph.num_classes).eval()
    sage = GraphSAGE(x.shape[1], graph.num_classes).eval()
    csr = CSRGraph.from_edge_index(graph.edge_index, n)
    fanouts = [int(f) for f in args.fanout.split(",")]
    gen = torch.Generator().manual_seed(0)
    # Target batches drawn before timing, so that only inference is timed.
    pool = iter([torch.randperm(n, generator=gen)[: args.batch] for _ in range(3 * (args.repeats + 3))])

    def targets():
        return next(pool)

    per_batch = {
        "mlp": _median_ms(lambda: mlp(x[targets()]), args.repeats),
        "gcn": _median_ms(
            lambda: gcn.forward_blocks(x, neighborhood_blocks(csr, targets(), [None, None], "gcn")), args.repeats
        ),
        "sage": _median_ms(
            lambda: sage.forward_blocks(x, neighborhood_blocks(csr, targets(), fanouts, "mean", gen)), args.repeats
        ),
    }
    xf = feature_matrix(x)
    adj_gcn, adj_mean = gcn.adjacency(graph.edge_index, n), sage.adjacency(graph.edge_index, n)
    full = {
        "mlp": _median_ms(lambda: mlp(xf), max(3, args.repeats // 10)),
        "gcn": _median_ms(lambda: gcn(xf, adj_gcn), max(3, args.repeats // 10)),
        "sage": _median_ms(lambda: sage(xf, adj_mean), max(3, args.repeats // 10)),
    }
    return {
        "graph": graph.name,
        "nodes": n,
        "edges": graph.num_edges,
        "features": x.shape[1],
        "batch_ms": per_batch,
        "full_graph_ms": full,
        "ratio_gcn_over_mlp": per_batch["gcn"] / per_batch["mlp"],
        "ratio_sage_over_mlp": per_batch["sage"] / per_batch["mlp"],
        "full_ratio_gcn_over_mlp": full["gcn"] / full["mlp"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=128)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--degree", type=float, default=20.0)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--fanout", default="5,5")
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=OUT / "graph_inference.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    graphs = [load_planetoid("cora")] if data_available("planetoid") else []
    graphs.append(
        csbm(
            num_nodes=args.nodes,
            num_classes=args.classes,
            num_features=args.features,
            avg_degree=args.degree,
            seed=0,
            num_test=min(1000, args.nodes // 4),
        )
    )
    results = []
    for graph in graphs:
        row = bench_graph(graph, args)
        results.append(row)
        print(
            f"{row['graph']:>12} ({row['nodes']} nodes, {row['edges']} edges), batch of {args.batch}: "
            f"MLP {row['batch_ms']['mlp']:.3f} ms, GCN {row['batch_ms']['gcn']:.3f} ms "
            f"({row['ratio_gcn_over_mlp']:.0f}x), SAGE sampled {row['batch_ms']['sage']:.3f} ms "
            f"({row['ratio_sage_over_mlp']:.0f}x); full graph GCN/MLP {row['full_ratio_gcn_over_mlp']:.1f}x"
        )
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # ru_maxrss is KiB on Linux
    print(f"peak RSS {peak_gib:.2f} GiB (target < 2 GiB)")
    report = {
        "args": {k: str(v) for k, v in vars(args).items()},
        "results": results,
        "peak_rss_gib": peak_gib,
        "torch": torch.__version__,
        "machine": platform.machine(),
        "load_average": list(os.getloadavg()),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
