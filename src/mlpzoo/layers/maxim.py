"""MAXIM's MLP building blocks: the multi-axis gated MLP and the cross-gating block.

Tu, Talebi, Zhang, Yang, Milanfar, Bovik and Li, "MAXIM: Multi-Axis MLP for Image Processing", CVPR 2022,
arXiv:2201.02973 (Section 3.2 and Figure 3).

Every block takes and returns channels-last feature maps ``(B, H, W, C)``. Spatial mixing is split in two
axes that both have weights of a fixed size, so the blocks are fully convolutional:

- the **block** branch cuts the map into non-overlapping ``b x b`` windows and mixes the ``b * b`` pixels
  inside each window (local mixing);
- the **grid** branch lays a fixed ``g x g`` grid over the map and mixes the ``g * g`` pixels that sit at
  the same place in every grid cell (a dilated, global mixing).

Both mix through gMLP's spatial gating unit ``u * (W v + 1)`` (Liu et al., 2021, arXiv:2105.08050; MAXIM's
code adds the one so that an untrained gate passes ``u`` through). A map whose height or width is not a
multiple of both ``b`` and ``g`` is refused with a one-line error naming the multiple; the models pad.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from mlpzoo.errors import ConfigError
from mlpzoo.layers.dropout import Dropout

__all__ = [
    "ChannelAttention",
    "CrossGatingBlock",
    "MultiAxisGatedMLP",
    "ResidualChannelAttentionBlock",
    "SpatialGatingUnit",
    "SpatialGatingWeights",
    "block_images",
    "check_partition",
    "partition_multiple",
    "unblock_images",
]


def partition_multiple(block_size: int, grid_size: int) -> int:
    """The side every map must be a multiple of: both the ``block_size`` windows and the ``grid_size`` grid fit."""
    return math.lcm(block_size, grid_size)


def check_partition(x: torch.Tensor, block_size: int, grid_size: int, where: str) -> None:
    """One-line error unless ``x (B, H, W, C)`` splits into ``block_size`` windows and a ``grid_size`` grid."""
    if x.ndim != 4:
        raise ConfigError(f"{where}: expected a channels-last map (B, H, W, C), got shape {tuple(x.shape)}")
    multiple = partition_multiple(block_size, grid_size)
    h, w = x.shape[1], x.shape[2]
    if h % multiple or w % multiple:
        raise ConfigError(
            f"{where}: feature map {h}x{w} is not a multiple of {multiple} (block size {block_size}, grid size "
            f"{grid_size}); pad the input to a multiple of {multiple} (the MAXIM models do this)"
        )


def block_images(x: torch.Tensor, patch_h: int, patch_w: int) -> torch.Tensor:
    """``(B, H, W, C)`` -> ``(B, number of patches, patch_h * patch_w, C)``: non-overlapping patches."""
    b, h, w, c = x.shape
    x = x.reshape(b, h // patch_h, patch_h, w // patch_w, patch_w, c).transpose(2, 3)
    return x.reshape(b, (h // patch_h) * (w // patch_w), patch_h * patch_w, c)


def unblock_images(x: torch.Tensor, grid_h: int, grid_w: int, patch_h: int, patch_w: int) -> torch.Tensor:
    """The inverse of :func:`block_images` for a ``grid_h x grid_w`` arrangement of patches."""
    b, c = x.shape[0], x.shape[-1]
    x = x.reshape(b, grid_h, grid_w, patch_h, patch_w, c).transpose(2, 3)
    return x.reshape(b, grid_h * patch_h, grid_w * patch_w, c)


class _AxisMixing(nn.Module):
    """A linear map over one spatial axis of a partitioned map: the ``b * b`` pixels of a window ("block") or
    the ``g * g`` cells of the grid ("grid")."""

    def __init__(self, axis: str, size: int):
        super().__init__()
        if axis not in ("block", "grid"):
            raise ConfigError(f"_AxisMixing axis={axis!r}; use 'block' or 'grid'")
        self.axis, self.size = axis, size
        self.mix = nn.Linear(size * size, size * size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, c = x.shape
        if self.axis == "block":  # windows of size x size; mix inside each window
            patch_h, patch_w = self.size, self.size
        else:  # a size x size grid of cells; mix the cells' pixels at the same offset
            patch_h, patch_w = h // self.size, w // self.size
        parts = block_images(x, patch_h, patch_w)  # (B, patches, pixels per patch, C)
        dim = 2 if self.axis == "block" else 1
        mixed = self.mix(parts.transpose(dim, -1)).transpose(dim, -1)
        return unblock_images(mixed, h // patch_h, w // patch_w, patch_h, patch_w)


class SpatialGatingUnit(nn.Module):
    """gMLP's spatial gating along one MAXIM axis: split channels into ``u, v``; ``u * (mix(LN(v)) + 1)``.

    Args:
        dim: channels of the input (even; the output has ``dim / 2``). axis: "block" or "grid". size: ``b`` or ``g``.
    """

    def __init__(self, dim: int, axis: str, size: int):
        super().__init__()
        if dim % 2:
            raise ConfigError(f"SpatialGatingUnit dim={dim} must be even (it splits channels into u and v)")
        self.norm = nn.LayerNorm(dim // 2)
        self.mix = _AxisMixing(axis, size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u, v = x.chunk(2, dim=-1)
        return u * (self.mix(self.norm(v)) + 1.0)


class _GatedAxisMLP(nn.Module):
    """MAXIM's block or grid gMLP layer: ``x + W2 SGU(gelu(W1 LN(x)))`` with the SGU on one axis."""

    def __init__(self, dim: int, axis: str, size: int, expansion: int = 2):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.expand = nn.Linear(dim, dim * expansion)
        self.gate = SpatialGatingUnit(dim * expansion, axis, size)
        self.project = nn.Linear(dim * expansion // 2, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.project(self.gate(nn.functional.gelu(self.expand(self.norm(x)))))


class MultiAxisGatedMLP(nn.Module):
    """The multi-axis gated MLP block (MAXIM Fig. 3a): LN, a channel expansion, then half of the channels go
    through the grid gMLP (global) and half through the block gMLP (local), concatenated, projected back and
    added to the input.

    Args:
        dim: channels. block_size: window side ``b``. grid_size: grid side ``g``.
        expansion: channel expansion before the split (MAXIM's ``input_proj_factor``, 2).
        dropout: dropout after the output projection.
    """

    def __init__(self, dim: int, block_size: int = 8, grid_size: int = 8, expansion: int = 2, dropout: float = 0.0):
        super().__init__()
        if dim * expansion % 2:
            raise ConfigError(f"MultiAxisGatedMLP: dim * expansion = {dim * expansion} must be even (two branches)")
        half = dim * expansion // 2
        self.block_size, self.grid_size = block_size, grid_size
        self.norm = nn.LayerNorm(dim)
        self.expand = nn.Linear(dim, dim * expansion)
        self.grid_branch = _GatedAxisMLP(half, "grid", grid_size)
        self.block_branch = _GatedAxisMLP(half, "block", block_size)
        self.project = nn.Linear(dim * expansion, dim)
        self.dropout = Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_partition(x, self.block_size, self.grid_size, type(self).__name__)
        u, v = nn.functional.gelu(self.expand(self.norm(x))).chunk(2, dim=-1)
        y = torch.cat([self.grid_branch(u), self.block_branch(v)], dim=-1)
        return x + self.dropout(self.project(y))


class SpatialGatingWeights(nn.Module):
    """MAXIM's ``GetSpatialGatingWeights``: the multi-axis mixing without a gate, used as the cross-gating signal:
    LN, channel expansion, grid mixing on one half and block mixing on the other, projection back to ``dim``."""

    def __init__(self, dim: int, block_size: int, grid_size: int, expansion: int = 2):
        super().__init__()
        half = dim * expansion // 2
        self.norm = nn.LayerNorm(dim)
        self.expand = nn.Linear(dim, dim * expansion)
        self.grid_mix = _AxisMixing("grid", grid_size)
        self.block_mix = _AxisMixing("block", block_size)
        self.project = nn.Linear(2 * half, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u, v = nn.functional.gelu(self.expand(self.norm(x))).chunk(2, dim=-1)
        return self.project(torch.cat([self.grid_mix(u), self.block_mix(v)], dim=-1))


class CrossGatingBlock(nn.Module):
    """The cross-gating block (MAXIM Fig. 3b), an MLP alternative to cross-attention: two feature maps each
    produce multi-axis gating weights, and each is gated by the other's.

    ``x`` and ``y`` (``(B, H, W, C_x)``, ``(B, H, W, C_y)``) are first projected to ``dim`` channels; the
    results are ``x' = x + W_x(x_h * G(y_h)) + y'`` and ``y' = y + W_y(y_h * G(x_h))`` where ``x_h, y_h`` are
    ``gelu(W LN(.))`` of each input and ``G`` is :class:`SpatialGatingWeights`. Returns ``(x', y')``.
    """

    def __init__(self, x_dim: int, y_dim: int, dim: int, block_size: int = 8, grid_size: int = 8):
        super().__init__()
        self.block_size, self.grid_size = block_size, grid_size
        self.in_x, self.in_y = nn.Linear(x_dim, dim), nn.Linear(y_dim, dim)
        self.norm_x, self.norm_y = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.hidden_x, self.hidden_y = nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.weights_x = SpatialGatingWeights(dim, block_size, grid_size)
        self.weights_y = SpatialGatingWeights(dim, block_size, grid_size)
        self.out_x, self.out_y = nn.Linear(dim, dim), nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        check_partition(x, self.block_size, self.grid_size, type(self).__name__)
        if x.shape[:3] != y.shape[:3]:
            raise ConfigError(
                f"CrossGatingBlock: x {tuple(x.shape)} and y {tuple(y.shape)} differ in batch or spatial size; "
                "resize one to the other first"
            )
        x, y = self.in_x(x), self.in_y(y)
        hx = nn.functional.gelu(self.hidden_x(self.norm_x(x)))
        hy = nn.functional.gelu(self.hidden_y(self.norm_y(y)))
        gate_x, gate_y = self.weights_x(hx), self.weights_y(hy)
        y_out = y + self.out_y(hy * gate_x)
        x_out = x + self.out_x(hx * gate_y) + y_out  # MAXIM adds the gated y to x: "all aggregated signals"
        return x_out, y_out


class ChannelAttention(nn.Module):
    """Squeeze-and-excitation channel attention (MAXIM's ``CALayer``): ``x * sigmoid(W2 relu(W1 mean_hw(x)))``."""

    def __init__(self, dim: int, reduction: int = 4):
        super().__init__()
        self.squeeze = nn.Linear(dim, max(1, dim // reduction))
        self.excite = nn.Linear(max(1, dim // reduction), dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = torch.sigmoid(self.excite(torch.relu(self.squeeze(x.mean(dim=(1, 2), keepdim=True)))))
        return x * weights


class ResidualChannelAttentionBlock(nn.Module):
    """MAXIM's RCAB, the local convolutional companion of every multi-axis block:
    ``x + CA(conv3(leaky_relu(conv3(LN(x)))))`` on channels-last maps."""

    def __init__(self, dim: int, reduction: int = 4):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.conv1 = nn.Conv2d(dim, dim, 3, padding=1)
        self.conv2 = nn.Conv2d(dim, dim, 3, padding=1)
        self.attention = ChannelAttention(dim, reduction)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm(x).permute(0, 3, 1, 2)
        y = self.conv2(nn.functional.leaky_relu(self.conv1(y), 0.2)).permute(0, 2, 3, 1)
        return x + self.attention(y)
