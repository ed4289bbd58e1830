"""BSplineKANLinear: the fast closed-form layer against a slow Cox-de Boor reference."""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from mlpzoo.errors import ConfigError, DataError
from mlpzoo.layers.kan import BSplineKANLinear, bspline
from mlpzoo.layers.kan.bspline import _SplineMatmul, bspline_basis


def cox_de_boor(x, knots, order):
    """All bases ``(N, in, len(knots) - order - 1)`` by the textbook recursion, one input at a time."""
    n_in = x.shape[1]
    out = []
    for i in range(n_in):
        xi, ti = x[:, i : i + 1], knots[i]
        bases = ((xi >= ti[:-1]) & (xi < ti[1:])).to(x.dtype)
        for p in range(1, order + 1):
            left = (xi - ti[: -(p + 1)]) / (ti[p:-1] - ti[: -(p + 1)]) * bases[:, :-1]
            right = (ti[p + 1 :] - xi) / (ti[p + 1 :] - ti[1:-p]) * bases[:, 1:]
            bases = left + right
        out.append(bases)
    return torch.stack(out, 1)


def extended_knots(layer):
    k, g = layer.spline_order, layer.grid_size
    m = torch.arange(-k, g + k + 1, dtype=layer.grid_start.dtype)
    return layer.grid_start[:, None] + m * layer.grid_step[:, None]


def reference(layer, x):
    """The layer's output with explicit loops over outputs and inputs."""
    bases = cox_de_boor(x, extended_knots(layer), layer.spline_order)
    base = F.silu(x) @ layer.base.weight.t()
    scaler = layer.spline_scaler if layer.spline_scaler is not None else torch.ones_like(layer.base.weight)
    spline = torch.zeros(x.shape[0], layer.out_features, dtype=x.dtype)
    for o in range(layer.out_features):
        for i in range(layer.in_features):
            spline[:, o] += scaler[o, i] * (bases[:, i, :] @ layer.spline_weight[o, :, i])
    return base + spline


def make(n_in=5, n_out=4, seed=0, **kw):
    torch.manual_seed(seed)
    layer = BSplineKANLinear(n_in, n_out, **kw).double()
    with torch.no_grad():  # coefficients of order one so the spline branch is not negligible
        layer.spline_weight.normal_()
    return layer


@pytest.mark.parametrize("order", [1, 2, 3, 4])
@pytest.mark.parametrize("standalone", [True, False])
def test_matches_cox_de_boor_on_and_off_the_grid(order, standalone):
    layer = make(spline_order=order, grid_size=6, enable_standalone_scale_spline=standalone)
    x = torch.rand(300, 5, dtype=torch.float64) * 5 - 2.5  # grid [-1, 1], extended to about +-2
    torch.testing.assert_close(layer(x), reference(layer, x), rtol=1e-10, atol=1e-10)


def test_gradients_match_reference_autograd():
    layer = make(n_in=6, n_out=3)
    x = (torch.rand(50, 6, dtype=torch.float64) * 4 - 2).requires_grad_()
    fast = torch.autograd.grad(layer(x).square().sum(), [x, *layer.parameters()])
    slow = torch.autograd.grad(reference(layer, x).square().sum(), [x, *layer.parameters()])
    for a, b in zip(fast, slow):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)


def test_output_blocks_give_the_same_layer(monkeypatch):
    layer = make(n_in=6, n_out=7)
    x = (torch.rand(30, 6, dtype=torch.float64) * 4 - 2).requires_grad_()
    whole = torch.autograd.grad(layer(x).square().sum(), [x, *layer.parameters()])
    monkeypatch.setattr(bspline, "_SCALE_BLOCK", 2 * 9 * 6)  # blocks of two output rows
    out = layer(x)
    torch.testing.assert_close(out, reference(layer, x))
    blocked = torch.autograd.grad(out.square().sum(), [x, *layer.parameters()])
    for a, b in zip(whole, blocked):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("order", [1, 3, 5])
def test_gradcheck_custom_function(order):
    torch.manual_seed(1)
    grid_size, n_in = 4, 3
    start = torch.full((n_in,), -1.0, dtype=torch.float64)
    step = torch.full((n_in,), 0.5, dtype=torch.float64)
    # Strictly inside the grid and a tenth of a step away from every knot.
    cell = torch.randint(0, grid_size, (6, n_in))
    x = (start + (cell + 0.1 + 0.8 * torch.rand(6, n_in, dtype=torch.float64)) * step).requires_grad_()
    coef = torch.randn(2, grid_size + order, n_in, dtype=torch.float64, requires_grad=True)
    scaler = torch.randn(2, n_in, dtype=torch.float64, requires_grad=True)

    def fn(x, c, s):
        return _SplineMatmul.apply(x, c, s, start, step, grid_size, order, False)

    assert torch.autograd.gradcheck(fn, (x, coef, scaler))
    # Off the grid proper, in the extended region or beyond it (for order 1), away from knots.
    coords = torch.tensor([-2.7, -1.3, 4.6, 6.2], dtype=torch.float64)[:, None].expand(4, n_in)
    outside = (start + coords * step).requires_grad_()
    assert torch.autograd.gradcheck(fn, (outside, coef, scaler))


def test_leading_batch_dims_and_single_vector():
    layer = make(n_in=5, n_out=3)
    x = torch.randn(2, 3, 4, 5, dtype=torch.float64)
    out = layer(x)
    assert out.shape == (2, 3, 4, 3)
    torch.testing.assert_close(out.reshape(-1, 3), reference(layer, x.reshape(-1, 5)))
    assert layer(x[0, 0, 0]).shape == (3,)
    assert layer(torch.empty(0, 5, dtype=torch.float64)).shape == (0, 3)


