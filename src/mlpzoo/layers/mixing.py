"""Token mixing shared by the vision MLPs: the MLP-Mixer block, the baseline every family is compared with.

Tolstikhin et al., "MLP-Mixer: An all-MLP Architecture for Vision", 2021, arXiv:2105.01601.
Blocks here and in the sibling modules (:mod:`raft`, :mod:`strip`, :mod:`shift`, :mod:`spectrum`)
take and return channels-last token grids ``(B, H, W, C)``.
"""

from __future__ import annotations

import torch
from torch import nn

from mlpzoo.layers.mlp import MLP


def channel_mlp(dim: int, hidden: int) -> MLP:
    """The per-token feed-forward ``Linear -> GELU -> Linear`` of every Mixer-family block."""
    return MLP(dim, (hidden,), dim, activation="gelu")


class PreNormResidual(nn.Module):
    """``x + fn(LayerNorm(x))`` on channels-last tensors."""

    def __init__(self, dim: int, fn: nn.Module):
        super().__init__()
        self.norm, self.fn = nn.LayerNorm(dim), fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.fn(self.norm(x))


class TokenMLP(nn.Module):
    """Mixer's token-mixing MLP: one MLP over the ``num_tokens`` positions, shared by all channels."""

    def __init__(self, num_tokens: int, hidden: int):
        super().__init__()
        self.mlp = MLP(num_tokens, (hidden,), num_tokens, activation="gelu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, c = x.shape
        return self.mlp(x.reshape(b, h * w, c).transpose(1, 2)).transpose(1, 2).reshape(b, h, w, c)


class MixerBlock(nn.Sequential):
    """Token MLP then channel MLP, each pre-norm with a residual connection."""

    def __init__(self, num_tokens: int, dim: int, token_hidden: int, channel_hidden: int):
        super().__init__(
            PreNormResidual(dim, TokenMLP(num_tokens, token_hidden)),
            PreNormResidual(dim, channel_mlp(dim, channel_hidden)),
        )
