"""B-spline Kolmogorov-Arnold layer with a closed-form uniform-grid basis and a compact backward.

Liu et al., "KAN: Kolmogorov-Arnold Networks", 2024, https://arxiv.org/abs/2404.19756 (section 2.2:
residual SiLU branch plus a B-spline per edge on a grid extended by ``k`` knots each side).
The parametrisation (base weight, per-edge spline scaler, coefficient noise) follows efficient-kan,
https://github.com/Blealtan/efficient-kan.

Speed comes from the grid being uniform per input: a point's interval index is a floor and its
``k + 1`` non-zero bases are fixed polynomials of the local coordinate ``u`` (for ``k = 3`` the
cubic pieces ``(1-u)^3/6, (3u^3-6u^2+4)/6, (-3u^3+3u^2+3u+1)/6, u^3/6``), so no Cox-de Boor
recursion runs over the whole grid. The spline branch is one matrix product of the dense
``(batch, (G + k) * in)`` basis matrix with the coefficients; the dense matrix lives only inside
the forward and the backward, which keep ``O(batch * in * (k + 1))`` values between them.

On CPU (float32/float64) the eager path skips the dense matrix altogether when the C kernel of
``bspline_kernel.c`` builds (:mod:`mlpzoo.layers.native`; see :class:`_SparseSpline`): each input's
``k + 1`` window values multiply its ``k + 1`` coefficient rows directly, half the multiply-adds of
the dense product at ``G = 5, k = 3``, forward and backward. For cubic splines the rows of each
input are first sorted by interval, so the rows sharing four coefficient rows run together with
those rows (or their gradient sums) held in vector registers. Where the sparse layout of the
coefficients would pass ``SPARSE_MAX_BYTES`` it runs in chunks of outputs from ``CHUNKED_MIN_ROWS``
rows on, and the dense product runs below that. Without a C compiler the dense product runs; all
paths give the same outputs and gradients.
"""

from __future__ import annotations

import ctypes
import math
from functools import cache
from pathlib import Path

import torch
from torch import nn

from mlpzoo.errors import ConfigError, DataError
from mlpzoo.layers import native
from mlpzoo.layers.activation import make_activation
from mlpzoo.layers.kan.checks import check_range, check_sizes, flatten_input
from mlpzoo.layers.kan.elementwise import activation_flops, input_rows
from mlpzoo.layers.kan.fused import (
    bspline_dense,
    bspline_grad_x,
    check_fused,
    fused_enabled,
)


@cache
def _piece_coefficients(order: int) -> tuple[tuple[float, ...], ...]:
    """``P[p][m]``: coefficient of ``u^p`` in the ``m``-th non-zero basis on an interval.

    Basis ``m = 0`` is the one ending on the interval, ``m = order`` the one starting on it.
    Built once per order by the Cox-de Boor recursion on polynomial coefficients in ``u``:
    ``b^p_r = (u + r)/p b^{p-1}_r + (p + 1 - r - u)/p b^{p-1}_{r-1}``, where ``b^p_r`` is the
    degree-``p`` basis starting ``r`` intervals to the left.
    """
    prev = [[1.0]]  # b^0_0 = 1
    for p in range(1, order + 1):
        cur = []
        for r in range(p + 1):
            poly = [0.0] * (p + 1)
            if r < p:  # (u + r)/p * b^{p-1}_r
                for e, a in enumerate(prev[r]):
                    poly[e] += r * a / p
                    poly[e + 1] += a / p
            if r >= 1:  # (p + 1 - r - u)/p * b^{p-1}_{r-1}
                for e, a in enumerate(prev[r - 1]):
                    poly[e] += (p + 1 - r) * a / p
                    poly[e + 1] -= a / p
            cur.append(poly)
        prev = cur
    # m = order - r: basis index t + m starts m - order intervals from the point's interval.
    return tuple(tuple(prev[order - m][p] for m in range(order + 1)) for p in range(order + 1))


