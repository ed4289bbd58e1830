"""The modular-arithmetic MLP of Grokking Tickets.

Paper: Minegishi, Iwasawa & Matsuo, "Grokking Tickets: Lottery Tickets Accelerate Grokking",
2023, arXiv:2310.19470 (catalog id ``grokking-tickets``; their code: ``OnlyMLP`` in
github.com/gouki510/Grokking-Tickets). Tokens ``a`` and ``b`` are embedded (``d_emb`` = 500), the
two embeddings are summed, projected to ``d_model`` = 48 hidden ReLU units, projected back to
``d_emb`` and unembedded to ``p`` logits. No biases; every weight is drawn from
``N(0, 1 / fan_in)`` (the embedding's fan-in is the vocabulary ``p``), as in the paper's code.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from mlpzoo.errors import ConfigError
from mlpzoo.registry import register_model


class GrokkingMLP(nn.Module):
    """``logits = relu((E[a] + E[b]) W_in) W_out W_U``.

    Args:
        p: modulus (vocabulary and number of classes).
        d_emb: embedding width (500 in the paper).
        d_model: hidden ReLU units (48 in the paper).

    ``forward`` takes ``{"a": (B,), "b": (B,)}`` or an integer tensor ``(B, 2)``.
    """

    def __init__(self, p: int = 67, d_emb: int = 500, d_model: int = 48):
        super().__init__()
        if min(p, d_emb, d_model) < 1:
            raise ConfigError(f"GrokkingMLP p={p}, d_emb={d_emb}, d_model={d_model} must all be >= 1")
        self.p, self.d_emb, self.d_model = p, d_emb, d_model
        self.embed = nn.Parameter(torch.randn(p, d_emb) / math.sqrt(p))
        self.w_in = nn.Parameter(torch.randn(d_emb, d_model) / math.sqrt(d_emb))
        self.w_out = nn.Parameter(torch.randn(d_model, d_emb) / math.sqrt(d_model))
        self.unembed = nn.Parameter(torch.randn(d_emb, p) / math.sqrt(d_emb))

    def forward(self, batch) -> torch.Tensor:
        if isinstance(batch, dict):
            a, b = batch["a"], batch["b"]
        else:
            a, b = batch[:, 0], batch[:, 1]
        hidden = torch.relu((self.embed[a] + self.embed[b]) @ self.w_in)
        return hidden @ self.w_out @ self.unembed


def _example() -> tuple[dict, tuple]:
    pairs = torch.randint(0, 7, (3, 2), generator=torch.Generator().manual_seed(0))
    return {"p": 7, "d_emb": 8, "d_model": 4}, (pairs,)


@register_model("grokking_net", family="other", paper="grokking-tickets", example=_example)
def grokking_net(p: int = 67, d_emb: int = 500, d_model: int = 48) -> GrokkingMLP:
    """The paper's modular-addition MLP (p = 67, d_emb = 500, d_model = 48)."""
    return GrokkingMLP(p, d_emb, d_model)
