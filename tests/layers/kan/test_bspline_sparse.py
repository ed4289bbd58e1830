"""BSplineKANLinear's sparse C kernel: the same outputs and gradients as the dense product, and when it runs."""

import pytest
import torch

from mlpzoo.layers import native
from mlpzoo.layers.kan import BSplineKANLinear, bspline

needs_kernel = pytest.mark.skipif(native.load(bspline._KERNEL_SOURCE, bspline._declare) is None, reason="no C compiler")


def outputs_and_grads(layer, x, sparse: bool, monkeypatch):
    if not sparse:
        monkeypatch.setattr(bspline, "_native_library", lambda *args: None)
    layer.zero_grad(set_to_none=True)
    x = x.detach().clone().requires_grad_()
    out = layer(x)
    (out * torch.linspace(-1, 2, out.numel(), dtype=out.dtype).view_as(out)).sum().backward()
    monkeypatch.undo()
    return [out, x.grad] + [p.grad for p in layer.parameters()]


@needs_kernel
@pytest.mark.parametrize("order", [1, 2, 3, 4])
@pytest.mark.parametrize("scaled", [True, False])
def test_sparse_kernel_equals_dense_product(order, scaled, monkeypatch):
    torch.manual_seed(order)
    layer = BSplineKANLinear(7, 5, grid_size=4, spline_order=order, enable_standalone_scale_spline=scaled).double()
    assert bspline._native_library(torch.zeros(1, 7, dtype=torch.float64), layer.spline_weight) is not None
    x = torch.rand(33, 7, dtype=torch.float64) * 4 - 2  # inside, at the edge of and beyond the extended grid
    sparse = outputs_and_grads(layer, x, True, monkeypatch)
    dense = outputs_and_grads(layer, x, False, monkeypatch)
    for mine, reference in zip(sparse, dense):
        assert torch.allclose(mine, reference, atol=1e-12, rtol=1e-12)


@needs_kernel
def test_sparse_kernel_in_float32_and_over_threads(monkeypatch):
    torch.manual_seed(0)
    layer = BSplineKANLinear(16, 9)
    x = torch.rand(300, 16) * 2.4 - 1.2
    dense = outputs_and_grads(layer, x, False, monkeypatch)
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(3)
        sparse = outputs_and_grads(layer, x, True, monkeypatch)
    finally:
        torch.set_num_threads(previous)
    for mine, reference in zip(sparse, dense):
        assert torch.allclose(mine, reference, atol=1e-5, rtol=1e-4)


@needs_kernel
@pytest.mark.parametrize("chunked", [False, True])
@pytest.mark.parametrize(("dtype", "n_out", "tolerance"), [(torch.float32, 85, 1e-4), (torch.float64, 43, 1e-11)])
def test_cubic_kernel_over_tiles_vectors_remainders_and_blocks(dtype, n_out, tolerance, chunked, monkeypatch):
    # 85 float32 outputs (43 float64) take a four-vector tile, a one-vector tile and a scalar remainder with
    # 512-bit vectors (and other splits with narrower ones); 1500 rows span several row blocks of the sorted
    # loops, with buckets of every size, so partial groups of the five-row input gradient run too. Chunked:
    # a layout budget of 16 outputs, so outputs run in chunks of 16 and a last narrower one.
    if chunked:
        monkeypatch.setattr(bspline, "SPARSE_MAX_BYTES", 6 * 14 * 16 * torch.finfo(dtype).bits // 8)
        assert bspline._cubic_chunk(6, 14, n_out, torch.finfo(dtype).bits // 8) == 16
    torch.manual_seed(2)
    layer = BSplineKANLinear(6, n_out, grid_size=5).to(dtype)
    x = torch.rand(1500, 6, dtype=dtype) * 2.6 - 1.3
    x[:7, 0] = -2.0  # alone in the first window column of block 0: a bucket of 7 rows (groups of five and two)
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(2 if chunked else 1)  # blocks of rows (forward) and inputs (backward) split
        sparse = outputs_and_grads(layer, x, True, monkeypatch)  # first: its undo() ends the chunk budget
    finally:
        torch.set_num_threads(previous)
    dense = outputs_and_grads(layer, x, False, monkeypatch)
    for mine, reference in zip(sparse, dense):
        scale = reference.abs().max()
        assert (mine - reference).abs().max() <= tolerance * scale


@needs_kernel
def test_sparse_gradients_match_finite_differences():
    torch.manual_seed(1)
    layer = BSplineKANLinear(3, 2, grid_size=3).double()
    x = (torch.rand(6, 3, dtype=torch.float64) * 2.2 - 1.1).requires_grad_()
    params = (x, layer.spline_weight, layer.spline_scaler)

    def spline(x, coef, scaler):
        lib = bspline._native_library(x, coef)
        return bspline._SparseSpline.apply(x, coef, scaler, layer.grid_start, layer.grid_step, 3, 3, lib)

    assert torch.autograd.gradcheck(spline, params)


def test_dense_product_where_the_layout_would_not_stay_in_cache():
    small, large = torch.zeros(256, 8, 256), torch.zeros(1000, 8, 1000)
    x, many = torch.zeros(1, 256), torch.zeros(bspline.CHUNKED_MIN_ROWS, 256)
    built = native.load(bspline._KERNEL_SOURCE, bspline._declare) is not None
    assert bspline._native_library(x.half(), small.half()) is None  # float16: no kernel
    assert bspline._native_library(many, torch.zeros(1000, 7, 1000), order=2) is None  # other orders: whole layout
    assert bspline._native_library(x, large, order=3) is None  # cubic, few rows: the dense product
    assert (bspline._native_library(many, large, order=3) is not None) == built  # cubic, many rows: chunks
    assert bspline._cubic_chunk(1000, 14, 1000, 4) == 144  # 144 * 1000 * 14 * 4 bytes <= 8 MiB
    assert (bspline._native_library(x, small) is not None) == built


@needs_kernel
def test_empty_batch_gives_zero_parameter_gradients():
    layer = BSplineKANLinear(8, 5)
    x = torch.zeros(0, 8, requires_grad=True)
    layer(x).sum().backward()
    assert x.grad.shape == (0, 8)
    assert layer.spline_weight.grad.abs().max() == 0 and layer.spline_scaler.grad.abs().max() == 0
