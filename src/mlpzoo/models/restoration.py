"""Image restoration UNets: a small MAXIM and the convolutional UNet it is compared with.

- ``maxim_unet``: Tu, Talebi, Zhang, Yang, Milanfar, Bovik and Li, "MAXIM: Multi-Axis MLP for Image
  Processing", CVPR 2022, arXiv:2201.02973. A UNet whose every level holds MAXIM's multi-axis gated MLP
  block (block and grid branches with spatial gating) followed by a residual channel-attention block;
  decoder levels cross-gate the encoder's skip features with the upsampled decoder features through the
  cross-gating block (:mod:`mlpzoo.layers.maxim`). The paper's model stacks three such UNets with
  supervised-attention modules and multi-scale skip fusion; this is its single-stage core at CIFAR size.
- ``conv_unet``: the same UNet shape (stem, levels, strided-conv downsampling, transposed-conv upsampling,
  skip concatenation, global residual) with residual 3x3 convolution blocks instead of the MAXIM blocks;
  ``expansion`` sets the blocks' inner width so that its parameters can be matched to a MAXIM's.

Both read ``batch["x"]`` (or a tensor) of noisy images ``(B, C, H, W)`` and return the restored images of the
same shape, predicted as ``input + residual``. Both are fully convolutional: any image size works. An image
whose side is not a multiple of what the levels need (``2^depth`` times the partition multiple of the block
and grid sizes for MAXIM) is reflect-padded to the next multiple and the output cropped back.
"""

from __future__ import annotations

import torch
from torch import nn

from mlpzoo.errors import ConfigError
from mlpzoo.layers.maxim import (
    CrossGatingBlock,
    MultiAxisGatedMLP,
    ResidualChannelAttentionBlock,
    partition_multiple,
)
from mlpzoo.layers.patch import check_image
from mlpzoo.registry import register_model

__all__ = ["ConvUNet", "MAXIMUNet", "conv_unet", "maxim_unet"]


def _images(batch) -> torch.Tensor:
    return batch["x"] if isinstance(batch, dict) else batch


def _pad_to(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, int, int]:
    """Reflect-pad ``x (B, C, H, W)`` at the bottom and right to multiples of ``multiple``; also the original size."""
    h, w = x.shape[-2:]
    pad_h, pad_w = -h % multiple, -w % multiple
    if pad_h or pad_w:
        mode = "reflect" if pad_h < h and pad_w < w else "replicate"  # reflection needs the pad below the size
        x = nn.functional.pad(x, (0, pad_w, 0, pad_h), mode=mode)
    return x, h, w


def _check_sizes(where: str, width: int, depth: int) -> None:
    if width < 2 or depth < 1:
        raise ConfigError(f"{where}: width={width} and depth={depth} must be at least 2 channels and 1 level")


class _ChannelsLast(nn.Module):
    """Runs channels-last blocks on a channels-first map."""

    def __init__(self, *blocks: nn.Module):
        super().__init__()
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class _UNet(nn.Module):
    """The shared UNet skeleton; subclasses give a level's blocks (``level``) and how a skip joins (``merge``)."""

    def __init__(self, in_chans: int, width: int, depth: int, multiple: int):
        super().__init__()
        self.in_chans, self.width, self.depth, self.multiple = in_chans, width, depth, multiple
        widths = [width * 2**i for i in range(depth + 1)]
        self.stem = nn.Conv2d(in_chans, width, 3, padding=1)
        self.encoders = nn.ModuleList(self.level(c) for c in widths[:-1])
        self.downs = nn.ModuleList(nn.Conv2d(c, 2 * c, 4, stride=2, padding=1) for c in widths[:-1])
        self.bottleneck = self.level(widths[-1])
        self.ups = nn.ModuleList(nn.ConvTranspose2d(2 * c, c, 2, stride=2) for c in widths[:-1])
        self.merges = nn.ModuleList(self.merge(c) for c in widths[:-1])
        self.decoders = nn.ModuleList(self.level(c) for c in widths[:-1])
        self.head = nn.Conv2d(width, in_chans, 3, padding=1)

    def level(self, channels: int) -> nn.Module:
        raise NotImplementedError

    def merge(self, channels: int) -> nn.Module:
        raise NotImplementedError

    def forward(self, batch) -> torch.Tensor:
        noisy = _images(batch)
        check_image(noisy, self.in_chans, 1, type(self).__name__, self.stem.weight)
        x, h, w = _pad_to(noisy, self.multiple)
        y = self.stem(x)
        skips = []
        for encoder, down in zip(self.encoders, self.downs):
            y = encoder(y)
            skips.append(y)
            y = down(y)
        y = self.bottleneck(y)
        for i in reversed(range(self.depth)):
            y = self.decoders[i](self.merges[i](skips[i], self.ups[i](y)))
        return noisy + self.head(y)[..., :h, :w]


