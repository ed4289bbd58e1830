"""The multi-layer perceptron block every family builds on."""

from __future__ import annotations

import numbers
from typing import Sequence

import torch
from torch import nn

from mlpzoo.errors import ConfigError, DataError
from mlpzoo.layers.activation import make_activation
from mlpzoo.layers.dropout import Dropout, relu_dropout
from mlpzoo.layers.linear import Linear


def check_width(where: str, name: str, value) -> None:
    """A layer width must be a positive integer (a YAML string or a float is refused by name)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ConfigError(f"{where} {name}={value!r}; pass a positive integer")


def check_features(x, width: int, where: str, like: torch.Tensor | None = None, name: str = "input") -> None:
    """``x`` must be a floating tensor ``(..., width)`` on the device of ``like`` (a parameter).

    Attribute checks only (no pass over the values), so they cost nothing in a forward.
    """
    if not isinstance(x, torch.Tensor):
        raise DataError(
            f"{where} {name} must be a torch.Tensor, got {type(x).__name__}; convert it with torch.as_tensor"
        )
    if x.dim() == 0 or x.shape[-1] != width:
        raise DataError(
            f"{where} expects {name} of shape (..., {width}), got {tuple(x.shape)}; match the layer width to the data"
        )
    if not x.is_floating_point():
        raise DataError(f"{where} {name} has dtype {x.dtype}; cast it to a float dtype (x.float())")
    if like is not None and x.device != like.device:
        raise DataError(
            f"{where} {name} is on device {x.device} but the layer is on {like.device}; move one with .to(device)"
        )


class MLP(nn.Sequential):
    """``[Linear -> BatchNorm? -> activation -> Dropout?] * len(hidden_units) -> Linear?``.

    The order (norm before activation, dropout last) and the Xavier-normal initialisation with
    zero biases follow FuxiCTR, whose published CTR hyperparameters are our defaults.

    Args:
        input_dim: width of the input.
        hidden_units: widths of the hidden layers (may be empty).
        output_dim: width of a final linear layer without activation; ``None`` leaves it out,
            so the block ends with the last hidden layer (``output_dim`` is then its width).
        activation: name understood by :func:`make_activation` (``relu``, ``prelu``, ``dice``...).
        dropout: dropout probability after each hidden activation.
        batch_norm: batch normalisation after each hidden linear layer.
        output_activation: optional activation after the output layer.
    """

    def __init__(
        self,
        input_dim: int,
        hidden_units: Sequence[int] = (),
        output_dim: int | None = None,
        activation: str = "relu",
        dropout: float = 0.0,
        batch_norm: bool = False,
        output_activation: str | None = None,
    ):
        check_width("MLP", "input_dim", input_dim)
        if isinstance(hidden_units, (str, bytes)) or not isinstance(hidden_units, Sequence):
            raise ConfigError(
                f"MLP hidden_units={hidden_units!r}; pass a list of widths, e.g. [{hidden_units!r}] (or [] for none)"
            )
        for units in hidden_units:
            check_width("MLP", "hidden_units entry", units)
        if output_dim is not None:
            check_width("MLP", "output_dim", output_dim)
        if isinstance(dropout, bool) or not (isinstance(dropout, numbers.Real) and 0 <= dropout < 1):
            raise ConfigError(f"MLP dropout={dropout!r}; pass a probability in [0, 1)")
        layers: list[nn.Module] = []
        width = input_dim
        for units in hidden_units:
            layers.append(Linear(width, units))
            if batch_norm:
                layers.append(nn.BatchNorm1d(units))
            act = make_activation(activation, units)
            if type(act) is nn.ReLU:
                # In place: the Linear or BatchNorm before it does not keep its output for backward.
                act.inplace = True
            layers.append(act)
            if dropout > 0:
                layers.append(Dropout(dropout))
            width = units
        if output_dim is not None:
            layers.append(Linear(width, output_dim))
            width = output_dim
            if output_activation is not None:
                layers.append(make_activation(output_activation, output_dim))
        super().__init__(*layers)
        self.input_dim = input_dim
        self.output_dim = width
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_normal_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_features(x, self.input_dim, "MLP", getattr(self[0], "weight", None) if len(self) else None)
        # A ReLU followed by Dropout runs as one pass (relu_dropout): the pair's two forward and two
        # backward sweeps over the activation become one each. The modules stay in the Sequential
        # (same state_dict keys, same printout); their own hooks do not fire for a fused pair.
        layers = list(self)
        index = 0
        while index < len(layers):
            layer = layers[index]
            following = layers[index + 1] if index + 1 < len(layers) else None
            if type(layer) is nn.ReLU and type(following) is Dropout:
                x = relu_dropout(x, following.p, following.training)
                index += 2
            else:
                x = layer(x)
                index += 1
        return x
