"""KAT: a vision transformer whose MLPs are group-rational KANs, and the ViT it is compared with.

Yang & Wang, "Kolmogorov-Arnold Transformer", 2024, arXiv:2409.10594 (catalog id ``kat``;
code github.com/Adamdad/kat). KAT keeps the ViT of Dosovitskiy et al. (arXiv:2010.11929) and
DeiT (arXiv:2012.12877), pre-norm blocks of multi-head attention and a channel mixer, and
replaces every two-layer MLP ``fc1 -> GELU -> fc2`` by a two-layer GR-KAN
``rational -> fc1 -> rational -> fc2`` (:class:`~mlpzoo.layers.kan.GRKANLinear`): the first
rational starts as the identity and the second as GELU (KAT's ``act_init=["identity", "gelu"]``),
each with 8 channel groups, and each following linear map gets KAT's variance-preserving init.
Everything else (patch embedding :class:`~mlpzoo.layers.patch.PatchEmbed`, class token, learned
position embedding, attention :class:`~mlpzoo.layers.attention.SelfAttention`) is the same in both models, so their
parameter counts differ only by the rationals'
coefficients (``2 * groups * 10`` per block).

Initialisation follows timm's ViT: linear weights truncated normal with std 0.02 and zero biases,
position embedding truncated normal 0.02, class token normal 1e-6; the GR-KAN linear maps keep
their variance-preserving init. No stochastic depth or dropout (the small CIFAR sizes here are
trained for few epochs; DeiT-T's drop path 0.1 is a regulariser for 300 epochs).

Models read ``batch["x"]`` (``(B, C, H, W)`` float images, or the tensor itself) and return
class logits ``(B, num_classes)``.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from mlpzoo.errors import ConfigError
from mlpzoo.layers.attention import SelfAttention
from mlpzoo.layers.kan import GRKANLinear
from mlpzoo.layers.patch import PatchEmbed
from mlpzoo.registry import register_model

MIXERS = ("gelu", "grkan")


class GeluMlp(nn.Module):
    """ViT's channel mixer ``fc1 -> GELU -> fc2``."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class GRKANMlp(nn.Module):
    """KAT's channel mixer ``rational(identity) -> fc1 -> rational(act_init) -> fc2`` (two GR-KAN layers)."""

    def __init__(self, dim: int, hidden: int, groups: int = 8, act_init: str = "gelu"):
        super().__init__()
        for name, width in (("embed_dim", dim), ("hidden width", hidden)):
            if width % groups:
                raise ConfigError(f"groups={groups} must divide the {name} {width}; pick a divisor of {width}")
        self.fc1 = GRKANLinear(dim, hidden, groups=groups, init="identity")
        self.fc2 = GRKANLinear(hidden, dim, groups=groups, init=act_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.fc1(x))


