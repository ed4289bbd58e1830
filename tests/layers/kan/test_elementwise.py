"""Analytic elementwise FLOPs of the KAN layers, as count_flops adds them to PyTorch's matmul count."""

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from mlpzoo.layers.kan import (
    AFKANLinear,
    BSplineKANLinear,
    GRKANLinear,
    GroupRational,
    RBFKANLinear,
    ReLUKANLinear,
)
from mlpzoo.layers.kan.elementwise import ACTIVATION_FLOPS, activation_flops, input_rows
from mlpzoo.measure import count_flops
from mlpzoo.models.kan import KANNet


def test_group_rational_counts_twenty_flops_per_element():
    x = torch.randn(3, 5, 16)
    assert GroupRational(16).elementwise_flops((x,)) == 20 * x.numel()
    # GRKANLinear: the rational's elementwise work plus the linear map (counted once each).
    layer = GRKANLinear(16, 4)
    assert count_flops(layer, x) == 20 * x.numel() + 2 * 15 * 16 * 4


def test_relu_kan_counts_seven_per_bump():
    layer = ReLUKANLinear(6, 3, grid_size=5, spline_order=3)
    x = torch.rand(4, 6)
    assert layer.elementwise_flops((x,)) == 7 * 4 * 6 * 8
    assert count_flops(layer, x) == 7 * 4 * 6 * 8 + 2 * 4 * 6 * 8 * 3


def test_rbf_counts_norm_gaussians_and_base_branch():
    layer = RBFKANLinear(6, 3, num_centers=8)
    x = torch.randn(4, 6)
    per_row = 6 * 5 * 8 + 8 * 6 + 5 * 6 + 3
    assert layer.elementwise_flops((x,)) == 4 * per_row
    bare = RBFKANLinear(6, 3, num_centers=8, use_layernorm=False, use_base=False)
    assert bare.elementwise_flops((x,)) == 4 * 6 * 5 * 8


def test_bspline_counts_coordinates_bases_activation_and_scaled_coefficients():
    layer = BSplineKANLinear(6, 3, grid_size=5, spline_order=3)
    x = torch.randn(4, 6)
    per_input = 7 + 14 + 5  # coordinates, cubic closed form, SiLU
    assert layer.elementwise_flops((x,)) == 4 * (6 * per_input + 3) + 3 * 8 * 6
    quadratic = BSplineKANLinear(6, 3, spline_order=2, enable_standalone_scale_spline=False)
    assert quadratic.elementwise_flops((x,)) == 4 * (6 * (7 + 12 + 5) + 3)


def test_af_kan_counts_bumps_attention_norm_and_post_activation():
    layer = AFKANLinear(6, 3, functions=("relu", "silu"), num_grids=4)
    x = torch.randn(4, 6)
    bumps = ((7 + 2 * 1) + (7 + 2 * 5)) * 4
    attention = (1 + 5 + 2) * 8
    assert layer.elementwise_flops((x,)) == 4 * 6 * (bumps + attention + 8 + 5)
    linear = AFKANLinear(6, 3, functions=("relu",), num_grids=4, reduction="linear", norm="none", post_activation=None)
    assert linear.elementwise_flops((x,)) == 4 * 6 * (7 + 2) * 4


@pytest.mark.parametrize("layer", ["bspline", "rbf", "relu", "af", "grkan"])
def test_count_is_matmuls_plus_each_layers_elementwise_work_once(layer):
    net = KANNet(4, 2, hidden=(8,), layer=layer)
    x = torch.randn(3, 4)
    inputs = []
    hooks = [
        m.register_forward_hook(lambda m, args, out: inputs.append((m, args)))
        for m in net.modules()
        if hasattr(m, "elementwise_flops")
    ]
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        net(x)
    for hook in hooks:
        hook.remove()
    assert len(inputs) == 2  # one counted module per KAN layer (GR-KAN: its rational)
    expected = counter.get_total_flops() + sum(m.elementwise_flops(args) for m, args in inputs)
    assert count_flops(net, x) == expected
    # Per-sample work scales with the batch; only the B-spline layer's coefficient scaling is per call.
    fixed = sum(m.spline_weight.numel() for m in net.modules() if isinstance(m, BSplineKANLinear))
    assert count_flops(net, torch.randn(6, 4)) - fixed == 2 * (expected - fixed)


def test_activation_table_and_rows():
    assert activation_flops(None) == 0 and activation_flops("SiLU") == ACTIVATION_FLOPS["silu"]
    assert input_rows(torch.zeros(2, 3, 5)) == 6 and input_rows(torch.zeros(0, 5)) == 0
