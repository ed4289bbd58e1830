"""Multi-head bilinear fusion of two streams (FinalMLP, section 3.3).

Mao et al., "FinalMLP: An Enhanced Two-Stream MLP Model for CTR Prediction", AAAI 2023,
https://arxiv.org/abs/2304.00902.
"""

from __future__ import annotations

import torch
from torch import nn

from mlpzoo.errors import ConfigError, DataError
from mlpzoo.layers.mlp import check_features


class BilinearFusion(nn.Module):
    """``b + w1.o1 + w2.o2 + sum_j o1_j^T W3_j o2_j`` over ``num_heads`` chunks of both outputs.

    Splitting both stream outputs into k heads cuts the bilinear term's parameters from
    ``d1 * d2`` to ``d1 * d2 / k``; ``num_heads`` must divide both widths.
    """

    def __init__(self, dim1: int, dim2: int, num_heads: int = 1, output_dim: int = 1):
        super().__init__()
        if num_heads < 1 or dim1 % num_heads or dim2 % num_heads:
            common = [k for k in range(1, min(dim1, dim2) + 1) if dim1 % k == 0 and dim2 % k == 0]
            raise ConfigError(
                f"num_heads={num_heads} must divide both stream widths ({dim1} and {dim2}); "
                f"use one of {', '.join(map(str, common[:8]))}{'...' if len(common) > 8 else ''}"
            )
        self.num_heads, self.dim1, self.dim2 = num_heads, dim1, dim2
        self.linear1 = nn.Linear(dim1, output_dim)
        self.linear2 = nn.Linear(dim2, output_dim, bias=False)
        self.bilinear = nn.Parameter(torch.empty(num_heads, dim1 // num_heads, dim2 // num_heads, output_dim))
        nn.init.xavier_normal_(self.bilinear.view(num_heads * (dim1 // num_heads), -1))
        nn.init.xavier_normal_(self.linear1.weight)
        nn.init.zeros_(self.linear1.bias)
        nn.init.xavier_normal_(self.linear2.weight)

    def forward(self, o1: torch.Tensor, o2: torch.Tensor) -> torch.Tensor:
        check_features(o1, self.dim1, "BilinearFusion", self.bilinear, name="o1")
        check_features(o2, self.dim2, "BilinearFusion", self.bilinear, name="o2")
        if o1.dim() != 2 or o2.shape[0] != o1.shape[0]:
            raise DataError(
                f"BilinearFusion expects o1 (batch, {self.dim1}) and o2 (batch, {self.dim2}) with the same batch, "
                f"got {tuple(o1.shape)} and {tuple(o2.shape)}; pass both streams' outputs for the same rows"
            )
        heads1 = o1.view(o1.shape[0], self.num_heads, -1)
        heads2 = o2.view(o2.shape[0], self.num_heads, -1)
        bilinear = torch.einsum("bhi,hijo,bhj->bo", heads1, self.bilinear, heads2)
        return self.linear1(o1) + self.linear2(o2) + bilinear
