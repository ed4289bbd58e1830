"""Image statistics that small imaging MLPs read: rgb-chromaticity and the dual-exposure feature.

The dual-exposure feature (DEF) is from Afifi, Hu and Liang, "Optimizing Illuminant Estimation in
Dual-Exposure HDR Imaging", ECCV 2024, arXiv:2403.02449: the 3 x 3 matrix that best maps the
rgb-chromaticities of the short exposure onto those of the long one (least squares, as in chromagenic
colour constancy). In linear raw data the two frames differ where the long one clips (a channel
saturates first in proportion to the light's colour) and where the short one drowns in noise, so the
map carries a trace of the illuminant.
"""

from __future__ import annotations

import torch

from mlpzoo.errors import DataError

EPS = 1e-6


def check_frames(frames: torch.Tensor, where: str) -> None:
    """Dual-exposure input: float ``(B, 2, 3, H, W)`` (long, short) raw frames with values in [0, 1]."""
    if not isinstance(frames, torch.Tensor) or not frames.is_floating_point():
        kind = frames.dtype if isinstance(frames, torch.Tensor) else type(frames).__name__
        raise DataError(
            f"{where}: frames must be a float tensor with values in [0, 1] (1 = white level), got {kind}; "
            "divide raw counts by the white level"
        )
    if frames.dim() != 5 or frames.shape[1:3] != (2, 3):
        raise DataError(
            f"{where}: frames must be (B, 2, 3, H, W): the long and the short RGB frame, got {tuple(frames.shape)}"
        )
    if frames.numel() and (float(frames.min()) < 0 or float(frames.max()) > 1):
        raise DataError(
            f"{where}: frame values must lie in [0, 1] (1 = white level), found "
            f"{float(frames.min()):.3g}..{float(frames.max()):.3g}; divide by the white level"
        )


def rgb_chromaticity(images: torch.Tensor) -> torch.Tensor:
    """``(B, 3, H, W)`` -> ``(B, H * W, 3)`` rgb-chromaticities ``c / (r + g + b)`` (zero where all are 0)."""
    pixels = images.flatten(2).transpose(1, 2)
    return pixels / pixels.sum(-1, keepdim=True).clamp_min(EPS)


def dual_exposure_feature(long: torch.Tensor, short: torch.Tensor, min_sum: float = 0.01) -> torch.Tensor:
    """The DEF: ``(B, 3, 3)`` matrices ``C = argmin ||chroma(short) C - chroma(long)||_F`` per image.

    Pixels whose short-frame r + g + b is below ``min_sum`` (dark, noise only) are left out of the fit; a
    small ridge term keeps the system solvable when few remain.
    """
    short_chroma, long_chroma = rgb_chromaticity(short), rgb_chromaticity(long)
    weight = (short.sum(1).flatten(1) >= min_sum).to(short.dtype).unsqueeze(-1)
    a, b = short_chroma * weight, long_chroma * weight
    gram = a.transpose(1, 2) @ a + 1e-4 * torch.eye(3, dtype=a.dtype, device=a.device)
    return torch.linalg.solve(gram, a.transpose(1, 2) @ b)


def mean_chromaticity(images: torch.Tensor) -> torch.Tensor:
    """Grey-world cue: the rgb-chromaticity of each image's mean colour, ``(B, 3)``."""
    mean = images.flatten(2).mean(-1)
    return mean / mean.sum(-1, keepdim=True).clamp_min(EPS)


def max_chromaticity(images: torch.Tensor, white_level: float = 0.98) -> torch.Tensor:
    """White-patch cue: the rgb-chromaticity of each channel's maximum over unclipped pixels, ``(B, 3)``."""
    pixels = images.flatten(2)
    unclipped = (pixels.amax(1, keepdim=True) < white_level).to(pixels.dtype)
    peak = (pixels * unclipped).amax(-1)
    peak = torch.where(peak.sum(-1, keepdim=True) > 0, peak, pixels.amax(-1))  # everything clipped: raw maxima
    return peak / peak.sum(-1, keepdim=True).clamp_min(EPS)
