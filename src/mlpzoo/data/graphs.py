"""Graphs for node classification: a small container, input checks, and two generators.

- :class:`Graph`: node features ``x`` (N, F), ``edge_index`` (2, E) of directed pairs (an
  undirected graph lists both directions), labels ``y`` (N,), boolean train/val/test masks and
  optionally a time step per node. :func:`as_graph` also accepts PyTorch Geometric's ``Data``
  (duck-typed: ``x``, ``edge_index``, ``y`` and the masks), without importing torch_geometric.
- Bad input (:func:`make_graph`): edges pointing outside ``[0, N)``, NaN or infinite features,
  labels outside ``[0, num_classes)`` and masks of the wrong length raise a one-line
  :class:`~mlpzoo.errors.DataError`. Self-loops and duplicate edges are dropped (the graph
  operators add their own self-loops, and a duplicate would count a neighbour twice); isolated
  nodes are kept (a GCN still sees the node itself through its self-loop, a mean aggregator sees
  zeros).
- :func:`csbm`: contextual stochastic block model (Deshpande et al., "Contextual Stochastic
  Block Models", NeurIPS 2018, arXiv:1807.09596): Gaussian features around class means of a
  chosen strength, edges inside a class with probability ``homophily``. Edge sampling is
  vectorised, so 100k nodes take about a second.
- :func:`temporal_transactions`: a synthetic stand-in for the Elliptic Bitcoin data set (Weber
  et al., 2019, arXiv:1908.02591), which is not available here: 49 time steps, each a
  separate transaction graph; licit/illicit/unknown labels; local features plus neighbour
  aggregates; a new illicit typology appears late (the paper's "dark market shutdown").
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import torch

from mlpzoo.errors import DataError

__all__ = ["Graph", "as_graph", "clean_edges", "csbm", "make_graph", "temporal_transactions", "to_undirected"]


@dataclass
class Graph:
    """A node-classification graph; build it with :func:`make_graph` to get the input checks."""

    x: torch.Tensor
    edge_index: torch.Tensor
    y: torch.Tensor
    train_mask: torch.Tensor
    val_mask: torch.Tensor
    test_mask: torch.Tensor
    num_classes: int
    name: str = "graph"
    time: torch.Tensor | None = None
    info: dict = field(default_factory=dict)

    @property
    def num_nodes(self) -> int:
        return int(self.x.shape[0])

    @property
    def num_edges(self) -> int:
        return int(self.edge_index.shape[1])

    def index(self, mask_name: str) -> torch.Tensor:
        """Node ids of ``train``, ``val`` or ``test``."""
        return getattr(self, f"{mask_name}_mask").nonzero().view(-1)

    def subgraph(self, nodes: torch.Tensor) -> "Graph":
        """The subgraph induced by ``nodes`` (ids relabelled 0..len(nodes)-1 in the given order)."""
        nodes = torch.as_tensor(nodes, dtype=torch.long)
        relabel = torch.full((self.num_nodes,), -1, dtype=torch.long)
        relabel[nodes] = torch.arange(len(nodes))
        src, dst = relabel[self.edge_index[0]], relabel[self.edge_index[1]]
        keep = (src >= 0) & (dst >= 0)
        return replace(
            self,
            x=self.x[nodes],
            edge_index=torch.stack([src[keep], dst[keep]]),
            y=self.y[nodes],
            train_mask=self.train_mask[nodes],
            val_mask=self.val_mask[nodes],
            test_mask=self.test_mask[nodes],
            time=None if self.time is None else self.time[nodes],
            info=dict(self.info),
        )


def clean_edges(edge_index: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """Drop self-loops and duplicate edges; sorted by (source, target)."""
    src, dst = edge_index
    keep = src != dst
    key = torch.unique(src[keep] * num_nodes + dst[keep])
    return torch.stack([key // num_nodes, key % num_nodes])


def to_undirected(edge_index: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """Both directions of every edge, without self-loops or duplicates."""
    both = torch.cat([edge_index, edge_index.flip(0)], dim=1)
    return clean_edges(both, num_nodes)


def _mask(value, n: int, name: str) -> torch.Tensor:
    mask = torch.as_tensor(value)
    if mask.dtype != torch.bool:
        raise DataError(f"{name} has dtype {mask.dtype}; pass a boolean mask of length {n} (num_nodes)")
    if mask.shape != (n,):
        raise DataError(f"{name} has shape {tuple(mask.shape)}; expected ({n},), one entry per node")
    return mask


def make_graph(
    x,
    edge_index,
    y,
    train_mask,
    val_mask,
    test_mask,
    num_classes: int | None = None,
    name: str = "graph",
    time=None,
    info: dict | None = None,
) -> Graph:
    """Check and clean the parts of a graph (see the module docstring for the rules)."""
    x = torch.as_tensor(x, dtype=torch.float32)
    if x.dim() != 2:
        raise DataError(f"x has shape {tuple(x.shape)}; expected (num_nodes, num_features)")
    n = x.shape[0]
    bad = ~torch.isfinite(x).all(dim=1)
    if bad.any():
        first = int(bad.nonzero()[0])
        raise DataError(
            f"x has NaN or infinite values in {int(bad.sum())} node(s) (first: node {first}); "
            "impute or drop them before building the graph"
        )
    edge_index = torch.as_tensor(edge_index, dtype=torch.long)
    if edge_index.dim() != 2 or edge_index.shape[0] != 2:
        raise DataError(f"edge_index has shape {tuple(edge_index.shape)}; expected (2, num_edges)")
    if edge_index.numel() and (edge_index.min() < 0 or edge_index.max() >= n):
        worst = int(edge_index.max()) if edge_index.max() >= n else int(edge_index.min())
        raise DataError(
            f"edge_index refers to node {worst}, outside [0, {n}) (num_nodes from x); "
            "fix the edge list or pass all nodes' features"
        )
    y = torch.as_tensor(y, dtype=torch.long)
    if y.shape != (n,):
        raise DataError(f"y has shape {tuple(y.shape)}; expected ({n},), one label per node")
    if num_classes is None:
        num_classes = int(y.max()) + 1
    if y.numel() and (y.min() < 0 or y.max() >= num_classes):
        raise DataError(
            f"y has labels in [{int(y.min())}, {int(y.max())}], outside [0, {num_classes}) "
            "(num_classes); relabel them or raise num_classes"
        )
    masks = [_mask(m, n, k) for m, k in ((train_mask, "train_mask"), (val_mask, "val_mask"), (test_mask, "test_mask"))]
    if time is not None:
        time = torch.as_tensor(time, dtype=torch.long)
        if time.shape != (n,):
            raise DataError(f"time has shape {tuple(time.shape)}; expected ({n},)")
    return Graph(
        x, clean_edges(edge_index, n), y, *masks, num_classes=num_classes, name=name, time=time, info=dict(info or {})
    )


def as_graph(data, num_classes: int | None = None) -> Graph:
    """A :class:`Graph` as is, or a PyTorch Geometric ``Data`` converted (and checked)."""
    if isinstance(data, Graph):
        return data
    missing = [k for k in ("x", "edge_index", "y") if getattr(data, k, None) is None]
    if missing:
        raise DataError(
            f"{type(data).__name__} has no {', '.join(missing)}; pass a Graph or a "
            "torch_geometric Data with x, edge_index and y"
        )
    n = data.x.shape[0]
    masks = []
    for key in ("train_mask", "val_mask", "test_mask"):
        value = getattr(data, key, None)
        masks.append(torch.zeros(n, dtype=torch.bool) if value is None else value)
    y = data.y.view(-1) if data.y.dim() > 1 and data.y.shape[1] == 1 else data.y
    return make_graph(
        data.x,
        data.edge_index,
        y,
        *masks,
        num_classes=num_classes or getattr(data, "num_classes", None),
        name=type(data).__name__,
    )


def _planetoid_masks(y: np.ndarray, num_classes: int, rng: np.random.Generator, per_class: int, val: int, test: int):
    """Public-split style masks: ``per_class`` training nodes per class, then val and test nodes."""
    n = len(y)
    order = rng.permutation(n)
    ranks = np.empty(n, dtype=np.int64)
    # Rank of each node within its class, in the random order.
    sorted_by_class = order[np.argsort(y[order], kind="stable")]
    counts = np.bincount(y, minlength=num_classes)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    ranks[sorted_by_class] = np.arange(n) - np.repeat(starts, counts)
    train = ranks < per_class
    rest = order[~train[order]]
    val_mask, test_mask = np.zeros(n, bool), np.zeros(n, bool)
    val_mask[rest[:val]] = True
    test_mask[rest[val : val + test]] = True
    return torch.from_numpy(train), torch.from_numpy(val_mask), torch.from_numpy(test_mask)


def _sample_in_groups(groups: np.ndarray, group_of_target: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One uniform node of group ``group_of_target[k]`` for every k (nodes sorted by group)."""
    order = np.argsort(groups, kind="stable")
    counts = np.bincount(groups)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    size = counts[group_of_target]
    if (size == 0).any():
        raise DataError("a class or time step has no nodes; use more nodes or fewer classes")
    pick = starts[group_of_target] + (rng.random(len(group_of_target)) * size).astype(np.int64)
    return order[pick]


