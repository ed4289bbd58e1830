"""Kolmogorov-Arnold networks (stacks of KAN layers) and the plain MLP they are compared with.

- KAN (B-spline): Liu et al., "KAN: Kolmogorov-Arnold Networks", 2024, arXiv:2404.19756
  (layer: :class:`~mlpzoo.layers.kan.BSplineKANLinear`, efficient-kan parametrisation).
- RBF KAN (FastKAN): Li, "Kolmogorov-Arnold Networks are Radial Basis Function Networks", 2024,
  arXiv:2405.06721.
- ReLU-KAN: Qiu et al., 2024, arXiv:2406.02075. AF-KAN: Ta & Tran, "AF-KAN: Activation
  Function-Based Kolmogorov-Arnold Networks for Efficient Representation Learning", 2025,
  arXiv:2503.06112 (catalog id ``af-kan``).
- S-KAN: Yang et al., "Activation Space Selectable Kolmogorov-Arnold Networks", 2024 (catalog id
  ``s-kan``): every node mixes basis families while training, then :meth:`KANNet.select` and
  :meth:`KANNet.prune` keep one family per node.
- GR-KAN: Yang & Wang, "Kolmogorov-Arnold Transformer", 2024 (catalog id ``kat``).
- KAN for high-entropy alloys (catalog id ``kan-hea``) uses the B-spline KAN as classifier and
  regressor on composition features.

Every model reads ``batch["x"]`` ``(B, in_features)`` and returns ``(B, out_features)``, squeezed
to ``(B,)`` when ``out_features == 1`` (the regression contract of :mod:`mlpzoo.tasks`).
:func:`width_for_parameters` picks the hidden width whose parameter count is closest to a target,
for comparisons at matched parameter counts.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from mlpzoo.errors import ConfigError, DataError
from mlpzoo.layers.kan import (
    AFKANLinear,
    BSplineKANLinear,
    GRKANLinear,
    RBFKANLinear,
    ReLUKANLinear,
    SelectableKANLinear,
)
from mlpzoo.layers.mlp import MLP, check_width
from mlpzoo.measure import count_parameters
from mlpzoo.registry import register_model

LAYERS = {
    "bspline": BSplineKANLinear,
    "rbf": RBFKANLinear,
    "relu": ReLUKANLinear,
    "af": AFKANLinear,
    "selectable": SelectableKANLinear,
    "grkan": GRKANLinear,
}


def _make_layer(layer: str, in_features: int, out_features: int, layer_kwargs: dict) -> nn.Module:
    if layer == "grkan":
        # The rational groups must divide the layer's input width (1, 2 or 4 for small inputs).
        kwargs = dict(layer_kwargs)
        kwargs["groups"] = math.gcd(in_features, int(kwargs.get("groups", 8)))
        return GRKANLinear(in_features, out_features, **kwargs)
    return LAYERS[layer](in_features, out_features, **layer_kwargs)


def _check_widths(where: str, in_features, out_features, hidden) -> None:
    check_width(where, "in_features", in_features)
    check_width(where, "out_features", out_features)
    if isinstance(hidden, (str, bytes)) or not isinstance(hidden, Sequence):
        raise ConfigError(f"{where} hidden={hidden!r}; pass a list of widths, e.g. [16] (or [] for none)")
    for width in hidden:
        check_width(where, "hidden entry", width)


def _input(batch) -> torch.Tensor:
    if isinstance(batch, dict):
        if "x" not in batch:
            raise DataError(
                f"batch has keys {sorted(batch)} but no 'x'; pass {{'x': inputs}} or the input tensor itself"
            )
        batch = batch["x"]
    if not isinstance(batch, torch.Tensor) or batch.dim() == 0:
        raise DataError(
            f"model input must be a tensor (batch, features), got {type(batch).__name__}; pass batch['x'] as a tensor"
        )
    if batch.shape[0] == 0:
        raise DataError(f"model input has 0 rows (shape {tuple(batch.shape)}); pass a batch with at least one row")
    return batch.reshape(batch.shape[0], -1)


def _output(out: torch.Tensor, out_features: int) -> torch.Tensor:
    return out.squeeze(-1) if out_features == 1 else out


class KANNet(nn.Module):
    """A stack of KAN layers ``in -> hidden[0] -> ... -> out`` (no activations between: a KAN
    layer's learnable functions are its non-linearity).

    Args:
        in_features, out_features: input and output widths.
        hidden: hidden widths (may be empty: one KAN layer).
        layer: ``bspline``, ``rbf``, ``relu``, ``af``, ``selectable`` or ``grkan``.
        regularization_weight: weight of the layers' own regularisers (the B-spline KAN's
            L1 + entropy penalty) added to the loss; 0 (default) adds nothing.
        **layer_kwargs: passed to every layer (e.g. ``grid_size``, ``grid_range``).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int = 1,
        hidden: Sequence[int] = (16,),
        layer: str = "bspline",
        regularization_weight: float = 0.0,
        **layer_kwargs,
    ):
        super().__init__()
        if layer not in LAYERS:
            raise ConfigError(f"KANNet layer={layer!r} is unknown; choose one of {', '.join(LAYERS)}")
        _check_widths("KANNet", in_features, out_features, hidden)
        widths = [int(in_features), *(int(h) for h in hidden), int(out_features)]
        self.in_features, self.out_features, self.hidden, self.layer = (
            in_features,
            out_features,
            tuple(widths[1:-1]),
            layer,
        )
        self.regularization_weight = float(regularization_weight)
        self.layers = nn.ModuleList(_make_layer(layer, a, b, layer_kwargs) for a, b in zip(widths[:-1], widths[1:]))

    def forward(self, batch) -> torch.Tensor:
        x = _input(batch)
        for layer in self.layers:
            x = layer(x)
        return _output(x, self.out_features)

    def regularization_loss(self, batch=None) -> torch.Tensor:
        """``regularization_weight * sum`` of the layers' ``regularization_loss()`` (zero when weight is 0)."""
        total = torch.zeros(())
        if self.regularization_weight == 0:
            return total
        for layer in self.layers:
            if hasattr(layer, "regularization_loss"):
                total = total + layer.regularization_loss()
        return self.regularization_weight * total

    def select(self) -> list[list[str]]:
        """S-KAN: record each node's heaviest basis family, per layer (``layer="selectable"`` only)."""
        self._need_selectable("select")
        return [layer.select() for layer in self.layers]

    def prune(self) -> KANNet:
        """S-KAN: keep only each node's selected family (irreversible); returns ``self``."""
        self._need_selectable("prune")
        for layer in self.layers:
            layer.prune()
        return self

    def _need_selectable(self, what: str) -> None:
        if self.layer != "selectable":
            raise ConfigError(f"KANNet.{what}() needs layer='selectable' (S-KAN), this net has layer={self.layer!r}")


