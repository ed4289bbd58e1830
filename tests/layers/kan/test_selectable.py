"""S-KAN (arXiv:2408.08338): per-input mixture of basis families, select, prune."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mlpzoo.errors import ConfigError
from mlpzoo.layers.kan.selectable import FAMILIES, SelectableKANLinear, bspline_basis


def _cubic_bspline(s):
    """Uniform cubic B-spline on [0, 4) in closed form."""
    if 0 <= s < 1:
        return s**3 / 6
    if 1 <= s < 2:
        return (-3 * s**3 + 12 * s**2 - 12 * s + 4) / 6
    if 2 <= s < 3:
        return (3 * s**3 - 24 * s**2 + 60 * s - 44) / 6
    if 3 <= s < 4:
        return (4 - s) ** 3 / 6
    return 0.0


def _slow_basis(layer, family, xi, i):
    lo, hi = layer.grid_range
    g = layer.grid_size
    h = (hi - lo) / g
    if family == "bspline":
        return [_cubic_bspline((xi - (lo + (j - 3) * h)) / h) for j in range(g + 3)]
    if family == "chebyshev":
        return [math.cos(n * math.acos(math.tanh(xi))) for n in range(g + 1)]
    if family == "rbf":
        return [math.exp(-(((xi - (lo + k * h)) / h) ** 2)) for k in range(g + 1)]
    t = layer.translation.detach().double().numpy()[i]
    s = layer.scale.detach().double().numpy()[i]
    hat = 2 / (math.sqrt(3) * math.pi**0.25)
    return [hat * (1 - ((xi - t[k]) / s[k]) ** 2) * math.exp(-0.5 * ((xi - t[k]) / s[k]) ** 2) for k in range(g + 1)]


def _slow_terms(layer, x):
    """Per family: sum_i w_{i,f} sum_k c_{f,o,i,k} B_{f,k}(x_i), with explicit loops."""
    w = torch.softmax(layer.logits.detach().double(), -1).numpy()
    rows = np.asarray(x, dtype=np.float64).reshape(-1, layer.in_features)
    terms = {}
    for j, family in enumerate(layer.bases):
        c = layer.coef[family].detach().double().numpy()
        out = np.zeros((len(rows), layer.out_features))
        for r, row in enumerate(rows):
            for i, xi in enumerate(row):
                basis = _slow_basis(layer, family, xi, i)
                for o in range(layer.out_features):
                    out[r, o] += w[i, j] * sum(c[o, i, k] * basis[k] for k in range(len(basis)))
        terms[family] = out.reshape(*np.shape(x)[:-1], layer.out_features)
    return terms


def _layer(in_features=4, out_features=3, seed=0, **kwargs):
    torch.manual_seed(seed)
    layer = SelectableKANLinear(in_features, out_features, **kwargs).double()
    with torch.no_grad():
        layer.logits.normal_()
        if "wavelet" in layer.bases:
            layer.translation.add_(0.2 * torch.randn_like(layer.translation))
            layer.scale.mul_(1 + 0.3 * torch.rand_like(layer.scale))
    return layer


def test_forward_matches_slow_reference_for_every_family():
    layer = _layer(grid_size=4)
    x = torch.randn(2, 3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 1.5
    terms = _slow_terms(layer, x.numpy())
    out = layer(x)
    assert out.shape == (2, 3, 3)
    np.testing.assert_allclose(out.detach().numpy(), sum(terms.values()), rtol=1e-10, atol=1e-10)
    for family in FAMILIES:
        np.testing.assert_allclose(layer.family_term(family, x).detach().numpy(), terms[family], rtol=1e-10, atol=1e-10)


def test_bspline_helper_is_a_partition_of_unity_on_the_grid():
    layer = SelectableKANLinear(1, 1, bases=("bspline",), grid_size=5, grid_range=(-1.0, 2.0))
    x = torch.linspace(-1.0, 1.999, 301, dtype=torch.float64)
    basis = bspline_basis(x, layer.knots(torch.float64))
    assert basis.shape == (301, 8)
    torch.testing.assert_close(basis.sum(-1), torch.ones(301, dtype=torch.float64))


def test_select_then_prune_keeps_the_selected_terms_with_fewer_parameters():
    layer = _layer(in_features=8, out_features=5, seed=3)
    with torch.no_grad():  # inputs 0..7 pick families 0,1,2,3,0,1,2,3
        layer.logits.zero_()
        for i in range(8):
            layer.logits[i, i % 4] = 2.0
    x = torch.randn(6, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    full = layer(x).detach()
    terms = _slow_terms(layer, x.numpy())
    selected_only = np.zeros_like(full.numpy())
    w = torch.softmax(layer.logits.detach(), -1).numpy()
    for i in range(8):  # the selected family's contribution of input i alone
        family = FAMILIES[i % 4]
        c = layer.coef[family].detach().numpy()
        for r in range(6):
            basis = _slow_basis(layer, family, x[r, i].item(), i)
            selected_only[r] += w[i, i % 4] * c[:, i, :] @ np.array(basis)
    before = sum(p.numel() for p in layer.parameters())
    assert layer.select() == list(FAMILIES) * 2
    layer.prune()
    after = sum(p.numel() for p in layer.parameters())
    assert after < before
    # grid_size 5: bspline 8 functions, the others 6; two inputs per family; kept wavelet rows.
    expected_after = 5 * 2 * (8 + 6 + 6 + 6) + 2 * 2 * 6
    assert after == expected_after
    pruned = layer(x).detach().numpy()
    np.testing.assert_allclose(pruned, selected_only, rtol=1e-10, atol=1e-10)
    assert not np.allclose(pruned, full.numpy())  # the dropped mixture terms are gone
    assert np.allclose(sum(terms.values()), full.numpy())
    assert layer.select() == list(FAMILIES) * 2 and layer.prune() is layer
    pruned_x = x.clone().requires_grad_()
    layer(pruned_x).sum().backward()
    assert torch.isfinite(pruned_x.grad).all()


def test_prune_with_a_family_nobody_selected():
    layer = _layer(in_features=3, out_features=2, bases=("rbf", "chebyshev"))
    with torch.no_grad():
        layer.logits.copy_(torch.tensor([[1.0, 0.0]] * 3))
    x = torch.randn(4, 3, dtype=torch.float64)
    expected = layer.family_term("rbf", x).detach()
    layer.prune()
    assert layer.coef["chebyshev"].shape == (2, 0, 6)
    torch.testing.assert_close(layer(x), expected)


def test_all_parameters_get_gradients():
    layer = _layer(in_features=3, out_features=2)
    layer(torch.randn(5, 3, dtype=torch.float64)).square().sum().backward()
    for name, p in layer.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_bad_config_raises_one_line_config_error():
    for kwargs, field in [
        ({"bases": ("bspline", "fourier")}, "bases="),
        ({"bases": ()}, "bases="),
        ({"bases": ("rbf", "rbf")}, "bases="),
        ({"grid_size": 0}, "grid_size=0"),
        ({"grid_range": (2.0, -2.0)}, "grid_range"),
    ]:
        with pytest.raises(ConfigError) as err:
            SelectableKANLinear(4, 2, **kwargs)
        assert field in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="last dim 4"):
        SelectableKANLinear(4, 2)(torch.randn(3, 5))
    layer = SelectableKANLinear(4, 2).prune()
    with pytest.raises(ConfigError, match="pruned"):
        layer.mixture_weights()


def test_non_finite_input_stays_in_its_row():
    layer = SelectableKANLinear(3, 2)
    x = torch.tensor([[0.1, float("nan"), 0.3], [1.0, -0.5, 0.2]])
    out = layer(x)
    assert torch.isnan(out[0]).all() and torch.isfinite(out[1]).all()


@settings(max_examples=20, deadline=None)
@given(
    in_features=st.integers(1, 5),
    out_features=st.integers(1, 4),
    grid_size=st.integers(1, 6),
    bases=st.lists(st.sampled_from(FAMILIES), min_size=1, max_size=4, unique=True),
    lead=st.lists(st.integers(1, 3), min_size=0, max_size=2),
    prune=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_property_shapes_and_finite(in_features, out_features, grid_size, bases, lead, prune, seed):
    torch.manual_seed(seed)
    layer = SelectableKANLinear(in_features, out_features, bases=bases, grid_size=grid_size)
    with torch.no_grad():
        layer.logits.normal_()
    if prune:
        layer.prune()
    x = torch.randn(*lead, in_features) * 3
    out = layer(x)
    assert out.shape == (*lead, out_features)
    assert torch.isfinite(out).all()
