"""Generative MLP models: residual-MLP denoisers for diffusion / flow matching, and an MSE head.

Presets of :class:`~mlpzoo.layers.denoise.ResidualMLPDenoiser` for the three papers that use it:

- ``gpd_denoiser``: GPD, Yang et al., "Generative Pre-Trained Diffusion Paradigm for Zero-Shot
  Time Series Forecasting", 2024 (arXiv:2406.02212): unconditional, over 192-step windows.
- ``flow_omni_head``: Flow-Omni, "Continuous Speech Tokens Makes LLMs Robust Multi-Modality
  Learners", 2024 (arXiv:2412.04917): a small MLP predicting the flow-matching velocity of a
  continuous token from the language model's hidden state (the context).
- ``diffusion_link_denoiser``: Nam et al., "Diffusion-Link: Diffusion Probabilistic Model for
  Bridging the Audio-Text Modality Gap", 2025 (arXiv:2510.11330): three residual MLP blocks,
  generating a text-side embedding conditioned on the audio-side embedding.

``regression_head`` is the deterministic baseline the Flow-Omni claim compares against: an MLP
on ``batch["x"]`` trained with mean squared error (so it predicts the conditional mean).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from mlpzoo.layers.denoise import ResidualMLPDenoiser
from mlpzoo.layers.mlp import MLP
from mlpzoo.registry import register_model

_TINY = {"hidden_dim": 16, "n_blocks": 2, "time_dim": 8}


def _gpd_example() -> tuple[dict, tuple]:
    """A batch of three 8-step windows at random diffusion times."""
    generator = torch.Generator().manual_seed(0)
    return {"window": 8, **_TINY}, (torch.randn(3, 8, generator=generator), torch.rand(3, generator=generator))


def _conditional_example() -> tuple[dict, tuple]:
    """Three 4-wide vectors at random times, each with a 6-wide context."""
    generator = torch.Generator().manual_seed(0)
    inputs = (
        torch.randn(3, 4, generator=generator),
        torch.rand(3, generator=generator),
        torch.randn(3, 6, generator=generator),
    )
    return {"data_dim": 4, "context_dim": 6, **_TINY}, inputs


@register_model("gpd_denoiser", family="generative", paper="gpd", example=_gpd_example)
def gpd_denoiser(window: int = 192, hidden_dim: int = 256, n_blocks: int = 3, **kwargs) -> ResidualMLPDenoiser:
    return ResidualMLPDenoiser(window, hidden_dim=hidden_dim, n_blocks=n_blocks, **kwargs)


@register_model("flow_omni_head", family="generative", paper="flow-omni", example=_conditional_example)
def flow_omni_head(
    data_dim: int = 16, context_dim: int = 384, hidden_dim: int = 256, n_blocks: int = 3, **kwargs
) -> ResidualMLPDenoiser:
    return ResidualMLPDenoiser(data_dim, hidden_dim=hidden_dim, n_blocks=n_blocks, context_dim=context_dim, **kwargs)


@register_model("diffusion_link_denoiser", family="generative", paper="diffusion-link", example=_conditional_example)
def diffusion_link_denoiser(
    data_dim: int = 32, context_dim: int = 32, hidden_dim: int = 256, n_blocks: int = 3, **kwargs
) -> ResidualMLPDenoiser:
    return ResidualMLPDenoiser(data_dim, hidden_dim=hidden_dim, n_blocks=n_blocks, context_dim=context_dim, **kwargs)


class RegressionHead(nn.Module):
    """``MLP(batch["x"])``: a deterministic head fitted with MSE (the Trainer's regression task)."""

    def __init__(
        self, in_features: int, out_features: int, hidden: Sequence[int] = (256, 256), activation: str = "relu"
    ):
        super().__init__()
        self.mlp = MLP(in_features, hidden, out_features, activation=activation)

    def forward(self, batch) -> torch.Tensor:
        return self.mlp(batch["x"] if isinstance(batch, dict) else batch)


def _regression_example() -> tuple[dict, tuple]:
    x = torch.randn(3, 6, generator=torch.Generator().manual_seed(0))
    return {"in_features": 6, "out_features": 4, "hidden": (8,)}, (x,)


register_model("regression_head", family="generative", paper="flow-omni", example=_regression_example)(RegressionHead)
