"""AF-KAN: a KAN layer whose bases are built from ordinary activation functions.

Ta & Tran, "AF-KAN: Activation Function-Based Kolmogorov-Arnold Networks for Efficient
Representation Learning", arXiv:2503.06112 (2025). It extends ReLU-KAN's bump
``(relu(x - l) relu(h - x))^2`` to other activations and reduces the bases of every input with
attention before one linear map.

Per input ``x_i``, every function ``f`` in ``functions`` and grid centre ``g_j`` (``num_grids``
points spread evenly over ``grid_range``, spacing ``s``) give the basis value

    phi_{f,j}(x) = (f(1 + u) f(1 - u))^2 / f(1)^4,    u = (x - g_j) / s,

ReLU-KAN's bump of half-width ``s`` (AF-KAN's default ``quad1`` combination), scaled to 1 at its
centre. The ``K = len(functions) * num_grids`` values of input ``i`` are reduced to one number
``r_i``: with ``reduction="attention"`` by ``softmax(W phi_i / sqrt(K)) . phi_i`` (``W`` one
``K x K`` linear map shared by all inputs, the softmax over the basis axis), with ``"linear"`` by
a ``K -> 1`` linear map (the reference's ``multistep``). Then ``norm`` over the inputs, an
optional ``post_activation`` and one linear layer to ``out_features``.

Two choices differ from the reference code (github.com/hoangthangta/All-KAN) on purpose:
it min-max scales the basis values with the minimum and maximum of the whole batch tensor, and
its ``norm_type="batch"`` normalises with batch statistics, so a row's output there depends on
the other rows. Here the scale is the fixed constant ``f(1)^4``, the default norm is LayerNorm
(per row), and ``norm="batch"`` is a BatchNorm whose eval mode uses running statistics: in eval
every row's output depends on that row alone (with ``norm="batch"`` in training mode it does
not, as for any BatchNorm). The grid is fixed (the reference can train its bump edges).

Non-finite inputs are not checked: NaN and inf give NaN in that row's output (LayerNorm mixes
the inputs of a row), other rows are unaffected except through batch statistics in training.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from mlpzoo.errors import ConfigError
from mlpzoo.layers.kan.checks import check_range, check_sizes, check_tensor
from mlpzoo.layers.kan.elementwise import (
    BATCH_NORM_FLOPS,
    LAYER_NORM_FLOPS,
    SOFTMAX_FLOPS,
    activation_flops,
    input_rows,
)

FUNCTIONS = {
    "relu": F.relu,
    "silu": F.silu,
    "gelu": F.gelu,
    "softplus": F.softplus,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "elu": F.elu,
    "selu": F.selu,
    "leaky_relu": F.leaky_relu,
}
REDUCTIONS = ("attention", "linear")
NORMS = ("layer", "batch", "none")


def _function(name: str, field: str = "functions"):
    if name not in FUNCTIONS:
        raise ConfigError(f"AFKANLinear {field} entry {name!r} is unknown; choose from {', '.join(FUNCTIONS)}")
    return FUNCTIONS[name]


class AFKANLinear(nn.Module):
    """AF-KAN layer: activation-function bumps -> attention over bases -> norm -> linear.

    Args:
        in_features, out_features: widths.
        functions: activation names whose bumps form the bases (see ``FUNCTIONS``).
        num_grids: bump centres per function (at least 2).
        grid_range: ``(low, high)`` of the centres.
        reduction: ``attention`` (softmax over the basis axis) or ``linear``.
        norm: ``layer`` (default), ``batch`` (running statistics in eval) or ``none``.
        post_activation: activation between norm and the linear map (the reference applies its
            base activation there); ``None`` skips it.
        bias: bias of the output linear map (the reference has none).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        functions: Sequence[str] = ("relu", "silu", "gelu"),
        num_grids: int = 8,
        grid_range: tuple[float, float] = (-2.0, 2.0),
        reduction: str = "attention",
        norm: str = "layer",
        post_activation: str | None = "silu",
        bias: bool = False,
    ):
        super().__init__()
        check_sizes("AFKANLinear", in_features=in_features, out_features=out_features)
        if num_grids < 2:
            raise ConfigError(f"AFKANLinear num_grids={num_grids} must be >= 2; use at least 2 bump centres")
        low, high = check_range("AFKANLinear", grid_range)
        functions = tuple(functions)
        if not functions:
            raise ConfigError("AFKANLinear functions is empty; give at least one activation name, e.g. ('relu',)")
        self._functions = [_function(name) for name in functions]
        if reduction not in REDUCTIONS:
            raise ConfigError(f"AFKANLinear reduction={reduction!r} is unknown; choose one of {', '.join(REDUCTIONS)}")
        if norm not in NORMS:
            raise ConfigError(f"AFKANLinear norm={norm!r} is unknown; choose one of {', '.join(NORMS)}")
        self._post = None if post_activation is None else _function(post_activation, "post_activation")

        self.in_features, self.out_features = in_features, out_features
        self.functions, self.num_grids, self.grid_range = functions, num_grids, (low, high)
        self.reduction, self.norm_type, self.post_activation = reduction, norm, post_activation
        self.num_bases = len(functions) * num_grids
        self.spacing = (high - low) / (num_grids - 1)
        # f(1)^4 is the bump's value at its centre; dividing by it puts every peak at 1.
        self.peaks = [float(f(torch.tensor(1.0, dtype=torch.float64))) ** 4 for f in self._functions]
        if reduction == "attention":
            self.score = nn.Linear(self.num_bases, self.num_bases)
        else:
            self.score = nn.Linear(self.num_bases, 1)
        if norm == "layer":
            self.norm = nn.LayerNorm(in_features)
        elif norm == "batch":
            self.norm = nn.BatchNorm1d(in_features)
        else:
            self.norm = nn.Identity()
        self.linear = nn.Linear(in_features, out_features, bias=bias)

    def grid(self, dtype: torch.dtype = torch.float32, device=None) -> torch.Tensor:
        """The bump centres (built in the input's dtype, so float64 inputs get exact centres)."""
        low, high = self.grid_range
        return torch.linspace(low, high, self.num_grids, dtype=dtype, device=device)

    def bases(self, x: torch.Tensor) -> torch.Tensor:
        """Basis values ``(..., in_features, len(functions) * num_grids)``, function-major."""
        u = (x.unsqueeze(-1) - self.grid(x.dtype, x.device)) / self.spacing  # (..., in, grids)
        values = [(f(1.0 + u) * f(1.0 - u)).square() / peak for f, peak in zip(self._functions, self.peaks)]
        return torch.cat(values, dim=-1)

    def reduce(self, phi: torch.Tensor) -> torch.Tensor:
        """One value per input from its bases: ``(..., in, K) -> (..., in)``."""
        if self.reduction == "attention":
            weights = torch.softmax(self.score(phi) / math.sqrt(self.num_bases), dim=-1)
            return (weights * phi).sum(-1)
        return self.score(phi).squeeze(-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "AFKANLinear", self.linear.weight)
        if x.dim() == 0 or x.shape[-1] != self.in_features:
            raise ConfigError(
                f"AFKANLinear expects last dim {self.in_features}, got {x.shape[-1]}; match in_features to the input"
            )
        lead = x.shape[:-1]
        r = self.reduce(self.bases(x)).reshape(-1, self.in_features)
        r = self.norm(r)
        if self._post is not None:
            r = self._post(r)
        return self.linear(r).reshape(*lead, self.out_features)

    def elementwise_flops(self, inputs: tuple[torch.Tensor, ...]) -> int:
        """Bases, reduction, norm and post activation (the score and output linear maps are
        PyTorch's to count). Per input, function ``f`` and centre: ``u`` (subtract, divide),
        ``1 + u`` and ``1 - u``, ``f`` twice, product, square, scale: ``7 + 2 cost(f)``. Attention
        per basis: scale, softmax, weight, sum."""
        per_input = sum(7 + 2 * activation_flops(name) for name in self.functions) * self.num_grids
        if self.reduction == "attention":
            per_input += (1 + SOFTMAX_FLOPS + 2) * self.num_bases
        per_input += {"layer": LAYER_NORM_FLOPS, "batch": BATCH_NORM_FLOPS, "none": 0}[self.norm_type]
        per_input += activation_flops(self.post_activation)
        return input_rows(inputs[0]) * self.in_features * per_input

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, functions={self.functions}, "
            f"num_grids={self.num_grids}, grid_range={self.grid_range}, reduction={self.reduction!r}, "
            f"norm={self.norm_type!r}, post_activation={self.post_activation!r}"
        )
