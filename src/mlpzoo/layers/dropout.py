"""Inverted dropout with masks from a counter-based hash, and ReLU fused with it.

Srivastava et al., "Dropout: A Simple Way to Prevent Neural Networks from Overfitting", JMLR 2014:
each unit is kept with probability ``1 - p`` and scaled by ``1 / (1 - p)`` in training, the
identity in evaluation, as :class:`torch.nn.Dropout`. Only the way the mask is drawn differs.

Element ``e`` is kept when 32 bits of ``splitmix64(key + (e >> 1) * golden)`` fall below
``round((1 - p) 2^32)`` (one 64-bit hash gives two elements' bits), and kept units are scaled by the
exact inverse of that quantised keep rate, so the expectation is preserved exactly; ``key`` is one
draw from torch's generator per call, so a seed pins every mask. The mask is a function of
``(key, e)``: the C kernel (``dropout_kernel.c``) computes it on the fly in the forward and again in
the backward, and never stores it. On CPU (one thread, 4096 x 400, float32) a forward takes
0.7 ms against 13 ms for ``x * torch.rand(...).lt_(1 - p)`` and 26 ms for ``F.dropout``
(``bernoulli_``), the draws being most of those; ReLU + dropout forward and backward 1.7 ms against
22 ms. Without a C compiler, on other devices and for other dtypes the same bits come from torch
integer ops (:func:`dropout_keep`), slower but equal.

:func:`relu_dropout` is ``dropout(relu(x))`` in one pass; its backward needs only the output
(``out > 0`` exactly where a unit was kept and positive). :class:`~mlpzoo.layers.mlp.MLP` uses it
for every ``ReLU -> Dropout`` pair.
"""

from __future__ import annotations

import ctypes
import math
import numbers
from pathlib import Path

import torch
from torch import nn

from mlpzoo.errors import ConfigError
from mlpzoo.layers import native

__all__ = ["Dropout", "dropout", "dropout_keep", "relu_dropout"]

_SOURCE = Path(__file__).with_name("dropout_kernel.c")
_TYPES = {torch.float32: ("float", ctypes.c_float), torch.float64: ("double", ctypes.c_double)}
_MASK64 = (1 << 64) - 1


def _signed(value: int) -> int:
    """A 64-bit constant as the int64 torch stores (two's complement)."""
    return value - (1 << 64) if value >= 1 << 63 else value


_GOLDEN, _MIX1, _MIX2 = (_signed(c) for c in (0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB))


def _declare(lib: ctypes.CDLL) -> None:
    ptr, i64, u64, u32 = ctypes.c_void_p, ctypes.c_int64, ctypes.c_uint64, ctypes.c_uint32
    for name, scalar in _TYPES.values():
        getattr(lib, f"mlpzoo_dropout_forward_{name}").argtypes = [ptr, ptr, i64, u64, u32, scalar, ctypes.c_int]
        getattr(lib, f"mlpzoo_dropout_backward_{name}").argtypes = [ptr, ptr, i64, u64, u32, scalar]
        getattr(lib, f"mlpzoo_relu_dropout_backward_{name}").argtypes = [ptr, ptr, ptr, i64, scalar]


def _check_p(p) -> float:
    if isinstance(p, bool) or not (isinstance(p, numbers.Real) and 0 <= p < 1):
        raise ConfigError(f"dropout p={p!r}; pass a probability in [0, 1)")
    return float(p)


def _threshold(p: float) -> tuple[int, float]:
    """The 32-bit keep threshold for drop probability ``p`` and the scale ``1 / (threshold / 2^32)``."""
    threshold = min(max(round((1.0 - p) * 2**32), 1), 2**32 - 1)
    return threshold, 2**32 / threshold


def _draw_key(device: torch.device) -> int:
    """One 63-bit key from the device's default generator (what ``torch.manual_seed`` pins)."""
    return int(torch.empty((), dtype=torch.int64, device=device).random_().item())


