"""Token-mixing MLPs for image classification, at CIFAR-10 size (32 px, patch 4, an 8 x 8 token grid).

- ``mixer``: Tolstikhin et al., "MLP-Mixer: An all-MLP Architecture for Vision", 2021, arXiv:2105.01601
  (the shared baseline).
- ``raftmlp``: Tatsunami and Taki, "RaftMLP: How Much Can Be Done Without Attention and with Less
  Spatial Locality?", 2021, arXiv:2108.04384.
- ``strip_mlp``: Cao et al., "Strip-MLP: Efficient Token Interaction for Vision MLP", ICCV 2023, arXiv:2307.11458.
- ``ms_mlp``: Zheng et al., "Mixing and Shifting: Exploiting Global and Local Dependencies in Vision MLPs",
  2022, arXiv:2202.06510.
- ``dsm``: Hu and Zhang, "Dynamic Spectrum Mixer for Visual Recognition", 2023, arXiv:2309.06721.
- ``resnet_cifar``: He, Zhang, Ren and Sun, "Deep Residual Learning for Image Recognition", CVPR 2016,
  arXiv:1512.03385, Section 4.2 (the CIFAR-10 ResNets); the small standard CNN that scaling-mlps
  compares augmentation gains against.

All are isotropic (one stage of ``depth`` blocks of width ``dim``), as Mixer is, so that a
comparison isolates the token mixing; the papers' ImageNet models are four-stage hierarchies.
Defaults put every model within about 5 % of Mixer's 1.13 M parameters (docs/vision.md lists
the counts). Every model reads ``batch["x"]`` (or a tensor) ``(B, 3, 32, 32)`` and returns logits
``(B, num_classes)``. Mixer, Strip-MLP and DSM have position-indexed weights and accept only
their ``img_size``; RaftMLP resamples its weights bicubically for other sizes; MS-MLP is
convolutional and accepts any multiple of the patch size. ``resnet_cifar`` is a convolutional network,
not an MLP: it accepts any image size.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from mlpzoo.errors import ConfigError
from mlpzoo.layers.mixing import MixerBlock
from mlpzoo.layers.patch import MultiScalePatchEmbed, PatchEmbed, check_image
from mlpzoo.layers.raft import RaftBlock
from mlpzoo.layers.shift import MixShiftBlock
from mlpzoo.layers.spectrum import DynamicSpectrumBlock
from mlpzoo.layers.strip import StripBlock
from mlpzoo.registry import register_model

__all__ = ["ResNetCIFAR", "VisionMLP", "dsm", "mixer", "ms_mlp", "raftmlp", "resnet_cifar", "strip_mlp"]


class VisionMLP(nn.Module):
    """Patch embedding, a stack of channels-last blocks, LayerNorm, global average pool, linear head.

    Args:
        embed: images ``(B, C, H, W)`` -> tokens ``(B, H/p, W/p, dim)``.
        blocks: modules mapping ``(B, h, w, dim)`` to the same shape.
        dim: token width; num_classes: outputs; img_size: the training image size;
        fixed_size: whether other image sizes are refused (position-indexed weights).
    """

    def __init__(
        self, embed: nn.Module, blocks: Sequence[nn.Module], dim: int, num_classes: int, img_size: int, fixed_size: bool
    ):
        super().__init__()
        self.embed, self.blocks = embed, nn.Sequential(*blocks)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)
        self.img_size, self.fixed_size, self.num_features = img_size, fixed_size, dim

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        if self.fixed_size and x.ndim == 4 and tuple(x.shape[-2:]) != (self.img_size, self.img_size):
            raise ConfigError(
                f"{type(self).__name__}: image size {x.shape[-2]}x{x.shape[-1]} differs from the model's "
                f"{self.img_size}x{self.img_size}; resize the images or build the model with img_size={x.shape[-1]}"
            )
        return self.norm(self.blocks(self.embed(x)))

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(features.mean(dim=(1, 2)))

    def forward(self, batch) -> torch.Tensor:
        x = batch["x"] if isinstance(batch, dict) else batch
        return self.forward_head(self.forward_features(x))

    def reset_classifier(self, num_classes: int) -> None:
        self.head = nn.Linear(self.num_features, num_classes)


def _grid(img_size: int, patch: int, depth: int = 1) -> int:
    if img_size % patch:
        raise ConfigError(
            f"img_size={img_size} is not a multiple of patch={patch}; choose an img_size divisible by the patch"
        )
    if depth < 1:
        raise ConfigError(f"depth={depth} must be at least 1 block")
    return img_size // patch


def _images(size: int = 16) -> torch.Tensor:
    return torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0))


def _tiny(**kwargs) -> dict:
    """A 16-pixel image in a 4 x 4 token grid, width 16, two blocks, three classes."""
    return {"num_classes": 3, "img_size": 16, "dim": 16, "depth": 2, **kwargs}


def _mixer_example() -> tuple[dict, tuple]:
    return _tiny(token_hidden=8, channel_hidden=32), (_images(),)


def _channel_mlp_example() -> tuple[dict, tuple]:
    """RaftMLP, Strip-MLP, MS-MLP and DSM: their own token mixing, a channel MLP of width 32."""
    return _tiny(channel_hidden=32), (_images(),)


@register_model("mixer", family="vision", example=_mixer_example)
def mixer(
    num_classes: int = 10,
    img_size: int = 32,
    in_chans: int = 3,
    patch: int = 4,
    dim: int = 128,
    depth: int = 8,
    token_hidden: int = 64,
    channel_hidden: int = 512,
) -> VisionMLP:
    """MLP-Mixer (Mixer-S/4-like CIFAR size): token MLP over the 64 patches, channel MLP, pre-norm residuals."""
    g = _grid(img_size, patch, depth)
    blocks = [MixerBlock(g * g, dim, token_hidden, channel_hidden) for _ in range(depth)]
    return VisionMLP(PatchEmbed(in_chans, dim, patch), blocks, dim, num_classes, img_size, fixed_size=True)


@register_model("raftmlp", family="vision", paper="raftmlp", example=_channel_mlp_example)
def raftmlp(
    num_classes: int = 10,
    img_size: int = 32,
    in_chans: int = 3,
    patch: int = 4,
    dim: int = 128,
    depth: int = 8,
    raft_size: int = 2,
    token_expansion: float = 2.0,
    channel_hidden: int = 512,
    scales: Sequence[int] = (1, 2),
) -> VisionMLP:
    """RaftMLP with Mixer's width and depth: raft-token-mixing (r=2, expansion 2) and multi-scale patch embedding."""
    g = _grid(img_size, patch, depth)
    blocks = [RaftBlock(dim, g, g, raft_size, token_expansion, channel_hidden) for _ in range(depth)]
    return VisionMLP(
        MultiScalePatchEmbed(in_chans, dim, patch, scales), blocks, dim, num_classes, img_size, fixed_size=False
    )


