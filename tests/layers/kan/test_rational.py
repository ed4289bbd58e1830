"""GR-KAN (KAT, arXiv:2409.10594) with the FlashKAT-style backward (arXiv:2505.13813)."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mlpzoo.errors import ConfigError
from mlpzoo.layers.kan import rational
from mlpzoo.layers.kan.rational import (
    GRKANLinear,
    GroupRational,
    atomic_group_rational,
    group_rational,
    naive_group_rational,
    rational_init,
)


def _slow_rational(x, a, b, groups):
    """Element by element: F(x) = sum_k a_k x^k / (1 + sum_i |b_i| |x|^i), group = channel // width."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    width = x.shape[-1] // groups
    for idx in np.ndindex(*x.shape):
        g = idx[-1] // width
        v = x[idx]
        p = sum(a[g][k] * v**k for k in range(6))
        q = 1.0 + sum(abs(b[g][i - 1]) * abs(v) ** i for i in range(1, 5))
        out[idx] = p / q
    return out


def _random_coefficients(groups, seed):
    gen = torch.Generator().manual_seed(seed)
    a = torch.randn(groups, 6, generator=gen, dtype=torch.float64)
    b = torch.randn(groups, 4, generator=gen, dtype=torch.float64)
    return a, b


@pytest.mark.parametrize("fn", [group_rational, naive_group_rational, atomic_group_rational])
def test_forward_matches_elementwise_formula(fn):
    a, b = _random_coefficients(4, 0)
    x = torch.randn(2, 3, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    out = fn(x, a, b, 4)
    assert out.shape == x.shape
    np.testing.assert_allclose(out.numpy(), _slow_rational(x.numpy(), a.numpy(), b.numpy(), 4), rtol=1e-12, atol=1e-12)


def test_custom_backward_passes_gradcheck_with_leading_dims(monkeypatch):
    a, b = _random_coefficients(2, 2)
    x = torch.randn(3, 5, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    inputs = (x.requires_grad_(), a.requires_grad_(), b.requires_grad_())
    assert torch.autograd.gradcheck(lambda x, a, b: group_rational(x, a, b, 2), inputs)
    # Several chunks (2 rows each) give the same gradients: the per-block sums add up across chunks.
    monkeypatch.setattr(rational, "_CHUNK_ELEMENTS", 12)
    assert rational._chunk_rows(6, 15, torch.device("cpu")) < 15
    # Off the CPU there is no cache to fit: one chunk of all rows.
    assert rational._chunk_rows(6, 15, torch.device("meta")) == 15
    assert torch.autograd.gradcheck(lambda x, a, b: group_rational(x, a, b, 2), inputs)


def test_custom_gradients_equal_plain_autograd_gradients():
    a, b = _random_coefficients(8, 4)
    x = torch.randn(64, 32, dtype=torch.float64, generator=torch.Generator().manual_seed(5), requires_grad=True)
    a.requires_grad_(), b.requires_grad_()
    grad_out = torch.randn(64, 32, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    custom = torch.autograd.grad(group_rational(x, a, b, 8), (x, a, b), grad_out)
    naive = torch.autograd.grad(naive_group_rational(x, a, b, 8), (x, a, b), grad_out)
    for c, n in zip(custom, naive):
        torch.testing.assert_close(c, n, rtol=1e-10, atol=1e-10)


def test_per_element_accumulation_passes_gradcheck_across_chunks(monkeypatch):
    # KAT's accumulation (one index_add_ per element and partial) gives the block-reduced gradients.
    a, b = _random_coefficients(2, 8)
    x = torch.randn(3, 5, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(9))
    inputs = (x.requires_grad_(), a.requires_grad_(), b.requires_grad_())
    assert torch.autograd.gradcheck(lambda x, a, b: atomic_group_rational(x, a, b, 2), inputs)
    monkeypatch.setattr(rational, "_CHUNK_ELEMENTS", 12)  # several chunks, the last one shorter
    assert torch.autograd.gradcheck(lambda x, a, b: atomic_group_rational(x, a, b, 2), inputs)
    grad_out = torch.randn(3, 5, 6, dtype=torch.float64)
    block = torch.autograd.grad(group_rational(*inputs, 2), inputs, grad_out)
    for got, want in zip(torch.autograd.grad(atomic_group_rational(*inputs, 2), inputs, grad_out), block):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_atomic_layer_matches_the_block_reduced_layer_and_refuses_naive_too():
    torch.manual_seed(0)
    block, atomic = GRKANLinear(16, 4, groups=4), GRKANLinear(16, 4, groups=4, atomic=True)
    atomic.load_state_dict(block.state_dict())
    x = torch.randn(10, 16)
    for layer in (block, atomic):
        layer(x).square().sum().backward()
    torch.testing.assert_close(atomic.rational.a.grad, block.rational.a.grad, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(atomic.rational.b.grad, block.rational.b.grad, rtol=1e-5, atol=1e-6)
    assert "atomic=True" in repr(atomic)
    with pytest.raises(ConfigError, match="choose one"):
        GroupRational(8, naive=True, atomic=True)


def test_zero_denominator_coefficients_still_get_gradients():
    # d|b|/db at b = 0 is +1 (as in the PAU/KAT kernels), so `identity` (all b = 0) can learn
    # a denominator; plain autograd's abs gives 0 there and the b would stay 0 forever.
    layer = GroupRational(8, groups=2, init="identity")
    x = torch.randn(16, 8, generator=torch.Generator().manual_seed(7))
    layer(x).square().sum().backward()
    assert layer.b.grad.abs().min() > 0
    naive = GroupRational(8, groups=2, init="identity", naive=True)
    naive(x).square().sum().backward()
    assert torch.count_nonzero(naive.b.grad) == 0
    torch.testing.assert_close(layer.a.grad, naive.a.grad)


@pytest.mark.parametrize("name, tol", [("gelu", 1e-2), ("silu", 1e-4), ("identity", 1e-12)])
def test_init_fit_is_close_on_minus_three_to_three(name, tol):
    a, b, reported = rational_init(name)
    x = torch.linspace(-3, 3, 6001, dtype=torch.float64)
    target = {"gelu": torch.nn.functional.gelu, "silu": torch.nn.functional.silu, "identity": lambda v: v}[name](x)
    a_t, b_t = torch.tensor([a], dtype=torch.float64), torch.tensor([b], dtype=torch.float64)
    fitted = naive_group_rational(x[:, None], a_t, b_t, 1)
    err = (fitted[:, 0] - target).abs().max().item()
    assert err < tol and reported < tol
    assert all(v >= 0 for v in b)


def test_init_fit_is_deterministic_and_cached():
    first = rational._fit_rational("silu")
    assert rational._fit_rational("silu") == first
    assert rational_init("silu") is rational_init("SiLU")
    layer = GroupRational(16, groups=4, init="silu")
    assert torch.equal(layer.a, torch.tensor([first[0]] * 4, dtype=torch.float32))


def test_grkan_linear_preserves_variance_and_composes():
    torch.manual_seed(0)
    x = torch.randn(4096, 128)
    for init in ("gelu", "silu", "identity"):
        layer = GRKANLinear(128, 96, groups=8, init=init)
        ratio = layer(x).var().item() / x.var().item()
        assert 1 / 1.5 < ratio < 1.5, (init, ratio)
    # E[F(x)^2] by quadrature agrees with a large sample.
    z = torch.randn(200_000, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    a, b, _ = rational_init("gelu")
    a_t, b_t = torch.tensor([a], dtype=torch.float64), torch.tensor([b], dtype=torch.float64)
    sample = naive_group_rational(z, a_t, b_t, 1)
    assert abs(sample.square().mean().item() - rational.rational_second_moment("gelu")) < 0.01
    layer = GRKANLinear(16, 3, groups=4).double()
    with torch.no_grad():
        layer.rational.a.normal_(), layer.rational.b.normal_()
    x = torch.randn(2, 5, 16, dtype=torch.float64)
    hidden = naive_group_rational(x, layer.rational.a, layer.rational.b, 4)
    expected = hidden @ layer.linear.weight.T + layer.linear.bias
    torch.testing.assert_close(layer(x), expected)


def test_groups_must_divide_width_one_line_error():
    for build in (lambda: GroupRational(10, groups=4), lambda: GRKANLinear(10, 3, groups=4)):
        with pytest.raises(ConfigError) as err:
            build()
        msg = str(err.value)
        assert "groups=4" in msg and "10" in msg and "\n" not in msg
    a, b = _random_coefficients(4, 0)
    with pytest.raises(ConfigError, match="groups=4 must divide"):
        group_rational(torch.randn(2, 10, dtype=torch.float64), a, b, 4)
    with pytest.raises(ConfigError, match="unknown rational init"):
        GroupRational(8, init="relu")
    with pytest.raises(ConfigError, match="last dim 8"):
        GroupRational(8)(torch.randn(2, 6))


def test_non_finite_inputs_propagate_as_nan_where_they_are():
    layer = GroupRational(4, groups=2)
    x = torch.tensor([[0.5, float("nan"), -1.0, float("inf")], [1.0, 2.0, -3.0, 0.0]])
    out = layer(x)
    assert torch.isnan(out[0, 1]) and torch.isnan(out[0, 3])  # inf / inf
    assert torch.isfinite(out[0, [0, 2]]).all() and torch.isfinite(out[1]).all()


@settings(max_examples=20, deadline=None)
@given(
    groups=st.integers(1, 6),
    width=st.integers(1, 5),
    lead=st.lists(st.integers(1, 4), min_size=0, max_size=2),
    out_features=st.integers(1, 7),
    seed=st.integers(0, 2**16),
)
def test_property_shapes_and_finite(groups, width, lead, out_features, seed):
    torch.manual_seed(seed)
    dim = groups * width
    layer = GRKANLinear(dim, out_features, groups=groups, init="silu")
    x = (torch.randn(*lead, dim) * 4).requires_grad_()
    out = layer(x)
    assert out.shape == (*lead, out_features)
    assert torch.isfinite(out).all()
    out.sum().backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(layer.rational.b.grad).all()
    assert math.isfinite(layer.rational.a.grad.sum().item())
