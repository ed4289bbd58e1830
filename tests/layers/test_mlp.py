"""The MLP block: layer order, output width and initialisation."""

import math

import torch
from torch import nn

from mlpzoo.layers.activation import Dice
from mlpzoo.layers.dropout import Dropout
from mlpzoo.layers.linear import Linear
from mlpzoo.layers.mlp import MLP


def test_structure_order_with_norm_and_dropout():
    mlp = MLP(5, (8, 6), output_dim=1, activation="relu", dropout=0.1, batch_norm=True)
    kinds = [type(m) for m in mlp]
    assert kinds == [
        Linear,
        nn.BatchNorm1d,
        nn.ReLU,
        Dropout,
        Linear,
        nn.BatchNorm1d,
        nn.ReLU,
        Dropout,
        Linear,
    ]
    shapes = [(m.in_features, m.out_features) for m in mlp if isinstance(m, nn.Linear)]
    assert shapes == [(5, 8), (8, 6), (6, 1)]
    assert mlp[3].p == 0.1
    assert mlp.input_dim == 5 and mlp.output_dim == 1
    assert mlp(torch.randn(4, 5)).shape == (4, 1)


def test_structure_without_norm_and_dropout():
    mlp = MLP(3, (4,), output_dim=2, activation="dice")
    assert [type(m) for m in mlp] == [Linear, Dice, Linear]
    assert mlp[1].alpha.numel() == 4


def test_output_dim_none_ends_at_last_hidden_layer():
    mlp = MLP(5, (8, 6), output_dim=None, dropout=0.2)
    assert type(mlp[-1]) is Dropout
    assert mlp.output_dim == 6
    assert mlp(torch.randn(3, 5)).shape == (3, 6)
    empty = MLP(7, (), output_dim=None)
    assert len(empty) == 0 and empty.output_dim == 7
    linear = MLP(7, (), output_dim=3)
    assert [type(m) for m in linear] == [Linear] and linear.output_dim == 3


def test_output_activation():
    torch.manual_seed(0)
    mlp = MLP(3, (4,), output_dim=2, output_activation="sigmoid")
    assert type(mlp[-1]) is nn.Sigmoid
    out = mlp(torch.randn(10, 3))
    assert ((out > 0) & (out < 1)).all()  # moderate inputs: float32 sigmoid saturates to exactly 1 near 17


def test_xavier_normal_init_and_zero_bias():
    torch.manual_seed(0)
    mlp = MLP(300, (500,), output_dim=200)
    for layer in (m for m in mlp if isinstance(m, nn.Linear)):
        assert torch.equal(layer.bias, torch.zeros_like(layer.bias))
        fan_in, fan_out = layer.in_features, layer.out_features
        xavier = math.sqrt(2.0 / (fan_in + fan_out))
        # torch's default (kaiming uniform) would give 1/sqrt(3 fan_in), clearly different here
        assert abs(layer.weight.std().item() - xavier) / xavier < 0.05
        assert abs(layer.weight.mean().item()) < 0.01 * xavier * 10
        # normal, not uniform: some weights beyond the uniform bound sqrt(3) * std
        assert (layer.weight.abs() > math.sqrt(3) * xavier).any()