@register_model("strip_mlp", family="vision", paper="strip-mlp", example=_channel_mlp_example)
def strip_mlp(
    num_classes: int = 10,
    img_size: int = 32,
    in_chans: int = 3,
    patch: int = 4,
    dim: int = 128,
    depth: int = 8,
    channel_hidden: int = 480,
    groups: int = 4,
    strip_width: int = 3,
) -> VisionMLP:
    """Strip-MLP blocks (row and column CGSMM with 4 groups, strip width 3, LSMM) at Mixer's parameter count."""
    g = _grid(img_size, patch, depth)
    blocks = [StripBlock(dim, g, g, channel_hidden, groups, strip_width) for _ in range(depth)]
    return VisionMLP(PatchEmbed(in_chans, dim, patch), blocks, dim, num_classes, img_size, fixed_size=True)


@register_model("ms_mlp", family="vision", paper="ms-mlp", example=_channel_mlp_example)
def ms_mlp(
    num_classes: int = 10,
    img_size: int = 32,
    in_chans: int = 3,
    patch: int = 4,
    dim: int = 128,
    depth: int = 8,
    channel_hidden: int = 416,
    groups: int = 5,
) -> VisionMLP:
    """MS-MLP blocks (5 channel groups, shifts -2..2, kernels 5, 3, 1, 3, 5) at Mixer's parameter count."""
    _grid(img_size, patch, depth)
    blocks = [MixShiftBlock(dim, channel_hidden, groups) for _ in range(depth)]
    return VisionMLP(PatchEmbed(in_chans, dim, patch), blocks, dim, num_classes, img_size, fixed_size=False)


