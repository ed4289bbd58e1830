"""Inverted dropout whose mask comes from ``torch.rand`` rather than ``bernoulli_``.

Srivastava et al., "Dropout: A Simple Way to Prevent Neural Networks from Overfitting", JMLR 2014:
each unit is kept with probability ``1 - p`` and scaled by ``1 / (1 - p)`` in training, the
identity in evaluation, exactly as :class:`torch.nn.Dropout`. Only the way the mask is drawn
differs: on CPU, ``torch.nn.functional.dropout`` (``bernoulli_`` with a scalar probability) takes
19 ms for a 4096 x 400 activation on one thread, ``torch.rand(...).lt_(1 - p)`` and two multiplies
5.9 ms; dropout was ~17 % of a FinalMLP training step. ``rand < 1 - p`` is a Bernoulli draw with
the same probability (up to float32's 2^-24 resolution) from the same seeded generator, so a seed
still pins every mask.
"""

from __future__ import annotations

import numbers

import torch
from torch import nn

from mlpzoo.errors import ConfigError

__all__ = ["Dropout", "dropout"]


def dropout(x: torch.Tensor, p: float, training: bool = True) -> torch.Tensor:
    """Functional form of :class:`Dropout` (as ``torch.nn.functional.dropout``)."""
    if not training or p == 0:
        return x
    keep = 1.0 - p
    # The uniform draws become the scaled mask in place: no bool tensor and no dtype conversion.
    return x * torch.rand(x.shape, device=x.device, dtype=x.dtype).lt_(keep).mul_(1.0 / keep)


def _check_p(p) -> float:
    if isinstance(p, bool) or not (isinstance(p, numbers.Real) and 0 <= p < 1):
        raise ConfigError(f"dropout p={p!r}; pass a probability in [0, 1)")
    return float(p)


class Dropout(nn.Module):
    """Drop-in for :class:`torch.nn.Dropout` (``p`` in [0, 1), no ``inplace``) with a cheaper mask draw."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        self.p = _check_p(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
