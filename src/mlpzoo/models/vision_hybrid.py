"""Vision hybrids with an MLP at the centre of a conv or attention network, and their conv baseline.

- ``ninformer``: Abdullah and Aydin, "NiNformer: A Network in Network Transformer with Token Mixing Generated
  Gating Function", 2024, arXiv:2403.02411. Isotropic like MLP-Mixer (patch 4, 8 x 8 tokens on CIFAR-10); every
  block's attention is replaced by a token-wise projection gated by an inner MLP-Mixer.
- ``spartan_*``: Pay, Baskaran, Loo, Wong and See, "SpaRTAN: Spatial Reinforcement Token-based Aggregation
  Network for Visual Recognition", 2025, arXiv:2507.10999. A four-stage conv network of multi-order spatial
  modules and wave-based channel aggregation with a low expansion.
- ``convnext_cifar``: the ConvNeXt-style inverted-bottleneck network (Liu et al., CVPR 2022, arXiv:2201.03545)
  at SpaRTAN's stages: the high-expansion MLP-block baseline of the SpaRTAN claim.
- ``efficientmod_*``: Ma, Dai, Yang, Yuan, Fu and Wang, "Efficient Modulation for Vision Networks", ICLR 2024,
  arXiv:2403.19963. EfficientMod blocks in every stage; the hybrid's vanilla attention blocks close the last ones.
- ``dhvt_*``: Lu, Xie, Liu and Zhang, "Bridging the Gap Between Vision Transformers and Convolutional Neural
  Networks on Small Datasets" (DHVT), NeurIPS 2022, arXiv:2210.05958. A ViT with a convolutional patch
  embedding, a depth-wise conv and dynamic aggregation in the MLP, and head tokens; no position embedding.

The papers' published sizes are registered (``spartan_t``, ``efficientmod_xxs/xs/s`` at 224 px for ImageNet,
``dhvt_tiny``/``dhvt_small`` at CIFAR's 32 px); where the abstracts do not fix a width, the stage widths are ours,
chosen to land near the published parameter count (``docs/vision-hybrids.md`` lists both). ``*_cifar`` (and
``ninformer``) are the CIFAR-10 sizes the claims shrink further to fit a CPU budget. Every model reads
``batch["x"]`` (or a tensor) ``(B, C, H, W)`` and returns logits ``(B, num_classes)``; a wrong channel count or an
image size the network's stride does not divide is a one-line :class:`~mlpzoo.errors.ConfigError`.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import nn

from mlpzoo.errors import ConfigError
from mlpzoo.layers.hybrid import (
    DHVTBlock,
    Downsample,
    EfficientModBlock,
    GridAttentionBlock,
    InvertedBottleneckBlock,
    NiNBlock,
    SequentialOverlappingPatchEmbed,
    SpaRTANBlock,
)
from mlpzoo.layers.patch import PatchEmbed, check_image
from mlpzoo.models.vision import VisionMLP, _grid
from mlpzoo.registry import register_model

__all__ = [
    "DHVT",
    "HierarchicalNet",
    "convnext_cifar",
    "dhvt_cifar",
    "efficientmod_cifar",
    "ninformer",
    "spartan_cifar",
]


def _images(size: int = 16, channels: int = 3) -> torch.Tensor:
    return torch.randn(2, channels, size, size, generator=torch.Generator().manual_seed(0))


def _check_stages(where: str, dims: Sequence[int], depths: Sequence[int]) -> None:
    if len(dims) != len(depths) or not dims:
        raise ConfigError(f"{where}: dims={tuple(dims)} and depths={tuple(depths)} need one entry per stage")
    if any(d < 1 for d in dims) or any(d < 0 for d in depths):
        raise ConfigError(f"{where}: dims must be positive and depths non-negative, got {tuple(dims)}, {tuple(depths)}")


# -------------------------------------------------------------------------------------------------- NiNformer
def _ninformer_example() -> tuple[dict, tuple]:
    return {"num_classes": 3, "img_size": 16, "dim": 16, "depth": 2, "channel_hidden": 32}, (_images(),)


@register_model("ninformer", family="vision", paper="ninformer", example=_ninformer_example)
def ninformer(
    num_classes: int = 10,
    img_size: int = 32,
    in_chans: int = 3,
    patch: int = 4,
    dim: int = 128,
    depth: int = 8,
    token_hidden: int = 64,
    channel_hidden: int = 256,
    gate_hidden: int | None = None,
) -> VisionMLP:
    """NiNformer at Mixer's CIFAR size (patch 4, width 128, depth 8): NiN blocks whose inner Mixer (token MLP 64,
    channel MLP ``gate_hidden``, default ``channel_hidden``) gates the outer projection; the outer channel MLP is
    ``channel_hidden`` wide. Position-indexed token MLPs: the model accepts only its ``img_size``."""
    g = _grid(img_size, patch, depth)
    gate_hidden = channel_hidden if gate_hidden is None else gate_hidden
    blocks = [NiNBlock(g * g, dim, token_hidden, channel_hidden, gate_hidden) for _ in range(depth)]
    return VisionMLP(PatchEmbed(in_chans, dim, patch), blocks, dim, num_classes, img_size, fixed_size=True)


# --------------------------------------------------------------------------------------- staged conv networks
class HierarchicalNet(nn.Module):
    """A patch-embedding stem, stages of channels-last blocks with a :class:`~mlpzoo.layers.hybrid.Downsample`
    (stride 2) before every stage but the first, LayerNorm, global average pooling and a linear head.

    Args:
        make_block: ``(stage, index, dim) -> nn.Module`` builds block ``index`` of a stage.
        dims, depths: width and number of blocks per stage. stem_patch: the stem's patch (stride).
        num_classes, in_chans: outputs and image channels. Fully convolutional (up to attention over the grid):
        any image size that ``stem_patch * 2 ** (stages - 1)`` divides.
    """

    def __init__(
        self,
        make_block: Callable[[int, int, int], nn.Module],
        dims: Sequence[int],
        depths: Sequence[int],
        stem_patch: int,
        num_classes: int,
        in_chans: int,
    ):
        super().__init__()
        _check_stages(type(self).__name__, dims, depths)
        self.in_chans, self.stride = in_chans, stem_patch * 2 ** (len(dims) - 1)
        self.stem = PatchEmbed(in_chans, dims[0], stem_patch)
        stages = []
        for i, (dim, depth) in enumerate(zip(dims, depths)):
            down = [Downsample(dims[i - 1], dim)] if i else []
            stages.append(nn.Sequential(*down, *(make_block(i, j, dim) for j in range(depth))))
        self.stages = nn.Sequential(*stages)
        self.norm = nn.LayerNorm(dims[-1])
        self.head = nn.Linear(dims[-1], num_classes)
        self.num_features = dims[-1]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        check_image(x, self.in_chans, self.stride, type(self).__name__, self.head.weight)
        return self.norm(self.stages(self.stem(x)))

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(features.mean(dim=(1, 2)))

    def forward(self, batch) -> torch.Tensor:
        x = batch["x"] if isinstance(batch, dict) else batch
        return self.forward_head(self.forward_features(x))

    def reset_classifier(self, num_classes: int) -> None:
        self.head = nn.Linear(self.num_features, num_classes)


def _staged_example() -> tuple[dict, tuple]:
    """Two stages of width 8 and 16 on 8-pixel images (stem patch 2), three classes."""
    return {"num_classes": 3, "dims": (8, 16), "depths": (1, 1), "stem_patch": 2}, (_images(8),)


def _hidden(dim: int, ratio: float) -> int:
    return max(1, round(dim * ratio))


def spartan(
    dims: Sequence[int],
    depths: Sequence[int],
    stem_patch: int,
    mlp_ratio: float = 2.0,
    num_classes: int = 10,
    in_chans: int = 3,
) -> HierarchicalNet:
    """SpaRTAN: every block a multi-order spatial module then wave-based channel aggregation of ``mlp_ratio``."""
    return HierarchicalNet(
        lambda _, __, dim: SpaRTANBlock(dim, _hidden(dim, mlp_ratio)), dims, depths, stem_patch, num_classes, in_chans
    )


@register_model("spartan_t", family="vision", paper="spartan", example=_staged_example)
def spartan_t(dims=(32, 64, 128, 256), depths=(2, 2, 8, 2), stem_patch=4, **kwargs) -> HierarchicalNet:
    """SpaRTAN-T for 224 px ImageNet: four stages (stride 4 stem); about the paper's 3.8 M parameters (abstract)."""
    return spartan(dims, depths, stem_patch, **kwargs)


