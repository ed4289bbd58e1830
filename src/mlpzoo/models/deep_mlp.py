"""Deep residual MLPs on flattened inputs: the Scaling-MLP, the Hourglass MLP and its baseline.

- Scaling-MLP (``scaling_mlp*``): Bachmann, Anagnostidis & Hofmann, "Scaling MLPs: A Tale of
  Inductive Bias", NeurIPS 2023, arXiv:2306.13575. The flattened image goes through a linear
  embedding to the "thin" width, ``depth`` inverted-bottleneck blocks
  ``x + W2 gelu(W1 LN(x))`` (thin -> 4 thin -> thin), LayerNorm and a linear classifier. Names
  follow the paper's ``B-depth/Wi-thin``: ``scaling_mlp_b12_wi1024`` is B-12/Wi-1024. The
  authors' code has no LayerNorm before the classifier; ``final_norm=False`` matches it exactly.
- Hourglass MLP (``hourglass_mlp``) and the conventional residual MLP (``residual_mlp``): Chen,
  Lee, Liao & Shiu, "Rethinking the shape convention of an MLP", 2025, arXiv:2510.01796. The
  hourglass lifts the input with a fixed random projection to a wide skip width ``dim`` and
  refines it with wide-narrow-wide blocks (``bottleneck < dim``); the conventional MLP keeps
  the skip at the input width and widens inside each block.

Every model reads ``batch["x"]`` (any shape ``(B, ...)``, flattened) and returns ``(B, out)``,
squeezed to ``(B,)`` when ``out_features == 1`` (the regression contract of :mod:`mlpzoo.tasks`).
"""

from __future__ import annotations

import torch
from torch import nn

from mlpzoo.errors import ConfigError
from mlpzoo.layers.hourglass import FixedRandomLift, ResidualMLPBlock
from mlpzoo.registry import register_model

__all__ = ["DeepResidualMLP", "ScalingMLP", "hourglass_mlp", "residual_mlp", "scaling_mlp"]

INPUT_PROJECTIONS = ("learned", "fixed", "identity")


def _tensor(batch) -> torch.Tensor:
    return batch["x"] if isinstance(batch, dict) else batch


