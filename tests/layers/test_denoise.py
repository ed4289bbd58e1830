"""Residual-MLP denoiser: embedding formula, identity start, conditioning and shape errors."""

import math

import pytest
import torch

from mlpzoo.layers.denoise import (
    ConditionedResidualBlock,
    ResidualMLPDenoiser,
    SinusoidalTimeEmbedding,
)


def test_time_embedding_matches_formula():
    emb = SinusoidalTimeEmbedding(8, scale=1000.0)
    t = torch.tensor([0.0, 0.25, 1.0])
    got = emb(t)
    for row, value in enumerate(t.tolist()):
        for k in range(4):
            angle = 1000.0 * value * math.exp(-math.log(10_000.0) * k / 4)
            assert got[row, k].item() == pytest.approx(math.sin(angle), abs=1e-4)
            assert got[row, 4 + k].item() == pytest.approx(math.cos(angle), abs=1e-4)
    with pytest.raises(ValueError, match="even"):
        SinusoidalTimeEmbedding(7)


def test_block_starts_as_identity_and_trains():
    block = ConditionedResidualBlock(6, 12, 4)
    x, cond = torch.randn(5, 6), torch.randn(5, 4)
    assert torch.equal(block(x, cond), x)
    block(x, cond).square().sum().backward()
    assert block.fc2.weight.grad.abs().sum() > 0


def test_denoiser_shapes_and_context():
    torch.manual_seed(0)
    net = ResidualMLPDenoiser(5, hidden_dim=16, n_blocks=2, time_dim=8, context_dim=3)
    x, t, c = torch.randn(4, 5), torch.rand(4), torch.randn(4, 3)
    out = net(x, t, c)
    assert out.shape == (4, 5)
    for block in net.blocks:  # give the zero-initialised blocks weight so conditioning shows
        torch.nn.init.normal_(block.fc2.weight)
    assert not torch.allclose(net(x, t, c), net(x, t, c + 1))
    assert not torch.allclose(net(x, t, c), net(x, t.flip(0), c))
    assert net(x, torch.tensor(0.5), c).shape == (4, 5)  # a scalar time broadcasts
    with pytest.raises(ValueError, match="context of width 3"):
        net(x, t)
    with pytest.raises(ValueError, match="width 5"):
        net(torch.randn(4, 6), t, c)
    with pytest.raises(ValueError, match="context_dim=0"):
        ResidualMLPDenoiser(5, hidden_dim=16)(x, t, c)


def test_denoiser_refuses_a_width_below_its_data():
    """A hidden width below the data's would leave the predicted noise in a subspace: refused, naming the fix."""
    with pytest.raises(ValueError, match=r"hidden_dim \(128\) must be >= data_dim \(192\)"):
        ResidualMLPDenoiser(192, hidden_dim=128)
    assert ResidualMLPDenoiser(192, hidden_dim=192).out_proj.weight.shape == (192, 192)