@register_model("spartan_cifar", family="vision", paper="spartan", example=_staged_example)
def spartan_cifar(dims=(32, 64, 128), depths=(2, 2, 2), stem_patch=2, **kwargs) -> HierarchicalNet:
    """SpaRTAN at CIFAR size: three stages at 16, 8 and 4 pixels (stride 2 stem)."""
    return spartan(dims, depths, stem_patch, **kwargs)


@register_model("convnext_cifar", family="vision", example=_staged_example)
def convnext_cifar(
    dims=(32, 64, 128), depths=(2, 2, 2), stem_patch=2, mlp_ratio: float = 4.0, num_classes=10, in_chans=3
) -> HierarchicalNet:
    """ConvNeXt-style network at SpaRTAN's CIFAR stages: inverted-bottleneck blocks with a 4 x expansion MLP."""
    return HierarchicalNet(
        lambda _, __, dim: InvertedBottleneckBlock(dim, _hidden(dim, mlp_ratio)),
        dims,
        depths,
        stem_patch,
        num_classes,
        in_chans,
    )


def efficientmod(
    dims: Sequence[int],
    depths: Sequence[int],
    attention_depths: Sequence[int],
    stem_patch: int,
    mod_ratio: float = 4.0,
    mlp_ratio: float = 0.0,
    heads: int = 4,
    num_classes: int = 10,
    in_chans: int = 3,
) -> HierarchicalNet:
    """EfficientMod: per stage ``depths[i]`` EfficientMod blocks (modulation width ``mod_ratio x dim``, an extra
    MLP when ``mlp_ratio`` > 0), then ``attention_depths[i]`` vanilla attention blocks (the hybrid)."""
    if len(attention_depths) != len(dims):
        raise ConfigError(f"efficientmod: attention_depths={tuple(attention_depths)} needs one entry per stage")
    for dim, count in zip(dims, attention_depths):
        if count and dim % heads:
            raise ConfigError(f"efficientmod: heads={heads} must divide the width {dim} of a stage with attention")
    totals = [d + a for d, a in zip(depths, attention_depths)]

    def block(stage: int, index: int, dim: int) -> nn.Module:
        if index >= depths[stage]:  # the hybrid: attention blocks after a stage's EfficientMod blocks
            return GridAttentionBlock(dim, heads)
        return EfficientModBlock(dim, _hidden(dim, mod_ratio), _hidden(dim, mlp_ratio) if mlp_ratio else 0)

    return HierarchicalNet(block, dims, totals, stem_patch, num_classes, in_chans)


