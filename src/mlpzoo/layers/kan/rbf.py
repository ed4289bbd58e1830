"""Radial-basis Kolmogorov-Arnold layer (FastKAN).

Li, "Kolmogorov-Arnold Networks are Radial Basis Function Networks", 2024,
https://arxiv.org/abs/2405.06721: Gaussian bases on a fixed grid stand in for the cubic
B-splines (to which they are close), after a LayerNorm that keeps inputs on the grid.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mlpzoo.errors import ConfigError
from mlpzoo.layers.kan.checks import check_range, check_sizes, flatten_input
from mlpzoo.layers.kan.elementwise import LAYER_NORM_FLOPS, activation_flops, input_rows


class RBFKANLinear(nn.Module):
    """FastKAN layer ``(..., in) -> (..., out)``: ``W_s phi(LN(x)) + W_b silu(x)``.

    ``phi`` maps each normalised input to ``num_centers`` Gaussians ``exp(-((x - c_j) / h)^2)``
    with centres ``c_j`` evenly spaced over ``grid_range`` and ``h`` their spacing; one linear
    map (without bias) reads all ``in * num_centers`` features. The base branch is a linear map
    (with bias) of ``silu(x)`` on the raw input. Both follow FastKAN's reference code, as does the
    spline weight init ``N(0, 0.1^2)``. A drop-in for ``nn.Linear``.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        num_centers: int = 8,
        grid_range: tuple[float, float] = (-2.0, 2.0),
        use_layernorm: bool = True,
        use_base: bool = True,
    ):
        super().__init__()
        check_sizes("RBFKANLinear", in_features=in_features, out_features=out_features)
        if not isinstance(num_centers, int) or num_centers < 2:
            raise ConfigError(f"RBFKANLinear num_centers={num_centers!r}; pass an integer >= 2")
        low, high = check_range("RBFKANLinear", grid_range)
        self.in_features, self.out_features, self.num_centers = in_features, out_features, num_centers
        self.grid_range = (low, high)
        self.width = (high - low) / (num_centers - 1)
        self.norm = nn.LayerNorm(in_features) if use_layernorm else None
        self.spline = nn.Linear(in_features * num_centers, out_features, bias=False)
        nn.init.trunc_normal_(self.spline.weight, std=0.1)
        self.base = nn.Linear(in_features, out_features) if use_base else None

    def basis(self, x: torch.Tensor) -> torch.Tensor:
        """Gaussian features ``(..., in, num_centers)`` of (already normalised) inputs."""
        low = self.grid_range[0]
        # Centres made in the input's dtype, so a float64 layer has float64-exact centres.
        centers = low + self.width * torch.arange(self.num_centers, dtype=x.dtype, device=x.device)
        return torch.exp(-((x.unsqueeze(-1) - centers) / self.width).square())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = flatten_input(x, self.in_features, "RBFKANLinear", self.spline.weight)
        z = self.norm(flat) if self.norm is not None else flat
        out = self.spline(self.basis(z).flatten(1))
        if self.base is not None:
            out = out + self.base(F.silu(flat))
        return out.view(*x.shape[:-1], self.out_features)

    def elementwise_flops(self, inputs: tuple[torch.Tensor, ...]) -> int:
        """LayerNorm, then per input and centre subtract, divide, square, negate, exp; the base
        branch's SiLU and the sum of the two branches (linear maps are PyTorch's to count)."""
        n = input_rows(inputs[0])
        per_row = self.in_features * 5 * self.num_centers
        if self.norm is not None:
            per_row += LAYER_NORM_FLOPS * self.in_features
        if self.base is not None:
            per_row += activation_flops("silu") * self.in_features + self.out_features
        return n * per_row

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, num_centers={self.num_centers}"
