"""Dynamic Spectrum Mixer: token mixing in the DCT domain with content-dependent spectrum weights.

Hu and Zhang, "Dynamic Spectrum Mixer for Visual Recognition", 2023, arXiv:2309.06721.
The token grid of each channel is taken to the frequency domain by a 2-D DCT-II, each
frequency is scaled by a weight generated from the image itself (the dynamic spectrum weight
generation layer: ``num_bases`` learned spectrum weight maps, mixed per channel by a softmax
over coefficients computed from the globally pooled features), and taken back by the inverse
DCT. The DCTs are matrix products with the orthonormal DCT-II matrices (``O(N (H + W))`` per
channel for ``N = H W`` tokens; an FFT-based DCT would give the paper's ``O(N log N)``, which
does not pay at CIFAR sizes).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from mlpzoo.layers.mixing import PreNormResidual, channel_mlp


def dct_matrix(n: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Orthonormal DCT-II matrix ``D`` (``n x n``): ``D @ x`` equals ``scipy.fft.dct(x, norm="ortho")``; ``D.T``
    inverts it."""
    k = torch.arange(n, dtype=torch.float64).view(-1, 1)
    i = torch.arange(n, dtype=torch.float64).view(1, -1)
    d = torch.cos(math.pi * (2 * i + 1) * k / (2 * n)) * math.sqrt(2.0 / n)
    d[0] /= math.sqrt(2.0)
    return d.to(dtype)


def dct2(x: torch.Tensor, dh: torch.Tensor, dw: torch.Tensor) -> torch.Tensor:
    """2-D DCT over the H and W axes of channels-last ``(B, H, W, C)``."""
    return torch.einsum("kh,bhwc,lw->bklc", dh, x, dw)


def idct2(x: torch.Tensor, dh: torch.Tensor, dw: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`dct2` (the matrices are orthogonal)."""
    return torch.einsum("kh,bklc,lw->bhwc", dh, x, dw)


class DynamicSpectrumMixing(nn.Module):
    """DCT -> content-dependent spectrum weights -> inverse DCT -> linear, on ``(B, H, W, C)``."""

    def __init__(self, dim: int, height: int, width: int, num_bases: int = 4, reduction: int = 4):
        super().__init__()
        self.dim, self.num_bases = dim, num_bases
        self.register_buffer("dh", dct_matrix(height), persistent=False)
        self.register_buffer("dw", dct_matrix(width), persistent=False)
        # Bases start near 1 (identity mixing), with noise so that they can specialise.
        self.bases = nn.Parameter(1.0 + 0.02 * torch.randn(num_bases, height, width, dim))
        hidden = max(dim // reduction, 4)
        self.coefficients = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, num_bases * dim))
        self.proj = nn.Linear(dim, dim)

    def spectrum_weights(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, H, W, C)`` weights: per image and channel, a softmax mixture of the learned bases."""
        b, c = x.shape[0], x.shape[-1]
        mix = torch.softmax(self.coefficients(x.mean(dim=(1, 2))).view(b, self.num_bases, c), dim=1)
        return torch.einsum("bkc,khwc->bhwc", mix, self.bases)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spectrum = dct2(x, self.dh, self.dw) * self.spectrum_weights(x)
        return self.proj(idct2(spectrum, self.dh, self.dw))


class DynamicSpectrumBlock(nn.Sequential):
    """Dynamic spectrum mixing then a channel MLP, each pre-norm with a residual connection."""

    def __init__(self, dim: int, height: int, width: int, channel_hidden: int, num_bases: int = 4):
        super().__init__(
            PreNormResidual(dim, DynamicSpectrumMixing(dim, height, width, num_bases)),
            PreNormResidual(dim, channel_mlp(dim, channel_hidden)),
        )
