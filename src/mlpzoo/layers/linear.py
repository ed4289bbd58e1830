"""``nn.Linear`` whose backward orders each product the way the CPU's BLAS runs it fastest.

The forward is ``torch.nn.functional.linear``. In training on CPU, the backward computes
``dx = grad @ W`` and ``dW = grad^T @ x`` itself, because the products autograd issues for a narrow
side run far below the machine's speed in MKL: for FinalMLP's gate layer ``Linear(10, 400)`` at
batch 4096 (one thread), ``dW`` as ``(400 x 4096) @ (4096 x 10)`` takes 3.4 ms and ``dx`` as
``(4096 x 400) @ (400 x 10)`` 2.3 ms; the same results computed transposed,
``((4096 x 10)^T @ (4096 x 400))^T`` and ``(W^T @ grad^T)^T``, take 0.55 and 0.62 ms. A product with an
inner size of 1 (the ``dx`` of a layer with one output) is a broadcast multiply. Every other shape
keeps autograd's own orientation. The values are the same products (rounding-level differences
from the BLAS's summation order).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["Linear", "product"]

# A result with fewer columns than this, and at least 4x as many rows, is computed transposed.
NARROW_COLUMNS = 32


def product(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a @ b`` (2-D), in the orientation the BLAS runs fastest for its shape (see the module doc)."""
    if a.shape[1] == 1:
        return a * b
    rows, columns = a.shape[0], b.shape[1]
    if columns < NARROW_COLUMNS and rows >= 4 * columns:
        return (b.t() @ a.t()).t().contiguous()
    return a @ b


class _LinearFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        return F.linear(x, weight, bias)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        need_x, need_weight, need_bias = ctx.needs_input_grad
        grad_x = product(grad, weight) if need_x else None
        grad_weight = product(grad.t(), x) if need_weight else None
        grad_bias = grad.sum(0) if need_bias and ctx.has_bias else None
        return grad_x, grad_weight, grad_bias


class Linear(nn.Linear):
    """:class:`torch.nn.Linear` (same parameters, state_dict and forward) with the reordered backward.

    The custom backward runs for 2-D float32/float64 CPU inputs in training mode with gradients on;
    anything else (evaluation, export, other devices, batched inputs) is plain ``F.linear``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (
            self.training
            and torch.is_grad_enabled()
            and x.dim() == 2
            and x.device.type == "cpu"
            and x.dtype in (torch.float32, torch.float64)
            and x.dtype == self.weight.dtype
        ):
            return _LinearFunction.apply(x, self.weight, self.bias)
        return F.linear(x, self.weight, self.bias)
