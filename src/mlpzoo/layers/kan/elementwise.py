"""Analytic elementwise FLOP counts of the KAN layers (for :func:`mlpzoo.measure.count_flops`).

PyTorch's FLOP counter sees only matrix products; a KAN layer's basis functions are elementwise
work it misses. Every KAN layer's ``elementwise_flops(inputs)`` adds that work, counted by one
convention: one FLOP per arithmetic operation (add, subtract, multiply, divide, compare/select,
absolute value, floor) and one per call of ``exp``, ``log``, ``erf`` or ``tanh``, per element, for
the operations the layer's forward runs. Matrix products inside the layers (the linear maps, the
B-spline layer's dense basis product, AF-KAN's attention scores) are left to PyTorch's counter,
so nothing is counted twice. The counts are formulas of the shapes, not measurements.
"""

from __future__ import annotations

import torch

# Per element: relu = select; sigmoid = neg, exp, add, divide; silu = sigmoid, multiply;
# gelu (erf form) = divide, erf, add, two multiplies; softplus = exp, add, log; elu = exp,
# subtract, multiply, select; selu = elu, multiply; leaky_relu and prelu = multiply, select;
# dice = batch norm (4), sigmoid (4), then p * s + (1 - p) * alpha * s (5).
ACTIVATION_FLOPS = {
    "relu": 1,
    "leaky_relu": 2,
    "prelu": 2,
    "tanh": 1,
    "sigmoid": 4,
    "silu": 5,
    "gelu": 5,
    "softplus": 3,
    "elu": 4,
    "selu": 5,
    "dice": 13,
    "identity": 0,
}
LAYER_NORM_FLOPS = 8  # mean and variance sums, subtract, square, scale by rsqrt, affine multiply and add
BATCH_NORM_FLOPS = 4  # subtract mean, scale, affine multiply and add (eval mode: running statistics)
SOFTMAX_FLOPS = 5  # max, subtract, exp, sum, divide


def activation_flops(name: str | None) -> int:
    """FLOPs per element of activation ``name`` (``None``: no activation)."""
    return 0 if name is None else ACTIVATION_FLOPS[name.lower()]


def input_rows(x: torch.Tensor) -> int:
    """Number of input rows of a layer reading ``(..., in)``."""
    return x.numel() // x.shape[-1] if x.dim() and x.shape[-1] else 0