class DenseMLP(nn.Module):
    """A plain MLP on ``batch["x"]`` (SiLU hidden activations), with KANNet's output convention."""

    def __init__(
        self,
        in_features: int,
        out_features: int = 1,
        hidden: Sequence[int] = (32,),
        activation: str = "silu",
        dropout: float = 0.0,
        batch_norm: bool = False,
    ):
        super().__init__()
        _check_widths("DenseMLP", in_features, out_features, hidden)
        self.in_features, self.out_features, self.hidden = in_features, out_features, tuple(int(h) for h in hidden)
        self.mlp = MLP(
            in_features, self.hidden, out_features, activation=activation, dropout=dropout, batch_norm=batch_norm
        )

    def forward(self, batch) -> torch.Tensor:
        return _output(self.mlp(_input(batch)), self.out_features)


def _example() -> tuple[dict, tuple]:
    """Three rows of four features in the default grid range [-1, 1], two outputs, one hidden layer of 5."""
    x = torch.rand(3, 4, generator=torch.Generator().manual_seed(0)) * 2 - 1
    return {"in_features": 4, "out_features": 2, "hidden": (5,)}, (x,)


@register_model("kan_bspline", family="kan", paper="kan-hea", example=_example)
def kan_bspline(in_features: int, out_features: int = 1, hidden: Sequence[int] = (16,), **kwargs) -> KANNet:
    """B-spline KAN (Liu et al. 2024; efficient-kan layers)."""
    return KANNet(in_features, out_features, hidden, layer="bspline", **kwargs)


