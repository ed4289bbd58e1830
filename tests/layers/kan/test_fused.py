"""Compiled (torch.compile) KAN kernels: same values and gradients as the eager paths.

GR-KAN after KAT (arXiv:2409.10594) with FlashKAT's block-reduced backward (arXiv:2505.13813);
B-spline KAN after arXiv:2404.19756. Each test compiles for one tiny shape; the whole file takes
seconds with inductor's disk cache warm and under a minute cold.
"""

import warnings

import pytest
import torch

from mlpzoo.errors import ConfigError
from mlpzoo.layers.kan import BSplineKANLinear, GroupRational, fused, group_rational
from mlpzoo.layers.kan.bspline import _SplineMatmul


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def compiled():
    """Skip (with the reason) where torch.compile cannot build a kernel on this machine."""
    if not hasattr(torch, "compile"):
        pytest.skip("torch.compile is not available in this PyTorch")
    try:
        fused.rational_forward(torch.zeros(2, 4), fused.coefficient_table(torch.ones(1, 6), torch.ones(1, 4), 4))
    except Exception as err:  # noqa: BLE001 - any failure to compile means: nothing to test here
        pytest.skip(f"torch.compile failed here: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}")


def _coefficients(groups, dtype, seed):
    gen = torch.Generator().manual_seed(seed)
    a = torch.randn(groups, 6, generator=gen, dtype=dtype)
    b = torch.randn(groups, 4, generator=gen, dtype=dtype)
    b[0, 1] = 0.0  # d|b|/db = +1 at b = 0 in both paths
    return a, b


def _rational_grads(x, a, b, groups, mode, grad_out):
    inputs = [t.clone().requires_grad_() for t in (x, a, b)]
    out = group_rational(*inputs, groups, fused=mode)
    return (out, *torch.autograd.grad(out, inputs, grad_out))


def test_group_rational_fused_equals_eager_float32(compiled):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3, 5, 8, generator=gen) * 2
    x[0, 0, :2] = 0.0  # sign(0) = 0 in grad_x on both paths
    a, b = _coefficients(4, torch.float32, 1)
    grad_out = torch.randn(3, 5, 8, generator=gen)
    for e, f in zip(_rational_grads(x, a, b, 4, False, grad_out), _rational_grads(x, a, b, 4, True, grad_out)):
        torch.testing.assert_close(f, e, rtol=1e-5, atol=1e-5)
    # Nothing per element is saved beyond x (F is recomputed): x, a, b and the (11, dim) table.
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t.shape) or t, lambda t: t):
        group_rational(x.requires_grad_(), a, b, 4, fused=True)
    assert saved == [x.shape, a.shape, b.shape, (11, 8)]


def test_group_rational_fused_gradcheck_float64(compiled):
    x = torch.randn(4, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    a, b = _coefficients(2, torch.float64, 3)
    b[0, 1] = 0.5  # finite differences need |b| differentiable at the point
    inputs = tuple(t.requires_grad_() for t in (x, a, b))
    assert torch.autograd.gradcheck(lambda x, a, b: group_rational(x, a, b, 2, fused=True), inputs)
    grad_out = torch.randn(4, 6, dtype=torch.float64)
    for e, f in zip(
        _rational_grads(x.detach(), a.detach(), b.detach(), 2, False, grad_out),
        _rational_grads(x.detach(), a.detach(), b.detach(), 2, True, grad_out),
    ):
        torch.testing.assert_close(f, e, rtol=1e-12, atol=1e-12)


def test_fused_kernels_are_compiled_once_for_all_batch_sizes(compiled):
    layer = GroupRational(8, groups=4, fused=True)
    layer(torch.randn(2, 8)).sum().backward()
    with torch._dynamo.config.patch(error_on_recompile=True):
        for rows in (3, 8, 11, 50):  # 8 = the width, 11 = the coefficient table's rows
            layer(torch.randn(rows, 8)).sum().backward()
        GroupRational(16, groups=2, fused=True)(torch.randn(5, 16)).sum().backward()  # another width


def test_bspline_fused_equals_eager_and_passes_gradcheck_float64(compiled):
    torch.manual_seed(0)
    eager = BSplineKANLinear(3, 2, grid_size=4).double()
    fast = BSplineKANLinear(3, 2, grid_size=4, fused=True).double()
    fast.load_state_dict(eager.state_dict())
    # Inside, on knots, in the extended region and beyond it.
    x = torch.tensor([[0.1, -0.5, 1.0], [-1.4, 1.6, 3.0], [0.73, -0.21, -2.2], [0.0, 0.5, -1.0]], dtype=torch.float64)
    grad_out = torch.randn(4, 2, dtype=torch.float64)
    results = []
    for layer in (eager, fast):
        xg = x.clone().requires_grad_()
        out = layer(xg)
        results.append((out, *torch.autograd.grad(out, (xg, *layer.parameters()), grad_out)))
    for e, f in zip(*results):
        torch.testing.assert_close(f, e, rtol=1e-12, atol=1e-12)
    start, step = fast.grid_start, fast.grid_step
    xs = torch.tensor([[0.13, -0.61, 0.37], [-1.2, 1.31, 0.88]], dtype=torch.float64, requires_grad=True)
    coef = fast.spline_weight.detach().clone().requires_grad_()
    scaler = fast.spline_scaler.detach().clone().requires_grad_()

    def fn(x, c, s):
        return _SplineMatmul.apply(x, c, s, start, step, 4, 3, True)

    assert torch.autograd.gradcheck(fn, (xs, coef, scaler))


def test_auto_falls_back_to_eager_with_one_warning(monkeypatch):
    def broken(name, fn):
        def run(*args):
            raise RuntimeError("no C++ compiler")

        return run

    monkeypatch.setattr(fused, "_compiled", broken)
    monkeypatch.setattr(fused, "_FAILED", set())
    x = torch.randn(4, 8, requires_grad=True)
    a, b = _coefficients(2, torch.float32, 4)
    expected = group_rational(x, a, b, 2)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        out = group_rational(x, a, b, 2, fused="auto")
        again = group_rational(x, a, b, 2, fused="auto")
        out.sum().backward()
    assert [str(w.message).count("no C++ compiler") for w in record] == [1]
    assert fused._FAILED == {"cpu"}
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(again, expected)
    with pytest.raises(RuntimeError, match=r"no C\+\+ compiler"):
        group_rational(x, a, b, 2, fused=True)  # True means: the kernel or an error


def test_fused_only_where_it_applies():
    x = torch.randn(2, 4)
    assert not fused.fused_enabled(False, x)
    assert not fused.fused_enabled(True, x.half())  # half types keep the eager float32 sums
    assert fused.fused_enabled("auto", x) == ("cpu" not in fused._FAILED)


def test_bad_fused_argument_is_one_line_config_error():
    for build in (lambda: GroupRational(8, fused="yes"), lambda: BSplineKANLinear(2, 2, fused=1)):
        with pytest.raises(ConfigError, match="fused=") as err:
            build()
        assert "\n" not in str(err.value)
    assert GroupRational(8, fused="AUTO").fused == "auto"