def _efficientmod_example() -> tuple[dict, tuple]:
    return {**_staged_example()[0], "attention_depths": (0, 1), "heads": 2}, (_images(8),)


@register_model("efficientmod_xxs", family="vision", paper="efficientmod", example=_efficientmod_example)
def efficientmod_xxs(
    dims=(32, 64, 128, 256), depths=(2, 2, 6, 1), attention_depths=(0, 0, 1, 2), stem_patch=4, **kwargs
) -> HierarchicalNet:
    """EfficientMod-xxs for 224 px ImageNet (the paper's 4.7 M parameters)."""
    return efficientmod(dims, depths, attention_depths, stem_patch, **kwargs)


@register_model("efficientmod_xs", family="vision", paper="efficientmod", example=_efficientmod_example)
def efficientmod_xs(
    dims=(32, 64, 128, 256), depths=(3, 3, 6, 2), attention_depths=(0, 0, 3, 3), stem_patch=4, **kwargs
) -> HierarchicalNet:
    """EfficientMod-xs for 224 px ImageNet (the paper's 6.6 M parameters)."""
    return efficientmod(dims, depths, attention_depths, stem_patch, **kwargs)


@register_model("efficientmod_s", family="vision", paper="efficientmod", example=_efficientmod_example)
def efficientmod_s(
    dims=(32, 64, 144, 288), depths=(4, 4, 10, 4), attention_depths=(0, 0, 4, 4), stem_patch=4, **kwargs
) -> HierarchicalNet:
    """EfficientMod-s for 224 px ImageNet (the paper's 12.9 M parameters)."""
    return efficientmod(dims, depths, attention_depths, stem_patch, **kwargs)


