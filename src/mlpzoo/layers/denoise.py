"""Residual-MLP denoisers conditioned on a diffusion/flow time and an optional context vector.

The network shared by three papers, each of which uses "a small MLP" as the denoiser:

- GPD: "Generative Pre-Trained Diffusion Paradigm for Zero-Shot Time Series Forecasting",
  2024 (arXiv:2406.02212): an MLP diffusion network over flattened time-series windows.
- Flow-Omni: "Continuous Speech Tokens Makes LLMs Robust Multi-Modality Learners", 2024
  (arXiv:2412.04917): a small MLP flow-matching head conditioned on the LLM's hidden state.
- Diffusion-Link: "Diffusion-Link: Diffusion Probabilistic Model for Bridging the Audio-Text
  Modality Gap", 2025 (arXiv:2510.11330): "a lightweight network with three residual MLP blocks".

Time enters through the sinusoidal embedding of Vaswani et al. / Ho et al. (DDPM, 2020); time
and context embeddings are summed into one conditioning vector that every block adds after its
first linear layer. Each block's last linear layer starts at zero, so the untrained network is
the identity path in_proj -> out_proj and deep stacks train stably.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from mlpzoo.layers.dropout import Dropout

__all__ = ["ConditionedResidualBlock", "ResidualMLPDenoiser", "SinusoidalTimeEmbedding"]


class SinusoidalTimeEmbedding(nn.Module):
    """``t`` of shape (B,) in [0, 1] -> (B, dim) sines and cosines of ``scale * t`` at geometric frequencies.

    ``scale`` (default 1000) maps continuous time onto the range of DDPM's integer steps, so the
    same frequencies resolve both a 1000-step chain and a flow's [0, 1] time.
    """

    def __init__(self, dim: int, max_period: float = 10_000.0, scale: float = 1000.0):
        super().__init__()
        if dim < 2 or dim % 2:
            raise ValueError(f"SinusoidalTimeEmbedding dim must be an even number >= 2; got {dim}")
        half = dim // 2
        self.register_buffer("freqs", torch.exp(-math.log(max_period) * torch.arange(half) / half), persistent=False)
        self.scale = scale

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        angles = (self.scale * t.reshape(-1, 1).to(self.freqs.dtype)) * self.freqs
        return torch.cat([angles.sin(), angles.cos()], dim=-1)


class ConditionedResidualBlock(nn.Module):
    """``x + W2 drop(SiLU(W1 LN(x) + Wc cond))``, with W2 initialised to zero (so each block starts as the
    identity); the conditioning (time, context) enters inside the branch. The unconditioned block is
    :class:`mlpzoo.layers.hourglass.ResidualMLPBlock`."""

    def __init__(self, dim: int, hidden_dim: int, cond_dim: int, dropout: float = 0.0):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.cond = nn.Linear(cond_dim, hidden_dim)
        self.act = nn.SiLU()
        self.drop = Dropout(dropout)
        self.fc2 = nn.Linear(hidden_dim, dim)
        nn.init.zeros_(self.fc2.weight)
        nn.init.zeros_(self.fc2.bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return x + self.fc2(self.drop(self.act(self.fc1(self.norm(x)) + self.cond(cond))))


class ResidualMLPDenoiser(nn.Module):
    """Predicts noise (DDPM) or velocity (flow matching) for flat vectors ``x`` of width ``data_dim``.

    ``forward(x, t, context=None)``: ``x`` (B, data_dim), ``t`` (B,) in [0, 1], ``context``
    (B, context_dim) when ``context_dim > 0``. Output has the shape of ``x``.

    Args:
        data_dim: width of the vectors being generated.
        hidden_dim: width of the residual stream (default 256).
        n_blocks: residual MLP blocks (default 3, Diffusion-Link's count).
        expansion: hidden width of each block as a multiple of ``hidden_dim`` (default 2).
        time_dim: width of the sinusoidal time embedding (default 128).
        context_dim: width of the conditioning vector; 0 (default) for an unconditional model.
        dropout: dropout inside the blocks (default 0).
    """

    def __init__(
        self,
        data_dim: int,
        hidden_dim: int = 256,
        n_blocks: int = 3,
        expansion: int = 2,
        time_dim: int = 128,
        context_dim: int = 0,
        dropout: float = 0.0,
    ):
        super().__init__()
        for label, value in (("data_dim", data_dim), ("hidden_dim", hidden_dim), ("n_blocks", n_blocks)):
            if value < 1:
                raise ValueError(f"ResidualMLPDenoiser {label} must be >= 1; got {value}")
        if hidden_dim < data_dim:
            # in_proj/out_proj would squeeze the data through a narrower width: the predicted noise then spans only
            # hidden_dim of the data_dim directions, the loss stalls and sampling diverges in the others.
            raise ValueError(
                f"ResidualMLPDenoiser hidden_dim ({hidden_dim}) must be >= data_dim ({data_dim}): a narrower denoiser "
                "cannot predict noise in every direction of its input; raise hidden_dim"
            )
        self.data_dim, self.context_dim = data_dim, context_dim
        self.time_embed = nn.Sequential(
            SinusoidalTimeEmbedding(time_dim),
            nn.Linear(time_dim, hidden_dim),
            nn.SiLU(),
            nn.Linear(hidden_dim, hidden_dim),
        )
        self.context_embed = (
            nn.Sequential(nn.Linear(context_dim, hidden_dim), nn.SiLU(), nn.Linear(hidden_dim, hidden_dim))
            if context_dim > 0
            else None
        )
        self.in_proj = nn.Linear(data_dim, hidden_dim)
        self.blocks = nn.ModuleList(
            ConditionedResidualBlock(hidden_dim, expansion * hidden_dim, hidden_dim, dropout) for _ in range(n_blocks)
        )
        self.out_norm = nn.LayerNorm(hidden_dim)
        self.out_proj = nn.Linear(hidden_dim, data_dim)

    def forward(self, x: torch.Tensor, t: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        if x.shape[-1] != self.data_dim:
            raise ValueError(f"ResidualMLPDenoiser expects x of width {self.data_dim}; got shape {tuple(x.shape)}")
        cond = self.time_embed(t.expand(x.shape[0]) if t.dim() == 0 else t)
        if self.context_embed is not None:
            if context is None or context.shape[-1] != self.context_dim:
                got = None if context is None else tuple(context.shape)
                raise ValueError(f"ResidualMLPDenoiser expects a context of width {self.context_dim}; got {got}")
            cond = cond + self.context_embed(context)
        elif context is not None:
            raise ValueError("ResidualMLPDenoiser was built with context_dim=0 but got a context; pass context_dim")
        cond = nn.functional.silu(cond)
        h = self.in_proj(x)
        for block in self.blocks:
            h = block(h, cond)
        return self.out_proj(self.out_norm(h))
