"""ViT-style image classifiers: the standard block and the minimal, attention-only block.

Bermeitinger, Hrycej, Pavone, Kath & Handschuh, "Reducing the Transformer Architecture to a
Minimum", 2024, arXiv:2410.13732: drop the MLP, collapse ``W_q W_k^T`` into one matrix, drop
``W_v``/``W_o``, make the similarity symmetric (``L L^T``). The baseline is the ViT block of
Dosovitskiy et al., "An Image is Worth 16x16 Words", ICLR 2021, arXiv:2010.11929.

Images ``(B, C, H, W)`` in ``batch["x"]`` are cut into ``patch_size`` patches, embedded linearly,
given a class token and learned position embeddings, passed through ``depth`` blocks
(:class:`~mlpzoo.layers.attention.TransformerBlock`), and classified from the final class token.
"""

from __future__ import annotations

import torch
from torch import nn

from mlpzoo.errors import ConfigError
from mlpzoo.layers.attention import TransformerBlock
from mlpzoo.registry import register_model

__all__ = ["PatchEmbedding", "VisionTransformer", "min_transformer", "vit_standard"]


class PatchEmbedding(nn.Module):
    """Non-overlapping ``patch_size`` patches of a fixed-size image, each mapped linearly to ``dim``."""

    def __init__(self, image_size: int, patch_size: int, in_channels: int, dim: int):
        super().__init__()
        if image_size % patch_size:
            raise ConfigError(f"patch_size = {patch_size} must divide image_size = {image_size}")
        self.image_size, self.in_channels = image_size, in_channels
        self.num_patches = (image_size // patch_size) ** 2
        self.proj = nn.Conv2d(in_channels, dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        expected = (self.in_channels, self.image_size, self.image_size)
        if x.dim() != 4 or tuple(x.shape[1:]) != expected:
            what = "channels" if x.dim() == 4 and x.shape[1] != self.in_channels else "image size"
            raise ConfigError(
                f"expected images of shape (batch, {', '.join(map(str, expected))}), got {tuple(x.shape)} "
                f"(wrong {what}); build the model with image_size= and in_channels= to match"
            )
        return self.proj(x).flatten(2).transpose(1, 2)


class VisionTransformer(nn.Module):
    """Patch embedding, class token, position embedding, ``depth`` blocks, LayerNorm, linear head.

    Args:
        image_size, in_channels, num_classes: input and output sizes (Fashion-MNIST: 28, 1, 10).
        patch_size: side of a patch (4). dim: token width. depth: number of blocks. heads: attention heads.
        similarity: ``separate`` | ``collapsed`` | ``symmetric`` (see :class:`~mlpzoo.layers.attention.SelfAttention`).
        value_output: keep ``W_v`` and ``W_o``. mlp_ratio: MLP inner width / ``dim``; 0 drops the MLP.
    """

    def __init__(
        self,
        image_size: int = 28,
        in_channels: int = 1,
        num_classes: int = 10,
        patch_size: int = 4,
        dim: int = 64,
        depth: int = 4,
        heads: int = 4,
        similarity: str = "separate",
        value_output: bool = True,
        mlp_ratio: float = 4.0,
    ):
        super().__init__()
        self.num_classes = num_classes
        self.patch_embed = PatchEmbedding(image_size, patch_size, in_channels, dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, self.patch_embed.num_patches + 1, dim) * 0.02)
        self.blocks = nn.Sequential(
            *(TransformerBlock(dim, heads, similarity, value_output, mlp_ratio) for _ in range(depth))
        )
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward_features(self, batch) -> torch.Tensor:
        x = batch["x"] if isinstance(batch, dict) else batch
        tokens = self.patch_embed(x)
        tokens = torch.cat([self.cls_token.expand(tokens.shape[0], -1, -1), tokens], dim=1) + self.pos_embed
        return self.norm(self.blocks(tokens))

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(features[:, 0])

    def forward(self, batch) -> torch.Tensor:
        return self.forward_head(self.forward_features(batch))


def _example() -> tuple[dict, tuple]:
    """Two 8-pixel grey images in four patches, width 8 with two heads."""
    images = torch.randn(2, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    return {"image_size": 8, "num_classes": 3, "dim": 8, "depth": 2, "heads": 2}, (images,)


@register_model("vit_standard", family="transformer", paper="min-transformer", example=_example)
def vit_standard(image_size: int = 28, in_channels: int = 1, num_classes: int = 10, **kwargs) -> VisionTransformer:
    """The standard ViT block: ``W_q``, ``W_k``, ``W_v``, ``W_o`` and an MLP of ratio 4."""
    return VisionTransformer(image_size, in_channels, num_classes, **kwargs)


@register_model("min_transformer", family="transformer", paper="min-transformer", example=_example)
def min_transformer(
    image_size: int = 28,
    in_channels: int = 1,
    num_classes: int = 10,
    similarity: str = "symmetric",
    value_output: bool = False,
    mlp_ratio: float = 0.0,
    **kwargs,
) -> VisionTransformer:
    """The minimal transformer: by default attention only, symmetric ``L L^T`` similarity, no ``W_v``/``W_o``."""
    return VisionTransformer(
        image_size,
        in_channels,
        num_classes,
        similarity=similarity,
        value_output=value_output,
        mlp_ratio=mlp_ratio,
        **kwargs,
    )
