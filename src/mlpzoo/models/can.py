"""The custom-quantised MLP (CQMLP) intrusion detector for CAN frames, and its float twin.

Paper: Khandelwal & Shreejith, "Exploring Highly Quantised Neural Networks for Intrusion
Detection in Automotive CAN", FPL 2023, arXiv:2401.11030 (catalog id ``cqmlp``): one multi-class
MLP classifies every CAN frame as benign or as one of several attacks; a design-space
exploration picked 2-bit weights and activations; trained with Brevitas, deployed with FINN.

Architecture (FINN's MLP layout): an input quantiser, then per hidden layer
``QuantLinear (no bias) -> BatchNorm -> QuantReLU``, then a ``QuantLinear`` head whose bias lives
on the integer accumulator. The abstract does not give the widths; we use three hidden layers
of 64 (``hidden``). With ``weight_bits=None`` and ``act_bits=None`` the same network is a float
MLP (plain Linear and ReLU), the paper's float baseline.

In evaluation mode batch norm runs in its folded form ``z * gain + shift``
(:func:`~mlpzoo.layers.quant.folded_batchnorm`); :meth:`CQMLP.requantize` is that step and the
activation quantiser, the exact function the integer-only export turns into integer thresholds.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from mlpzoo.errors import ConfigError
from mlpzoo.layers.quant import (
    QuantInput,
    QuantLinear,
    QuantReLU,
    check_bits,
    folded_batchnorm,
)
from mlpzoo.registry import register_model

PAPER = "cqmlp"
BitsSpec = int | Sequence[int] | None


def _per_layer(bits: BitsSpec, layers: int, name: str) -> list[int | None]:
    if bits is None:
        return [None] * layers
    values = [bits] * layers if isinstance(bits, int) else list(bits)
    if len(values) != layers:
        raise ConfigError(
            f"{name} has {len(values)} entries but the network has {layers} such layers; pass one int or {layers} ints"
        )
    return [check_bits(b, f"{name}[{i}]" if not isinstance(bits, int) else name) for i, b in enumerate(values)]


class CQMLP(nn.Module):
    """n-bit quantisation-aware MLP classifier (float when all bit widths are None).

    Args:
        in_features: input width (CAN features: :data:`mlpzoo.data.can.NUM_FEATURES`).
        num_classes: output classes (5: normal, DoS, ID fuzzing, payload fuzzing, replay).
        hidden: hidden widths (default three layers of 64).
        weight_bits: one int (1..8) for every linear layer, a list with one per layer
            (``len(hidden) + 1``), or None for float weights.
        act_bits: one int or a list with one per hidden layer, or None for float ReLUs.
        input_bits: bits of the fixed-point input quantiser (inputs in [0, 1]); None for float.
    """

    def __init__(
        self,
        in_features: int,
        num_classes: int = 5,
        hidden: Sequence[int] = (64, 64, 64),
        weight_bits: BitsSpec = 2,
        act_bits: BitsSpec = 2,
        input_bits: int | None = 8,
    ):
        super().__init__()
        hidden = tuple(int(h) for h in hidden)
        w_bits = _per_layer(weight_bits, len(hidden) + 1, "weight_bits")
        a_bits = _per_layer(act_bits, len(hidden), "act_bits")
        self.quantized = weight_bits is not None
        if self.quantized != (act_bits is not None) or self.quantized != (input_bits is not None):
            raise ConfigError(
                "weight_bits, act_bits and input_bits must all be set (quantised model) or all be None (float model)"
            )
        self.input_quant = QuantInput(input_bits) if self.quantized else nn.Identity()
        self.linears = nn.ModuleList()
        self.norms = nn.ModuleList()
        self.acts = nn.ModuleList()
        width = in_features
        for units, wb, ab in zip(hidden, w_bits, a_bits):
            self.linears.append(
                QuantLinear(width, units, wb, bias=False) if self.quantized else nn.Linear(width, units, bias=False)
            )
            self.norms.append(nn.BatchNorm1d(units))
            self.acts.append(QuantReLU(ab) if self.quantized else nn.ReLU())
            width = units
        self.head = QuantLinear(width, num_classes, w_bits[-1]) if self.quantized else nn.Linear(width, num_classes)
        self.in_features, self.num_classes, self.hidden = in_features, num_classes, hidden
        self.weight_bits, self.act_bits, self.input_bits = w_bits, a_bits, input_bits

    def requantize(self, index: int, z: torch.Tensor) -> torch.Tensor:
        """Hidden layer ``index`` from its pre-activation ``z``: batch norm, then the (quantised) ReLU."""
        norm = self.norms[index]
        if self.training:
            y = norm(z)
        else:
            gain, shift = folded_batchnorm(norm)
            y = z * gain + shift
        return self.acts[index](y)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.input_quant(x)
        for index, linear in enumerate(self.linears):
            x = self.requantize(index, linear(x))
        return x

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        if not self.quantized:
            return self.head(x)
        scale = self.acts[-1].scale() if self.acts else self.input_quant.scale()
        return self.head(x, input_scale=scale)

    def forward(self, batch) -> torch.Tensor:
        x = batch["x"] if isinstance(batch, dict) else batch
        return self.forward_head(self.forward_features(x.reshape(x.shape[0], -1).float()))


def _example() -> tuple[dict, tuple]:
    """Eight features in [0, 1] (the input quantiser's range), three classes, two hidden layers of 8."""
    features = torch.rand(3, 8, generator=torch.Generator().manual_seed(0))
    return {"in_features": 8, "num_classes": 3, "hidden": (8, 8)}, (features,)


@register_model("cqmlp_2bit", family="quantised", paper=PAPER, example=_example)
def cqmlp_2bit(
    in_features: int = 145,
    num_classes: int = 5,
    hidden: Sequence[int] = (64, 64, 64),
    weight_bits: BitsSpec = 2,
    act_bits: BitsSpec = 2,
    input_bits: int | None = 8,
) -> CQMLP:
    """The paper's choice: 2-bit weights and activations (8-bit fixed-point inputs)."""
    return CQMLP(in_features, num_classes, hidden, weight_bits, act_bits, input_bits)


@register_model("cqmlp_4bit", family="quantised", paper=PAPER, example=_example)
def cqmlp_4bit(
    in_features: int = 145, num_classes: int = 5, hidden: Sequence[int] = (64, 64, 64), input_bits: int | None = 8
) -> CQMLP:
    """4-bit weights and activations (the bit width of the authors' earlier DATE 2023 IDS)."""
    return CQMLP(in_features, num_classes, hidden, 4, 4, input_bits)


@register_model("cqmlp_float", family="quantised", paper=PAPER, example=_example)
def cqmlp_float(in_features: int = 145, num_classes: int = 5, hidden: Sequence[int] = (64, 64, 64)) -> CQMLP:
    """The same MLP in float32: the unquantised baseline."""
    return CQMLP(in_features, num_classes, hidden, None, None, None)