def _pieces(order: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Value and ``d/du`` coefficient matrices, ``(k+1, k+1)`` and ``(k, k+1)``, as ``like``."""
    values = torch.tensor(_piece_coefficients(order), dtype=like.dtype, device=like.device)
    powers = torch.arange(1, order + 1, dtype=like.dtype, device=like.device).unsqueeze(1)
    return values, values[1:] * powers


def _coordinates(x: torch.Tensor, start: torch.Tensor, step: torch.Tensor, grid_size: int, order: int):
    """Interval index ``t`` (int32) and local coordinate ``u`` in ``[0, 1]`` of each value.

    The grid coordinate ``s = (x - start) / step`` is clamped to the extended grid ``[-k, G + k]``:
    at its ends every basis is zero, as it is beyond, and huge inputs stay finite. So ``t`` is in
    ``[-k, G + k)`` and the point's non-zero bases are ``t .. t + k``, some of which (for points
    off the grid proper) are the padding columns ``-k .. -1`` and ``G + k .. G + 2k - 1``.
    """
    s = ((x - start) / step).clamp_(-order, grid_size + order)
    t = s.floor().clamp_(max=grid_size + order - 1)
    return t.int(), s.sub_(t)


def _compact(u: torch.Tensor, order: int, derivative: bool = False) -> torch.Tensor:
    """The ``k + 1`` non-zero basis values (or ``d/du``) ``(N, k+1, in)`` at local coordinates ``u``."""
    out = u.new_empty(u.shape[0], order + 1, *u.shape[1:])
    if order == 3 and not derivative:
        u2 = u * u
        u3 = u2 * u
        w = 1 - u
        torch.mul(w * w, w, out=out[:, 0]).div_(6)
        torch.add(u3 / 2 - u2, 2 / 3, out=out[:, 1])
        torch.add((u + u2 - u3) / 2, 1 / 6, out=out[:, 2])
        torch.div(u3, 6, out=out[:, 3])
    elif order == 3:
        half_u2 = u * u / 2
        w = 1 - u
        torch.mul(w * w, -0.5, out=out[:, 0])
        torch.sub(3 * half_u2, 2 * u, out=out[:, 1])
        torch.sub(u + 0.5, 3 * half_u2, out=out[:, 2])
        out[:, 3] = half_u2
    else:
        pieces, slopes = _pieces(order, u)
        matrix = slopes if derivative else pieces
        powers = u.unsqueeze(-1) ** torch.arange(matrix.shape[0], dtype=u.dtype, device=u.device)
        out.copy_((powers @ matrix).movedim(-1, 1))
    return out


@cache
def _slope_coefficients(order: int) -> tuple[tuple[float, ...], ...]:
    """``S[p][m]``: coefficient of ``u^p`` in ``d/du`` of the ``m``-th non-zero basis on an interval."""
    pieces = _piece_coefficients(order)
    return tuple(tuple(p * v for v in pieces[p]) for p in range(1, order + 1))


def _fused_dense(
    x: torch.Tensor, start: torch.Tensor, step: torch.Tensor, grid_size: int, order: int, fused
) -> torch.Tensor:
    """The dense ``(N, (G + k) * in)`` basis matrix from one compiled kernel (see ``fused.py``)."""
    dense = bspline_dense(
        x, start, step, grid_size, order, _piece_coefficients(order), _slope_coefficients(order), fused
    )
    return dense.view(x.shape[0], -1)


def _window_columns(t: torch.Tensor, order: int) -> torch.Tensor:
    """Columns ``(N, k+1, in)``, int64, of each point's non-zero bases in the padded basis matrix."""
    return t.unsqueeze(1) + torch.arange(order, 2 * order + 1, device=t.device).view(1, -1, 1)


def _padded(n: int, grid_size: int, order: int, n_in: int, like: torch.Tensor):
    """A zero ``(N, G + 3k, in)`` matrix and its ``(N, (G + k) * in)`` view on bases ``0 .. G+k-1``.

    The ``k`` padding bases each side take the window values that fall off the extended grid,
    so no point needs a mask or a clamp of its columns; the view skips them at no copy.
    """
    padded = like.new_zeros(n, grid_size + 3 * order, n_in)
    return padded, padded[:, order : grid_size + 2 * order].reshape(n, (grid_size + order) * n_in)


def _dense(cols: torch.Tensor, values: torch.Tensor, grid_size: int, order: int) -> torch.Tensor:
    """Scatter window values ``(N, k+1, in)`` into the dense ``(N, (G + k) * in)`` basis matrix."""
    padded, dense = _padded(cols.shape[0], grid_size, order, cols.shape[2], values)
    padded.scatter_(1, cols, values)
    return dense


def bspline_basis(
    x: torch.Tensor, grid_start: torch.Tensor, grid_step: torch.Tensor, grid_size: int, spline_order: int
) -> torch.Tensor:
    """All ``G + k`` B-spline bases of each input, ``(..., in) -> (..., in, G + k)``.

    Input ``i`` has the uniform grid ``grid_start[i] + n * grid_step[i]``, ``n = 0..G``, extended
    by ``k`` knots each side; basis ``j`` is supported on knots ``j - k .. j + 1``, so the bases
    cover ``[start - k*step, start + (G + k)*step]`` and are zero beyond.
    """
    flat = x.reshape(-1, x.shape[-1])
    t, u = _coordinates(flat, grid_start, grid_step, grid_size, spline_order)
    dense = _dense(_window_columns(t, spline_order), _compact(u, spline_order), grid_size, spline_order)
    n_bases = grid_size + spline_order
    return dense.view(flat.shape[0], n_bases, x.shape[-1]).transpose(1, 2).reshape(*x.shape, n_bases)


