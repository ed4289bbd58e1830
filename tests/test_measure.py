"""FLOP counting: matrix products by PyTorch's counter, elementwise work by the module's own method."""

import torch
from torch import nn

from mlpzoo.measure import count_flops, flops_per_sample


def test_linear_stack_counts_two_flops_per_multiply_add():
    model = nn.Sequential(nn.Linear(10, 20), nn.GELU(), nn.Linear(20, 3))
    x = torch.randn(4, 10)
    assert count_flops(model, x) == 2 * 4 * (10 * 20 + 20 * 3)
    assert flops_per_sample(model, x) == 2 * (10 * 20 + 20 * 3)


class Squares(nn.Module):
    def forward(self, x):
        return x * x

    def elementwise_flops(self, inputs):
        return inputs[0].numel()


def test_elementwise_flops_are_added_and_hooks_removed():
    model = nn.Sequential(nn.Linear(5, 5, bias=False), Squares())
    x = torch.randn(3, 5)
    assert count_flops(model, x) == 2 * 3 * 25 + 15
    assert count_flops(model, x) == 2 * 3 * 25 + 15  # hooks from the first call are gone