def csbm(
    num_nodes: int = 2000,
    num_classes: int = 4,
    num_features: int = 64,
    signal: float = 1.0,
    homophily: float = 0.8,
    avg_degree: float = 8.0,
    seed: int = 0,
    train_per_class: int = 20,
    num_val: int = 500,
    num_test: int = 1000,
) -> Graph:
    """Contextual SBM: ``x = signal * mu_y + noise`` with unit-norm random class means ``mu`` and
    standard normal noise scaled by ``1/sqrt(num_features)``; each of ``num_nodes * avg_degree / 2``
    undirected edges joins a uniform node to a node of its own class with probability
    ``homophily``, else to a node of a uniformly chosen other class."""
    if num_classes < 2 or num_nodes < num_classes:
        raise DataError(f"csbm needs num_classes >= 2 and num_nodes >= num_classes, got {num_classes} and {num_nodes}")
    if not 0.0 <= homophily <= 1.0:
        raise DataError(f"homophily {homophily} must lie in [0, 1]")
    rng = np.random.default_rng(seed)
    y = rng.integers(0, num_classes, num_nodes)
    y[:num_classes] = np.arange(num_classes)  # every class present
    means = rng.standard_normal((num_classes, num_features))
    means /= np.linalg.norm(means, axis=1, keepdims=True)
    x = signal * means[y] + rng.standard_normal((num_nodes, num_features)) / np.sqrt(num_features)
    num_edges = int(num_nodes * avg_degree / 2)
    src = rng.integers(0, num_nodes, num_edges)
    same = rng.random(num_edges) < homophily
    other = (y[src] + rng.integers(1, num_classes, num_edges)) % num_classes
    dst = _sample_in_groups(y, np.where(same, y[src], other), rng)
    edge_index = to_undirected(torch.from_numpy(np.stack([src, dst])), num_nodes)
    masks = _planetoid_masks(y, num_classes, rng, train_per_class, num_val, num_test)
    info = {"signal": signal, "homophily": homophily, "avg_degree": avg_degree, "seed": seed}
    return make_graph(
        x.astype(np.float32), edge_index, y, *masks, num_classes=num_classes, name=f"csbm{num_nodes}", info=info
    )


