"""RBFKANLinear (FastKAN) against an explicit Gaussian sum."""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from mlpzoo.errors import ConfigError, DataError
from mlpzoo.layers.kan import RBFKANLinear


def reference(layer, x):
    """``sum_i sum_j w[o, i*C + j] exp(-((z_i - c_j) / h)^2) + base``, looped over inputs and centres."""
    z = F.layer_norm(x, (layer.in_features,), layer.norm.weight, layer.norm.bias, layer.norm.eps) if layer.norm else x
    low, high = layer.grid_range
    n_c = layer.num_centers
    h = (high - low) / (n_c - 1)
    out = torch.zeros(x.shape[0], layer.out_features, dtype=x.dtype)
    for i in range(layer.in_features):
        for j in range(n_c):
            c = low + j * h
            out += torch.exp(-(((z[:, i] - c) / h) ** 2))[:, None] * layer.spline.weight[:, i * n_c + j]
    if layer.base is not None:
        out += F.silu(x) @ layer.base.weight.t() + layer.base.bias
    return out


@pytest.mark.parametrize("use_layernorm", [True, False])
@pytest.mark.parametrize("use_base", [True, False])
def test_matches_explicit_gaussian_sum(use_layernorm, use_base):
    torch.manual_seed(0)
    layer = RBFKANLinear(5, 3, num_centers=6, grid_range=(-1.5, 2.5), use_layernorm=use_layernorm, use_base=use_base)
    layer = layer.double()
    if use_layernorm:
        with torch.no_grad():
            layer.norm.weight.uniform_(0.5, 1.5)
            layer.norm.bias.uniform_(-0.3, 0.3)
    x = torch.randn(40, 5, dtype=torch.float64) * 2
    torch.testing.assert_close(layer(x), reference(layer, x), rtol=1e-10, atol=1e-10)


def test_leading_dims_and_gradients():
    torch.manual_seed(0)
    layer = RBFKANLinear(4, 2).double()
    x = torch.randn(2, 3, 4, dtype=torch.float64, requires_grad=True)
    out = layer(x)
    assert out.shape == (2, 3, 2)
    torch.testing.assert_close(out.reshape(-1, 2), reference(layer, x.reshape(-1, 4)))
    assert torch.autograd.gradcheck(lambda v: layer(v), (x,))
    assert layer(torch.empty(0, 4, dtype=torch.float64)).shape == (0, 2)


def test_bad_config_and_input():
    for kwargs, field in [
        ({"num_centers": 1}, "num_centers"),
        ({"grid_range": (2, -2)}, "grid_range"),
        ({"out_features": 0}, "out_features"),
    ]:
        with pytest.raises(ConfigError) as info:
            RBFKANLinear(**{"in_features": 3, "out_features": 2, **kwargs})
        assert field in str(info.value) and "\n" not in str(info.value)
    x = torch.zeros(2, 3)
    x[1, 1] = math.nan
    with pytest.raises(DataError, match="input to RBFKANLinear holds NaN/inf"):
        RBFKANLinear(3, 2)(x)


@settings(max_examples=20, deadline=None)
@given(
    n_in=st.integers(1, 6),
    n_out=st.integers(1, 5),
    batch=st.integers(1, 9),
    centers=st.integers(2, 10),
    scale=st.floats(0.1, 1e4),
)
def test_property_shape_and_finite(n_in, n_out, batch, centers, scale):
    layer = RBFKANLinear(n_in, n_out, num_centers=centers)
    out = layer(torch.randn(batch, n_in) * scale)
    assert out.shape == (batch, n_out) and torch.isfinite(out).all()
