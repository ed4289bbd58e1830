"""Towers that map one modality into a shared space, and the gate that mixes reward objectives.

- :class:`BagOfNgramsTower`: a text tower that averages learned embeddings of a caption's word
  n-grams (padding id 0 left out) and passes the mean through an MLP (the bag-of-words / n-gram text
  models of "Deep Learning Applied to Image and Text Matching", 2015).
- :class:`ConvImageTower`: a small convolutional image tower (three conv-BN-ReLU stages, global
  average pooling, a linear projection).
- :class:`ObjectiveGate`: an MLP from a prompt embedding to non-negative weights over ``K`` reward
  objectives that sum to one (ArmoRM's gating network, Wang et al. 2024, arXiv:2406.12845).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from mlpzoo.errors import DataError
from mlpzoo.layers.mlp import MLP, check_features, check_width


class BagOfNgramsTower(nn.Module):
    """``MLP(mean of the embeddings of the non-padding ids)``: ids ``(B, L)`` -> ``(B, out_dim)``.

    Args:
        vocab_size: ids run over ``0..vocab_size-1``; id 0 pads and is left out of the mean.
        embed_dim: width of each n-gram embedding.
        hidden_units: the MLP's hidden widths. out_dim: width of the shared space.
    """

    def __init__(self, vocab_size: int, embed_dim: int, hidden_units: Sequence[int], out_dim: int):
        super().__init__()
        check_width("BagOfNgramsTower", "vocab_size", vocab_size)
        self.vocab_size = vocab_size
        self.embedding = nn.EmbeddingBag(vocab_size, embed_dim, mode="mean", padding_idx=0)
        self.mlp = MLP(embed_dim, hidden_units, out_dim)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if ids.dim() != 2 or ids.dtype != torch.long:
            raise DataError(
                f"BagOfNgramsTower expects token ids (batch, length) of dtype long, got {tuple(ids.shape)} "
                f"{ids.dtype}; encode captions with Vocabulary.encode_all"
            )
        if (ids != 0).sum(1).eq(0).any():
            raise DataError("BagOfNgramsTower: a caption has no token (all padding); drop empty captions first")
        return self.mlp(self.embedding(ids))


class ConvImageTower(nn.Module):
    """``[conv3x3 -> BN -> ReLU -> maxpool2] * len(channels)``, global average pooling, linear to ``out_dim``."""

    def __init__(self, in_channels: int = 3, channels: Sequence[int] = (32, 64, 128), out_dim: int = 128):
        super().__init__()
        stages, width = [], in_channels
        for c in channels:
            check_width("ConvImageTower", "channels entry", c)
            stages += [nn.Conv2d(width, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(), nn.MaxPool2d(2)]
            width = c
        self.features = nn.Sequential(*stages)
        self.project = nn.Linear(width, out_dim)
        self.in_channels = in_channels

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.dim() != 4 or images.shape[1] != self.in_channels or not images.is_floating_point():
            raise DataError(
                f"ConvImageTower expects float images (batch, {self.in_channels}, H, W), got {tuple(images.shape)} "
                f"{images.dtype}; scale uint8 images to floats first"
            )
        return self.project(self.features(images).mean(dim=(2, 3)))


class ObjectiveGate(nn.Module):
    """Prompt embedding ``(B, D)`` -> objective weights ``(B, K)``, each row non-negative and summing to one.

    ``hidden_units`` empty gives a prompt-independent gate: learned logits shared by every prompt
    (fixed learned weights, the baseline a per-prompt gate must beat).
    """

    def __init__(self, prompt_dim: int, objectives: int, hidden_units: Sequence[int] = (256, 256)):
        super().__init__()
        check_width("ObjectiveGate", "objectives", objectives)
        self.prompt_dim = prompt_dim
        self.per_prompt = len(hidden_units) > 0
        if self.per_prompt:
            self.mlp = MLP(prompt_dim, hidden_units, objectives)
        else:
            self.logits = nn.Parameter(torch.zeros(objectives))

    def forward(self, prompt: torch.Tensor) -> torch.Tensor:
        check_features(prompt, self.prompt_dim, "ObjectiveGate", name="prompt embedding")
        if self.per_prompt:
            return torch.softmax(self.mlp(prompt), dim=-1)
        return torch.softmax(self.logits, dim=-1).expand(prompt.shape[0], -1)
