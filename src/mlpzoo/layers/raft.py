"""RaftMLP's raft-token-mixing: vertical then horizontal token MLPs over channel rafts.

Tatsunami and Taki, "RaftMLP: How Much Can Be Done Without Attention and with Less Spatial
Locality?", 2021, arXiv:2108.04384. The ``C`` channels are split into ``C / r`` rafts of ``r``
channels. The vertical MLP mixes, for each column and raft, the ``r * H`` values of the raft's
channels over the column's positions (so spatial mixing is denser among the ``r`` channels of a
raft); the horizontal MLP does the same over the ``r * W`` values of a row. Its weights index
positions, so for another input size they are resampled along the position axis by bicubic
interpolation (the paper's fix for the fixed input resolution of global MLPs).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from mlpzoo.errors import ConfigError
from mlpzoo.layers.mixing import PreNormResidual, channel_mlp


def _resample_positions(weight: torch.Tensor, axis: int, size: int) -> torch.Tensor:
    """Bicubic resampling of ``weight`` along its position ``axis`` to ``size`` positions."""
    moved = weight.movedim(axis, -1)
    shape = moved.shape
    out = F.interpolate(moved.reshape(1, -1, 1, shape[-1]), size=(1, size), mode="bicubic", align_corners=False)
    return out.reshape(*shape[:-1], size).movedim(-1, axis)


class RaftAxisMLP(nn.Module):
    """``Linear(r * L, e * r * L) -> GELU -> Linear(e * r * L, r * L)`` along one spatial axis of length ``L``."""

    def __init__(self, length: int, raft_size: int, expansion: float = 2.0):
        super().__init__()
        self.length, self.raft_size = length, raft_size
        hidden = max(1, round(expansion * raft_size * length))
        self.fc1 = nn.Linear(raft_size * length, hidden)
        self.fc2 = nn.Linear(hidden, raft_size * length)
        self.act = nn.GELU()

    def weights(self, length: int) -> tuple[torch.Tensor, ...]:
        """The weights for ``length`` positions: the trained ones, or bicubically resampled ones."""
        if length == self.length:
            return self.fc1.weight, self.fc1.bias, self.fc2.weight, self.fc2.bias
        r, hidden = self.raft_size, self.fc1.out_features
        # A sum over more positions grows with their number; rescaling keeps the input's scale.
        w1 = _resample_positions(self.fc1.weight.view(hidden, r, self.length), 2, length) * (self.length / length)
        w2 = _resample_positions(self.fc2.weight.view(r, self.length, hidden), 1, length)
        b2 = _resample_positions(self.fc2.bias.view(r, self.length), 1, length)
        return w1.reshape(hidden, r * length), self.fc1.bias, w2.reshape(r * length, hidden), b2.reshape(r * length)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` is ``(..., r * L)`` with raft-channel-major layout; returns the same shape."""
        w1, b1, w2, b2 = self.weights(x.shape[-1] // self.raft_size)
        return F.linear(self.act(F.linear(x, w1, b1)), w2, b2)


class RaftTokenMixing(nn.Module):
    """Vertical then horizontal raft mixing on ``(B, H, W, C)``, each pre-norm with a residual."""

    def __init__(self, dim: int, height: int, width: int, raft_size: int = 2, expansion: float = 2.0):
        super().__init__()
        if dim % raft_size:
            raise ConfigError(f"RaftTokenMixing: dim={dim} is not a multiple of raft_size={raft_size}")
        self.raft_size = raft_size
        self.norm_v, self.norm_h = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.vertical = RaftAxisMLP(height, raft_size, expansion)
        self.horizontal = RaftAxisMLP(width, raft_size, expansion)

    def _mix_columns(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, c = x.shape
        r = self.raft_size
        # (B, H, W, C/r, r) -> (B, W, C/r, r, H): each raft's r channels over a column's H positions.
        y = x.reshape(b, h, w, c // r, r).permute(0, 2, 3, 4, 1).reshape(b, w, c // r, r * h)
        y = self.vertical(y)
        return y.reshape(b, w, c // r, r, h).permute(0, 4, 1, 2, 3).reshape(b, h, w, c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self._mix_columns(self.norm_v(x))
        return x + self._mix_rows(self.norm_h(x))

    def _mix_rows(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, c = x.shape
        r = self.raft_size
        y = x.reshape(b, h, w, c // r, r).permute(0, 1, 3, 4, 2).reshape(b, h, c // r, r * w)
        y = self.horizontal(y)
        return y.reshape(b, h, c // r, r, w).permute(0, 1, 4, 2, 3).reshape(b, h, w, c)


class RaftBlock(nn.Sequential):
    """Raft-token-mixing followed by a pre-norm residual channel MLP."""

    def __init__(
        self,
        dim: int,
        height: int,
        width: int,
        raft_size: int = 2,
        token_expansion: float = 2.0,
        channel_hidden: int | None = None,
    ):
        super().__init__(
            RaftTokenMixing(dim, height, width, raft_size, token_expansion),
            PreNormResidual(dim, channel_mlp(dim, channel_hidden or 4 * dim)),
        )
