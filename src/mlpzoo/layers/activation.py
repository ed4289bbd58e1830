"""Activations used by MLP-family models, including Dice from the DIN paper.

Dice: Zhou et al., "Deep Interest Network for Click-Through Rate Prediction", KDD 2018,
https://arxiv.org/abs/1706.06978 (section 4.3).
"""

from __future__ import annotations

import torch
from torch import nn


class Dice(nn.Module):
    """Data-adaptive activation: ``p * s + (1 - p) * alpha * s`` with ``p = sigmoid(BN(s))``.

    The normalisation uses batch statistics in training and moving averages in eval mode,
    which is exactly what ``BatchNorm1d`` without affine parameters does. Inputs may be
    ``(batch, dim)`` or ``(batch, length, dim)``.
    """

    def __init__(self, dim: int, eps: float = 1e-8, momentum: float = 0.1):
        super().__init__()
        self.norm = nn.BatchNorm1d(dim, eps=eps, momentum=momentum, affine=False)
        self.alpha = nn.Parameter(torch.zeros(dim))

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        flat = s.reshape(-1, s.shape[-1])
        if self.training and flat.shape[0] == 1:
            # One row has no batch variance (BatchNorm raises): normalise it with the running
            # averages, as eval mode does, e.g. a DIN batch holding a single behaviour.
            norm = self.norm
            normed = nn.functional.batch_norm(flat, norm.running_mean, norm.running_var, training=False, eps=norm.eps)
        else:
            normed = self.norm(flat)
        p = torch.sigmoid(normed).reshape(s.shape)
        return p * s + (1 - p) * self.alpha * s


_ACTIVATIONS = {
    "relu": lambda dim: nn.ReLU(),
    "prelu": lambda dim: nn.PReLU(dim, init=0.25),
    "dice": lambda dim: Dice(dim),
    "gelu": lambda dim: nn.GELU(),
    "silu": lambda dim: nn.SiLU(),
    "tanh": lambda dim: nn.Tanh(),
    "sigmoid": lambda dim: nn.Sigmoid(),
    "identity": lambda dim: nn.Identity(),
}


def make_activation(name: str, dim: int) -> nn.Module:
    """Build an activation by name; ``dim`` sizes the ones with per-unit parameters."""
    key = name.lower()
    if key not in _ACTIVATIONS:
        from mlpzoo.errors import ConfigError

        raise ConfigError(f"unknown activation {name!r}; choose one of {', '.join(_ACTIVATIONS)}")
    return _ACTIVATIONS[key](dim)