class DeepResidualMLP(nn.Module):
    """``input projection -> depth x ResidualMLPBlock(dim, hidden) -> LN? -> Linear(dim, out)``.

    Args:
        in_features: width of the flattened input.
        out_features: outputs (classes, or pixels for denoising).
        dim: skip-connection width. hidden: inner width of every block. depth: number of blocks.
        input_projection: ``learned`` (``nn.Linear``), ``fixed`` (:class:`FixedRandomLift`, never
            trained) or ``identity`` (needs ``dim == in_features``).
        seed: seed of the fixed projection. activation: block activation (``gelu``).
        final_norm: LayerNorm before the output layer.
        output_projection: ``learned`` (``nn.Linear``) or ``identity`` (needs ``dim == out_features``
            and no final norm: a residual stream at the output width, e.g. a denoiser ``x + sum of updates``).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        dim: int,
        hidden: int,
        depth: int,
        input_projection: str = "learned",
        seed: int = 0,
        activation: str = "gelu",
        final_norm: bool = True,
        output_projection: str = "learned",
    ):
        super().__init__()
        if input_projection not in INPUT_PROJECTIONS:
            raise ConfigError(f"input_projection = {input_projection!r}; use one of {', '.join(INPUT_PROJECTIONS)}")
        if depth < 0:
            raise ConfigError(f"depth = {depth} must be at least 0")
        if input_projection == "identity" and dim != in_features:
            raise ConfigError(
                f"input_projection = 'identity' needs dim == in_features ({in_features}), got dim = {dim}"
            )
        if output_projection not in ("learned", "identity"):
            raise ConfigError(f"output_projection = {output_projection!r}; use learned or identity")
        if output_projection == "identity" and (dim != out_features or final_norm):
            raise ConfigError(
                f"output_projection = 'identity' needs dim == out_features ({out_features}, got {dim}) and "
                "final_norm=False"
            )
        self.in_features, self.out_features = in_features, out_features
        self.dim, self.hidden, self.depth = dim, hidden, depth
        self.embed = {
            "learned": lambda: nn.Linear(in_features, dim),
            "fixed": lambda: FixedRandomLift(in_features, dim, seed),
            "identity": nn.Identity,
        }[input_projection]()
        self.blocks = nn.Sequential(*(ResidualMLPBlock(dim, hidden, activation) for _ in range(depth)))
        self.norm = nn.LayerNorm(dim) if final_norm else nn.Identity()
        self.head = nn.Linear(dim, out_features) if output_projection == "learned" else nn.Identity()

    def flatten(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(x.shape[0], -1)
        if x.shape[1] != self.in_features:
            raise ConfigError(
                f"{type(self).__name__} expects {self.in_features} input features per sample, got {x.shape[1]}"
            )
        return x

    def forward_features(self, batch) -> torch.Tensor:
        return self.norm(self.blocks(self.embed(self.flatten(_tensor(batch)))))

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        out = self.head(features)
        return out.squeeze(-1) if self.out_features == 1 else out

    def forward(self, batch) -> torch.Tensor:
        return self.forward_head(self.forward_features(batch))


class ScalingMLP(DeepResidualMLP):
    """Bachmann et al.'s B-MLP on ``(B, C, H, W)`` images: thin width ``width``, blocks widen ``expansion`` x.

    Args:
        image_size: side of the square input image (32 for CIFAR-10; the paper pre-trains at 64).
        in_channels: image channels. num_classes: outputs.
        width: thin (skip) width. depth: number of blocks. expansion: inner width / thin width (4).
        final_norm: LayerNorm before the classifier (the authors' code has none).
    """

    def __init__(
        self,
        image_size: int = 32,
        in_channels: int = 3,
        num_classes: int = 10,
        width: int = 1024,
        depth: int = 6,
        expansion: int = 4,
        final_norm: bool = True,
    ):
        super().__init__(
            in_channels * image_size**2, num_classes, width, expansion * width, depth, "learned", final_norm=final_norm
        )
        self.image_size, self.in_channels = image_size, in_channels

    def flatten(self, x: torch.Tensor) -> torch.Tensor:
        expected = (self.in_channels, self.image_size, self.image_size)
        if x.dim() == 4 and tuple(x.shape[1:]) != expected:
            what = "channels" if x.shape[1] != self.in_channels else "image size"
            raise ConfigError(
                f"ScalingMLP expects images of shape (batch, {', '.join(map(str, expected))}); got "
                f"{tuple(x.shape)} (wrong {what}); build it with image_size= and in_channels= to match"
            )
        if x.dim() not in (2, 4):
            raise ConfigError(
                f"ScalingMLP expects (batch, C, H, W) images or (batch, C*H*W) rows, got shape {tuple(x.shape)}"
            )
        return super().flatten(x)


def _scaling_example() -> tuple[dict, tuple]:
    images = torch.randn(2, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    return {"image_size": 4, "num_classes": 3, "width": 8, "depth": 2}, (images,)


def _scaling_variant_example() -> tuple[dict, tuple]:
    """A named size keeps its published width and depth; a 4-pixel grey image and 1x blocks keep it small."""
    images = torch.randn(2, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    return {"image_size": 4, "in_channels": 1, "num_classes": 3, "expansion": 1}, (images,)


def _scaling(depth: int, width: int):
    def build(image_size: int = 32, in_channels: int = 3, num_classes: int = 10, **kwargs) -> ScalingMLP:
        return ScalingMLP(image_size, in_channels, num_classes, width=width, depth=depth, **kwargs)

    build.__doc__ = f"Scaling-MLP B-{depth}/Wi-{width} (Bachmann et al. 2023)."
    return build


@register_model("scaling_mlp", family="deep_mlp", paper="scaling-mlps", example=_scaling_example)
def scaling_mlp(
    image_size: int = 32, in_channels: int = 3, num_classes: int = 10, width: int = 1024, depth: int = 6, **kwargs
) -> ScalingMLP:
    """Scaling-MLP, B-6/Wi-1024 unless ``width``/``depth`` say otherwise."""
    return ScalingMLP(image_size, in_channels, num_classes, width=width, depth=depth, **kwargs)


for _depth, _width in ((6, 512), (12, 512), (6, 1024), (12, 1024)):
    register_model(
        f"scaling_mlp_b{_depth}_wi{_width}", family="deep_mlp", paper="scaling-mlps", example=_scaling_variant_example
    )(_scaling(_depth, _width))


def _hourglass_example() -> tuple[dict, tuple]:
    x = torch.randn(3, 6, generator=torch.Generator().manual_seed(0))
    return {"in_features": 6, "out_features": 3, "dim": 16, "bottleneck": 4, "depth": 2}, (x,)


@register_model("hourglass_mlp", family="deep_mlp", paper="hourglass", example=_hourglass_example)
def hourglass_mlp(
    in_features: int = 64,
    out_features: int = 10,
    dim: int = 512,
    bottleneck: int = 64,
    depth: int = 3,
    input_projection: str = "fixed",
    seed: int = 0,
    **kwargs,
) -> DeepResidualMLP:
    """Hourglass MLP: fixed random lift to ``dim``, ``depth`` wide-narrow-wide blocks (``bottleneck`` inside)."""
    if bottleneck >= dim:
        raise ConfigError(
            f"hourglass_mlp: bottleneck = {bottleneck} must be narrower than dim = {dim} (wide-narrow-wide)"
        )
    return DeepResidualMLP(in_features, out_features, dim, bottleneck, depth, input_projection, seed, **kwargs)


def _residual_example() -> tuple[dict, tuple]:
    x = torch.randn(3, 6, generator=torch.Generator().manual_seed(0))
    return {"in_features": 6, "out_features": 3, "hidden": 12, "depth": 2}, (x,)


@register_model("residual_mlp", family="deep_mlp", paper="hourglass", example=_residual_example)
def residual_mlp(
    in_features: int = 64, out_features: int = 10, hidden: int = 256, depth: int = 3, dim: int | None = None, **kwargs
) -> DeepResidualMLP:
    """Conventional residual MLP: skip at the input width (or a learned ``dim``), blocks widen to ``hidden``."""
    dim = in_features if dim is None else dim
    projection = "identity" if dim == in_features else "learned"
    return DeepResidualMLP(in_features, out_features, dim, hidden, depth, projection, **kwargs)