@register_model("kan_rbf", family="kan", paper="s-kan", example=_example)
def kan_rbf(in_features: int, out_features: int = 1, hidden: Sequence[int] = (16,), **kwargs) -> KANNet:
    """Gaussian-RBF KAN (FastKAN), a single-basis baseline of S-KAN."""
    return KANNet(in_features, out_features, hidden, layer="rbf", **kwargs)


@register_model("kan_relu", family="kan", paper="af-kan", example=_example)
def kan_relu(in_features: int, out_features: int = 1, hidden: Sequence[int] = (16,), **kwargs) -> KANNet:
    """ReLU-KAN (squared-ReLU bumps)."""
    return KANNet(in_features, out_features, hidden, layer="relu", **kwargs)


@register_model("af_kan", family="kan", paper="af-kan", example=_example)
def af_kan(in_features: int, out_features: int = 1, hidden: Sequence[int] = (16,), **kwargs) -> KANNet:
    """AF-KAN (activation-function bumps, attention reduction, LayerNorm)."""
    return KANNet(in_features, out_features, hidden, layer="af", **kwargs)


@register_model("s_kan", family="kan", paper="s-kan", example=_example)
def s_kan(in_features: int, out_features: int = 1, hidden: Sequence[int] = (16,), **kwargs) -> KANNet:
    """S-KAN: node-wise selectable basis families (call ``select()`` then ``prune()`` after training)."""
    return KANNet(in_features, out_features, hidden, layer="selectable", **kwargs)


@register_model("gr_kan", family="kan", paper="kat", example=_example)
def gr_kan(in_features: int, out_features: int = 1, hidden: Sequence[int] = (16,), **kwargs) -> KANNet:
    """GR-KAN stack (group-rational activations then linear maps, KAT)."""
    return KANNet(in_features, out_features, hidden, layer="grkan", **kwargs)


@register_model("mlp", family="tabular", example=_example)
def mlp(in_features: int, out_features: int = 1, hidden: Sequence[int] = (32,), **kwargs) -> DenseMLP:
    """Plain MLP with SiLU on ``batch["x"]``."""
    return DenseMLP(in_features, out_features, hidden, **kwargs)


def build(kind: str, in_features: int, out_features: int, hidden: Sequence[int], **layer_kwargs) -> nn.Module:
    """A KANNet of layer ``kind``, or the plain MLP for ``kind="mlp"``."""
    if kind == "mlp":
        return DenseMLP(in_features, out_features, hidden, **layer_kwargs)
    return KANNet(in_features, out_features, hidden, layer=kind, **layer_kwargs)


def width_for_parameters(
    kind: str,
    in_features: int,
    out_features: int,
    depth: int,
    target_params: int,
    max_width: int = 4096,
    **layer_kwargs,
) -> int:
    """The hidden width ``w`` (``depth`` hidden layers of width ``w``) whose parameter count is
    closest to ``target_params``; ``kind`` is a KANNet ``layer`` name or ``"mlp"``.

    Counts grow with the width, so the scan stops at the first width over the target.
    """
    if kind != "mlp" and kind not in LAYERS:
        raise ConfigError(f"width_for_parameters kind={kind!r}; use 'mlp' or one of {', '.join(LAYERS)}")
    if depth < 0 or target_params < 1:
        raise ConfigError(f"width_for_parameters depth={depth} must be >= 0 and target_params={target_params} >= 1")
    if depth == 0:
        return 0
    best, best_gap = 1, math.inf
    for width in range(1, max_width + 1):
        count = count_parameters(build(kind, in_features, out_features, (width,) * depth, **layer_kwargs))
        gap = abs(count - target_params)
        if gap < best_gap:
            best, best_gap = width, gap
        if count >= target_params:
            break
    return best
