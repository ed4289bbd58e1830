"""What the graph claims (ff-g2m, mowst) share: the graphs they read."""

from __future__ import annotations

from mlpzoo.data.graphs import Graph, csbm
from mlpzoo.data.planetoid import load_planetoid

__all__ = ["CSBM", "load_graph"]

# A homophilous contextual stochastic block model beside Cora and Citeseer (generated, seed 0).
CSBM = {"num_nodes": 3000, "num_classes": 5, "num_features": 100, "signal": 1.0, "homophily": 0.8, "avg_degree": 8.0}


def load_graph(name: str, data_dir=None, split: str = "public", seed: int = 0) -> Graph:
    """``csbm`` (the :data:`CSBM` graph) or a Planetoid data set with ``split`` (``public`` or ``cpf``)."""
    if name == "csbm":
        return csbm(**CSBM, seed=0)
    return load_planetoid(name, data_dir, split=split, seed=seed)
