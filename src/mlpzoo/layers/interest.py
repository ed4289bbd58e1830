"""Attention over a user's behaviour history (DIN's local activation unit).

Zhou et al., "Deep Interest Network for Click-Through Rate Prediction", KDD 2018,
https://arxiv.org/abs/1706.06978 (section 4.2, figure 2).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from mlpzoo.errors import DataError
from mlpzoo.layers.mlp import MLP, check_features


class LocalActivationUnit(nn.Module):
    """Scores each behaviour ``h`` against the target with an MLP over ``[t, h, t - h, t * h]``.

    Scores are used unnormalised by default, as in the paper ("the sum of weights is not
    normalised, to keep the intensity of user interests"); ``use_softmax=True`` normalises them.
    Only valid positions (mask True) are scored: padding gets weight 0 and, unlike scoring every
    position and masking afterwards, never enters Dice's batch statistics (and costs nothing).
    """

    def __init__(
        self, dim: int, hidden_units: Sequence[int] = (80, 40), activation: str = "dice", use_softmax: bool = False
    ):
        super().__init__()
        self.dim = dim
        self.scorer = MLP(4 * dim, hidden_units, output_dim=1, activation=activation)
        self.use_softmax = use_softmax

    def forward(self, target: torch.Tensor, history: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """target ``(B, D)``, history ``(B, L, D)``, mask ``(B, L)`` -> pooled interest ``(B, D)``."""
        check_features(target, self.dim, "LocalActivationUnit", name="target")
        check_features(history, self.dim, "LocalActivationUnit", name="history")
        if target.dim() != 2 or history.dim() != 3 or history.shape[0] != target.shape[0]:
            raise DataError(
                f"LocalActivationUnit expects target (batch, {self.dim}) and history (batch, length, {self.dim}), "
                f"got {tuple(target.shape)} and {tuple(history.shape)}; pass one history per target"
            )
        if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool or mask.shape != history.shape[:2]:
            got = f"{tuple(mask.shape)} {mask.dtype}" if isinstance(mask, torch.Tensor) else type(mask).__name__
            raise DataError(
                f"LocalActivationUnit mask must be a bool tensor {tuple(history.shape[:2])} (True = real behaviour), "
                f"got {got}; pass ids > 0"
            )
        t = target.unsqueeze(1).expand_as(history)[mask]
        h = history[mask]
        valid_scores = self.scorer(torch.cat([t, h, t - h, t * h], dim=-1)).squeeze(-1)
        scores = torch.zeros(mask.shape, dtype=history.dtype, device=history.device).masked_scatter(mask, valid_scores)
        if self.use_softmax:
            scores = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1).nan_to_num(0.0)
        return torch.bmm(scores.unsqueeze(1), history).squeeze(1)


def masked_sum_pool(history: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Sum pooling of ``(B, L, D)`` over valid positions: the base model's user representation."""
    return (history * mask.unsqueeze(-1)).sum(dim=1)


def masked_mean_pool(history: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    counts = mask.sum(dim=1, keepdim=True).clamp(min=1)
    return masked_sum_pool(history, mask) / counts