@register_model("dsm", family="vision", paper="dsm", example=_channel_mlp_example)
def dsm(
    num_classes: int = 10,
    img_size: int = 32,
    in_chans: int = 3,
    patch: int = 4,
    dim: int = 128,
    depth: int = 8,
    channel_hidden: int = 384,
    num_bases: int = 2,
) -> VisionMLP:
    """Dynamic Spectrum Mixer blocks (DCT mixing, 2 dynamic spectrum bases) at Mixer's parameter count."""
    g = _grid(img_size, patch, depth)
    blocks = [DynamicSpectrumBlock(dim, g, g, channel_hidden, num_bases) for _ in range(depth)]
    return VisionMLP(PatchEmbed(in_chans, dim, patch), blocks, dim, num_classes, img_size, fixed_size=True)


class BasicBlock(nn.Module):
    """He et al.'s basic residual block: two 3x3 convolutions with batch norm. A block that halves the
    resolution and widens the channels keeps a parameter-free shortcut (their option A, used for CIFAR):
    every second pixel, the new channels zero-padded."""

    def __init__(self, in_channels: int, channels: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.stride, self.extra_channels = stride, channels - in_channels

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        return nn.functional.pad(x, (0, 0, 0, 0, 0, self.extra_channels)) if self.extra_channels else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


class ResNetCIFAR(nn.Module):
    """The CIFAR-10 ResNet of He et al. (2016, Section 4.2): a 3x3 stem, three stages of ``n`` basic
    blocks with ``width``, ``2 width`` and ``4 width`` channels (the last two halve the resolution), global
    average pooling and a linear head; ``depth = 6 n + 2`` layers (ResNet-20: n = 3, 0.27 M parameters, their Table 6).

    Args:
        depth: 8, 14, 20, 32, 44, 56, 110, ... (6 n + 2). width: channels of the first stage (16 in the paper).
        num_classes: outputs. in_chans: image channels.
    """

    def __init__(self, depth: int = 20, width: int = 16, num_classes: int = 10, in_chans: int = 3):
        super().__init__()
        if depth < 8 or (depth - 2) % 6:
            raise ConfigError(f"ResNetCIFAR: depth={depth} is not 6 n + 2 for n >= 1; use 8, 14, 20, 32, 44, 56 or 110")
        if width < 1:
            raise ConfigError(f"ResNetCIFAR: width={width} must be at least 1 channel")
        blocks_per_stage, self.in_chans = (depth - 2) // 6, in_chans
        self.stem = nn.Sequential(nn.Conv2d(in_chans, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
        stages, channels = [], width
        for stage in range(3):
            out = width * 2**stage
            for i in range(blocks_per_stage):
                stages.append(BasicBlock(channels, out, 2 if stage > 0 and i == 0 else 1))
                channels = out
        self.blocks = nn.Sequential(*stages)
        self.head = nn.Linear(channels, num_classes)
        self.num_features = channels

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        check_image(x, self.in_chans, 1, type(self).__name__, self.head.weight)
        return self.blocks(self.stem(x))

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(features.mean(dim=(2, 3)))

    def forward(self, batch) -> torch.Tensor:
        x = batch["x"] if isinstance(batch, dict) else batch
        return self.forward_head(self.forward_features(x))

    def reset_classifier(self, num_classes: int) -> None:
        self.head = nn.Linear(self.num_features, num_classes)


def _resnet_example() -> tuple[dict, tuple]:
    """ResNet-8 with 4, 8 and 16 channels on 8-pixel images."""
    return {"num_classes": 3, "depth": 8, "width": 4}, (_images(8),)


@register_model("resnet_cifar", family="vision", example=_resnet_example)
def resnet_cifar(num_classes: int = 10, in_chans: int = 3, depth: int = 20, width: int = 16) -> ResNetCIFAR:
    """He et al.'s CIFAR-10 ResNet, ResNet-20 (16, 32, 64 channels) unless ``depth``/``width`` say otherwise."""
    return ResNetCIFAR(depth, width, num_classes, in_chans)
