"""Graph neural networks for node classification: the teachers of GNN-to-MLP distillation and
the strong expert of Mowst.

- GCN: Kipf & Welling, "Semi-Supervised Classification with Graph Convolutional Networks",
  ICLR 2017, arXiv:1609.02907.
- GraphSAGE (mean aggregator): Hamilton, Ying & Leskovec, "Inductive Representation Learning on
  Large Graphs", NeurIPS 2017, arXiv:1706.02216.
- Defaults are GLNN's published Cora/Citeseer settings (Zhang et al., "Graph-less Neural
  Networks: Teaching Old MLPs New Tricks via Distillation", ICLR 2022, arXiv:2110.08727,
  train.conf.yaml): GCN 2 layers, hidden 64, dropout 0.8; SAGE 2 layers, hidden 128, dropout 0,
  neighbour fan-out 5,5 at inference.

A model reads ``(x, adj)`` with ``adj`` the sparse operator from :meth:`adjacency` (built once per
graph), returns logits for every node, and offers :meth:`embed` (the last hidden layer, used as
node embeddings) and :meth:`forward_blocks` (only some target nodes, through their exact or
sampled neighbourhoods; see :func:`~mlpzoo.layers.graph.neighborhood_blocks`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mlpzoo.layers.dropout import dropout
from mlpzoo.layers.graph import Block, GCNConv, SAGEConv, gcn_adjacency, mean_adjacency
from mlpzoo.registry import register_model

__all__ = ["GCN", "GraphSAGE"]


class _MessagePassingNet(nn.Module):
    block_kind = ""

    def __init__(self, layers: list[nn.Module], dropout: float):
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.dropout = dropout

    def _hidden(self, h: torch.Tensor) -> torch.Tensor:
        return dropout(F.relu(h), self.dropout, self.training)

    def embed(self, x: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        """Output of the last hidden layer (after ReLU)."""
        h = x
        for layer in self.layers[:-1]:
            h = self._hidden(self._conv(layer, h, adj))
        return h

    def forward(self, x: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        return self._conv(self.layers[-1], self.embed(x, adj), adj)

    def forward_blocks(self, x: torch.Tensor, blocks: list[Block]) -> torch.Tensor:
        """Logits of the targets of ``blocks`` (innermost hop first), reading ``x`` of all nodes."""
        if len(blocks) != len(self.layers):
            raise ValueError(f"{len(blocks)} blocks for {len(self.layers)} layers; build one block per layer")
        h = x[blocks[0].src]
        for i, (layer, block) in enumerate(zip(self.layers, blocks)):
            h = self._conv(layer, h, block.adj, h[: block.num_dst])
            if i < len(self.layers) - 1:
                h = self._hidden(h)
        return h


class GCN(_MessagePassingNet):
    """GCN: ``num_layers`` :class:`GCNConv` layers, ReLU and dropout between them."""

    block_kind = "gcn"

    def __init__(self, in_features: int, num_classes: int, hidden: int = 64, num_layers: int = 2, dropout: float = 0.8):
        widths = [in_features] + [hidden] * (num_layers - 1) + [num_classes]
        super().__init__([GCNConv(a, b) for a, b in zip(widths[:-1], widths[1:])], dropout)

    @staticmethod
    def adjacency(edge_index: torch.Tensor, num_nodes: int) -> torch.Tensor:
        return gcn_adjacency(edge_index, num_nodes)

    @staticmethod
    def _conv(layer, h, adj, h_target=None):
        return layer(h, adj)


class GraphSAGE(_MessagePassingNet):
    """GraphSAGE with the mean aggregator: ``num_layers`` :class:`SAGEConv` layers."""

    block_kind = "mean"

    def __init__(
        self, in_features: int, num_classes: int, hidden: int = 128, num_layers: int = 2, dropout: float = 0.0
    ):
        widths = [in_features] + [hidden] * (num_layers - 1) + [num_classes]
        super().__init__([SAGEConv(a, b) for a, b in zip(widths[:-1], widths[1:])], dropout)

    @staticmethod
    def adjacency(edge_index: torch.Tensor, num_nodes: int) -> torch.Tensor:
        return mean_adjacency(edge_index, num_nodes)

    @staticmethod
    def _conv(layer, h, adj, h_target=None):
        return layer(h, adj, h_target)


def _example(network) -> tuple[dict, tuple]:
    """A path of three nodes with five features each; ``network`` builds its own operator from the edges."""
    features = torch.randn(3, 5, generator=torch.Generator().manual_seed(0))
    edges = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    return {"in_features": 5, "num_classes": 3, "hidden": 8}, (features, network.adjacency(edges, 3))


@register_model("gcn", family="graph", paper="ff-g2m", example=lambda: _example(GCN))
def gcn(
    in_features: int = 1433, num_classes: int = 7, hidden: int = 64, num_layers: int = 2, dropout: float = 0.8
) -> GCN:
    return GCN(in_features, num_classes, hidden, num_layers, dropout)


@register_model("graphsage", family="graph", paper="ff-g2m", example=lambda: _example(GraphSAGE))
def graphsage(
    in_features: int = 1433, num_classes: int = 7, hidden: int = 128, num_layers: int = 2, dropout: float = 0.0
) -> GraphSAGE:
    return GraphSAGE(in_features, num_classes, hidden, num_layers, dropout)
