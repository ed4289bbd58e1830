"""mlpzoo's Dropout: the function of torch.nn.Dropout with a cheaper mask draw."""

import pytest
import torch
from torch import nn

from mlpzoo.errors import ConfigError
from mlpzoo.layers.dropout import Dropout, dropout
from mlpzoo.layers.mlp import MLP


def test_keeps_units_with_probability_one_minus_p_and_rescales_them():
    x = torch.ones(400_000)
    out = Dropout(0.4).train()(x)
    kept = out != 0
    assert kept.float().mean().item() == pytest.approx(0.6, abs=0.003)
    assert torch.allclose(out[kept], torch.full_like(out[kept], 1 / 0.6))
    assert out.mean().item() == pytest.approx(1.0, abs=0.01)  # the expectation is preserved


def test_identity_in_evaluation_and_at_p_zero():
    x = torch.randn(8, 5)
    assert Dropout(0.5).eval()(x) is x
    assert Dropout(0.0).train()(x) is x
    assert dropout(x, 0.5, training=False) is x


def test_gradient_is_the_mask_and_a_seed_pins_it():
    x = torch.randn(64, 32, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
    torch.manual_seed(3)
    out = Dropout(0.3).train()(x)
    out.sum().backward()
    assert torch.equal(x.grad, (out.detach() != 0).float() / 0.7)
    torch.manual_seed(3)
    again = Dropout(0.3).train()(x.detach())
    assert torch.equal(again, out.detach())


@pytest.mark.parametrize("p", [1.0, -0.1, True, "0.5"])
def test_refuses_a_probability_outside_zero_one(p):
    with pytest.raises(ConfigError, match="dropout p="):
        Dropout(p)


def test_mlp_uses_it():
    mlp = MLP(4, (8,), 1, dropout=0.2)
    assert any(isinstance(m, Dropout) for m in mlp) and not any(isinstance(m, nn.Dropout) for m in mlp)
