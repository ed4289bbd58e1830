"""Heads fitted like a generative process, shared by the flow-omni and diffusion-link claims.

A head here offers what :func:`mlpzoo.methods.generative.fit_generative` trains and what the claims
sample: ``.denoiser`` (its trainable network), ``.loss(x, context, generator)`` and
``.sample(n, context, generator)``. Training every rival through the same function gives every arm
the same optimiser, steps, batches and learning-rate schedule. :func:`matched_width` sizes an MLP
rival to another model's parameter count, for comparisons at equal size.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from mlpzoo.layers.mlp import MLP


class MSEHead(nn.Module):
    """An MLP context -> target regressed with MSE: it outputs the conditional mean, the same point for
    every draw (the deterministic baseline of both claims)."""

    def __init__(self, context_dim: int, data_dim: int, width: int, layers: int = 3):
        super().__init__()
        self.denoiser = MLP(context_dim, (width,) * layers, data_dim, activation="silu")

    def loss(self, x: torch.Tensor, context: torch.Tensor, generator=None) -> torch.Tensor:
        return nn.functional.mse_loss(self.denoiser(context), x)

    @torch.no_grad()
    def sample(self, n: int, context: torch.Tensor, generator=None) -> torch.Tensor:
        return self.denoiser(context)


def parameter_count(module: nn.Module) -> int:
    """Trainable parameters plus buffers named ``codebook`` (a fitted codec is part of the model's size)."""
    return sum(p.numel() for p in module.parameters()) + sum(
        b.numel() for name, b in module.named_buffers() if name.split(".")[-1] == "codebook"
    )


def matched_width(target: int, in_dim: int, out_dim: int, layers: int = 3, fixed: int = 0) -> int:
    """Width ``w`` of an MLP ``in_dim -> (w,) * layers -> out_dim`` whose parameters plus ``fixed`` come
    closest to ``target``: ``(layers - 1) w^2 + (in + layers + out) w + out + fixed = target``."""
    if layers < 2:
        return max(1, round((target - fixed - out_dim) / (in_dim + 1 + out_dim)))
    a, b, c = layers - 1, in_dim + layers + out_dim, out_dim + fixed - target
    return max(1, round((-b + math.sqrt(b * b - 4 * a * c)) / (2 * a)))
