"""Fake-quantisation layers: value sets, straight-through gradients, LSQ scale gradient, bit-width errors."""

import math

import pytest
import torch

from mlpzoo import create_model
from mlpzoo.errors import ConfigError
from mlpzoo.layers.quant import (
    QuantInput,
    Quantizer,
    QuantLinear,
    QuantReLU,
    check_bits,
    round_ste,
)


@pytest.mark.parametrize("bits", [0, 9, -1, 2.0, True, "4", None])
def test_bit_width_outside_1_to_8_is_a_config_error(bits):
    with pytest.raises(ConfigError, match="from 1 to 8") as info:
        check_bits(bits, "weight_bits")
    assert "weight_bits" in str(info.value) and "\n" not in str(info.value)


def test_model_rejects_bad_per_layer_bits():
    with pytest.raises(ConfigError, match=r"weight_bits\[1\]"):
        create_model("cqmlp_2bit", weight_bits=[2, 9, 2, 2])
    with pytest.raises(ConfigError, match="4 such layers"):
        create_model("cqmlp_2bit", weight_bits=[2, 2])
    with pytest.raises(ConfigError, match="all be set"):
        create_model("cqmlp_2bit", act_bits=None)
    with pytest.raises(ConfigError):
        QuantReLU(0)


@pytest.mark.parametrize("bits", [1, 2, 3, 8])
def test_weight_quantiser_values(bits):
    torch.manual_seed(0)
    q = Quantizer(bits, signed=True, init_scale=0.3)
    w = torch.randn(500)
    out = q(w)
    s = float(q.scale().detach())
    assert math.log2(s) == round(math.log2(s))  # power of two
    codes = out / s
    assert torch.equal(codes, codes.round())
    if bits == 1:
        assert set(codes.unique().tolist()) == {-1.0, 1.0}
    else:
        top = 2 ** (bits - 1) - 1
        assert codes.min() >= -top and codes.max() <= top
        assert torch.equal(out, torch.clamp(torch.round(w / s), -top, top) * s)
    if bits == 2:
        assert set(codes.unique().tolist()) <= {-1.0, 0.0, 1.0}  # ternary


def test_activation_and_input_quantisers():
    act = QuantReLU(2, max_value=3.0)
    y = act(torch.linspace(-2, 5, 50))
    assert set((y / act.scale()).unique().tolist()) <= {0.0, 1.0, 2.0, 3.0}
    inp = QuantInput(8)
    x = torch.tensor([0.0, 1.0, 0.5, 0.3])
    assert torch.equal(inp(x)[:3], x[:3])  # bits and halves are exact
    assert abs(float(inp(x)[3]) - 0.3) <= 2**-8
    assert torch.equal(QuantInput(1)(torch.tensor([0.2, 0.7, 1.0])), torch.tensor([0.0, 1.0, 1.0]))


def test_straight_through_gradients():
    x = torch.tensor([0.2, 1.7, -3.4], requires_grad=True)
    round_ste(x).sum().backward()
    assert torch.equal(x.grad, torch.ones(3))
    # Clamped values get no gradient; in-range ones get 1.
    q = Quantizer(2, signed=True, init_scale=1.0, learn_scale=False)
    w = torch.tensor([0.3, -0.9, 1.2, -7.0, 3.0], requires_grad=True)
    q(w).sum().backward()
    assert torch.equal(w.grad, torch.tensor([1.0, 1.0, 1.0, 0.0, 0.0]))
    # Binary weights: gradient where |w / s| <= 1 (clipped STE).
    b = Quantizer(1, signed=True, init_scale=1.0, learn_scale=False)
    w = torch.tensor([0.5, -0.99, 1.5, -2.0], requires_grad=True)
    out = b(w)
    assert torch.equal(out, torch.tensor([1.0, -1.0, 1.0, -1.0]))
    out.sum().backward()
    assert torch.equal(w.grad, torch.tensor([1.0, 1.0, 0.0, 0.0]))


def test_scale_gradient_is_lsq():
    q = Quantizer(3, signed=True, init_scale=0.5)  # s = 0.5, codes in [-3, 3]
    w = torch.tensor([0.3, -0.8, 0.1, 2.9, -5.0])
    q(w).sum().backward()
    v = w / 0.5
    in_range = v.abs() <= 3
    d_scale = torch.where(in_range, torch.round(v) - v, torch.sign(v) * 3).sum()
    expected = d_scale * 0.5 * math.log(2) / math.sqrt(w.numel() * 3)  # ds/dlog2s and LSQ's gradient scale
    assert torch.allclose(q.log2_scale.grad, expected)


def test_quant_linear_bias_sits_on_the_accumulator_grid():
    torch.manual_seed(0)
    layer = QuantLinear(6, 3, weight_bits=4)
    x_scale = torch.tensor(0.25)
    x = torch.randint(0, 4, (5, 6)).float() * x_scale
    out = layer(x, input_scale=x_scale)
    acc_scale = x_scale * layer.weight_quant.scale()
    assert torch.equal(out / acc_scale, (out / acc_scale).round())
    with pytest.raises(ValueError, match="input_scale"):
        layer(x)


def test_qat_model_trains_through_quantisers():
    torch.manual_seed(0)
    model = create_model("cqmlp_2bit", in_features=10, num_classes=3, hidden=(16, 16))
    x, y = torch.rand(64, 10), torch.randint(0, 3, (64,))
    torch.nn.functional.cross_entropy(model(x), y).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert model.linears[0].weight.grad.abs().sum() > 0 and model.acts[0].quant.log2_scale.grad != 0