ILLICIT, LICIT, UNKNOWN = 1, 0, -1


def temporal_transactions(
    num_steps: int = 49,
    nodes_per_step: int = 800,
    num_local: int = 32,
    illicit_rate: float = 0.1,
    labelled_rate: float = 0.25,
    avg_degree: float = 2.3,
    illicit_link: float = 0.6,
    shift_step: int = 43,
    train_steps: int = 34,
    seed: int = 0,
) -> Graph:
    """Synthetic Elliptic-style transaction graph (a stand-in: the real data set is not here).

    Each time step is its own graph (payment flows stay within a step, as in Elliptic). Licit
    nodes have standard normal local features; illicit nodes follow one of three typologies, each
    a sign pattern shifted onto 6 of the features (a non-linear rule that trees separate more
    easily than a linear model), and from ``shift_step`` on a fourth, unseen typology takes over
    half of the illicit nodes. An illicit node's edge goes to another illicit node with
    probability ``illicit_link``. Aggregated features: the mean of the neighbours' local
    features and the log-degree (Elliptic's 94 local + 72 aggregated features, scaled down).
    Only ``labelled_rate`` of the nodes carry a label (Elliptic: 23 %); ``y`` is 0 for the
    rest, which sit in no mask. Train: labelled nodes of steps ``1..train_steps``, 10 % of them
    held out as validation; test: labelled nodes of the later steps. ``time`` holds the step.
    """
    rng = np.random.default_rng(seed)
    n = num_steps * nodes_per_step
    step = np.repeat(np.arange(1, num_steps + 1), nodes_per_step)
    illicit = rng.random(n) < illicit_rate
    typology = rng.integers(0, 3, n)
    typology[(step >= shift_step) & (rng.random(n) < 0.5)] = 3
    patterns = rng.choice([-1.0, 1.0], size=(4, 6)) * 1.6
    columns = np.stack([rng.choice(num_local, 6, replace=False) for _ in range(4)])
    local = rng.standard_normal((n, num_local))
    rows = np.nonzero(illicit)[0]
    local[rows[:, None], columns[typology[rows]]] += patterns[typology[rows]]
    # Edges inside each step; illicit sources prefer illicit targets.
    num_edges = int(n * avg_degree / 2)
    src = rng.integers(0, n, num_edges)
    to_illicit = illicit[src] & (rng.random(num_edges) < illicit_link)
    group = (step - 1) * 2 + illicit
    target_group = np.where(
        to_illicit, (step[src] - 1) * 2 + 1, (step[src] - 1) * 2 + (rng.random(num_edges) < illicit_rate)
    )
    counts = np.bincount(group, minlength=2 * num_steps)
    target_group = np.where(counts[target_group] > 0, target_group, (step[src] - 1) * 2)
    dst = _sample_in_groups(group, target_group, rng)
    edge_index = to_undirected(torch.from_numpy(np.stack([src, dst])), n)
    deg = torch.bincount(edge_index[0], minlength=n).clamp(min=1).double()
    neigh = torch.zeros(n, num_local, dtype=torch.float64).index_add_(
        0, edge_index[0], torch.from_numpy(local)[edge_index[1]]
    )
    aggregated = torch.cat([neigh / deg[:, None], deg.log()[:, None]], dim=1).numpy()
    x = np.concatenate([local, aggregated], axis=1).astype(np.float32)
    labelled = rng.random(n) < labelled_rate
    early = step <= train_steps
    holdout = rng.random(n) < 0.1
    train = labelled & early & ~holdout
    val = labelled & early & holdout
    test = labelled & ~early
    info = {
        "stand_in": True,
        "num_local": num_local,
        "labelled": labelled,
        "train_steps": train_steps,
        "shift_step": shift_step,
        "seed": seed,
    }
    return make_graph(
        x,
        edge_index,
        illicit.astype(np.int64),
        torch.from_numpy(train),
        torch.from_numpy(val),
        torch.from_numpy(test),
        num_classes=2,
        name="elliptic-standin",
        time=step,
        info=info,
    )
