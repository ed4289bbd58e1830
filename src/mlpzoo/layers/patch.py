"""Patch embeddings for vision MLPs: single scale (ViT / MLP-Mixer) and multi-scale (RaftMLP).

- Tolstikhin et al., "MLP-Mixer: An all-MLP Architecture for Vision", 2021, arXiv:2105.01601.
- Tatsunami and Taki, "RaftMLP: How Much Can Be Done Without Attention and with Less Spatial
  Locality?", 2021, arXiv:2108.04384 (multi-scale patch embedding).

Both map images ``(B, C, H, W)`` to channels-last tokens ``(B, H / p, W / p, dim)``.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from mlpzoo.errors import ConfigError


def check_image(x: torch.Tensor, in_chans: int, patch: int, where: str, weight: torch.Tensor | None = None) -> None:
    """One-line errors for a wrong layout, channel count, dtype or device, or a size the patch does not divide."""
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ConfigError(
            f"{where}: expected images (B, C, H, W), got {shape}; add a batch dimension with x[None] for one image"
        )
    if x.shape[1] != in_chans:
        raise ConfigError(
            f"{where}: images have {x.shape[1]} channels but the model was built with in_chans={in_chans}; "
            f"convert the images or build the model with in_chans={x.shape[1]}"
        )
    if not x.is_floating_point():
        raise ConfigError(
            f"{where}: images are {x.dtype}; convert them to float and normalise first (ImageData does this)"
        )
    if weight is not None and x.device != weight.device:
        raise ConfigError(
            f"{where}: images are on {x.device} but the model is on {weight.device}; move one with .to(device)"
        )
    if x.shape[2] % patch or x.shape[3] % patch:
        raise ConfigError(
            f"{where}: image size {x.shape[2]}x{x.shape[3]} is not a multiple of the patch size {patch}; resize or "
            "pad the images"
        )


class PatchEmbed(nn.Module):
    """Non-overlapping ``patch x patch`` patches, each projected linearly to ``dim`` (a strided conv)."""

    def __init__(self, in_chans: int, dim: int, patch: int):
        super().__init__()
        self.in_chans, self.patch = in_chans, patch
        self.proj = nn.Conv2d(in_chans, dim, patch, stride=patch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_image(x, self.in_chans, self.patch, type(self).__name__, self.proj.weight)
        return self.proj(x).permute(0, 2, 3, 1)


class MultiScalePatchEmbed(nn.Module):
    """RaftMLP's multi-scale embedding: around each ``patch``-sized cell, windows of ``s * patch``
    pixels (zero-padded at the border) for every scale ``s``, concatenated and projected to ``dim``.

    Concatenation followed by one linear map equals a sum of one strided convolution per scale,
    which is how it is computed.
    """

    def __init__(self, in_chans: int, dim: int, patch: int, scales: Sequence[int] = (1, 2)):
        super().__init__()
        for s in scales:
            if (s - 1) * patch % 2:
                raise ConfigError(
                    f"MultiScalePatchEmbed: scale {s} with patch {patch} cannot be centred; use an odd scale or an "
                    "even patch"
                )
        self.in_chans, self.patch, self.scales = in_chans, patch, tuple(scales)
        self.projs = nn.ModuleList(
            nn.Conv2d(in_chans, dim, s * patch, stride=patch, padding=(s - 1) * patch // 2, bias=i == 0)
            for i, s in enumerate(scales)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_image(x, self.in_chans, self.patch, type(self).__name__, self.projs[0].weight)
        return sum(proj(x) for proj in self.projs).permute(0, 2, 3, 1)
