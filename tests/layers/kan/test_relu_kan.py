"""ReLUKANLinear against the paper's formula written out per basis."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mlpzoo.errors import ConfigError, DataError
from mlpzoo.layers.kan import ReLUKANLinear


def reference(layer, x):
    """``R_j(x) = [relu(e_j - x) relu(x - s_j)]^2 * 16 / (e_j - s_j)^4``, ``s_j = (j - k)/G``, ``e_j = (j + 1)/G``
    on ``[0, 1]`` mapped to the layer's range; then the linear map, looped over inputs and bases."""
    g, k = layer.grid_size, layer.spline_order
    low, high = layer.grid_range
    step = (high - low) / g
    out = layer.linear.bias.expand(x.shape[0], -1).clone()
    for i in range(layer.in_features):
        for j in range(g + k):
            s, e = low + (j - k) * step, low + (j + 1) * step
            r = (torch.clamp(e - x[:, i], min=0) * torch.clamp(x[:, i] - s, min=0)) ** 2 * 16 / (e - s) ** 4
            out = out + r[:, None] * layer.linear.weight[:, i * (g + k) + j]
    return out


@pytest.mark.parametrize("grid_size, order, grid_range", [(5, 3, (0.0, 1.0)), (3, 2, (-2.0, 1.0)), (7, 1, (0.0, 4.0))])
def test_matches_paper_formula(grid_size, order, grid_range):
    torch.manual_seed(0)
    layer = ReLUKANLinear(4, 3, grid_size=grid_size, spline_order=order, grid_range=grid_range).double()
    low, high = grid_range
    x = low + (torch.rand(50, 4, dtype=torch.float64) * 1.4 - 0.2) * (high - low)
    torch.testing.assert_close(layer(x), reference(layer, x), rtol=1e-10, atol=1e-10)


def test_bases_peak_at_one_and_vanish_outside():
    layer = ReLUKANLinear(1, 1, grid_size=5, spline_order=3).double()
    starts, ends = layer.bounds(torch.float64)
    mid = ((starts + ends) / 2).unsqueeze(-1)
    torch.testing.assert_close(layer.basis(mid).diagonal(dim1=0, dim2=2).squeeze(), torch.ones(8, dtype=torch.float64))
    far = torch.tensor([[-5.0], [7.0]], dtype=torch.float64)
    assert (layer.basis(far) == 0).all()


def test_leading_dims_and_gradients():
    torch.manual_seed(0)
    layer = ReLUKANLinear(3, 2).double()
    x = torch.rand(2, 5, 3, dtype=torch.float64, requires_grad=True)
    out = layer(x)
    assert out.shape == (2, 5, 2)
    torch.testing.assert_close(out.reshape(-1, 2), reference(layer, x.reshape(-1, 3)))
    assert torch.autograd.gradcheck(lambda v: layer(v), (x,))


def test_bad_config_and_input():
    for kwargs, field in [
        ({"grid_size": 0}, "grid_size"),
        ({"spline_order": 0}, "spline_order"),
        ({"grid_range": (1.0, 0.0)}, "grid_range"),
    ]:
        with pytest.raises(ConfigError) as info:
            ReLUKANLinear(**{"in_features": 3, "out_features": 2, **kwargs})
        assert field in str(info.value) and "\n" not in str(info.value)
    x = torch.zeros(2, 3)
    x[0, 2] = math.inf
    with pytest.raises(DataError, match="input to ReLUKANLinear holds NaN/inf"):
        ReLUKANLinear(3, 2)(x)


@settings(max_examples=20, deadline=None)
@given(
    n_in=st.integers(1, 6),
    n_out=st.integers(1, 5),
    batch=st.integers(1, 9),
    grid_size=st.integers(1, 8),
    order=st.integers(1, 4),
    scale=st.floats(0.1, 1e4),
)
def test_property_shape_and_finite(n_in, n_out, batch, grid_size, order, scale):
    layer = ReLUKANLinear(n_in, n_out, grid_size=grid_size, spline_order=order)
    out = layer(torch.randn(batch, n_in) * scale)
    assert out.shape == (batch, n_out) and torch.isfinite(out).all()
