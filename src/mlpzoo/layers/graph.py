"""Graph layers on sparse adjacency (never a dense N x N matrix): GCN and GraphSAGE convolutions,
the operators they propagate with, and neighbour sampling.

- GCN: Kipf & Welling, "Semi-Supervised Classification with Graph Convolutional Networks",
  ICLR 2017, arXiv:1609.02907. ``H' = D^-1/2 (A + I) D^-1/2 H W``.
- GraphSAGE (mean aggregator): Hamilton, Ying & Leskovec, "Inductive Representation Learning
  on Large Graphs", NeurIPS 2017, arXiv:1706.02216. ``h_i' = W_self h_i + W_neigh mean_{j in
  N(i)} h_j`` (PyG/DGL ``SAGEConv`` with ``aggr="mean"``); a node without neighbours gets 0
  from the neighbour term.

Operators are ``torch.sparse_csr`` tensors; :class:`CSRGraph` keeps the row pointers for
k-hop extraction and sampling at inference time.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
from torch import nn

__all__ = [
    "Block",
    "CSRGraph",
    "GCNConv",
    "SAGEConv",
    "gcn_adjacency",
    "mean_adjacency",
    "neighborhood_blocks",
    "sample_neighbors",
    "sparse_operator",
]


def sparse_operator(
    src: torch.Tensor, dst: torch.Tensor, values: torch.Tensor, num_rows: int, num_cols: int
) -> torch.Tensor:
    """CSR matrix ``M[dst, src] = values`` (row = receiving node), duplicates summed."""
    # The indices are built here and in range, so torch's invariant checks would only cost time; its
    # "CSR support is in beta" notice is for library authors, not for our users.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse (invariant checks|CSR tensor support)")
        coo = torch.sparse_coo_tensor(
            torch.stack([dst, src]), values, (num_rows, num_cols), check_invariants=False
        ).coalesce()
        return coo.to_sparse_csr()


def gcn_adjacency(edge_index: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """``D^-1/2 (A + I) D^-1/2`` with degrees counted after adding self-loops (existing
    self-loops are replaced, so every node has exactly one)."""
    src, dst = edge_index
    keep = src != dst
    loops = torch.arange(num_nodes)
    src, dst = torch.cat([src[keep], loops]), torch.cat([dst[keep], loops])
    deg = torch.bincount(dst, minlength=num_nodes).float()
    norm = deg.rsqrt()
    return sparse_operator(src, dst, norm[src] * norm[dst], num_nodes, num_nodes)


def mean_adjacency(edge_index: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """Row-normalised adjacency ``D^-1 A``: row ``i`` averages the in-neighbours of ``i``."""
    src, dst = edge_index
    deg = torch.bincount(dst, minlength=num_nodes).float().clamp(min=1)
    return sparse_operator(src, dst, 1.0 / deg[dst], num_nodes, num_nodes)


class GCNConv(nn.Module):
    """One GCN layer: ``adj @ (x W) + b`` with ``adj`` from :func:`gcn_adjacency`."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features, bias=False)
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        nn.init.xavier_uniform_(self.linear.weight)

    def forward(self, x: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        out = torch.sparse.mm(adj, self.linear(x))
        return out + self.bias if self.bias is not None else out


class SAGEConv(nn.Module):
    """One GraphSAGE layer with the mean aggregator: ``x W_self + (adj @ x) W_neigh + b``.

    ``adj`` may be rectangular (targets x sources) for sampled blocks; then ``x_target`` (the
    targets' own rows of ``x``) must be passed.
    """

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.self_linear = nn.Linear(in_features, out_features)
        self.neigh_linear = nn.Linear(in_features, out_features, bias=False)

    def forward(self, x: torch.Tensor, adj: torch.Tensor, x_target: torch.Tensor | None = None) -> torch.Tensor:
        own = x if x_target is None else x_target
        return self.self_linear(own) + self.neigh_linear(torch.sparse.mm(adj, x))


@dataclass
class CSRGraph:
    """In-neighbour lists in CSR form: the neighbours of node ``i`` are ``col[rowptr[i]:rowptr[i+1]]``."""

    rowptr: torch.Tensor
    col: torch.Tensor

    @classmethod
    def from_edge_index(cls, edge_index: torch.Tensor, num_nodes: int) -> "CSRGraph":
        src, dst = edge_index
        order = torch.argsort(dst * num_nodes + src)
        counts = torch.bincount(dst, minlength=num_nodes)
        rowptr = torch.zeros(num_nodes + 1, dtype=torch.long)
        rowptr[1:] = torch.cumsum(counts, 0)
        return cls(rowptr, src[order])

    @property
    def num_nodes(self) -> int:
        return len(self.rowptr) - 1

    def degree(self) -> torch.Tensor:
        return self.rowptr[1:] - self.rowptr[:-1]

    def neighbors(self, nodes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """All (position of target in ``nodes``, neighbour id) pairs of ``nodes``."""
        starts, deg = self.rowptr[nodes], self.rowptr[nodes + 1] - self.rowptr[nodes]
        seg = torch.repeat_interleave(torch.arange(len(nodes)), deg)
        offsets = torch.cumsum(deg, 0) - deg
        pos = torch.arange(len(seg)) - offsets[seg]
        return seg, self.col[starts[seg] + pos]


def sample_neighbors(
    graph: CSRGraph, nodes: torch.Tensor, fanout: int, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Up to ``fanout`` distinct in-neighbours of each node, uniformly without replacement (all of
    them when the degree is at most ``fanout``), as DGL's and PyG's neighbour samplers do.

    Returns (position of the target in ``nodes``, sampled neighbour id). Vectorised: every
    candidate slot gets a random key; a stable sort by (target, key) and a rank cut keep
    ``fanout`` per target.
    """
    seg, nbr = graph.neighbors(nodes)
    if len(seg) == 0:
        return seg, nbr
    key = torch.rand(len(seg), generator=generator, dtype=torch.float64) + seg.double()
    order = torch.argsort(key)
    seg, nbr = seg[order], nbr[order]
    deg = torch.bincount(seg, minlength=len(nodes))
    rank = torch.arange(len(seg)) - (torch.cumsum(deg, 0) - deg)[seg]
    keep = rank < fanout
    return seg[keep], nbr[keep]


@dataclass
class Block:
    """One hop of a target-node computation: ``adj`` (len(dst) x len(src)) maps rows of the
    source nodes to the destination nodes; the first ``num_dst`` sources are the destinations."""

    adj: torch.Tensor
    src: torch.Tensor
    num_dst: int


def _hop(
    graph: CSRGraph,
    dst: torch.Tensor,
    fanout: int | None,
    kind: str,
    norm: torch.Tensor | None,
    generator: torch.Generator | None,
) -> Block:
    seg, nbr = graph.neighbors(dst) if fanout is None else sample_neighbors(graph, dst, fanout, generator)
    uniq, inverse = torch.unique(torch.cat([dst, nbr]), return_inverse=True)
    is_dst = torch.zeros(len(uniq), dtype=torch.bool)
    is_dst[inverse[: len(dst)]] = True
    perm = torch.cat([inverse[: len(dst)], (~is_dst).nonzero().view(-1)])
    position = torch.empty_like(perm)
    position[perm] = torch.arange(len(perm))
    local = position[inverse[len(dst) :]]
    n_dst = len(dst)
    if kind == "gcn":
        rows = torch.cat([seg, torch.arange(n_dst)])
        cols = torch.cat([local, torch.arange(n_dst)])
        values = norm[torch.cat([dst[seg], dst])] * norm[torch.cat([nbr, dst])]
    else:
        rows, cols = seg, local
        values = 1.0 / torch.bincount(seg, minlength=n_dst).clamp(min=1).float()[seg]
    return Block(sparse_operator(cols, rows, values, n_dst, len(perm)), uniq[perm], n_dst)


def neighborhood_blocks(
    graph: CSRGraph,
    targets: torch.Tensor,
    fanouts: list[int | None],
    kind: str,
    generator: torch.Generator | None = None,
) -> list[Block]:
    """Blocks for computing ``len(fanouts)`` layers at ``targets`` (distinct ids), innermost
    (input) hop first. ``fanouts[l]`` samples that many neighbours for layer ``l`` (``None``: all,
    the exact neighbourhood). ``kind="gcn"`` weights edges with the full graph's symmetric GCN
    normalisation and adds self-loops; ``kind="mean"`` averages the sampled neighbours."""
    norm = (graph.degree() + 1).float().rsqrt() if kind == "gcn" else None
    blocks, dst = [], targets
    for fanout in reversed(fanouts):
        block = _hop(graph, dst, fanout, kind, norm, generator)
        blocks.append(block)
        dst = block.src
    return blocks[::-1]
