"""Strip-MLP's token interaction: strip MLP layer, cascade group strip mixing, local strip mixing.

Cao et al., "Strip-MLP: Efficient Token Interaction for Vision MLP", ICCV 2023, arXiv:2307.11458.

- Strip MLP layer: an MLP along a row (or column) whose input is a *strip* of ``strip_width``
  adjacent rows, so a token aggregates tokens of neighbouring rows too. For the row direction it
  is a convolution with the ``W`` positions as channels and a ``strip_width x 1`` kernel over
  rows, shared by all feature channels.
- Cascade Group Strip Mixing Module (CGSMM): the channels are split into groups with their own
  strip MLPs; group ``g`` mixes its channels plus the output of group ``g - 1``, so groups
  interact in cascade.
- Local Strip Mixing Module (LSMM): depthwise ``1 x k`` and ``k x 1`` strip convolutions for
  local interaction.

This is our reading of the paper for a single-stage CIFAR-size model; the official code builds a
four-stage hierarchy.
"""

from __future__ import annotations

import torch
from torch import nn

from mlpzoo.errors import ConfigError
from mlpzoo.layers.mixing import PreNormResidual, channel_mlp


class StripMLPLayer(nn.Module):
    """Mix the ``length`` positions along W (``axis="w"``) or H (``axis="h"``) over a strip of
    ``strip_width`` neighbouring rows (or columns); ``(B, H, W, C) -> (B, H, W, C)``."""

    def __init__(self, length: int, axis: str = "w", strip_width: int = 3):
        super().__init__()
        if axis not in ("h", "w"):
            raise ConfigError(f"StripMLPLayer axis={axis!r} must be 'h' or 'w'")
        if strip_width % 2 == 0:
            raise ConfigError(f"StripMLPLayer strip_width={strip_width} must be odd")
        self.length, self.axis = length, axis
        self.mix = nn.Conv2d(length, length, (strip_width, 1), padding=(strip_width // 2, 0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.axis == "h":
            return self._along_w(x.transpose(1, 2)).transpose(1, 2)
        return self._along_w(x)

    def _along_w(self, x: torch.Tensor) -> torch.Tensor:
        # (B, H, W, C) -> (B, W, H, C): W positions are conv channels, rows form the strip axis.
        return self.mix(x.transpose(1, 2)).transpose(1, 2)


class CascadeGroupStripMixing(nn.Module):
    """CGSMM along one axis: ``groups`` channel groups, each with its own strip MLP, in cascade."""

    def __init__(self, dim: int, length: int, axis: str, groups: int = 4, strip_width: int = 3):
        super().__init__()
        if dim % groups:
            raise ConfigError(f"CascadeGroupStripMixing: dim={dim} is not a multiple of groups={groups}")
        self.groups = groups
        self.strips = nn.ModuleList(StripMLPLayer(length, axis, strip_width) for _ in range(groups))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs, previous = [], 0
        for part, strip in zip(x.chunk(self.groups, dim=-1), self.strips):
            previous = strip(part + previous)
            outputs.append(previous)
        return torch.cat(outputs, dim=-1)


class LocalStripMixing(nn.Module):
    """LSMM: depthwise ``1 x k`` plus ``k x 1`` convolutions on ``(B, H, W, C)``."""

    def __init__(self, dim: int, kernel: int = 3):
        super().__init__()
        self.row = nn.Conv2d(dim, dim, (1, kernel), padding=(0, kernel // 2), groups=dim)
        self.column = nn.Conv2d(dim, dim, (kernel, 1), padding=(kernel // 2, 0), groups=dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x.permute(0, 3, 1, 2)
        return (self.row(y) + self.column(y)).permute(0, 2, 3, 1)


class StripMixing(nn.Module):
    """Token mixing of a Strip-MLP block: row CGSMM + column CGSMM + LSMM, fused by a linear map."""

    def __init__(self, dim: int, height: int, width: int, groups: int = 4, strip_width: int = 3, local_kernel: int = 3):
        super().__init__()
        self.rows = CascadeGroupStripMixing(dim, width, "w", groups, strip_width)
        self.columns = CascadeGroupStripMixing(dim, height, "h", groups, strip_width)
        self.local = LocalStripMixing(dim, local_kernel)
        self.fuse = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fuse(self.rows(x) + self.columns(x) + self.local(x))


class StripBlock(nn.Sequential):
    """Strip mixing then a channel MLP, each pre-norm with a residual connection."""

    def __init__(self, dim: int, height: int, width: int, channel_hidden: int, groups: int = 4, strip_width: int = 3):
        super().__init__(
            PreNormResidual(dim, StripMixing(dim, height, width, groups, strip_width)),
            PreNormResidual(dim, channel_mlp(dim, channel_hidden)),
        )
