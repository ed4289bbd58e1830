"""mlpzoo's dropout: torch.nn.Dropout's function with counter-based hash masks, and relu_dropout."""

import math

import pytest
import torch
from torch import nn

from mlpzoo.errors import ConfigError
from mlpzoo.layers import dropout as dropout_module
from mlpzoo.layers.dropout import Dropout, dropout, dropout_keep, relu_dropout
from mlpzoo.layers.mlp import MLP


def _key_and_threshold(seed: int, p: float, device="cpu"):
    torch.manual_seed(seed)
    return dropout_module._draw_key(torch.device(device)), dropout_module._threshold(p)


def test_keeps_units_with_probability_one_minus_p_and_rescales_them():
    x = torch.ones(400_000)
    out = Dropout(0.4).train()(x)
    kept = out != 0
    # 400k Bernoulli(0.6) draws: the standard error of the rate is 7.7e-4.
    assert kept.float().mean().item() == pytest.approx(0.6, abs=0.004)
    assert torch.allclose(out[kept], torch.full_like(out[kept], 1 / 0.6))
    assert out.double().mean().item() == pytest.approx(1.0, abs=0.01)  # the expectation is preserved


def test_the_scale_is_the_exact_inverse_of_the_quantised_keep_rate():
    threshold, scale = dropout_module._threshold(0.4)
    assert threshold == round(0.6 * 2**32) and scale * threshold / 2**32 == pytest.approx(1.0, rel=1e-15)
    assert abs(threshold / 2**32 - 0.6) < 2**-32


def test_neighbouring_masks_are_uncorrelated():
    torch.manual_seed(0)
    kept = (Dropout(0.5).train()(torch.ones(200_000)) != 0).float()
    lag1 = torch.corrcoef(torch.stack([kept[:-1], kept[1:]]))[0, 1].item()
    lag2 = torch.corrcoef(torch.stack([kept[:-2], kept[2:]]))[0, 1].item()
    assert abs(lag1) < 0.01 and abs(lag2) < 0.01  # 200k pairs: the standard error is 0.0022


@pytest.mark.parametrize("shape", [(1,), (7,), (1001, 37), (4, 3, 5)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("relu", [False, True])
def test_c_kernel_and_torch_fallback_draw_the_same_bits(shape, dtype, relu):
    x = torch.randn(shape, dtype=dtype, generator=torch.Generator().manual_seed(1))
    torch.manual_seed(5)
    out = relu_dropout(x, 0.4) if relu else dropout(x, 0.4)
    key, (threshold, scale) = _key_and_threshold(5, 0.4)
    keep = dropout_keep(x.shape, key, threshold)
    expected = (torch.relu(x) if relu else x) * (keep.to(dtype) * scale)
    assert torch.equal(out, expected)


def test_other_dtypes_take_the_torch_path_with_the_same_mask():
    x = torch.randn(300, 11)
    torch.manual_seed(9)
    native = dropout(x, 0.3)
    torch.manual_seed(9)
    half = dropout(x.bfloat16(), 0.3)
    assert torch.equal(native != 0, half != 0)


def test_relu_dropout_is_dropout_of_relu_with_the_same_mask():
    x = torch.randn(257, 9)
    torch.manual_seed(4)
    fused = relu_dropout(x, 0.25)
    torch.manual_seed(4)
    assert torch.equal(fused, dropout(torch.relu(x), 0.25))
    assert torch.equal(relu_dropout(x, 0.25, training=False), torch.relu(x))


def test_nan_propagates_as_in_torch():
    x = torch.full((64,), math.nan)
    assert torch.isnan(dropout(x, 0.5)).all()  # NaN * 0 is NaN in torch.nn.Dropout too
    assert torch.isnan(relu_dropout(x, 0.5)).all()  # relu(NaN) = NaN


def test_identity_in_evaluation_and_at_p_zero():
    x = torch.randn(8, 5)
    assert Dropout(0.5).eval()(x) is x
    assert Dropout(0.0).train()(x) is x
    assert dropout(x, 0.5, training=False) is x


@pytest.mark.parametrize("relu", [False, True])
def test_gradient_is_the_mask_and_a_seed_pins_it(relu):
    x = torch.randn(64, 32, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
    torch.manual_seed(3)
    out = (relu_dropout if relu else dropout)(x, 0.3)
    out.sum().backward()
    _, (_, scale) = _key_and_threshold(3, 0.3)
    assert torch.equal(x.grad, (out.detach() != 0).float() * torch.tensor(scale, dtype=torch.float32))
    torch.manual_seed(3)
    again = (relu_dropout if relu else dropout)(x.detach(), 0.3)
    assert torch.equal(again, out.detach())


@pytest.mark.parametrize("relu", [False, True])
def test_gradcheck(relu):
    x = torch.randn(13, 7, dtype=torch.float64, requires_grad=True)

    def draw(t):
        torch.manual_seed(1)  # the same mask on every evaluation gradcheck makes
        return (relu_dropout if relu else dropout)(t, 0.3)

    assert torch.autograd.gradcheck(draw, (x,))


@pytest.mark.parametrize("p", [1.0, -0.1, True, "0.5"])
def test_refuses_a_probability_outside_zero_one(p):
    with pytest.raises(ConfigError, match="dropout p="):
        Dropout(p)
    with pytest.raises(ConfigError, match="dropout p="):
        relu_dropout(torch.ones(3), p)


def test_mlp_uses_it_and_fuses_relu_with_dropout():
    mlp = MLP(4, (8,), 1, dropout=0.2)
    assert any(isinstance(m, Dropout) for m in mlp) and not any(isinstance(m, nn.Dropout) for m in mlp)
    x = torch.randn(32, 4)
    torch.manual_seed(2)
    fused = mlp.train()(x)
    torch.manual_seed(2)
    h = mlp[0](x)
    unfused = mlp[3](dropout(torch.relu(h), 0.2))
    assert torch.allclose(fused, unfused)


def test_the_c_backward_refuses_a_second_derivative():
    x = torch.randn(16, 8, requires_grad=True)
    (grad,) = torch.autograd.grad(dropout(x, 0.5).pow(2).sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="once_differentiable|twice"):
        grad.sum().backward()
