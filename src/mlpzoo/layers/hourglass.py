"""Residual MLP blocks of either shape, and the fixed random lift that feeds wide ones.

- Hourglass (wide-narrow-wide) blocks and the fixed random input projection: Chen, Lee, Liao &
  Shiu, "Rethinking the shape convention of an MLP", 2025, arXiv:2510.01796.
- The conventional narrow-wide-narrow block is the same residual unit with the inner width
  larger than the skip width; Bachmann, Anagnostidis & Hofmann, "Scaling MLPs: A Tale of
  Inductive Bias", 2023, arXiv:2306.13575, stack it (inner = 4 x skip) as their B-MLP.

Both shapes compute ``z + W_up act(W_down norm(z))``; only the ratio of ``hidden`` to ``dim``
differs, so one module serves both and a parameter-matched comparison changes nothing else.
"""

from __future__ import annotations

import torch
from torch import nn

from mlpzoo.errors import ConfigError
from mlpzoo.layers.activation import make_activation

__all__ = ["FixedRandomLift", "ResidualMLPBlock"]

_NORMS = {"layer": nn.LayerNorm, "none": lambda dim: nn.Identity()}


class ResidualMLPBlock(nn.Module):
    """``z + W_up act(W_down norm(z))``: skip width ``dim``, inner width ``hidden``.

    ``hidden < dim`` is the hourglass (wide-narrow-wide) block; ``hidden > dim`` the
    conventional (narrow-wide-narrow) one. Inputs ``(..., dim)``.

    Args:
        dim: width of the skip connection (input and output width).
        hidden: width of the residual branch between the two projections.
        activation: name for :func:`~mlpzoo.layers.activation.make_activation` (default ``gelu``).
        norm: ``layer`` (pre-norm LayerNorm, default) or ``none``.
    """

    def __init__(self, dim: int, hidden: int, activation: str = "gelu", norm: str = "layer"):
        super().__init__()
        if dim < 1 or hidden < 1:
            raise ConfigError(f"ResidualMLPBlock: dim = {dim} and hidden = {hidden} must be at least 1")
        if norm not in _NORMS:
            raise ConfigError(f"ResidualMLPBlock: norm = {norm!r}; use one of {', '.join(_NORMS)}")
        self.dim, self.hidden = dim, hidden
        self.norm = _NORMS[norm](dim)
        self.down = nn.Linear(dim, hidden)
        self.act = make_activation(activation, hidden)
        self.up = nn.Linear(hidden, dim)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.shape[-1] != self.dim:
            raise ConfigError(f"ResidualMLPBlock expects inputs of width {self.dim}, got shape {tuple(z.shape)}")
        return z + self.up(self.act(self.down(self.norm(z))))


class FixedRandomLift(nn.Module):
    """``x -> P x`` with a Gaussian ``P`` (entries ``N(0, 1/out)``) drawn once from ``seed``.

    The paper keeps the input projection at its random initialisation; here it is a buffer, so
    optimisers never see it, it is saved in ``state_dict`` and ``FixedRandomLift(.., seed=s)``
    rebuilds the same matrix anywhere. The ``1/out`` variance keeps ``E|Px|^2 = |x|^2``
    (Johnson-Lindenstrauss scaling), so the lift neither blows up nor shrinks the signal.
    """

    def __init__(self, in_features: int, out_features: int, seed: int = 0):
        super().__init__()
        if in_features < 1 or out_features < 1:
            raise ConfigError(
                f"FixedRandomLift: in_features = {in_features}, out_features = {out_features} must be at least 1"
            )
        self.in_features, self.out_features, self.seed = in_features, out_features, seed
        generator = torch.Generator().manual_seed(seed)
        weight = torch.randn(out_features, in_features, generator=generator) / out_features**0.5
        self.register_buffer("weight", weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.in_features:
            raise ConfigError(f"FixedRandomLift expects inputs of width {self.in_features}, got shape {tuple(x.shape)}")
        return nn.functional.linear(x, self.weight)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, seed={self.seed}"
