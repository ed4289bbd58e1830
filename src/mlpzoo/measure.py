"""Measuring models: parameters, forward FLOPs on an example batch, inference throughput.

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

__all__ = ["count_flops", "count_parameters", "flops_per_sample", "samples_per_second"]


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters of ``model`` (only those with ``requires_grad`` when ``trainable_only``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


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


def samples_per_second(model: nn.Module, *inputs: torch.Tensor, repeats: int = 5) -> float:
    """Inference throughput of ``model(*inputs)``: batch size / median seconds of ``repeats`` timed calls
    after one warm-up (no gradients, eval mode; the model's mode is restored)."""
    import statistics
    import time

    training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(*inputs)
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                model(*inputs)
                times.append(time.perf_counter() - start)
    finally:
        model.train(training)
    return inputs[0].shape[0] / statistics.median(times)