def _shift_right(z: torch.Tensor, bits: int) -> torch.Tensor:
    """Logical right shift of int64 values holding unsigned 64-bit words (torch's ``>>`` is arithmetic)."""
    return (z >> bits) & ((1 << (64 - bits)) - 1)


def dropout_keep(shape, key: int, threshold: int, device=None) -> torch.Tensor:
    """The keep mask (bool, ``shape``) of a call with ``key``: the C kernel's bits, from torch integer ops."""
    n = math.prod(int(size) for size in shape)
    z = torch.arange((n + 1) // 2, dtype=torch.int64, device=device) * _GOLDEN + _signed(key & _MASK64)
    z = (z ^ _shift_right(z, 30)) * _MIX1
    z = (z ^ _shift_right(z, 27)) * _MIX2
    z = z ^ _shift_right(z, 31)
    lanes = torch.stack([z & 0xFFFFFFFF, _shift_right(z, 32)], dim=1).flatten()[:n]
    return (lanes < threshold).view(tuple(shape))


def _library(x: torch.Tensor):
    if x.device.type != "cpu" or x.dtype not in _TYPES:
        return None
    return native.load(_SOURCE, _declare)


class _NativeDropout(torch.autograd.Function):
    """The C kernel's forward and backward; saves the output (``relu``) or nothing but the key.

    Not twice differentiable (the backward runs in C)."""

    @staticmethod
    def forward(ctx, x, p, relu, lib):
        x = x.contiguous()
        name, scalar = _TYPES[x.dtype]
        threshold, scale = _threshold(p)
        key = _draw_key(x.device)
        out = torch.empty_like(x)
        getattr(lib, f"mlpzoo_dropout_forward_{name}")(
            x.data_ptr(), out.data_ptr(), x.numel(), key, threshold, scalar(scale), int(relu)
        )
        ctx.lib, ctx.name, ctx.scalar, ctx.relu = lib, name, scalar, relu
        ctx.key, ctx.threshold, ctx.scale = key, threshold, scale
        if relu:
            ctx.save_for_backward(out)
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        grad = grad.contiguous()
        grad_x = torch.empty_like(grad)
        if ctx.relu:
            (out,) = ctx.saved_tensors
            getattr(ctx.lib, f"mlpzoo_relu_dropout_backward_{ctx.name}")(
                grad.data_ptr(), out.data_ptr(), grad_x.data_ptr(), grad.numel(), ctx.scalar(ctx.scale)
            )
        else:
            getattr(ctx.lib, f"mlpzoo_dropout_backward_{ctx.name}")(
                grad.data_ptr(), grad_x.data_ptr(), grad.numel(), ctx.key, ctx.threshold, ctx.scalar(ctx.scale)
            )
        return grad_x, None, None, None


def _apply(x: torch.Tensor, p: float, relu: bool) -> torch.Tensor:
    lib = _library(x)
    if lib is not None:
        return _NativeDropout.apply(x, p, relu, lib)
    threshold, scale = _threshold(p)
    keep = dropout_keep(x.shape, _draw_key(x.device), threshold, x.device)
    return (torch.relu(x) if relu else x) * (keep.to(x.dtype) * scale)


def dropout(x: torch.Tensor, p: float, training: bool = True) -> torch.Tensor:
    """Functional form of :class:`Dropout` (as ``torch.nn.functional.dropout``)."""
    if not training or p == 0:
        return x
    return _apply(x, _check_p(p), relu=False)


def relu_dropout(x: torch.Tensor, p: float, training: bool = True) -> torch.Tensor:
    """``dropout(relu(x), p, training)`` in one pass (the same mask as :func:`dropout` would draw)."""
    if not training or p == 0:
        return torch.relu(x)
    return _apply(x, _check_p(p), relu=True)


class Dropout(nn.Module):
    """Drop-in for :class:`torch.nn.Dropout` (``p`` in [0, 1), no ``inplace``) with a cheaper mask draw."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        self.p = _check_p(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
