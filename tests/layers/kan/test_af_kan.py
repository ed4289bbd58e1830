"""AF-KAN (arXiv:2503.06112): activation bumps, attention over bases, norm, linear."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mlpzoo.errors import ConfigError
from mlpzoo.layers.kan.af_kan import AFKANLinear

_F = {
    "relu": lambda v: max(v, 0.0),
    "silu": lambda v: v / (1.0 + math.exp(-v)),
    "gelu": lambda v: 0.5 * v * (1.0 + math.erf(v / math.sqrt(2.0))),
    "tanh": math.tanh,
}


def _params(layer):
    return {k: v.detach().double().numpy() for k, v in layer.named_parameters()}


def _slow_af_kan(layer, x):
    """Row by row, input by input, basis by basis, from the formulas in the module docstring."""
    p = _params(layer)
    lo, hi = layer.grid_range
    centers = [lo + j * (hi - lo) / (layer.num_grids - 1) for j in range(layer.num_grids)]
    s = (hi - lo) / (layer.num_grids - 1)
    rows = np.asarray(x, dtype=np.float64).reshape(-1, layer.in_features)
    out = []
    for row in rows:
        r = []
        for xi in row:
            phi = []
            for name in layer.functions:
                f = _F[name]
                for c in centers:
                    u = (xi - c) / s
                    phi.append((f(1 + u) * f(1 - u)) ** 2 / f(1.0) ** 4)
            phi = np.array(phi)
            if layer.reduction == "attention":
                scores = (p["score.weight"] @ phi + p["score.bias"]) / math.sqrt(len(phi))
                w = np.exp(scores - scores.max())
                w /= w.sum()
                r.append(float(w @ phi))
            else:
                r.append(float(p["score.weight"][0] @ phi + p["score.bias"][0]))
        r = np.array(r)
        if layer.norm_type == "layer":
            r = (r - r.mean()) / math.sqrt(r.var() + 1e-5) * p["norm.weight"] + p["norm.bias"]
        if layer.post_activation is not None:
            r = np.array([_F[layer.post_activation](v) for v in r])
        y = p["linear.weight"] @ r
        if "linear.bias" in p:
            y = y + p["linear.bias"]
        out.append(y)
    return np.array(out).reshape(*np.shape(x)[:-1], layer.out_features)


def _randomise(layer, seed):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in layer.parameters():
            param.copy_(torch.randn(param.shape, generator=gen, dtype=param.dtype))
    return layer


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {
            "functions": ("relu", "tanh"),
            "num_grids": 4,
            "reduction": "linear",
            "norm": "none",
            "post_activation": None,
            "bias": True,
            "grid_range": (-1.0, 3.0),
        },
        {"functions": ("gelu",), "num_grids": 5, "post_activation": "relu"},
    ],
)
def test_forward_matches_slow_reference(kwargs):
    layer = _randomise(AFKANLinear(5, 3, **kwargs).double(), 0)
    x = torch.randn(2, 4, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 1.5
    out = layer(x)
    assert out.shape == (2, 4, 3)
    np.testing.assert_allclose(out.detach().numpy(), _slow_af_kan(layer, x.numpy()), rtol=1e-9, atol=1e-9)


def test_every_bump_peaks_at_one_on_its_centre():
    layer = AFKANLinear(1, 1, functions=("relu", "silu", "gelu", "softplus", "sigmoid", "elu"), num_grids=3)
    phi = layer.bases(layer.grid()[:, None])  # input j sits on centre j
    for f in range(6):
        torch.testing.assert_close(torch.diagonal(phi[:, 0, 3 * f : 3 * f + 3]), torch.ones(3))


@pytest.mark.parametrize("norm", ["layer", "batch"])
def test_eval_output_of_a_row_does_not_depend_on_the_batch(norm):
    torch.manual_seed(2)
    layer = AFKANLinear(6, 4, norm=norm)
    for _ in range(3):  # moves BatchNorm's running statistics away from their start
        layer(torch.randn(32, 6) * 2 + 0.5)
    layer.eval()
    batch = torch.randn(16, 6)
    alone = layer(batch[:1])
    with_others = layer(torch.cat([batch[:1], torch.randn(9, 6) * 10 - 3]))[:1]
    torch.testing.assert_close(alone, with_others, rtol=0, atol=1e-6)
    torch.testing.assert_close(layer(batch)[:1], alone, rtol=0, atol=1e-6)


def test_bad_config_raises_one_line_config_error():
    cases = [
        ({"functions": ("relu", "swish")}, "functions entry 'swish'"),
        ({"reduction": "mean"}, "reduction='mean'"),
        ({"norm": "group"}, "norm='group'"),
        ({"num_grids": 1}, "num_grids=1"),
        ({"grid_range": (1.0, 1.0)}, "grid_range"),
        ({"post_activation": "swish"}, "post_activation entry 'swish'"),
    ]
    for kwargs, field in cases:
        with pytest.raises(ConfigError) as err:
            AFKANLinear(4, 2, **kwargs)
        assert field in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="last dim 4"):
        AFKANLinear(4, 2)(torch.randn(3, 5))


def test_non_finite_input_gives_nan_in_its_row_only():
    layer = AFKANLinear(3, 2).eval()
    x = torch.tensor([[0.1, float("nan"), 0.3], [0.5, float("inf"), -1.0], [1.0, -0.5, 0.2]])
    out = layer(x)
    assert torch.isnan(out[0]).all() and torch.isnan(out[1]).all()
    assert torch.isfinite(out[2]).all()


@settings(max_examples=20, deadline=None)
@given(
    in_features=st.integers(1, 6),
    out_features=st.integers(1, 5),
    num_grids=st.integers(2, 6),
    lead=st.lists(st.integers(1, 3), min_size=1, max_size=2),
    reduction=st.sampled_from(["attention", "linear"]),
    norm=st.sampled_from(["layer", "batch", "none"]),
    seed=st.integers(0, 2**16),
)
def test_property_shapes_and_finite(in_features, out_features, num_grids, lead, reduction, norm, seed):
    torch.manual_seed(seed)
    layer = AFKANLinear(in_features, out_features, num_grids=num_grids, reduction=reduction, norm=norm).eval()
    x = torch.randn(*lead, in_features) * 3
    out = layer(x)
    assert out.shape == (*lead, out_features)
    assert torch.isfinite(out).all()
