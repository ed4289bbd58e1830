"""Cora and Citeseer read as PyG reads them; the restricted unpickler."""

import io
import pickle

import pytest
import torch

from mlpzoo.data.planetoid import _SafeUnpickler, load_planetoid
from mlpzoo.errors import DataError


@pytest.mark.parametrize(
    "name,nodes,features,edges,classes,train",
    [("cora", 2708, 1433, 10556, 7, 140), ("citeseer", 3327, 3703, 9104, 6, 120)],
)
def test_public_split_matches_pyg(need_data, name, nodes, features, edges, classes, train):
    need_data("planetoid")
    g = load_planetoid(name)
    assert g.x.shape == (nodes, features) and g.num_edges == edges and g.num_classes == classes
    assert (g.train_mask.sum(), g.val_mask.sum(), g.test_mask.sum()) == (train, 500, 1000)
    assert torch.allclose(g.x[g.x.sum(1) > 0].sum(1), torch.ones(1), atol=1e-5)
    assert (g.edge_index[0] != g.edge_index[1]).all()


def test_citeseer_isolated_test_ids_are_zero_padded(need_data):
    need_data("planetoid")
    g = load_planetoid("citeseer")
    # 3,327 nodes but 3,312 rows: the 15 ids of the test range that are not test nodes are padding.
    first_test = int(g.index("test").min())
    padded = (~g.test_mask[first_test:]).nonzero().view(-1) + first_test
    assert len(padded) == 15
    assert (g.x[padded] == 0).all() and (g.y[padded] == 0).all()


def test_unpickler_refuses_other_globals():
    payload = pickle.dumps(print)
    with pytest.raises(DataError, match="builtins.print"):
        _SafeUnpickler(io.BytesIO(payload), encoding="latin1").load()


def test_unknown_name():
    with pytest.raises(DataError, match="cora"):
        load_planetoid("pubmed")


@pytest.mark.parametrize("name,nodes,classes", [("cora", 2485, 7), ("citeseer", 2120, 6)])
def test_cpf_split_is_glnns_protocol(need_data, name, nodes, classes):
    need_data("planetoid")
    g = load_planetoid(name, split="cpf", seed=3)
    assert g.num_nodes == nodes and g.info["split"] == "cpf"
    assert int(g.train_mask.sum()) == 20 * classes and int(g.val_mask.sum()) == 30 * classes
    assert (g.train_mask | g.val_mask | g.test_mask).all() and not (g.train_mask & g.test_mask).any()
    assert torch.bincount(g.y[g.train_mask], minlength=classes).tolist() == [20] * classes
    assert set(g.x.unique().tolist()) == {0.0, 1.0}  # raw binary features, as GLNN reads them
    other = load_planetoid(name, split="cpf", seed=4)
    assert not torch.equal(g.train_mask, other.train_mask)
    assert torch.equal(g.train_mask, load_planetoid(name, split="cpf", seed=3).train_mask)
    with pytest.raises(DataError, match="public"):
        load_planetoid(name, split="random")
