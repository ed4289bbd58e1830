"""Hypernetworks: a small network that generates the weights of a target MLP.

- Chunked weight generation from learned embeddings: Ha, Dai & Le, "HyperNetworks", 2016,
  arXiv:1609.09106 (a shared generator maps one learned embedding per weight slice to that
  slice), in the chunked form of von Oswald et al., "Continual learning with hypernetworks",
  2020, arXiv:1906.00695 (the flat weight vector is cut into equal chunks, each with its own
  embedding, optionally concatenated with a task embedding).
- Survey and taxonomy: Chauhan et al., "A Brief Review of Hypernetworks in Deep Learning", 2023,
  arXiv:2306.06955 (catalog id ``hypernetworks``): inputs (layer or task embeddings), outputs
  (chunk-wise), static vs dynamic conditioning.

Trainable parameters are the chunk embeddings and the generator; the target network's weights
are outputs, so the count can be far below the target's. Generated weights are multiplied by
``1 / sqrt(fan_in)`` so that a generator with unit-variance output gives the usual initial scale.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import nn

Shape = tuple[int, ...]


def mlp_shapes(in_features: int, hidden: Sequence[int], out_features: int) -> list[tuple[Shape, int]]:
    """``(shape, fan_in)`` of every weight and bias of an MLP ``in -> hidden... -> out``, in order."""
    widths = [in_features, *hidden, out_features]
    shapes = []
    for a, b in pairwise(widths):
        shapes += [((b, a), a), ((b,), a)]
    return shapes


class ChunkedHyperNetwork(nn.Module):
    """Generates the tensors ``target`` (a list of ``(shape, fan_in)``) chunk by chunk.

    Args:
        target: shapes (and fan-ins) of the tensors to generate, e.g. :func:`mlp_shapes`.
        chunk_size: entries produced per generator call; the flat vector is cut into
            ``ceil(total / chunk_size)`` chunks, each with a learned embedding.
        chunk_embedding_dim: width of a chunk embedding.
        condition_dim: width of an optional conditioning vector (a task embedding) appended to
            every chunk embedding; 0 for a static hypernetwork.
        generator_hidden: hidden width of the two-layer ReLU generator.

    ``forward(condition=None)`` returns the list of tensors; with ``condition`` of shape
    ``(T, condition_dim)`` every tensor gets a leading task dimension ``T``.
    """

    def __init__(
        self,
        target: Sequence[tuple[Shape, int]],
        chunk_size: int = 256,
        chunk_embedding_dim: int = 8,
        condition_dim: int = 0,
        generator_hidden: int = 32,
    ):
        super().__init__()
        if chunk_size < 1 or chunk_embedding_dim < 1 or generator_hidden < 1 or condition_dim < 0:
            raise ValueError(
                f"ChunkedHyperNetwork needs chunk_size, chunk_embedding_dim, generator_hidden >= 1 and "
                f"condition_dim >= 0, got {chunk_size}, {chunk_embedding_dim}, {generator_hidden}, {condition_dim}"
            )
        self.shapes = [tuple(shape) for shape, _ in target]
        self.register_buffer(
            "scales", torch.tensor([1.0 / math.sqrt(fan_in) for _, fan_in in target]), persistent=False
        )
        self.sizes = [math.prod(shape) for shape in self.shapes]
        self.total = sum(self.sizes)
        self.chunk_size, self.condition_dim = chunk_size, condition_dim
        n_chunks = -(-self.total // chunk_size)
        self.chunk_embeddings = nn.Parameter(torch.randn(n_chunks, chunk_embedding_dim))
        self.hidden = nn.Linear(chunk_embedding_dim + condition_dim, generator_hidden)
        self.out = nn.Linear(generator_hidden, chunk_size)
        # Unit-variance generated entries at initialisation (ReLU halves the second moment).
        nn.init.normal_(self.hidden.weight, std=math.sqrt(2.0 / (chunk_embedding_dim + condition_dim)))
        nn.init.normal_(self.out.weight, std=math.sqrt(1.0 / generator_hidden))
        nn.init.zeros_(self.hidden.bias)
        nn.init.zeros_(self.out.bias)

    def forward(self, condition: torch.Tensor | None = None) -> list[torch.Tensor]:
        z = self.chunk_embeddings
        lead: tuple[int, ...] = ()
        if condition is not None:
            if condition.dim() != 2 or condition.shape[1] != self.condition_dim:
                raise ValueError(f"condition must be (T, {self.condition_dim}), got {tuple(condition.shape)}")
            lead = (condition.shape[0],)
            z = torch.cat([z.expand(*lead, *z.shape), condition[:, None, :].expand(-1, z.shape[0], -1)], dim=-1)
        elif self.condition_dim:
            raise ValueError(f"this hypernetwork is conditioned: pass a condition of shape (T, {self.condition_dim})")
        flat = self.out(F.relu(self.hidden(z))).flatten(-2)[..., : self.total]
        pieces = torch.split(flat, self.sizes, dim=-1)
        return [
            piece.reshape(*lead, *shape) * self.scales[i] for i, (piece, shape) in enumerate(zip(pieces, self.shapes))
        ]


def functional_mlp(x: torch.Tensor, params: Sequence[torch.Tensor], activation=F.relu) -> torch.Tensor:
    """An MLP given its weights and biases ``[W1, b1, W2, b2, ...]`` (activation between layers).

    Unbatched weights ``W (out, in)`` act on ``x (B, in)``; task-batched weights ``W (T, out, in)``
    act on ``x (T, K, in)`` with one batched matmul per layer.
    """
    layers = len(params) // 2
    for i in range(layers):
        weight, bias = params[2 * i], params[2 * i + 1]
        if weight.dim() == 2:
            x = F.linear(x, weight, bias)
        else:
            x = torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2))
        if i < layers - 1:
            x = activation(x)
    return x