class Block(nn.Module):
    """Pre-norm transformer block: ``x + attn(LN(x))``, then ``x + mixer(LN(x))``."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, mixer: str, groups: int, act_init: str):
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = SelfAttention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = GRKANMlp(dim, hidden, groups, act_init) if mixer == "grkan" else GeluMlp(dim, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class VisionTransformer(nn.Module):
    """ViT with a class token; ``mixer="grkan"`` makes it a KAT.

    Args:
        img_size, patch_size, in_chans: image side, patch side (must divide it) and channels.
        num_classes: classifier outputs.
        embed_dim, depth, num_heads, mlp_ratio: width, blocks, attention heads (must divide the
            width) and hidden width / embed_dim of the channel mixer.
        mixer: ``gelu`` (ViT/DeiT MLP) or ``grkan`` (KAT).
        groups: rational groups of every GR-KAN layer (KAT: 8); must divide the widths.
        act_init: start function of the second rational (``gelu`` in KAT, or ``silu``).
    """

    def __init__(
        self,
        img_size: int = 32,
        patch_size: int = 4,
        in_chans: int = 3,
        num_classes: int = 10,
        embed_dim: int = 96,
        depth: int = 6,
        num_heads: int = 3,
        mlp_ratio: float = 4.0,
        mixer: str = "gelu",
        groups: int = 8,
        act_init: str = "gelu",
    ):
        super().__init__()
        if mixer not in MIXERS:
            raise ConfigError(f"mixer={mixer!r} is unknown; choose one of {', '.join(MIXERS)}")
        sizes = {
            "img_size": img_size,
            "patch_size": patch_size,
            "in_chans": in_chans,
            "num_classes": num_classes,
            "embed_dim": embed_dim,
            "depth": depth,
            "num_heads": num_heads,
        }
        for name, value in sizes.items():
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name}={value!r}; pass a positive integer")
        if int(embed_dim * mlp_ratio) < 1:
            raise ConfigError(f"mlp_ratio={mlp_ratio} leaves no hidden units; pass mlp_ratio > 0")
        if img_size % patch_size:
            raise ConfigError(f"patch_size={patch_size} must divide img_size={img_size}; pick a divisor of {img_size}")
        self.mixer, self.num_classes, self.embed_dim = mixer, num_classes, embed_dim
        self.image_shape = (in_chans, img_size, img_size)
        self.patch_embed = PatchEmbed(in_chans, embed_dim, patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, (img_size // patch_size) ** 2 + 1, embed_dim))
        self.blocks = nn.Sequential(
            *(Block(embed_dim, num_heads, mlp_ratio, mixer, groups, act_init) for _ in range(depth))
        )
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        self.head = nn.Linear(embed_dim, num_classes)
        self._init_weights()

    @torch.no_grad()
    def _init_weights(self) -> None:
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.normal_(self.cls_token, std=1e-6)
        kan_linears = {id(m.linear) for m in self.modules() if isinstance(m, GRKANLinear)}
        for module in self.modules():
            if isinstance(module, nn.Linear) and id(module) not in kan_linears:
                nn.init.trunc_normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Images ``(B, C, H, W)`` -> normalised tokens ``(B, 1 + patches, embed_dim)``, class token first."""
        if x.dim() != 4 or tuple(x.shape[1:]) != self.image_shape:
            raise ConfigError(
                f"images must be (B, {', '.join(map(str, self.image_shape))}), got {tuple(x.shape)}; "
                f"resize the data or build the model with img_size/in_chans to match"
            )
        tokens = self.patch_embed(x).flatten(1, 2)  # (B, H/p, W/p, dim) -> (B, patches, dim)
        tokens = torch.cat([self.cls_token.expand(tokens.shape[0], -1, -1), tokens], dim=1) + self.pos_embed
        return self.norm(self.blocks(tokens))

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(features[:, 0])

    def reset_classifier(self, num_classes: int) -> None:
        self.num_classes = num_classes
        self.head = nn.Linear(self.embed_dim, num_classes)

    def forward(self, batch) -> torch.Tensor:
        x = batch["x"] if isinstance(batch, dict) else batch
        return self.forward_head(self.forward_features(x))


def _example() -> tuple[dict, tuple]:
    """Two 8-pixel images in four patches; width 16 with two heads, mixer width 32 (KAT's 8 groups divide both)."""
    images = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    return {"img_size": 8, "num_classes": 3, "embed_dim": 16, "depth": 2, "num_heads": 2, "mlp_ratio": 2.0}, (images,)


@register_model("kat", family="vision", paper="kat", example=_example)
def kat(
    img_size: int = 32,
    patch_size: int = 4,
    in_chans: int = 3,
    num_classes: int = 10,
    embed_dim: int = 96,
    depth: int = 6,
    num_heads: int = 3,
    mlp_ratio: float = 4.0,
    groups: int = 8,
    act_init: str = "gelu",
) -> VisionTransformer:
    """KAT for 32-pixel images: KAT-T's layout (heads of 32 channels, mlp ratio 4) at width 96 and depth 6."""
    return VisionTransformer(
        img_size,
        patch_size,
        in_chans,
        num_classes,
        embed_dim,
        depth,
        num_heads,
        mlp_ratio,
        mixer="grkan",
        groups=groups,
        act_init=act_init,
    )


@register_model("kat_vit", family="vision", paper="kat", example=_example)
def kat_vit(
    img_size: int = 32,
    patch_size: int = 4,
    in_chans: int = 3,
    num_classes: int = 10,
    embed_dim: int = 96,
    depth: int = 6,
    num_heads: int = 3,
    mlp_ratio: float = 4.0,
) -> VisionTransformer:
    """The ViT (DeiT) of the same sizes as :func:`kat`, with GELU MLPs: KAT's baseline."""
    return VisionTransformer(
        img_size, patch_size, in_chans, num_classes, embed_dim, depth, num_heads, mlp_ratio, mixer="gelu"
    )
