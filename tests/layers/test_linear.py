"""mlpzoo's Linear: nn.Linear's parameters and values, with the backward's products reoriented."""

import pytest
import torch
from torch import nn

from mlpzoo.layers.linear import Linear, _LinearFunction, product


@pytest.mark.parametrize("shape", [(4096, 400, 10), (400, 4096, 10), (4096, 1, 400), (64, 100, 400), (5, 3, 2)])
def test_product_equals_matmul_in_any_orientation(shape):
    rows, inner, columns = shape
    a, b = torch.randn(rows, inner, dtype=torch.float64), torch.randn(inner, columns, dtype=torch.float64)
    result = product(a, b)
    assert result.shape == (rows, columns) and result.is_contiguous()
    assert torch.allclose(result, a @ b)


@pytest.mark.parametrize("features", [(10, 400), (400, 1), (100, 400), (3, 5)])
@pytest.mark.parametrize("bias", [True, False])
def test_gradients_match_nn_linear(features, bias):
    torch.manual_seed(0)
    ours = Linear(*features, bias=bias).double().train()
    reference = nn.Linear(*features, bias=bias).double()
    reference.load_state_dict(ours.state_dict())
    x = torch.randn(96, features[0], dtype=torch.float64)
    grad = torch.randn(96, features[1], dtype=torch.float64)
    for module in (ours, reference):
        module.zero_grad()
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    ours(x1).backward(grad)
    reference(x2).backward(grad)
    assert torch.allclose(x1.grad, x2.grad)
    for mine, theirs in zip(ours.parameters(), reference.parameters()):
        assert torch.allclose(mine.grad, theirs.grad)


def test_gradcheck():
    x = torch.randn(40, 10, dtype=torch.float64, requires_grad=True)
    layer = Linear(10, 3).double()
    assert torch.autograd.gradcheck(_LinearFunction.apply, (x, layer.weight, layer.bias))


def test_same_state_dict_and_plain_forward_outside_training():
    layer = Linear(6, 4)
    assert isinstance(layer, nn.Linear) and set(layer.state_dict()) == {"weight", "bias"}
    x = torch.randn(3, 6, requires_grad=True)
    assert layer.train()(x).grad_fn.name() == "_LinearFunctionBackward"
    assert layer.eval()(x).grad_fn.name() != "_LinearFunctionBackward"  # evaluation and export: F.linear
    assert layer.train()(torch.randn(2, 3, 6)).shape == (2, 3, 4)  # batched inputs: F.linear
