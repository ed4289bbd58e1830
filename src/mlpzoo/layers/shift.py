"""MS-MLP's mix-shift: channel groups mixed by depthwise kernels that grow with their shift.

Zheng et al., "Mixing and Shifting: Exploiting Global and Local Dependencies in Vision MLPs",
2022, arXiv:2202.06510. Along one axis the channels are split into ``groups`` groups with shifts
``s = -(G // 2) .. G // 2``; group ``g`` is mixed by a depthwise kernel of ``2 |s_g| + 1`` taps
(fine-grained near, coarse-grained far) and then shifted by ``s_g`` positions (zero fill), so a
token gathers neighbours and distant tokens at once. Mixing then shifting is one depthwise
convolution whose taps sit at offsets ``-s - |s| .. -s + |s|``: it is computed that way, with a
fixed mask zeroing every other tap.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from mlpzoo.errors import ConfigError
from mlpzoo.layers.mixing import PreNormResidual, channel_mlp


def group_shifts(groups: int) -> list[int]:
    """Shift of each channel group, e.g. 5 groups -> [-2, -1, 0, 1, 2]."""
    return [g - groups // 2 for g in range(groups)]


class MixShift(nn.Module):
    """Mix-and-shift along H (``axis="h"``) or W on ``(B, H, W, C)``."""

    def __init__(self, dim: int, axis: str = "h", groups: int = 5):
        super().__init__()
        if axis not in ("h", "w"):
            raise ConfigError(f"MixShift axis={axis!r} must be 'h' or 'w'")
        if groups < 1:
            raise ConfigError(f"MixShift groups={groups} must be >= 1")
        self.axis, self.dim, self.groups = axis, dim, groups
        shifts = group_shifts(groups)
        reach = max(2 * abs(s) for s in shifts)
        self.taps = 2 * reach + 1
        sizes = [len(c) for c in torch.arange(dim).chunk(groups)]
        self.group_sizes, self.shifts = sizes, shifts
        mask = torch.zeros(dim, self.taps)
        start = 0
        for size, s in zip(sizes, shifts):
            # Tap t reads x[i + t - reach]; a kernel of 2|s|+1 taps then a shift by s reads x[i - s + j], |j| <= |s|.
            mask[start : start + size, reach - s - abs(s) : reach - s + abs(s) + 1] = 1.0
            start += size
        self.register_buffer("mask", mask, persistent=False)
        weight = torch.zeros(dim, self.taps)
        bound = 1.0 / torch.sqrt(mask.sum(1, keepdim=True))
        self.weight = nn.Parameter(weight.uniform_(-1, 1) * bound * mask)
        self.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x.permute(0, 3, 1, 2)
        kernel = (self.weight * self.mask).view(self.dim, 1, self.taps, 1)
        if self.axis == "w":
            kernel = kernel.transpose(2, 3)
        padding = (self.taps // 2, 0) if self.axis == "h" else (0, self.taps // 2)
        return F.conv2d(y, kernel, self.bias, padding=padding, groups=self.dim).permute(0, 2, 3, 1)


class MixShiftMixing(nn.Module):
    """Token mixing of an MS-MLP block: ``Linear -> GELU``, mix-shift along H and along W, summed
    with the identity, then ``Linear``."""

    def __init__(self, dim: int, groups: int = 5):
        super().__init__()
        self.inner = nn.Sequential(nn.Linear(dim, dim), nn.GELU())
        self.along_h, self.along_w = MixShift(dim, "h", groups), MixShift(dim, "w", groups)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.inner(x)
        return self.out(y + self.along_h(y) + self.along_w(y))


class MixShiftBlock(nn.Sequential):
    """Mix-shift token mixing then a channel MLP, each pre-norm with a residual connection."""

    def __init__(self, dim: int, channel_hidden: int, groups: int = 5):
        super().__init__(
            PreNormResidual(dim, MixShiftMixing(dim, groups)), PreNormResidual(dim, channel_mlp(dim, channel_hidden))
        )
