"""Graph container, input checks, PyG-style input, CSBM and the temporal stand-in."""

from types import SimpleNamespace

import pytest
import torch

from mlpzoo.data.graphs import as_graph, csbm, make_graph, temporal_transactions
from mlpzoo.errors import DataError


def _parts(n=4):
    x = torch.ones(n, 3)
    edges = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    y = torch.tensor([0, 1, 0, 1])
    masks = [
        torch.tensor([True, False, False, False]),
        torch.tensor([False, True, False, False]),
        torch.tensor([False, False, True, True]),
    ]
    return x, edges, y, masks


def test_self_loops_and_duplicates_are_dropped_isolated_nodes_kept():
    x, _, y, masks = _parts()
    edges = torch.tensor([[0, 0, 1, 2, 0], [1, 1, 0, 2, 1]])
    g = make_graph(x, edges, y, *masks)
    assert g.edge_index.tolist() == [[0, 1], [1, 0]]
    assert g.num_nodes == 4  # nodes 2 and 3 are isolated and stay


@pytest.mark.parametrize(
    "change,field",
    [
        (lambda p: p.__setitem__(1, torch.tensor([[0, 9], [1, 0]])), "edge_index"),
        (lambda p: p.__setitem__(1, torch.tensor([[0, -1], [1, 0]])), "edge_index"),
        (lambda p: p[0].__setitem__((2, 1), float("nan")), "NaN"),
        (lambda p: p.__setitem__(2, torch.tensor([0, 1, 5, 1])), "labels"),
        (lambda p: p.__setitem__(2, torch.tensor([0, -1, 0, 1])), "labels"),
    ],
)
def test_bad_input_raises_one_line_error(change, field):
    x, edges, y, masks = _parts()
    parts = [x.clone(), edges, y, masks]
    change(parts)
    with pytest.raises(DataError) as info:
        make_graph(parts[0], parts[1], parts[2], *parts[3], num_classes=2)
    assert field in str(info.value) and "\n" not in str(info.value)


def test_bad_masks():
    x, edges, y, masks = _parts()
    with pytest.raises(DataError, match="boolean"):
        make_graph(x, edges, y, torch.zeros(4), masks[1], masks[2])
    with pytest.raises(DataError, match="shape"):
        make_graph(x, edges, y, torch.zeros(3, dtype=torch.bool), masks[1], masks[2])


def test_pyg_like_data_is_accepted_and_checked():
    x, edges, y, masks = _parts()
    data = SimpleNamespace(
        x=x, edge_index=edges, y=y.view(-1, 1), train_mask=masks[0], val_mask=None, test_mask=masks[2]
    )
    g = as_graph(data)
    assert g.num_classes == 2 and g.val_mask.sum() == 0 and g.y.shape == (4,)
    with pytest.raises(DataError, match="edge_index"):
        as_graph(SimpleNamespace(x=x, edge_index=None, y=y))


def test_subgraph_relabels_and_keeps_internal_edges():
    x, edges, y, masks = _parts()
    g = make_graph(torch.arange(12.0).view(4, 3), edges, y, *masks)
    sub = g.subgraph(torch.tensor([1, 2]))
    assert sub.x[0].tolist() == [3.0, 4.0, 5.0]
    assert sorted(map(tuple, sub.edge_index.t().tolist())) == [(0, 1), (1, 0)]


def test_csbm_homophily_masks_and_determinism():
    g = csbm(num_nodes=3000, num_classes=4, homophily=0.9, avg_degree=10, seed=1)
    src, dst = g.edge_index
    assert (g.edge_index[0] != g.edge_index[1]).all()
    same = (g.y[src] == g.y[dst]).float().mean()
    assert 0.85 < same < 0.95
    assert g.train_mask.sum() == 80 and g.val_mask.sum() == 500 and g.test_mask.sum() == 1000
    assert not (g.train_mask & g.test_mask).any()
    assert torch.equal(csbm(num_nodes=3000, seed=1).edge_index, csbm(num_nodes=3000, seed=1).edge_index)
    # Symmetric: every edge appears in both directions.
    key = set(map(tuple, g.edge_index.t().tolist()))
    assert all((b, a) in key for a, b in list(key)[:500])


def test_temporal_transactions_split_is_temporal():
    g = temporal_transactions(nodes_per_step=60, seed=0)
    assert g.time[g.train_mask].max() <= 34 and g.time[g.test_mask].min() >= 35
    src, dst = g.edge_index
    assert (g.time[src] == g.time[dst]).all()  # flows stay within a time step
    assert 0.03 < g.y[g.train_mask].float().mean() < 0.2
