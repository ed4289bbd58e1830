"""Multi-head self-attention with the reductions of the minimal transformer, and its block.

Bermeitinger, Hrycej, Pavone, Kath & Handschuh, "Reducing the Transformer Architecture to a
Minimum", 2024, arXiv:2410.13732. Three similarity measures between tokens ``x_i, x_j``:

- ``separate`` (the original): ``(x_i W_q)(x_j W_k)^T``, ``W_q, W_k`` of ``dim x dim``.
- ``collapsed``: ``x_i W_qk x_j^T`` with one matrix ``W_qk`` in place of ``W_q W_k^T``.
- ``symmetric``: ``x_i L L^T x_j^T`` with a lower-triangular ``L``: a symmetric (positive
  semi-definite) similarity with half the parameters of ``W_qk``.

``value_output=False`` drops ``W_v`` and ``W_o``: each head returns the attention-weighted sum of
its own slice of the input. In the reduced modes, heads split the features into ``heads``
slices of ``dim / heads`` and each head has its own ``W_qk`` or ``L`` on its slice (so more
heads means fewer parameters); this is our reading, the abstract does not fix the multi-head form.
All modes run on :func:`torch.nn.functional.scaled_dot_product_attention` (scale ``1/sqrt(dim/heads)``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from mlpzoo.errors import ConfigError
from mlpzoo.layers.hourglass import ResidualMLPBlock

__all__ = ["SIMILARITIES", "SelfAttention", "TransformerBlock"]

SIMILARITIES = ("separate", "collapsed", "symmetric")


class SelfAttention(nn.Module):
    """Self-attention over ``(B, N, dim)`` tokens.

    Args:
        dim: token width. heads: number of heads (must divide ``dim``).
        similarity: ``separate`` (``W_q``, ``W_k``), ``collapsed`` (``W_qk``) or ``symmetric`` (``L L^T``).
        value_output: keep ``W_v`` and the output projection ``W_o`` (default True, the original).
        bias: biases on the ``W_q``/``W_k``/``W_v``/``W_o`` projections (default True, as in ViT).
    """

    def __init__(
        self, dim: int, heads: int = 1, similarity: str = "separate", value_output: bool = True, bias: bool = True
    ):
        super().__init__()
        if similarity not in SIMILARITIES:
            raise ConfigError(f"SelfAttention: similarity = {similarity!r}; use one of {', '.join(SIMILARITIES)}")
        if heads < 1 or dim % heads:
            raise ConfigError(f"SelfAttention: heads = {heads} must be at least 1 and divide dim = {dim}")
        self.dim, self.heads, self.head_dim = dim, heads, dim // heads
        self.similarity, self.value_output = similarity, value_output
        d = self.head_dim
        if similarity == "separate":
            self.query = nn.Linear(dim, dim, bias=bias)
            self.key = nn.Linear(dim, dim, bias=bias)
        elif similarity == "collapsed":
            self.w_qk = nn.Parameter(torch.randn(heads, d, d) / math.sqrt(d))
        else:
            rows, cols = torch.tril_indices(d, d)
            self.register_buffer("tril_index", rows * d + cols, persistent=False)
            self.l_packed = nn.Parameter(torch.randn(heads, rows.numel()) / math.sqrt(d))
        if value_output:
            self.value = nn.Linear(dim, dim, bias=bias)
            self.out = nn.Linear(dim, dim, bias=bias)

    def lower_triangular(self) -> torch.Tensor:
        """``L`` per head, ``(heads, d, d)``, built from the packed free entries."""
        d = self.head_dim
        flat = self.l_packed.new_zeros(self.heads, d * d)
        flat = flat.scatter(1, self.tril_index.expand(self.heads, -1), self.l_packed)
        return flat.view(self.heads, d, d)

    def similarity_matrix(self) -> torch.Tensor:
        """The per-head bilinear form ``W`` with similarity ``x_i W x_j^T`` (reduced modes only)."""
        if self.similarity == "collapsed":
            return self.w_qk
        if self.similarity == "symmetric":
            lower = self.lower_triangular()
            return lower @ lower.transpose(1, 2)
        raise ConfigError("similarity_matrix() exists for the collapsed and symmetric modes only")

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        return x.view(b, n, self.heads, self.head_dim).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3 or x.shape[-1] != self.dim:
            raise ConfigError(f"SelfAttention expects tokens (batch, tokens, {self.dim}), got shape {tuple(x.shape)}")
        b, n, _ = x.shape
        values = self._split(self.value(x)) if self.value_output else self._split(x)
        if self.similarity == "separate":
            query, key = self._split(self.query(x)), self._split(self.key(x))
        else:
            slices = self._split(x)  # (B, H, N, d): each head compares tokens in its own slice
            if self.similarity == "collapsed":
                query, key = slices @ self.w_qk.unsqueeze(0), slices
            else:
                query = key = slices @ self.lower_triangular().unsqueeze(0)
        mixed = F.scaled_dot_product_attention(query, key, values)
        mixed = mixed.transpose(1, 2).reshape(b, n, self.dim)
        return self.out(mixed) if self.value_output else mixed


class TransformerBlock(nn.Module):
    """Pre-norm block ``x + attn(LN(x))``, then ``x + W2 gelu(W1 LN(x))`` unless ``mlp_ratio`` is 0.

    Args:
        dim, heads, similarity, value_output, bias: as for :class:`SelfAttention`.
        mlp_ratio: inner width of the MLP as a multiple of ``dim`` (4, as in ViT); 0 leaves the MLP out.
    """

    def __init__(
        self,
        dim: int,
        heads: int = 1,
        similarity: str = "separate",
        value_output: bool = True,
        mlp_ratio: float = 4.0,
        bias: bool = True,
    ):
        super().__init__()
        if mlp_ratio < 0:
            raise ConfigError(f"TransformerBlock: mlp_ratio = {mlp_ratio} must be >= 0 (0 leaves the MLP out)")
        self.norm = nn.LayerNorm(dim)
        self.attention = SelfAttention(dim, heads, similarity, value_output, bias)
        self.mlp = ResidualMLPBlock(dim, max(1, round(dim * mlp_ratio))) if mlp_ratio > 0 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(self.norm(x))
        return self.mlp(x) if self.mlp is not None else x