def saved_numel(fn, batch=None):
    """Elements autograd saves while ``fn`` runs (only tensors with a ``batch``-long first dim if given)."""
    total = 0

    def pack(t):
        nonlocal total
        if batch is None or (t.dim() and t.shape[0] == batch):
            total += t.numel()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return total


def test_saves_only_compact_bases_for_backward():
    batch, n_in, n_out, grid_size, order = 512, 4, 3, 20, 3
    torch.manual_seed(0)
    layer = BSplineKANLinear(n_in, n_out, grid_size=grid_size, spline_order=order)
    x = torch.randn(batch, n_in, requires_grad=True)
    dense = batch * n_in * (grid_size + order)
    # Activation memory: what has the batch dimension (parameter-sized saves, such as the sparse
    # kernel's laid-out coefficients, do not grow with the batch).
    fast = saved_numel(lambda: layer(x), batch)
    assert fast <= batch * n_in * (order + 5)  # coordinates, intervals, window values, SiLU branch
    assert fast < dense
    # The same check fails for a plain dense implementation (efficient-kan's approach).
    naive = saved_numel(lambda: reference(layer, x), batch)
    assert naive >= dense


def test_far_outside_grid_is_base_branch_only():
    layer = make(n_in=3, n_out=2)
    x = torch.tensor([[-1e30, 5.0, 1e3], [3.5, -3.01, 1e300]], dtype=torch.float64)
    out = layer(x)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, F.silu(x) @ layer.base.weight.t())
    assert (layer.spline_basis(x) == 0).all()
    # Within k steps of the grid the spline still acts (extended grid).
    near = torch.full((1, 3), -1.5, dtype=torch.float64)
    assert (layer.spline_basis(near) > 0).any()


def test_bases_partition_unity_on_the_grid():
    layer = make(n_in=3, grid_size=7)
    x = torch.rand(100, 3, dtype=torch.float64) * 2 - 1
    basis = bspline_basis(x, layer.grid_start, layer.grid_step, 7, 3)
    assert basis.shape == (100, 3, 10)
    torch.testing.assert_close(basis.sum(-1), torch.ones(100, 3, dtype=torch.float64))


def test_update_grid_fits_data_range_and_keeps_function():
    layer = make(n_in=4, n_out=3, grid_size=8)
    with torch.no_grad():  # a smooth spline: coefficients sampled from smooth curves
        j = torch.arange(11, dtype=torch.float64)
        layer.spline_weight.copy_(torch.sin(0.6 * j[None, :, None] + torch.randn(3, 1, 4)))
    x = torch.rand(400, 4, dtype=torch.float64) * 1.4 - 0.9
    before = layer(x)
    layer.update_grid(x, margin=0.01)
    low, high = x.min(0).values - 0.01, x.max(0).values + 0.01
    torch.testing.assert_close(layer.grid_start, low)
    torch.testing.assert_close(layer.grid_start + 8 * layer.grid_step, high)
    after = layer(x)
    rel = (after - before).norm() / before.norm()
    assert rel < 1e-3, rel
    with pytest.raises(DataError):
        layer.update_grid(torch.ones(10, 4, dtype=torch.float64), margin=0.0)


def test_extend_grid_to_2g_is_nearly_exact():
    layer = make(n_in=3, n_out=2, grid_size=5)
    x = torch.rand(500, 3, dtype=torch.float64) * 2 - 1
    before = layer(x)
    old_params = layer.spline_weight
    layer.extend_grid(10, x)
    assert layer.grid_size == 10 and layer.spline_weight.shape == (2, 13, 3)
    assert layer.spline_weight is not old_params
    torch.testing.assert_close(layer(x), before, rtol=1e-8, atol=1e-8)
    torch.testing.assert_close(layer(x), reference(layer, x))
    with pytest.raises(ConfigError):
        layer.extend_grid(0, x)


def test_regularization_loss_from_coefficients():
    layer = make(n_in=3, n_out=2)
    per_edge = (layer.spline_weight.abs() * layer.spline_scaler.abs()[:, None, :]).mean(1)
    p = per_edge / per_edge.sum()
    expected = 2.0 * per_edge.sum() - 0.5 * (p * p.log()).sum()
    loss = layer.regularization_loss(l1=2.0, entropy=0.5)
    torch.testing.assert_close(loss, expected)
    loss.backward()
    assert layer.spline_weight.grad is not None
    with torch.no_grad():
        layer.spline_weight.zero_()
    assert torch.isfinite(layer.regularization_loss())


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"grid_size": 0}, "grid_size"),
        ({"spline_order": 0}, "spline_order"),
        ({"grid_range": (1.0, 1.0)}, "grid_range"),
        ({"in_features": 0}, "in_features"),
        ({"base_activation": "nope"}, "activation"),
    ],
)
def test_bad_config_is_one_line_config_error(kwargs, field):
    args = {"in_features": 3, "out_features": 2, **kwargs}
    with pytest.raises(ConfigError) as info:
        BSplineKANLinear(**args)
    assert field in str(info.value) and "\n" not in str(info.value)


def test_non_finite_input_is_data_error():
    layer = BSplineKANLinear(3, 2)
    for bad in (math.nan, math.inf):
        x = torch.zeros(4, 3)
        x[2, 1] = bad
        with pytest.raises(DataError, match="input to BSplineKANLinear holds NaN/inf; clean the data or normalise it"):
            layer(x)
    with pytest.raises(ConfigError, match="in_features"):
        layer(torch.zeros(4, 5))


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
    layer = BSplineKANLinear(n_in, n_out, grid_size=grid_size, spline_order=order)
    x = (torch.randn(batch, n_in) * scale).requires_grad_()
    out = layer(x)
    assert out.shape == (batch, n_out) and torch.isfinite(out).all()
    out.sum().backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(layer.spline_weight.grad).all()
