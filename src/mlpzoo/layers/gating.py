"""Context-conditioned feature gating (FinalMLP's stream-specific feature selection).

Mao et al., "FinalMLP: An Enhanced Two-Stream MLP Model for CTR Prediction", AAAI 2023,
https://arxiv.org/abs/2304.00902 (section 3.2).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from mlpzoo.errors import DataError
from mlpzoo.layers.mlp import MLP, check_features


class FeatureGating(nn.Module):
    """``2 * sigmoid(gate(context)) * e``: an element-wise gate over the flattened embeddings.

    The gate is an MLP over the context embeddings; a stream without context fields feeds it one
    learnable vector instead, so its gate is input-independent. The reference starts that vector
    at zeros, which with zero biases leaves the gate's ReLU layer dead for good (only the output
    bias ever learns); we start it at N(0, 0.1^2) so the whole gate trains.
    The factor 2 makes the gate start at the identity (``sigmoid(0) = 0.5``).

    Args:
        feature_dim: width of the flattened embeddings being gated.
        context_dim: width of the flattened context embeddings, 0 for "no context fields".
        hidden_units: hidden widths of the gate MLP.
        bias_dim: width of the learnable context vector used when ``context_dim == 0``.
    """

    def __init__(self, feature_dim: int, context_dim: int, hidden_units: Sequence[int] = (400,), bias_dim: int = 10):
        super().__init__()
        self.feature_dim, self.context_dim = feature_dim, context_dim
        self.context_bias = nn.Parameter(torch.randn(1, bias_dim) * 0.1) if context_dim == 0 else None
        self.gate = MLP(context_dim or bias_dim, hidden_units, output_dim=feature_dim, activation="relu")

    def forward(
        self, features: torch.Tensor, context: torch.Tensor | None = None, rows: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Gate ``features`` ``(batch, feature_dim)`` by ``context`` ``(batch, context_dim)``.

        With ``rows`` (int64, ``(batch,)``), ``context`` holds distinct context rows only and feature row
        ``b`` takes the gate of context row ``rows[b]``: the gate MLP (row-wise: no batch norm, no
        dropout) then runs once per distinct context, the same values and gradients as once per row.
        """
        check_features(features, self.feature_dim, "FeatureGating", name="features")
        if self.context_bias is not None:
            context, rows = self.context_bias, torch.zeros(features.shape[0], dtype=torch.long, device=features.device)
        elif context is None:
            raise DataError(
                f"FeatureGating was built with context_dim={self.context_dim}; pass context=(batch, "
                f"{self.context_dim}) embeddings"
            )
        else:
            check_features(context, self.context_dim, "FeatureGating", name="context")
            per_row = context if rows is None else rows.unsqueeze(-1)
            if per_row.shape[:-1] != features.shape[:-1]:
                raise DataError(
                    f"FeatureGating context has shape {tuple(context.shape)} but features {tuple(features.shape)}; "
                    "pass one context row per feature row (or distinct rows and each row's index as rows=)"
                )
        weights = 2.0 * torch.sigmoid(self.gate(context))
        return (weights if rows is None else weights.index_select(0, rows)) * features
