"""ReLU-KAN: Kolmogorov-Arnold layer with squared-ReLU bump bases.

Qiu et al., "ReLU-KAN: New Kolmogorov-Arnold Networks that Only Need Matrix Addition, Dot
Multiplication, and ReLU", 2024, https://arxiv.org/abs/2406.02075 (equations 7-10).
"""

from __future__ import annotations

import torch
from torch import nn

from mlpzoo.layers.kan.checks import check_range, check_sizes, flatten_input
from mlpzoo.layers.kan.elementwise import input_rows


class ReLUKANLinear(nn.Module):
    """ReLU-KAN layer ``(..., in) -> (..., out)``: ``W R(x) + b``.

    Input ``i`` has ``G + k`` bases ``R_j(x) = r [relu(e_j - x) relu(x - s_j)]^2`` with
    ``s_j = low + (j - k) h``, ``e_j = s_j + (k + 1) h`` (``h`` the step of the ``G``-interval
    grid over ``grid_range``) and ``r = 16 / (e_j - s_j)^4``, so each bump peaks at 1. The
    paper's final convolution over the ``(G + k, in)`` feature map is one linear map over the
    ``in * (G + k)`` features. A drop-in for ``nn.Linear``.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        grid_size: int = 5,
        spline_order: int = 3,
        grid_range: tuple[float, float] = (0.0, 1.0),
    ):
        super().__init__()
        check_sizes(
            "ReLUKANLinear",
            in_features=in_features,
            out_features=out_features,
            grid_size=grid_size,
            spline_order=spline_order,
        )
        low, high = check_range("ReLUKANLinear", grid_range)
        self.in_features, self.out_features = in_features, out_features
        self.grid_size, self.spline_order = grid_size, spline_order
        self.grid_range = (low, high)
        self.step = (high - low) / grid_size
        self.scale = 16.0 / ((spline_order + 1) * self.step) ** 4
        self.linear = nn.Linear(in_features * (grid_size + spline_order), out_features)

    def bounds(self, dtype: torch.dtype | None = None, device=None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(s, e)``, each ``(G + k,)``: where every bump starts and ends."""
        j = torch.arange(self.grid_size + self.spline_order, dtype=dtype, device=device)
        starts = self.grid_range[0] + (j - self.spline_order) * self.step
        return starts, starts + (self.spline_order + 1) * self.step

    def basis(self, x: torch.Tensor) -> torch.Tensor:
        """Bump features ``(..., in, G + k)``."""
        starts, ends = self.bounds(x.dtype, x.device)
        x = x.unsqueeze(-1)
        return (torch.relu(ends - x) * torch.relu(x - starts)).square() * self.scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = flatten_input(x, self.in_features, "ReLUKANLinear", self.linear.weight)
        out = self.linear(self.basis(flat).flatten(1))
        return out.view(*x.shape[:-1], self.out_features)

    def elementwise_flops(self, inputs: tuple[torch.Tensor, ...]) -> int:
        """Bump FLOPs (the linear map is PyTorch's to count): per input and basis two subtractions,
        two ReLUs, a product, a square and the scale."""
        return 7 * input_rows(inputs[0]) * self.in_features * (self.grid_size + self.spline_order)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"grid_size={self.grid_size}, spline_order={self.spline_order}"
        )