class _CrossGatedMerge(nn.Module):
    """A MAXIM decoder's skip: the encoder's features and the upsampled decoder features cross-gate each other
    (:class:`CrossGatingBlock`), then are concatenated and fused by a 1x1 convolution."""

    def __init__(self, channels: int, block_size: int, grid_size: int):
        super().__init__()
        self.cross = CrossGatingBlock(channels, channels, channels, block_size, grid_size)
        self.fuse = nn.Conv2d(2 * channels, channels, 1)

    def forward(self, skip: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
        gated_skip, gated_up = self.cross(skip.permute(0, 2, 3, 1), up.permute(0, 2, 3, 1))
        return self.fuse(torch.cat([gated_skip, gated_up], dim=-1).permute(0, 3, 1, 2))


class MAXIMUNet(_UNet):
    """A single-stage MAXIM: at every level ``blocks`` x (multi-axis gated MLP, residual channel attention).

    Args:
        in_chans: image channels. width: channels of the first level (doubling at each of the ``depth`` levels).
        depth: number of downsamplings. blocks: MAXIM blocks per level (MAXIM's ``num_groups``).
        block_size: window side ``b`` of the local branch. grid_size: grid side ``g`` of the global branch.
    """

    def __init__(
        self,
        in_chans: int = 3,
        width: int = 16,
        depth: int = 2,
        blocks: int = 1,
        block_size: int = 4,
        grid_size: int = 4,
    ):
        _check_sizes("MAXIMUNet", width, depth)
        self.blocks, self.block_size, self.grid_size = blocks, block_size, grid_size
        super().__init__(in_chans, width, depth, partition_multiple(block_size, grid_size) * 2**depth)

    def level(self, channels: int) -> nn.Module:
        pairs = [
            module
            for _ in range(self.blocks)
            for module in (
                MultiAxisGatedMLP(channels, self.block_size, self.grid_size),
                ResidualChannelAttentionBlock(channels),
            )
        ]
        return _ChannelsLast(*pairs)

    def merge(self, channels: int) -> nn.Module:
        return _CrossGatedMerge(channels, self.block_size, self.grid_size)


class _ResidualConvBlock(nn.Module):
    """``x + conv3(relu(conv3(x)))`` with ``hidden`` inner channels."""

    def __init__(self, channels: int, hidden: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, hidden, 3, padding=1)
        self.conv2 = nn.Conv2d(hidden, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(torch.relu(self.conv1(x)))


class _ConcatMerge(nn.Module):
    """A plain UNet skip: concatenate and fuse by a 1x1 convolution."""

    def __init__(self, channels: int):
        super().__init__()
        self.fuse = nn.Conv2d(2 * channels, channels, 1)

    def forward(self, skip: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
        return self.fuse(torch.cat([skip, up], dim=1))


class ConvUNet(_UNet):
    """The convolutional UNet baseline: ``blocks`` residual 3x3 conv blocks per level, inner width
    ``round(expansion * channels)`` (the knob that matches its parameters to another model's)."""

    def __init__(self, in_chans: int = 3, width: int = 16, depth: int = 2, blocks: int = 2, expansion: float = 1.0):
        _check_sizes("ConvUNet", width, depth)
        if not expansion > 0:
            raise ConfigError(f"ConvUNet: expansion={expansion} must be positive")
        self.blocks, self.expansion = blocks, expansion
        super().__init__(in_chans, width, depth, 2**depth)

    def level(self, channels: int) -> nn.Module:
        hidden = max(1, round(self.expansion * channels))
        return nn.Sequential(*(_ResidualConvBlock(channels, hidden) for _ in range(self.blocks)))

    def merge(self, channels: int) -> nn.Module:
        return _ConcatMerge(channels)


def _example() -> tuple[dict, tuple]:
    """Two 3-channel 12-pixel images: not a multiple of the 8 the tiny MAXIM needs, so the padding runs too."""
    images = torch.rand(2, 3, 12, 12, generator=torch.Generator().manual_seed(0))
    return {"width": 4, "depth": 1, "block_size": 2, "grid_size": 2}, (images,)


def _conv_example() -> tuple[dict, tuple]:
    images = torch.rand(2, 3, 10, 10, generator=torch.Generator().manual_seed(0))
    return {"width": 4, "depth": 1}, (images,)


@register_model("maxim_unet", family="restoration", paper="maxim", example=_example)
def maxim_unet(
    in_chans: int = 3, width: int = 16, depth: int = 2, blocks: int = 1, block_size: int = 4, grid_size: int = 4
) -> MAXIMUNet:
    """A small single-stage MAXIM for 32-pixel images: 16, 32, 64 channels, block and grid size 4."""
    return MAXIMUNet(in_chans, width, depth, blocks, block_size, grid_size)


@register_model("conv_unet", family="restoration", paper="maxim", example=_conv_example)
def conv_unet(in_chans: int = 3, width: int = 16, depth: int = 2, blocks: int = 2, expansion: float = 1.0) -> ConvUNet:
    """The convolutional UNet baseline of the MAXIM claim (set ``expansion`` to match a MAXIM's parameters)."""
    return ConvUNet(in_chans, width, depth, blocks, expansion)