@register_model("efficientmod_cifar", family="vision", paper="efficientmod", example=_efficientmod_example)
def efficientmod_cifar(
    dims=(32, 64, 128), depths=(2, 2, 2), attention_depths=(0, 0, 1), stem_patch=2, **kwargs
) -> HierarchicalNet:
    """EfficientMod hybrid at CIFAR size: stages at 16, 8 and 4 pixels, one attention block closing the last."""
    return efficientmod(dims, depths, attention_depths, stem_patch, **kwargs)


# ------------------------------------------------------------------------------------------------------- DHVT
class DHVT(nn.Module):
    """DHVT: SOPE patch embedding, a class token (no position embedding: the convolutions carry position),
    ``depth`` blocks of head-interacting attention and dynamic-aggregation FFN, LayerNorm, a head on the class token.

    Args:
        num_classes, in_chans: outputs and image channels. patch: a power of two (4 on CIFAR: 8 x 8 tokens).
        dim, depth, heads: token width, blocks, attention heads (``heads`` head tokens). mlp_ratio: FFN width / dim.
        Square images of any size that ``patch`` divides.
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_chans: int = 3,
        patch: int = 4,
        dim: int = 192,
        depth: int = 12,
        heads: int = 4,
        mlp_ratio: float = 4.0,
    ):
        super().__init__()
        if depth < 1:
            raise ConfigError(f"DHVT: depth={depth} must be at least 1 block")
        self.in_chans, self.patch, self.num_features = in_chans, patch, dim
        self.embed = SequentialOverlappingPatchEmbed(in_chans, dim, patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        self.blocks = nn.Sequential(*(DHVTBlock(dim, heads, _hidden(dim, mlp_ratio)) for _ in range(depth)))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        check_image(x, self.in_chans, self.patch, type(self).__name__, self.head.weight)
        if x.shape[2] != x.shape[3]:
            raise ConfigError(
                f"DHVT: image size {x.shape[2]}x{x.shape[3]} is not square; the FFN's depth-wise conv needs a square "
                "token grid: crop or pad the images to a square"
            )
        tokens = self.embed(x)
        tokens = torch.cat([self.cls_token.expand(tokens.shape[0], -1, -1), tokens], dim=1)
        return self.norm(self.blocks(tokens))

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(features[:, 0])

    def forward(self, batch) -> torch.Tensor:
        x = batch["x"] if isinstance(batch, dict) else batch
        return self.forward_head(self.forward_features(x))

    def reset_classifier(self, num_classes: int) -> None:
        self.head = nn.Linear(self.num_features, num_classes)


def _dhvt_example() -> tuple[dict, tuple]:
    return {"num_classes": 3, "dim": 16, "depth": 2, "heads": 2}, (_images(8),)


@register_model("dhvt_tiny", family="vision", paper="dhvt", example=_dhvt_example)
def dhvt_tiny(**kwargs) -> DHVT:
    """DHVT-T for CIFAR (patch 4, width 192, depth 12, 4 heads)."""
    return DHVT(**{"dim": 192, "depth": 12, "heads": 4, **kwargs})


@register_model("dhvt_small", family="vision", paper="dhvt", example=_dhvt_example)
def dhvt_small(**kwargs) -> DHVT:
    """DHVT-S for CIFAR (patch 4, width 384, depth 12, 8 heads): the abstract's 22.8 M-parameter CIFAR-100 model."""
    return DHVT(**{"dim": 384, "depth": 12, "heads": 8, **kwargs})


@register_model("dhvt_cifar", family="vision", paper="dhvt", example=_dhvt_example)
def dhvt_cifar(**kwargs) -> DHVT:
    """A small DHVT for CPU-sized CIFAR-10 runs (width 96, depth 6, 4 heads)."""
    return DHVT(**{"dim": 96, "depth": 6, "heads": 4, **kwargs})
