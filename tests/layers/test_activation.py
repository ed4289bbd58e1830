"""Dice (DIN, section 4.3) and the activation factory."""

import numpy as np
import pytest
import torch
from torch import nn

from mlpzoo.errors import ConfigError
from mlpzoo.layers.activation import Dice, make_activation


def _dice_manual(s, mean, var, eps, alpha):
    p = 1.0 / (1.0 + np.exp(-(s - mean) / np.sqrt(var + eps)))
    return p * s + (1 - p) * alpha * s


def test_dice_train_mode_uses_batch_statistics():
    dice = Dice(3)
    alpha = np.array([0.25, -0.5, 1.5])
    with torch.no_grad():
        dice.alpha.copy_(torch.tensor(alpha))
    s = np.array([[1.0, -2.0, 0.5], [3.0, 0.0, -1.0], [-0.5, 4.0, 2.0], [0.2, 1.0, 0.0]])
    dice.train()
    out = dice(torch.tensor(s, dtype=torch.float32)).detach().numpy()
    expected = _dice_manual(s, s.mean(0), s.var(0), 1e-8, alpha)  # biased variance, as batch norm
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    # Shifting the whole batch leaves p unchanged: p is a function of the standardised input.
    shifted = dice(torch.tensor(s + 10.0, dtype=torch.float32)).detach().numpy()
    np.testing.assert_allclose(shifted, _dice_manual(s + 10.0, s.mean(0) + 10.0, s.var(0), 1e-8, alpha), rtol=1e-5)


def test_dice_eval_mode_uses_running_statistics():
    dice = Dice(2, momentum=0.1)
    with torch.no_grad():
        dice.alpha.fill_(0.3)
    s = torch.tensor([[1.0, 2.0], [3.0, -1.0], [0.0, 5.0]])
    dice.train()
    dice(s)
    running_mean = 0.1 * s.numpy().mean(0)
    running_var = 0.9 * 1.0 + 0.1 * s.numpy().var(0, ddof=1)  # running variance is unbiased
    np.testing.assert_allclose(dice.norm.running_mean.numpy(), running_mean, rtol=1e-5)
    np.testing.assert_allclose(dice.norm.running_var.numpy(), running_var, rtol=1e-5)

    dice.eval()
    row = torch.tensor([[0.7, -1.3]])
    batch_a = torch.cat([row, torch.tensor([[100.0, 100.0]])])
    batch_b = torch.cat([torch.tensor([[-50.0, 3.0], [8.0, 8.0]]), row])
    out_a = dice(batch_a)[0]
    out_b = dice(batch_b)[2]
    torch.testing.assert_close(out_a, out_b)
    expected = _dice_manual(row.numpy()[0], running_mean, running_var, 1e-8, 0.3)
    np.testing.assert_allclose(out_a.detach().numpy(), expected, rtol=1e-5)
    # Evaluation does not move the running statistics.
    np.testing.assert_allclose(dice.norm.running_mean.numpy(), running_mean, rtol=1e-5)


def test_dice_three_dimensional_input():
    torch.manual_seed(0)
    dice = Dice(4)
    with torch.no_grad():
        dice.alpha.fill_(0.5)
    s = torch.randn(3, 5, 4)
    out = dice(s)
    assert out.shape == (3, 5, 4)
    flat = s.reshape(-1, 4).numpy().astype(np.float64)
    expected = _dice_manual(flat, flat.mean(0), flat.var(0), 1e-8, 0.5).reshape(3, 5, 4)
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-4, atol=1e-5)
    dice.eval()
    assert dice(s).shape == (3, 5, 4)


def test_dice_alpha_gets_gradient():
    dice = Dice(3)
    dice(torch.randn(6, 3)).sum().backward()
    assert dice.alpha.grad is not None and dice.alpha.grad.abs().sum() > 0


def test_make_activation_known_and_unknown():
    assert isinstance(make_activation("relu", 3), nn.ReLU)
    assert isinstance(make_activation("ReLU", 3), nn.ReLU)
    prelu = make_activation("prelu", 7)
    assert isinstance(prelu, nn.PReLU) and prelu.weight.numel() == 7
    assert torch.allclose(prelu.weight, torch.full((7,), 0.25))
    dice = make_activation("dice", 5)
    assert isinstance(dice, Dice) and dice.alpha.numel() == 5
    with pytest.raises(ConfigError) as info:
        make_activation("nope", 3)
    message = str(info.value)
    assert "nope" in message and "relu" in message and "dice" in message
    assert "\n" not in message
