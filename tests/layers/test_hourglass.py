"""Residual MLP blocks (both shapes) and the fixed random lift: reference maths, gradients, errors."""

import pytest
import torch

from mlpzoo.errors import ConfigError
from mlpzoo.layers.hourglass import FixedRandomLift, ResidualMLPBlock


def reference_block(block: ResidualMLPBlock, z: torch.Tensor) -> torch.Tensor:
    """z + W_up gelu(W_down LN(z)), written out with explicit means and variances."""
    mean = z.mean(-1, keepdim=True)
    var = ((z - mean) ** 2).mean(-1, keepdim=True)
    normed = (z - mean) / torch.sqrt(var + block.norm.eps) * block.norm.weight + block.norm.bias
    h = normed @ block.down.weight.T + block.down.bias
    h = 0.5 * h * (1 + torch.erf(h / 2**0.5))
    return z + h @ block.up.weight.T + block.up.bias


@pytest.mark.parametrize("dim,hidden", [(32, 8), (8, 32)])  # hourglass and conventional shapes
def test_block_matches_reference(dim, hidden):
    torch.manual_seed(0)
    block = ResidualMLPBlock(dim, hidden)
    with torch.no_grad():  # non-trivial norm affine parameters
        block.norm.weight.uniform_(0.5, 1.5)
        block.norm.bias.uniform_(-0.5, 0.5)
    z = torch.randn(5, 3, dim)
    torch.testing.assert_close(block(z), reference_block(block, z), rtol=1e-5, atol=1e-5)


def test_block_gradients():
    torch.manual_seed(0)
    block = ResidualMLPBlock(6, 3).double()
    z = torch.randn(4, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(block, (z,))
    block(z).square().sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in block.parameters())


def test_block_parameter_count():
    block = ResidualMLPBlock(256, 32)
    assert sum(p.numel() for p in block.parameters()) == 2 * 256 * 32 + 32 + 256 + 2 * 256


def test_block_bad_input():
    block = ResidualMLPBlock(8, 4)
    with pytest.raises(ConfigError, match="width 8"):
        block(torch.zeros(2, 7))
    with pytest.raises(ConfigError, match="norm"):
        ResidualMLPBlock(8, 4, norm="batch")
    with pytest.raises(ConfigError):
        ResidualMLPBlock(0, 4)


def test_lift_is_fixed_reproducible_and_saved():
    lift = FixedRandomLift(10, 64, seed=3)
    assert list(lift.parameters()) == []
    assert "weight" in lift.state_dict()
    torch.testing.assert_close(FixedRandomLift(10, 64, seed=3).weight, lift.weight)
    assert not torch.equal(FixedRandomLift(10, 64, seed=4).weight, lift.weight)
    x = torch.randn(7, 10, requires_grad=True)
    out = lift(x)
    torch.testing.assert_close(out, x @ lift.weight.T)
    out.sum().backward()
    assert x.grad is not None and lift.weight.grad is None


def test_lift_preserves_norms_on_average():
    torch.manual_seed(0)
    x = torch.randn(2000, 16)
    ratio = FixedRandomLift(16, 512, seed=0)(x).norm(dim=1) / x.norm(dim=1)
    assert abs(ratio.mean().item() - 1) < 0.05 and ratio.std().item() < 0.1


def test_lift_bad_input():
    with pytest.raises(ConfigError, match="width 10"):
        FixedRandomLift(10, 20)(torch.zeros(3, 11))
