"""Small MLP heads of imaging systems: EMLP (illuminant estimation) and DN-PIQA's quality regressor.

- EMLP (``emlp``): Afifi, Hu and Liang, "Optimizing Illuminant Estimation in Dual-Exposure HDR
  Imaging", ECCV 2024, arXiv:2403.02449. A long and a short exposure of a scene give the dual-exposure
  feature (DEF, :func:`mlpzoo.layers.imaging.dual_exposure_feature`); an MLP of a few hundred parameters
  (the paper's has about 350) maps it, with simple chromaticity cues of the frames, to the illuminant's
  colour. Ours: DEF (9) + grey-world chromaticity of both frames (6) + white-patch chromaticity of the
  short frame (3) -> 16 ReLU units -> log-RGB of the light (355 parameters). With ``use_def=False`` the
  same MLP reads the single-frame cues only (the ablation; ``hidden=27`` gives it the same size).
- DN-PIQA (``dn_piqa``): Sun et al., "Dual-Branch Network for Portrait Image Quality Assessment",
  CVPR 2024 workshops (NTIRE portrait quality challenge), code github.com/sunwei925/DN-PIQA. Two branches
  read quality-aware features of the whole image and of a crop of its subject (a face in the paper);
  their outputs are concatenated and an MLP regresses the quality score. The paper's branches are
  Swin-B backbones pre-trained on LSVQ and GFIQA plus LIQE features, none of which exist offline here;
  ours take hand-made quality features (:func:`mlpzoo.methods.quality.quality_features`) per branch.

Both models standardise their inputs with buffers set from training data
(:meth:`EMLP.set_input_scaling`, :meth:`DualBranchIQA.set_input_scaling`); buffers are not parameters.
"""

from __future__ import annotations

import torch
from torch import nn

from mlpzoo.errors import ConfigError, DataError
from mlpzoo.layers.imaging import (
    check_frames,
    dual_exposure_feature,
    max_chromaticity,
    mean_chromaticity,
)
from mlpzoo.layers.mlp import MLP, check_features
from mlpzoo.registry import register_model

__all__ = ["EMLP", "DualBranchIQA", "emlp", "dn_piqa"]


def _tensor(batch) -> torch.Tensor:
    return batch["x"] if isinstance(batch, dict) else batch


class _InputScaling(nn.Module):
    """``(x - mean) / scale`` with buffers fitted on training inputs (identity until fitted)."""

    def __init__(self, width: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(width))
        self.register_buffer("scale", torch.ones(width))

    def fit(self, x: torch.Tensor) -> None:
        self.mean.copy_(x.mean(0))
        self.scale.copy_(x.std(0).clamp_min(1e-4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.scale


class EMLP(nn.Module):
    """Exposure-based MLP: ``frames (B, 2, 3, H, W)`` (long, short) -> illuminant ``(B, 3)``, unit length.

    Args:
        hidden: width of the hidden layer (16 gives 355 parameters with the DEF).
        use_def: read the dual-exposure feature; False leaves the single-frame cues (an ablation).
        min_sum: short-frame pixels darker than this (r + g + b) are left out of the DEF fit.
    """

    def __init__(self, hidden: int = 16, use_def: bool = True, min_sum: float = 0.01):
        super().__init__()
        self.use_def, self.min_sum = bool(use_def), float(min_sum)
        self.in_features = 9 * self.use_def + 9
        self.scaling = _InputScaling(self.in_features)
        self.mlp = MLP(self.in_features, [hidden], 3)

    def features(self, frames: torch.Tensor) -> torch.Tensor:
        """The MLP's input: [DEF (9)], grey-world chromaticity of long and short, white-patch of short."""
        check_frames(frames, type(self).__name__)
        long, short = frames[:, 0], frames[:, 1]
        cues = [mean_chromaticity(long), mean_chromaticity(short), max_chromaticity(short)]
        if self.use_def:
            cues.insert(0, dual_exposure_feature(long, short, self.min_sum).flatten(1))
        return torch.cat(cues, 1)

    def set_input_scaling(self, frames: torch.Tensor) -> None:
        """Standardise the MLP's inputs with the statistics of training ``frames``."""
        with torch.no_grad():
            self.scaling.fit(self.features(frames))

    def forward(self, batch) -> torch.Tensor:
        log_rgb = self.mlp(self.scaling(self.features(_tensor(batch))))
        light = torch.exp(log_rgb.clamp(-10, 10))
        return light / light.norm(dim=-1, keepdim=True)


class DualBranchIQA(nn.Module):
    """Two branches (whole image, subject crop) -> concatenation -> MLP -> quality score ``(B,)``.

    Input ``x``: ``(B, 2 * feature_dim)``, the whole image's features then the crop's.

    Args:
        feature_dim: features per branch.
        branch_dim: width of each branch's projection (Linear + ReLU).
        hidden: hidden width of the regressor.
        dropout: dropout in the branches and the regressor.
    """

    def __init__(self, feature_dim: int, branch_dim: int = 32, hidden: int = 64, dropout: float = 0.1):
        super().__init__()
        if isinstance(feature_dim, bool) or not isinstance(feature_dim, int) or feature_dim < 1:
            raise ConfigError(f"DualBranchIQA feature_dim={feature_dim!r}; pass the number of features per branch")
        self.feature_dim = feature_dim
        self.scaling = _InputScaling(2 * feature_dim)
        self.whole = MLP(feature_dim, [branch_dim], dropout=dropout)
        self.crop = MLP(feature_dim, [branch_dim], dropout=dropout)
        self.regressor = MLP(2 * branch_dim, [hidden], 1, dropout=dropout)

    def set_input_scaling(self, x: torch.Tensor) -> None:
        self.scaling.fit(x)

    def forward(self, batch) -> torch.Tensor:
        x = _tensor(batch)
        check_features(x, 2 * self.feature_dim, type(self).__name__)
        if x.dim() != 2:
            raise DataError(f"{type(self).__name__} expects features (B, {2 * self.feature_dim}), got {tuple(x.shape)}")
        x = self.scaling(x)
        whole, crop = x[:, : self.feature_dim], x[:, self.feature_dim :]
        return self.regressor(torch.cat([self.whole(whole), self.crop(crop)], 1)).squeeze(-1)


def _emlp_example():
    generator = torch.Generator().manual_seed(0)
    long = torch.rand(2, 3, 8, 8, generator=generator)
    frames = torch.stack([long, long / 4 + 0.01 * torch.rand(2, 3, 8, 8, generator=generator)], 1)
    return {"hidden": 8}, (frames,)


@register_model("emlp", family="imaging", paper="emlp", example=_emlp_example)
def emlp(**kwargs) -> EMLP:
    return EMLP(**kwargs)


def _dn_piqa_example():
    features = torch.randn(3, 2 * 6, generator=torch.Generator().manual_seed(0))
    return {"feature_dim": 6, "branch_dim": 4, "hidden": 8}, (features,)


@register_model("dn_piqa", family="imaging", paper="dn-piqa", example=_dn_piqa_example)
def dn_piqa(**kwargs) -> DualBranchIQA:
    return DualBranchIQA(**kwargs)
