"""LION against its update rule written out by hand: sign of the interpolated momentum, decoupled decay."""

import pytest
import torch
from torch import nn

from mlpzoo.errors import ConfigError
from mlpzoo.train.lion import Lion


def lion_reference(theta, grads, lr, beta1, beta2, weight_decay):
    """Algorithm 2 of Chen et al. (2023), one parameter, a loop over steps."""
    theta = theta.clone()
    m = torch.zeros_like(theta)
    for g in grads:
        c = beta1 * m + (1 - beta1) * g
        theta = theta * (1 - lr * weight_decay) - lr * torch.sign(c)
        m = beta2 * m + (1 - beta2) * g
    return theta, m


@pytest.mark.parametrize("weight_decay", [0.0, 0.5])
def test_matches_written_out_rule(weight_decay):
    torch.manual_seed(0)
    start = torch.randn(4, 3)
    grads = [torch.randn(4, 3) for _ in range(5)]
    grads[2][0, 0] = 0.0  # sign(0) = 0: such a coordinate moves only by weight decay
    param = nn.Parameter(start.clone())
    bias = nn.Parameter(torch.ones(3))  # no gradient: must stay untouched, decay included
    opt = Lion([param, bias], lr=0.01, betas=(0.9, 0.99), weight_decay=weight_decay)
    for g in grads:
        param.grad = g.clone()
        opt.step()
    expected, momentum = lion_reference(start, grads, 0.01, 0.9, 0.99, weight_decay)
    torch.testing.assert_close(param.data, expected)
    torch.testing.assert_close(opt.state[param]["exp_avg"], momentum)
    assert torch.equal(bias.data, torch.ones(3))


def test_every_coordinate_moves_by_lr():
    param = nn.Parameter(torch.zeros(100))
    param.grad = torch.randn(100) * torch.logspace(-6, 3, 100)
    Lion([param], lr=0.1).step()
    torch.testing.assert_close(param.data.abs(), torch.full((100,), 0.1))


def test_param_groups_and_state_dict_roundtrip():
    torch.manual_seed(0)
    a, b = nn.Parameter(torch.randn(3)), nn.Parameter(torch.randn(2))
    opt = Lion([{"params": [a], "lr": 0.1}, {"params": [b]}], lr=0.01, weight_decay=0.1)
    a.grad, b.grad = torch.ones(3), -torch.ones(2)
    opt.step()
    a2, b2 = nn.Parameter(a.data.clone()), nn.Parameter(b.data.clone())
    opt2 = Lion([{"params": [a2], "lr": 0.1}, {"params": [b2]}], lr=0.01, weight_decay=0.1)
    opt2.load_state_dict(opt.state_dict())
    for p, q in ((a, a2), (b, b2)):
        p.grad = q.grad = torch.randn(p.shape)
    opt.step()
    opt2.step()
    torch.testing.assert_close(a.data, a2.data)
    torch.testing.assert_close(b.data, b2.data)


def test_closure_returns_loss_and_reduces_it():
    torch.manual_seed(0)
    w = nn.Parameter(torch.randn(5))
    opt = Lion([w], lr=0.05)

    def closure():
        opt.zero_grad()
        loss = (w - 1).square().sum()
        loss.backward()
        return loss

    first = opt.step(closure).item()
    assert first == pytest.approx((w.detach() + 0.05 * torch.sign(w.detach() - 1) - 1).square().sum().item(), rel=1e-5)
    for _ in range(30):  # before the slow momentum (beta2 = 0.99) overshoots
        last = opt.step(closure).item()
    assert last < 0.5 * first


@pytest.mark.parametrize("kwargs", [{"lr": 0.0}, {"betas": (0.9, 1.0)}, {"weight_decay": -1.0}])
def test_bad_hyperparameters(kwargs):
    with pytest.raises(ConfigError):
        Lion([nn.Parameter(torch.zeros(1))], **kwargs)
