"""MoEMLP: hand-computed load-balancing loss, equality with a per-token reference (capacity drops included),
gradients."""

import math

import pytest
import torch
import torch.nn.functional as F

from mlpzoo.layers.moe import DenseMLPBlock, MoEMLP, load_balancing_loss


def test_load_balancing_loss_hand_computed():
    probs = torch.tensor([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    # f = (3/4, 1/4) from first choices, P = (0.65, 0.35): 2 * (0.75 * 0.65 + 0.25 * 0.35) = 1.15
    assert load_balancing_loss(probs, probs.argmax(1)).item() == pytest.approx(1.15)
    uniform = torch.full((8, 4), 0.25)
    assert load_balancing_loss(uniform, torch.arange(8) % 4).item() == pytest.approx(1.0)


def reference(moe: MoEMLP, x: torch.Tensor) -> torch.Tensor:
    """Token by token: top-k, renormalised gates, capacity filled rank by rank in token order."""
    tokens = x.reshape(-1, moe.dim)
    probs = torch.softmax(tokens @ moe.router.weight.t(), -1)
    gates, experts = probs.topk(moe.top_k, -1)
    if moe.top_k > 1:
        gates = gates / gates.sum(-1, keepdim=True)
    capacity, used = moe.capacity(len(tokens)), [0] * moe.num_experts
    out = torch.zeros_like(tokens)
    for rank in range(moe.top_k):
        for i in range(len(tokens)):
            e = int(experts[i, rank])
            if used[e] >= capacity:
                continue
            used[e] += 1
            h = F.gelu(tokens[i] @ moe.w1[e] + moe.b1[e])
            out[i] += gates[i, rank] * (h @ moe.w2[e] + moe.b2[e])
    return out.reshape(x.shape)


@pytest.mark.parametrize("top_k,capacity_factor", [(1, None), (2, None), (2, 0.5), (1, 0.6), (3, 1.0)])
def test_matches_per_token_reference(top_k, capacity_factor):
    torch.manual_seed(0)
    moe = MoEMLP(6, 10, num_experts=4, top_k=top_k, capacity_factor=capacity_factor)
    with torch.no_grad():
        moe.router.weight.mul_(5)  # sharp, unbalanced routing so that capacity binds
    x = torch.randn(2, 15, 6)
    torch.testing.assert_close(moe(x), reference(moe, x), rtol=1e-5, atol=1e-5)
    if capacity_factor is not None and capacity_factor < 1:
        assert moe.last_dropped_fraction > 0
    if capacity_factor is None:
        assert moe.last_dropped_fraction == 0


def test_gradients_reach_router_and_experts():
    torch.manual_seed(1)
    moe = MoEMLP(8, 16, num_experts=4, top_k=2)
    x = torch.randn(32, 8, requires_grad=True)
    (moe(x).square().sum() + 0.01 * moe.aux_loss).backward()
    for p in (moe.router.weight, moe.w1, moe.w2, moe.b1, moe.b2, x):
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0


def test_buffer_grows_with_tokens_times_k_not_experts():
    moe_small, moe_many = MoEMLP(4, 4, num_experts=4, top_k=2), MoEMLP(4, 4, num_experts=64, top_k=2)
    n = 1024
    # (E, capacity, dim) buffer: E * ceil(1.25 * n * k / E) rows, about 1.25 * n * k whatever E is.
    rows = [m.num_experts * m.capacity(n) for m in (moe_small, moe_many)]
    assert all(r <= math.ceil(1.25 * n * 2) + m.num_experts for r, m in zip(rows, (moe_small, moe_many)))


def test_active_parameters_match_dense_counterpart():
    moe = MoEMLP(32, 64, num_experts=8, top_k=2)
    dense = DenseMLPBlock(32, 128)
    assert moe.active_parameters() - 32 * 8 == sum(p.numel() for p in dense.parameters()) + 32


@pytest.mark.parametrize("kwargs", [{"top_k": 0}, {"top_k": 5}, {"capacity_factor": 0.0}, {"activation": "tanh"}])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        MoEMLP(4, 4, num_experts=4, **kwargs)
