"""Mowst: dispersion features, both losses, both inference modes, and a short fit."""

import math

import pytest
import torch

from mlpzoo.data.graphs import csbm
from mlpzoo.errors import ConfigError
from mlpzoo.layers.mlp import MLP
from mlpzoo.methods.mowst import ConfidenceGate, Mowst, MowstConfig, dispersion, fit_mowst, mowst_loss
from mlpzoo.models.graph import GCN
from mlpzoo.train.full_batch import accuracy


def test_dispersion_extremes_and_a_hand_value():
    d = dispersion(torch.tensor([[0.0, 0.0, 0.0], [100.0, 0.0, 0.0]]))
    assert torch.allclose(d[0], torch.zeros(2), atol=1e-6) and torch.allclose(d[1], torch.ones(2), atol=1e-4)
    p = [0.5, 0.25, 0.25]
    logits = torch.tensor([[math.log(v) for v in p]])
    mean = 1 / 3
    var = sum((v - mean) ** 2 for v in p) / 3 / ((1 / 3) * (2 / 3))
    ent = 1 - (-sum(v * math.log(v) for v in p)) / math.log(3)
    assert dispersion(logits)[0].tolist() == pytest.approx([var, ent], rel=1e-5)


def test_losses_by_hand():
    weak = torch.tensor([[2.0, 0.0]])
    strong = torch.tensor([[0.0, 1.0]])
    y, idx, g = torch.tensor([0]), torch.tensor([0]), torch.tensor([0.25])
    ce_w, ce_s = -math.log(math.exp(2) / (math.exp(2) + 1)), -math.log(1 / (1 + math.e))
    assert mowst_loss(weak, strong, g, y, idx, "separate").item() == pytest.approx(0.25 * ce_w + 0.75 * ce_s, rel=1e-5)
    mixed = 0.25 * weak + 0.75 * strong
    assert mowst_loss(weak, strong, g, y, idx, "joint").item() == pytest.approx(
        torch.nn.functional.cross_entropy(mixed, y).item(), rel=1e-6
    )
    with pytest.raises(ConfigError):
        mowst_loss(weak, strong, g, y, idx, "other")


def _model(g):
    return Mowst(
        MLP(g.x.shape[1], [16], g.num_classes), GCN(g.x.shape[1], g.num_classes, 16, dropout=0.5), ConfidenceGate(16)
    )


def test_fit_and_inference_modes():
    torch.manual_seed(0)
    g = csbm(
        num_nodes=500, num_classes=3, num_features=16, signal=0.7, homophily=0.9, seed=0, num_val=100, num_test=200
    )
    model = _model(g)
    adj = model.strong.adjacency(g.edge_index, g.num_nodes)
    info = fit_mowst(
        model,
        g.x,
        adj,
        g.y,
        g.index("train"),
        g.index("val"),
        MowstConfig(pretrain_epochs=40, epochs_per_phase=5, max_rounds=2),
    )
    assert info["epochs"] == 20 and set(info["pretrain_epochs"]) == {"weak", "strong"}
    mix = model.predict_proba(g.x, adj, "mixture")
    assert torch.allclose(mix.sum(1), torch.ones(g.num_nodes), atol=1e-5)
    sampled = model.predict_proba(g.x, adj, "sampled", torch.Generator().manual_seed(0))
    weak, strong, gate = model(g.x, adj)
    one_hot_choice = torch.isclose(sampled, weak.softmax(-1)).all(1) | torch.isclose(sampled, strong.softmax(-1)).all(1)
    assert one_hot_choice.all()
    assert accuracy(mix, g.y, g.index("test")) > 0.6
    with pytest.raises(ConfigError):
        model.predict_proba(g.x, adj, "vote")


def test_each_side_gets_its_own_weight_decay(monkeypatch):
    created = []

    class RecordingAdam(torch.optim.Adam):
        def __init__(self, params, **kwargs):
            params = list(params)
            created.append(({id(p) for p in params}, kwargs["weight_decay"]))
            super().__init__(params, **kwargs)

    monkeypatch.setattr(torch.optim, "Adam", RecordingAdam)
    g = csbm(num_nodes=200, num_classes=3, num_features=8, seed=0, num_val=50, num_test=50)
    torch.manual_seed(0)
    model = _model(g)
    adj = model.strong.adjacency(g.edge_index, g.num_nodes)
    fit_mowst(
        model,
        g.x,
        adj,
        g.y,
        g.index("train"),
        g.index("val"),
        MowstConfig(weight_decay=1e-3, weak_weight_decay=5e-3, pretrain_epochs=2, epochs_per_phase=1, max_rounds=1),
    )
    weak = {id(p) for p in model.weak.parameters()}
    weak_side = weak | {id(p) for p in model.gate.parameters()}
    strong = {id(p) for p in model.strong.parameters()}
    assert sorted((params == weak, params == weak_side, params == strong, wd) for params, wd in created) == sorted(
        [
            (True, False, False, 5e-3),
            (False, False, True, 1e-3),  # pre-training
            (False, True, False, 5e-3),
            (False, False, True, 1e-3),
        ]
    )  # alternation
    created.clear()
    fit_mowst(
        model,
        g.x,
        adj,
        g.y,
        g.index("train"),
        g.index("val"),
        MowstConfig(weight_decay=1e-3, pretrain=(), epochs_per_phase=1, max_rounds=1),
    )
    assert [wd for _, wd in created] == [1e-3, 1e-3]  # no weak_weight_decay: both sides share weight_decay
