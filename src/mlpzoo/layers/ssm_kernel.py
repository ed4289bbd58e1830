"""The fused CPU selective scan: ``ssm_kernel.c``, built at first use by :mod:`mlpzoo.layers.native`.

Gu & Dao, "Mamba: Linear-Time Sequence Modeling with Selective State Spaces", 2023, arXiv:2312.00752.
The kernel runs the recurrence of :mod:`mlpzoo.layers.ssm` one batch row at a time with the
``(d, n)`` state in cache and every step fused, forward and backward, so no ``(b, L, d, n)`` tensor is
written (the chunked scan writes several). A machine without a C compiler keeps the exact chunked
scan. ``MLPZOO_SCAN_KERNEL=0`` (or ``MLPZOO_NATIVE=0``) turns the kernel off.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

import torch

from mlpzoo.layers import native

__all__ = ["fused_selective_scan", "kernel_available", "kernel_status"]

_SOURCE = Path(__file__).with_name("ssm_kernel.c")
_TYPES = {torch.float32: "float", torch.float64: "double"}


def _declare(lib: ctypes.CDLL) -> None:
    i64, ptr = ctypes.c_int64, ctypes.c_void_p
    for name in _TYPES.values():
        forward = getattr(lib, f"mlpzoo_scan_forward_{name}")
        forward.argtypes = [ptr] * 10 + [i64] * 4 + [ctypes.c_int, i64, ctypes.c_int]
        backward = getattr(lib, f"mlpzoo_scan_backward_{name}")
        backward.argtypes = [ptr] * 16 + [i64] * 4 + [ctypes.c_int, i64, ctypes.c_int]
        forward.restype = backward.restype = ctypes.c_int


def _library() -> ctypes.CDLL | None:
    if os.environ.get("MLPZOO_SCAN_KERNEL", "1") == "0":
        return None
    return native.load(_SOURCE, _declare)


def kernel_available() -> bool:
    """True when the C kernel is built (or could be built now) and loaded."""
    return _library() is not None


def kernel_status() -> dict:
    """Whether the kernel is built, and why not (for benchmark reports)."""
    if _library() is None and os.environ.get("MLPZOO_SCAN_KERNEL", "1") == "0":
        return {"built": False, "reason": "turned off by MLPZOO_SCAN_KERNEL=0"}
    return native.status(_SOURCE)


def supports(*tensors: torch.Tensor | None) -> bool:
    """The kernel takes CPU float32/float64 tensors of one dtype."""
    present = [t for t in tensors if t is not None]
    dtype = present[0].dtype
    return dtype in _TYPES and all(t.device.type == "cpu" and t.dtype == dtype for t in present)


def _ptr(tensor: torch.Tensor | None) -> int | None:
    return None if tensor is None else tensor.data_ptr()


class _FusedScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u, delta, A, B, C, D, h0, chunk):
        batch, length, d = u.shape
        n = A.shape[1]
        selective = B.dim() == 3
        chunks = -(-length // chunk)
        y = torch.empty_like(u)
        h_last = u.new_empty(batch, d, n)
        checkpoints = u.new_empty(batch, chunks, d, n)
        name = _TYPES[u.dtype]
        status = getattr(_library(), f"mlpzoo_scan_forward_{name}")(
            _ptr(u),
            _ptr(delta),
            _ptr(A),
            _ptr(B),
            _ptr(C),
            _ptr(D),
            _ptr(h0),
            _ptr(y),
            _ptr(h_last),
            _ptr(checkpoints),
            batch,
            length,
            d,
            n,
            int(selective),
            chunk,
            torch.get_num_threads(),
        )
        if status:
            raise RuntimeError("mlpzoo: the fused selective-scan kernel failed in the forward pass")
        ctx.save_for_backward(u, delta, A, B, C, D, checkpoints)
        ctx.chunk, ctx.has_h0 = chunk, h0 is not None
        return y, h_last

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_y, grad_last):
        u, delta, A, B, C, D, checkpoints = ctx.saved_tensors
        batch, length, d = u.shape
        n = A.shape[1]
        selective = B.dim() == 3
        grad_y = grad_y.contiguous() if grad_y is not None else torch.zeros_like(u)
        grad_last = grad_last.contiguous() if grad_last is not None else None
        du, ddelta = torch.empty_like(u), torch.empty_like(u)
        per_row = u.new_zeros(batch, d, n)  # dA of each batch row, summed below
        dB = torch.zeros_like(B) if selective else u.new_zeros(batch, d, n)
        dC = torch.zeros_like(C) if selective else u.new_zeros(batch, d, n)
        dD, dh0 = u.new_zeros(batch, d), u.new_empty(batch, d, n)
        name = _TYPES[u.dtype]
        status = getattr(_library(), f"mlpzoo_scan_backward_{name}")(
            _ptr(u),
            _ptr(delta),
            _ptr(A),
            _ptr(B),
            _ptr(C),
            _ptr(D),
            _ptr(checkpoints),
            _ptr(grad_y),
            _ptr(grad_last),
            _ptr(du),
            _ptr(ddelta),
            _ptr(per_row),
            _ptr(dB),
            _ptr(dC),
            _ptr(dD),
            _ptr(dh0),
            batch,
            length,
            d,
            n,
            int(selective),
            ctx.chunk,
            torch.get_num_threads(),
        )
        if status:
            raise RuntimeError("mlpzoo: the fused selective-scan kernel failed in the backward pass")
        if not selective:
            dB, dC = dB.sum(0), dC.sum(0)
        return (
            du,
            ddelta,
            per_row.sum(0),
            dB,
            dC,
            dD.sum(0) if D is not None else None,
            dh0 if ctx.has_h0 else None,
            None,
        )


def fused_selective_scan(u, delta, A, B, C, D=None, initial_state=None, chunk_size: int = 64):
    """``(y, final state)`` of the selective scan by the C kernel.

    Arguments as :func:`mlpzoo.layers.ssm.selective_scan`.

    ``chunk_size`` positions run between the checkpoints the backward pass restarts from.
    """
    tensors = [t.contiguous() if t is not None else None for t in (u, delta, A, B, C, D, initial_state)]
    return _FusedScan.apply(*tensors, max(1, chunk_size))