_SCALE_BLOCK = 1 << 20


def _scaled_blocks(coef: torch.Tensor, scaler: torch.Tensor | None):
    """``(rows, (coef * scaler)[rows].flatten(1))`` over blocks of output rows.

    Scaling a block at a time keeps each temporary near ``_SCALE_BLOCK`` values: a whole-layer
    scaled copy is parameter-sized, and (past glibc's 32 MiB mmap threshold) costs page faults
    on every call, while small blocks reuse the same heap memory.
    """
    n_out = coef.shape[0]
    if scaler is None:
        yield slice(0, n_out), coef.flatten(1)
        return
    step = max(1, _SCALE_BLOCK // coef[0].numel())
    for first in range(0, n_out, step):
        rows = slice(first, min(first + step, n_out))
        yield rows, (coef[rows] * scaler[rows].unsqueeze(1)).flatten(1)


class _SplineMatmul(torch.autograd.Function):
    """``y = basis(x) @ (coef * scaler)^T``, keeping only the window bases for the backward.

    ``coef`` is ``(out, G + k, in)`` and the dense basis ``(N, G + k, in)``, basis-major so that
    every elementwise step and the scatter run along contiguous ``in``-long rows. Saved: local
    coordinates, interval indices and the ``(N, k+1, in)`` window values (plus the parameters);
    the dense basis is rebuilt in the backward. Not twice differentiable.

    With ``fused`` (see :mod:`mlpzoo.layers.kan.fused`) the dense basis comes from one compiled
    kernel (no zero-fill, scatter or gather) and only ``x`` is saved.
    """

    @staticmethod
    def forward(ctx, x, coef, scaler, grid_start, grid_step, grid_size, order, fused):
        ctx.grid, ctx.fused = (grid_size, order), fused_enabled(fused, x) and fused
        if ctx.fused:
            x = x.contiguous()
            dense = _fused_dense(x, grid_start, grid_step, grid_size, order, ctx.fused)
            ctx.save_for_backward(x, coef, scaler, grid_start, grid_step)
        else:
            t, u = _coordinates(x, grid_start, grid_step, grid_size, order)
            values = _compact(u, order)
            dense = _dense(_window_columns(t, order), values, grid_size, order)
            ctx.save_for_backward(u, t, values, coef, scaler, grid_step)
        out = dense.new_empty(x.shape[0], coef.shape[0])
        for rows, weight in _scaled_blocks(coef, scaler):
            torch.mm(dense, weight.t(), out=out[:, rows])
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        if ctx.fused:
            return _fused_backward(ctx, grad_out.contiguous())
        u, t, values, coef, scaler, grid_step = ctx.saved_tensors
        grid_size, order = ctx.grid
        grad_x = grad_coef = grad_scaler = None
        grad_out = grad_out.contiguous()
        cols = _window_columns(t, order)
        # One padded matrix serves both products: first the bases, then the basis gradients.
        padded, dense = _padded(u.shape[0], grid_size, order, u.shape[1], values)
        if ctx.needs_input_grad[1] or ctx.needs_input_grad[2]:
            padded.scatter_(1, cols, values)
            grad_coef, grad_scaler = _parameter_grads(ctx, grad_out, dense, coef, scaler)
            padded[:, :order].zero_()
            padded[:, grid_size + 2 * order :].zero_()
        if ctx.needs_input_grad[0]:
            for rows, weight in _scaled_blocks(coef, scaler):
                if rows.start == 0:
                    torch.mm(grad_out[:, rows], weight, out=dense)
                else:
                    dense.addmm_(grad_out[:, rows], weight)
            picked = padded.gather(1, cols)
            grad_x = torch.linalg.vecdot(picked, _compact(u, order, derivative=True), dim=1) / grid_step
            if order == 1:
                # Linear bases have a kink, not a flat end, where the clamp starts.
                s = t + u
                grad_x.mul_((s > -order) & (s < grid_size + order))
        return grad_x, grad_coef, grad_scaler, None, None, None, None, None


_KERNEL_SOURCE = Path(__file__).with_name("bspline_kernel.c")
_KERNEL_TYPES = {torch.float32: "float", torch.float64: "double"}


def _declare(lib: ctypes.CDLL) -> None:
    i64, ptr, c_int = ctypes.c_int64, ctypes.c_void_p, ctypes.c_int
    for name in _KERNEL_TYPES.values():
        getattr(lib, f"mlpzoo_spline_bases_{name}").argtypes = [ptr] * 6 + [i64] * 4 + [ptr]
        getattr(lib, f"mlpzoo_spline_forward_{name}").argtypes = [ptr] * 4 + [i64] * 5 + [c_int]
        getattr(lib, f"mlpzoo_spline_backward_{name}").argtypes = [ptr] * 9 + [i64] * 6 + [c_int]
        getattr(lib, f"mlpzoo_spline_sorted_bases_{name}").argtypes = [ptr] * 7 + [i64] * 5
        getattr(lib, f"mlpzoo_spline_forward_cubic_{name}").argtypes = [ptr] * 5 + [i64] * 6 + [c_int]
        getattr(lib, f"mlpzoo_spline_backward_cubic_{name}").argtypes = [ptr] * 11 + [i64, c_int] + [i64] * 5 + [c_int]
        getattr(lib, f"mlpzoo_spline_layout_{name}").argtypes = [ptr] * 3 + [i64] * 5
        getattr(lib, f"mlpzoo_spline_unlayout_{name}").argtypes = [ptr] * 5 + [i64] * 5


def _run(lib: ctypes.CDLL, kernel: str, dtype: torch.dtype, *args) -> None:
    """Call ``mlpzoo_spline_{kernel}_{float|double}``: tensors go as data pointers, None as NULL."""
    converted = [0 if a is None else a.data_ptr() if isinstance(a, torch.Tensor) else a for a in args]
    getattr(lib, f"mlpzoo_spline_{kernel}_{_KERNEL_TYPES[dtype]}")(*converted)


# The sparse kernel lays the scaled coefficients out as (in, G + 3k, out) each call. For orders other than
# cubic that layout is made whole and read once per block of rows; measured (one thread, fwd+bwd, G = 5), it
# beats the dense product up to 256 x 256 (3.7 MiB laid out) at every batch tried (64..4096 rows) and loses at
# 1000 x 1000 (56 MiB), where the slabs no longer stay in cache and the BLAS product's blocking wins. So those
# orders run sparse while the layout fits this budget. The cubic path instead lays out and runs chunks of
# outputs whose layout fits it; each call then passes over parameter-sized arrays several times (the layout,
# again in the backward, the gradients'), which the halved multiply-adds repay from about 130 rows on:
# measured at 1000 x 1000, one thread, fwd+bwd, dense vs chunked: 85 vs 94 ms at 100 rows, 153 vs 129 ms at
# 200, 289 vs 210 ms at 400. So chunks run from CHUNKED_MIN_ROWS rows on, the dense product below.
SPARSE_MAX_BYTES = 8 << 20
CHUNKED_MIN_ROWS = 128


_MAX_WINDOW = 64  # the C backward's per-point buffer of window gradients holds k + 1 <= 64 values
_CUBIC_MAX_COLUMNS = 64  # the sorted-bases pass counts at most 64 window columns (G + 3k <= 64, G <= 55)


def _is_cubic(order: int, grid_size: int) -> bool:
    return order == 3 and grid_size + 3 * order <= _CUBIC_MAX_COLUMNS


def _native_library(x: torch.Tensor, coef: torch.Tensor, order: int = 3) -> ctypes.CDLL | None:
    """The sparse spline kernel where it pays, or None: CPU float32/float64, with the layout within
    ``SPARSE_MAX_BYTES`` or, for the cubic path, in chunks from ``CHUNKED_MIN_ROWS`` rows of ``x`` on."""
    if x.device.type != "cpu" or x.dtype not in _KERNEL_TYPES or coef.dtype != x.dtype or order + 1 > _MAX_WINDOW:
        return None
    fits = coef.numel() * 2 * x.element_size() <= SPARSE_MAX_BYTES  # (G + 3k) / (G + k) < 2 for every k <= G
    chunked = _is_cubic(order, coef.shape[1] - order) and x.shape[0] >= CHUNKED_MIN_ROWS
    return native.load(_KERNEL_SOURCE, _declare) if fits or chunked else None


def _cubic_chunk(n_in: int, columns: int, n_out: int, element_size: int) -> int:
    """Outputs per chunk of the cubic path: all of them while the layout fits ``SPARSE_MAX_BYTES``, else
    multiples of 16 whose layout does (a whole-layer layout past it is allocated, and page-faulted, anew
    every call, and streamed from memory)."""
    per_output = n_in * columns * element_size
    if per_output * n_out <= SPARSE_MAX_BYTES:
        return n_out
    return min(n_out, max(16, SPARSE_MAX_BYTES // per_output // 16 * 16))


def _cubic_block_rows(n_out: int, element_size: int) -> int:
    """Rows per block of the cubic loops: a block's outputs (or output gradients) take 256 KiB, which stays
    in L2 while every input's weights stream past it."""
    return max(1, (256 << 10) // (element_size * max(n_out, 1)))


@cache
def _kernel_coefficients(order: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The basis and slope coefficients (``_piece_coefficients``, ``_slope_coefficients``) as float64 arrays."""
    values = torch.tensor(_piece_coefficients(order), dtype=torch.float64)
    slopes = torch.tensor(_slope_coefficients(order), dtype=torch.float64).reshape(order, order + 1)
    return values.contiguous(), slopes.contiguous()


class _SparseSpline(torch.autograd.Function):
    """``y = basis(x) @ (coef * scaler)^T`` by the C kernel: only each input's ``k + 1`` window bases.

    The scaled coefficients are laid out once per call as ``(in, G + 3k, out)``, zero in the ``k``
    padding columns each side (the window columns of points off the grid proper), so the kernel
    reads each input's ``k + 1`` coefficient rows contiguously. The window columns and values come
    from one C pass over ``x`` and the backward writes the input gradient directly (no batch-sized
    temporaries: each elementwise torch op they replace allocated one). Not twice differentiable.

    Cubic splines (``k = 3``, ``G <= 55``) save, per input and block of rows, the rows sorted by window
    column with their local coordinates and window values (``mlpzoo_spline_sorted_bases``): the
    forward and backward loops then run over buckets of rows that share four coefficient rows. Other
    orders save the local coordinates, window columns and values in row order.
    """

    @staticmethod
    def forward(ctx, x, coef, scaler, grid_start, grid_step, grid_size, order, lib):
        n, n_in = x.shape
        n_out, n_bases = coef.shape[0], grid_size + order
        columns = n_bases + 2 * order
        grid_start, grid_step = grid_start.to(x.dtype).contiguous(), grid_step.to(x.dtype).contiguous()
        coef = coef.contiguous()
        scaler = None if scaler is None else scaler.contiguous()
        out = x.new_empty(n, n_out)
        threads = torch.get_num_threads()
        ctx.grid, ctx.lib, ctx.cubic = (grid_size, order), lib, _is_cubic(order, grid_size)
        if ctx.cubic:
            ctx.chunk = _cubic_chunk(n_in, columns, n_out, x.element_size())
            ctx.block = _cubic_block_rows(ctx.chunk, x.element_size())
            blocks = -(-n // ctx.block)
            rows, u, values = torch.empty(n_in, n, dtype=torch.int32), x.new_empty(n_in, n), x.new_empty(n_in, n, 4)
            starts = torch.empty(n_in, blocks, columns + 1, dtype=torch.int32)
            args = (x, grid_start, grid_step, rows, u, values, starts, n, n_in, grid_size, columns, ctx.block)
            _run(lib, "sorted_bases", x.dtype, *args)
            buffer = coef.new_empty(n_in * columns * ctx.chunk)
            for first, width in _chunks(n_out, ctx.chunk):
                weight = _layout(lib, coef, scaler, first, width, columns, order, buffer)
                sizes = (n_out, n, n_in, width, columns, ctx.block, threads)
                _run(lib, "forward_cubic", x.dtype, rows, values, starts, weight, out[:, first:], *sizes)
            # One chunk: keep its layout for the backward; several: lay each out again there (no whole layout).
            saved = weight if ctx.chunk == n_out else None
            ctx.save_for_backward(u, rows, values, saved, coef, scaler, grid_step, starts)
            return out
        weight = _layout(lib, coef, scaler, 0, n_out, columns, order, coef.new_empty(n_in * columns * n_out))
        # Window columns in the padded layout (t + k), local coordinates and window values, in one C pass.
        cols = torch.empty(n, n_in, dtype=torch.int32)
        u, values = torch.empty_like(x), x.new_empty(n, order + 1, n_in)
        pieces = _kernel_coefficients(order)[0]
        _run(lib, "bases", x.dtype, x, grid_start, grid_step, cols, u, values, n, n_in, grid_size, order, pieces)
        _run(lib, "forward", x.dtype, cols, values, weight, out, n, n_in, n_out, order + 1, columns, threads)
        ctx.save_for_backward(u, cols, values, weight, coef, scaler, grid_step)
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        u, cols, values, weight, coef, scaler, grid_step, *starts = ctx.saved_tensors
        grid_size, order = ctx.grid
        grad_out = grad_out.contiguous()
        n, n_out = grad_out.shape
        n_in, n_bases = coef.shape[2], coef.shape[1]
        columns = n_bases + 2 * order
        threads = min(torch.get_num_threads(), 64)
        grad_x = grad_out.new_empty(n, n_in) if ctx.needs_input_grad[0] else None
        grad_coef = torch.empty_like(coef) if ctx.needs_input_grad[1] else None
        grad_scaler = torch.empty_like(scaler) if ctx.needs_input_grad[2] else None
        slopes = _kernel_coefficients(order)[1]
        if not ctx.cubic:
            grad_weight = torch.empty_like(weight)
            args = (cols, values, u, grid_step, slopes, weight, grad_out, grad_weight, grad_x)
            _run(ctx.lib, "backward", u.dtype, *args, n, n_in, n_out, order + 1, columns, grid_size, threads)
            _unlayout(ctx.lib, grad_weight, coef, scaler, grad_coef, grad_scaler, 0, n_out, columns, order)
            return grad_x, grad_coef, grad_scaler, None, None, None, None, None
        chunk = ctx.chunk
        scratch = grad_out.new_empty(threads, 3 * chunk)
        grad_buffer = coef.new_empty(n_in * columns * chunk)
        buffer = None if weight is not None else coef.new_empty(n_in * columns * chunk)
        for first, width in _chunks(n_out, chunk):
            if buffer is not None:
                weight = _layout(ctx.lib, coef, scaler, first, width, columns, order, buffer)
            grad_weight = grad_buffer[: n_in * columns * width].view(n_in, columns, width)
            args = (cols, u, values, starts[0], grid_step, slopes, weight, grad_out[:, first:], grad_weight, grad_x)
            sizes = (n_out, int(first > 0), n, n_in, width, columns, ctx.block, threads)
            _run(ctx.lib, "backward_cubic", u.dtype, *args, scratch, *sizes)
            _unlayout(ctx.lib, grad_weight, coef, scaler, grad_coef, grad_scaler, first, width, columns, order)
        return grad_x, grad_coef, grad_scaler, None, None, None, None, None


def _chunks(total: int, size: int):
    """``(first, width)`` of consecutive chunks of ``size`` (the last may be narrower)."""
    for first in range(0, total, size):
        yield first, min(size, total - first)


def _layout(lib, coef, scaler, first, width, columns, order, buffer):
    """Outputs ``first .. first + width`` of ``coef * scaler`` laid out as ``(in, columns, width)`` in ``buffer``."""
    n_bases, n_in = coef.shape[1], coef.shape[2]
    weight = buffer[: n_in * columns * width].view(n_in, columns, width)
    rows = slice(first, first + width)
    part = None if scaler is None else scaler[rows]
    _run(lib, "layout", coef.dtype, coef[rows], part, weight, width, n_bases, n_in, columns, order)
    return weight


def _unlayout(lib, grad_weight, coef, scaler, grad_coef, grad_scaler, first, width, columns, order):
    """The gradients of outputs ``first .. first + width`` of ``coef`` and ``scaler`` from the laid-out one."""
    if grad_coef is None and grad_scaler is None:
        return
    rows = slice(first, first + width)

    def part(t):
        return None if t is None else t[rows]

    args = (grad_weight, coef[rows], part(scaler), part(grad_coef), part(grad_scaler))
    _run(lib, "unlayout", coef.dtype, *args, width, coef.shape[1], coef.shape[2], columns, order)


def _parameter_grads(ctx, grad_out, dense, coef, scaler):
    """``(grad_coef, grad_scaler)`` from the dense bases (``None`` where not needed)."""
    grad_coef = grad_scaler = None
    grad_weight = (grad_out.t() @ dense).view(coef.shape)
    if scaler is None:
        return grad_weight, None
    if ctx.needs_input_grad[2]:
        # Summed one basis at a time: a (out, G + k, in) product would be a parameter-sized temporary.
        grad_scaler = grad_weight[:, 0] * coef[:, 0]
        for j in range(1, coef.shape[1]):
            grad_scaler.addcmul_(grad_weight[:, j], coef[:, j])
    if ctx.needs_input_grad[1]:
        grad_coef = grad_weight.mul_(scaler.unsqueeze(1))
    return grad_coef, grad_scaler


def _fused_backward(ctx, grad_out):
    x, coef, scaler, grid_start, grid_step = ctx.saved_tensors
    grid_size, order = ctx.grid
    grad_x = grad_coef = grad_scaler = None
    dense = _fused_dense(x, grid_start, grid_step, grid_size, order, ctx.fused)
    if ctx.needs_input_grad[1] or ctx.needs_input_grad[2]:
        grad_coef, grad_scaler = _parameter_grads(ctx, grad_out, dense, coef, scaler)
    if ctx.needs_input_grad[0]:
        for rows, weight in _scaled_blocks(coef, scaler):  # the basis gradients overwrite the bases
            if rows.start == 0:
                torch.mm(grad_out[:, rows], weight, out=dense)
            else:
                dense.addmm_(grad_out[:, rows], weight)
        grad_x = bspline_grad_x(
            x,
            dense.view(x.shape[0], -1, x.shape[1]),
            grid_start,
            grid_step,
            grid_size,
            order,
            _piece_coefficients(order),
            _slope_coefficients(order),
            ctx.fused,
        )
    return grad_x, grad_coef, grad_scaler, None, None, None, None, None


class BSplineKANLinear(nn.Module):
    """KAN layer ``(..., in) -> (..., out)``: ``W_b act(x) + sum_i s_oi sum_j c_oij B_j(x_i)``.

    A drop-in for ``nn.Linear``. The base branch is a bias-free linear map of ``act(x)`` (the
    spline bases sum to one on the grid, so a constant is already representable). Each input
    has its own uniform grid (buffers ``grid_start``, ``grid_step``) of ``grid_size`` intervals
    over ``grid_range``, extended by ``spline_order`` knots each side: inputs within
    ``spline_order`` steps of the grid still see a spline, inputs further out see only the base
    branch. Use :meth:`update_grid` to fit the grids to the data.

    ``spline_weight`` is ``(out, G + k, in)``: ``spline_weight[o, :, i]`` holds edge ``(o, i)``'s
    coefficients (efficient-kan's layout transposed; basis-major is what the fast kernel reads).

    Args:
        in_features, out_features: widths, as for ``nn.Linear``.
        grid_size: number of grid intervals ``G`` (``>= 1``).
        spline_order: B-spline order ``k`` (``>= 1``; 3 is cubic and has the fastest path).
        grid_range: initial ``(low, high)`` of every input's grid.
        base_activation: name understood by :func:`make_activation`.
        scale_noise: spread of the initial coefficients, ``U(-1/2, 1/2) * scale_noise / G``.
        enable_standalone_scale_spline: learn a per-edge scale ``s_oi`` of the spline (efficient-kan
            default); without it ``s_oi = 1``.
        fused: ``False`` (default) eager ops (on CPU the spline branch is the sparse C kernel where
            it pays, see ``SPARSE_MAX_BYTES``, else the dense product); ``True`` the dense basis and
            its input gradient as ``torch.compile`` kernels (:mod:`mlpzoo.layers.kan.fused`; the first call compiles);
            ``"auto"`` those kernels with a one-time warning and eager ops where compiling fails.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        grid_size: int = 5,
        spline_order: int = 3,
        grid_range: tuple[float, float] = (-1.0, 1.0),
        base_activation: str = "silu",
        scale_noise: float = 0.1,
        enable_standalone_scale_spline: bool = True,
        fused: bool | str = False,
    ):
        super().__init__()
        self.fused = check_fused(fused)
        check_sizes(
            "BSplineKANLinear",
            in_features=in_features,
            out_features=out_features,
            grid_size=grid_size,
            spline_order=spline_order,
        )
        low, high = check_range("BSplineKANLinear", grid_range)
        self.in_features, self.out_features = in_features, out_features
        self.grid_size, self.spline_order = int(grid_size), int(spline_order)
        self.register_buffer("grid_start", torch.full((in_features,), low))
        self.register_buffer("grid_step", torch.full((in_features,), (high - low) / grid_size))
        self.base_activation = make_activation(base_activation, in_features)
        self.base_activation_name = base_activation
        self.base = nn.Linear(in_features, out_features, bias=False)
        n_bases = self.grid_size + self.spline_order
        with torch.no_grad():
            noise = (torch.rand(out_features, n_bases, in_features) - 0.5) * (scale_noise / grid_size)
        self.spline_weight = nn.Parameter(noise)
        if enable_standalone_scale_spline:
            self.spline_scaler = nn.Parameter(torch.empty(out_features, in_features))
            nn.init.kaiming_uniform_(self.spline_scaler, a=math.sqrt(5))
        else:
            self.register_parameter("spline_scaler", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = flatten_input(x, self.in_features, "BSplineKANLinear", self.spline_weight)
        lib = None if fused_enabled(self.fused, flat) else _native_library(flat, self.spline_weight, self.spline_order)
        if lib is not None:
            spline = _SparseSpline.apply(
                flat.contiguous(),
                self.spline_weight,
                self.spline_scaler,
                self.grid_start,
                self.grid_step,
                self.grid_size,
                self.spline_order,
                lib,
            )
        else:
            spline = _SplineMatmul.apply(
                flat,
                self.spline_weight,
                self.spline_scaler,
                self.grid_start,
                self.grid_step,
                self.grid_size,
                self.spline_order,
                self.fused,
            )
        out = self.base(self.base_activation(flat)) + spline
        return out.view(*x.shape[:-1], self.out_features)

    def elementwise_flops(self, inputs: tuple[torch.Tensor, ...]) -> int:
        """Per input: grid coordinate and interval (subtract, divide, two clamps, floor, clamp,
        subtract: 7), its ``k + 1`` non-zero bases (14 for the cubic closed form, else ``k + 1``
        Horner evaluations of degree ``k``) and the base activation; per output the sum of the
        branches; once per call the scaled coefficients. The dense basis product and the base
        linear map are PyTorch's to count."""
        k = self.spline_order
        per_input = 7 + (14 if k == 3 else 2 * k * (k + 1)) + activation_flops(self.base_activation_name)
        n = input_rows(inputs[0])
        scaled = self.spline_weight.numel() if self.spline_scaler is not None else 0
        return n * (self.in_features * per_input + self.out_features) + scaled

    def spline_basis(self, x: torch.Tensor) -> torch.Tensor:
        """The dense bases ``(..., in, G + k)`` of ``x`` on the current grids (for analysis)."""
        return bspline_basis(x, self.grid_start, self.grid_step, self.grid_size, self.spline_order)

    def regularization_loss(self, l1: float = 1.0, entropy: float = 1.0) -> torch.Tensor:
        """The KAN paper's sparsity penalty ``l1 * sum |phi| + entropy * H(|phi| / sum |phi|)``.

        ``|phi_oi|`` is taken from the coefficients, ``mean_j |s_oi c_oij|`` (efficient-kan's
        stand-in for the mean activation over a batch): no batch is recorded and no
        ``(batch, in, out)`` tensor is formed.
        """
        weight = self.spline_weight.abs()
        if self.spline_scaler is not None:
            weight = weight * self.spline_scaler.abs().unsqueeze(1)
        per_edge = weight.mean(1)
        total = per_edge.sum()
        p = per_edge / total.clamp_min(torch.finfo(total.dtype).tiny)
        return l1 * total - entropy * torch.special.xlogy(p, p).sum()

    @torch.no_grad()
    def update_grid(self, x: torch.Tensor, margin: float = 0.01) -> None:
        """Move each input's grid to span its samples ``[min - margin, max + margin]`` uniformly.

        The coefficients are refit by least squares so every edge function keeps its values on
        ``x`` (exactly where the old spline lies in the new spline space, closely otherwise).
        Only uniform grids are used, unlike efficient-kan's mix with a percentile grid, because
        the fast basis needs a uniform grid per input.
        """
        flat = flatten_input(x.detach(), self.in_features, "BSplineKANLinear.update_grid")
        if flat.shape[0] == 0:
            raise DataError("BSplineKANLinear.update_grid got no samples; pass a batch of inputs")
        low, high = torch.aminmax(flat, dim=0)
        span = high - low + 2 * margin
        if not bool((span > 0).all()):
            raise DataError("BSplineKANLinear.update_grid input is constant with margin=0; pass margin > 0")
        self._refit(flat, low - margin, span / self.grid_size, self.grid_size)

    @torch.no_grad()
    def extend_grid(self, new_grid_size: int, x: torch.Tensor) -> None:
        """Refine (or coarsen) every grid to ``new_grid_size`` intervals over the same range.

        Coefficients are refit by least squares on the samples ``x``. ``spline_weight`` becomes a
        new Parameter of a new shape, so build the optimizer again afterwards.
        """
        if not isinstance(new_grid_size, int) or new_grid_size < 1:
            raise ConfigError(f"BSplineKANLinear.extend_grid new_grid_size={new_grid_size!r}; pass an integer >= 1")
        flat = flatten_input(x.detach(), self.in_features, "BSplineKANLinear.extend_grid")
        if flat.shape[0] == 0:
            raise DataError("BSplineKANLinear.extend_grid got no samples; pass a batch of inputs")
        step = self.grid_step * self.grid_size / new_grid_size
        self._refit(flat, self.grid_start.clone(), step, int(new_grid_size))

    def _refit(self, flat: torch.Tensor, start: torch.Tensor, step: torch.Tensor, grid_size: int) -> None:
        # Per input i, solve A_new T_i = A_old once; then c_new[o, i] = T_i c_old[o, i] for every
        # output at once, the same least-squares fit as regressing each edge's values. In float64,
        # and by pseudo-inverse, since bases the samples barely reach make A_new rank-deficient.
        flat = flat.double()
        old = bspline_basis(flat, self.grid_start.double(), self.grid_step.double(), self.grid_size, self.spline_order)
        new = bspline_basis(flat, start.double(), step.double(), grid_size, self.spline_order)
        transfer = torch.linalg.pinv(new.transpose(0, 1)) @ old.transpose(0, 1)
        coef = torch.einsum("ijl,oli->oji", transfer, self.spline_weight.double()).to(self.spline_weight.dtype)
        self.grid_start.copy_(start)
        self.grid_step.copy_(step)
        if grid_size == self.grid_size:
            self.spline_weight.copy_(coef)
        else:
            self.spline_weight = nn.Parameter(coef.contiguous())
            self.grid_size = grid_size

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"grid_size={self.grid_size}, spline_order={self.spline_order}"
        )
