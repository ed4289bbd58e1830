"""GCN and GraphSAGE: registry, shapes, embeddings, block inference equals full-graph inference."""

import pytest
import torch

from mlpzoo.layers.graph import CSRGraph, neighborhood_blocks
from mlpzoo.registry import create_model, list_models

EDGES = torch.tensor([[0, 1, 1, 2, 2, 3, 4, 0], [1, 0, 2, 1, 3, 2, 0, 4]])


def test_registered_in_graph_family():
    assert {"gcn", "graphsage"} <= set(list_models(family="graph"))


@pytest.mark.parametrize("name", ["gcn", "graphsage"])
def test_forward_embed_and_exact_blocks(name):
    torch.manual_seed(0)
    model = create_model(name, in_features=6, num_classes=3, hidden=8).eval()
    x = torch.randn(6, 6)
    adj = model.adjacency(EDGES, 6)
    out = model(x, adj)
    assert out.shape == (6, 3) and model.embed(x, adj).shape == (6, 8)
    targets = torch.tensor([1, 5])
    blocks = neighborhood_blocks(CSRGraph.from_edge_index(EDGES, 6), targets, [None, None], model.block_kind)
    assert torch.allclose(model.forward_blocks(x, blocks), out[targets], atol=1e-5)


def test_sage_sampled_blocks_with_large_fanout_are_exact():
    torch.manual_seed(0)
    model = create_model("graphsage", in_features=4, num_classes=2, hidden=5).eval()
    x = torch.randn(6, 4)
    blocks = neighborhood_blocks(CSRGraph.from_edge_index(EDGES, 6), torch.tensor([0, 2]), [10, 10], "mean")
    assert torch.allclose(model.forward_blocks(x, blocks), model(x, model.adjacency(EDGES, 6))[[0, 2]], atol=1e-5)


def test_sparse_features_give_the_same_logits():
    torch.manual_seed(0)
    model = create_model("gcn", in_features=10, num_classes=2).eval()
    x = (torch.rand(6, 10) < 0.1).float()
    adj = model.adjacency(EDGES, 6)
    assert torch.allclose(model(x.to_sparse_csr(), adj), model(x, adj), atol=1e-6)
