"""Forward FLOPs of a model on an example batch.

Matrix products, convolutions and attention are counted by PyTorch's own
``torch.utils.flop_counter.FlopCounterMode`` (2 FLOPs per multiply-add). It ignores elementwise
work, which is most of the cost of some layers (a KAN's basis functions, a rational activation);
a module that knows its elementwise cost reports it through a method
``elementwise_flops(inputs: tuple[Tensor, ...]) -> int`` and is added on top.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

__all__ = ["count_flops", "flops_per_sample"]


def count_flops(model: nn.Module, *inputs: torch.Tensor) -> int:
    """Forward FLOPs of ``model(*inputs)`` for the whole batch (no gradients, model mode unchanged)."""
    extra = [0]

    def add_elementwise(module, args, _output):
        extra[0] += int(module.elementwise_flops(args))

    hooks = [m.register_forward_hook(add_elementwise) for m in model.modules() if hasattr(m, "elementwise_flops")]
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(*inputs)
    finally:
        for hook in hooks:
            hook.remove()
    return int(counter.get_total_flops()) + extra[0]


def flops_per_sample(model: nn.Module, *inputs: torch.Tensor) -> float:
    """:func:`count_flops` divided by the batch size (the first dimension of the first input)."""
    return count_flops(model, *inputs) / inputs[0].shape[0]
