"""Graph operators and layers against dense references on tiny graphs; neighbour sampling."""

import torch

from mlpzoo.layers.graph import (
    CSRGraph,
    GCNConv,
    SAGEConv,
    gcn_adjacency,
    mean_adjacency,
    neighborhood_blocks,
    sample_neighbors,
)

EDGES = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])  # path 0-1-2-3, node 4 isolated
N = 5


def _dense_adj():
    a = torch.zeros(N, N)
    a[EDGES[1], EDGES[0]] = 1.0
    return a


def test_gcn_adjacency_matches_dense_formula():
    a_hat = _dense_adj() + torch.eye(N)
    d = a_hat.sum(1).rsqrt()
    expected = d[:, None] * a_hat * d[None, :]
    assert torch.allclose(gcn_adjacency(EDGES, N).to_dense(), expected)
    # An existing self-loop is not doubled.
    with_loop = torch.cat([EDGES, torch.tensor([[0], [0]])], dim=1)
    assert torch.allclose(gcn_adjacency(with_loop, N).to_dense(), expected)


def test_gcn_conv_propagation_and_gradient_vs_dense():
    torch.manual_seed(0)
    conv = GCNConv(3, 2)
    x = torch.randn(N, 3, requires_grad=True)
    out = conv(x, gcn_adjacency(EDGES, N))
    dense = gcn_adjacency(EDGES, N).to_dense() @ (x @ conv.linear.weight.t()) + conv.bias
    assert torch.allclose(out, dense, atol=1e-6)
    (g_sparse,) = torch.autograd.grad(out.pow(2).sum(), x)
    (g_dense,) = torch.autograd.grad(dense.pow(2).sum(), x)
    assert torch.allclose(g_sparse, g_dense, atol=1e-5)


def test_sage_mean_aggregation_and_isolated_node():
    torch.manual_seed(0)
    conv = SAGEConv(3, 2)
    x = torch.randn(N, 3)
    mean = mean_adjacency(EDGES, N).to_dense()
    assert torch.allclose(mean[1], torch.tensor([0.5, 0, 0.5, 0, 0]))
    assert mean[4].abs().sum() == 0
    expected = conv.self_linear(x) + conv.neigh_linear(mean @ x)
    assert torch.allclose(conv(x, mean_adjacency(EDGES, N)), expected, atol=1e-6)


def test_sampling_without_replacement_respects_fanout():
    star = torch.stack([torch.arange(1, 11), torch.zeros(10, dtype=torch.long)])  # node 0 has 10 in-neighbours
    g = CSRGraph.from_edge_index(star, 11)
    seg, nbr = sample_neighbors(g, torch.tensor([0, 3]), 4, torch.Generator().manual_seed(0))
    assert (seg == 0).sum() == 4 and (seg == 1).sum() == 0
    assert len(set(nbr.tolist())) == 4 and set(nbr.tolist()) <= set(range(1, 11))
    seen = set()
    for s in range(30):
        seen |= set(sample_neighbors(g, torch.tensor([0]), 4, torch.Generator().manual_seed(s))[1].tolist())
    assert seen == set(range(1, 11))


def test_exact_gcn_blocks_reproduce_full_graph_rows():
    torch.manual_seed(0)
    edges = torch.randint(0, 30, (2, 80))
    edges = torch.cat([edges, edges.flip(0)], 1)
    edges = edges[:, edges[0] != edges[1]].unique(dim=1)
    convs = [GCNConv(4, 5), GCNConv(5, 3)]
    x = torch.randn(30, 4)
    adj = gcn_adjacency(edges, 30)
    full = convs[1](torch.relu(convs[0](x, adj)), adj)
    targets = torch.tensor([3, 17, 0])
    blocks = neighborhood_blocks(CSRGraph.from_edge_index(edges, 30), targets, [None, None], "gcn")
    h = x[blocks[0].src]
    h = torch.relu(convs[0](h, blocks[0].adj))
    h = convs[1](h, blocks[1].adj)
    assert torch.allclose(h, full[targets], atol=1e-5)
    assert torch.equal(blocks[1].src[:3], targets)
