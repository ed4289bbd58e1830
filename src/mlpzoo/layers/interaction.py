"""Explicit feature-interaction layers of the CTR baselines.

- Factorization machine: Rendle, ICDM 2010; used by DeepFM (Guo et al., IJCAI 2017, arXiv:1703.04247).
- Cross network: Wang et al., "Deep & Cross Network for Ad Click Predictions", ADKDD 2017, arXiv:1708.05123.
- Cross network v2: Wang et al., "DCN V2", WWW 2021, arXiv:2008.13535.
"""

from __future__ import annotations

import torch
from torch import nn

from mlpzoo.errors import DataError
from mlpzoo.layers.mlp import check_features


class FactorizationMachine(nn.Module):
    """Second-order term ``sum_{i<j} <e_i, e_j>`` computed in linear time."""

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        if not isinstance(embeddings, torch.Tensor) or embeddings.dim() != 3:
            shape = tuple(embeddings.shape) if isinstance(embeddings, torch.Tensor) else type(embeddings).__name__
            raise DataError(
                f"FactorizationMachine expects field embeddings (batch, fields, dim), got {shape}; "
                "pass the unflattened embeddings"
            )
        square_of_sum = embeddings.sum(dim=1).pow(2)
        sum_of_square = embeddings.pow(2).sum(dim=1)
        return 0.5 * (square_of_sum - sum_of_square).sum(dim=-1, keepdim=True)


class CrossNetwork(nn.Module):
    """DCN: ``x_{l+1} = x_0 * (x_l . w_l) + b_l + x_l``."""

    def __init__(self, dim: int, num_layers: int):
        super().__init__()
        self.dim = dim
        self.weights = nn.ParameterList(nn.Parameter(torch.randn(dim) * dim**-0.5) for _ in range(num_layers))
        self.biases = nn.ParameterList(nn.Parameter(torch.zeros(dim)) for _ in range(num_layers))

    def forward(self, x0: torch.Tensor) -> torch.Tensor:
        check_features(x0, self.dim, "CrossNetwork", self.weights[0] if len(self.weights) else None)
        x = x0
        for w, b in zip(self.weights, self.biases):
            x = x0 * (x @ w).unsqueeze(-1) + b + x
        return x


class CrossNetworkV2(nn.Module):
    """DCN-V2 (full-rank): ``x_{l+1} = x_0 * (W_l x_l + b_l) + x_l``."""

    def __init__(self, dim: int, num_layers: int):
        super().__init__()
        self.dim = dim
        self.layers = nn.ModuleList(nn.Linear(dim, dim) for _ in range(num_layers))
        for layer in self.layers:
            nn.init.xavier_normal_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x0: torch.Tensor) -> torch.Tensor:
        check_features(x0, self.dim, "CrossNetworkV2", self.layers[0].weight if len(self.layers) else None)
        x = x0
        for layer in self.layers:
            x = x0 * layer(x) + x
        return x
