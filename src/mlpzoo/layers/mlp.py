"""The multi-layer perceptron block every family builds on."""

from __future__ import annotations

from typing import Sequence

from torch import nn

from mlpzoo.layers.activation import make_activation


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
        layers: list[nn.Module] = []
        width = input_dim
        for units in hidden_units:
            layers.append(nn.Linear(width, units))
            if batch_norm:
                layers.append(nn.BatchNorm1d(units))
            layers.append(make_activation(activation, units))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = units
        if output_dim is not None:
            layers.append(nn.Linear(width, output_dim))
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
