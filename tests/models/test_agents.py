"""MENTOR's agents and OSPO's dispatch policies: matched active parameters, batch independence, masks, errors."""

import pytest
import torch

from mlpzoo.errors import ConfigError
from mlpzoo.layers.moe import MoEMLP
from mlpzoo.models.agents import ActorCriticAgent, matched_dense_hidden, moe_active_parameters
from mlpzoo.registry import create_model


@pytest.mark.parametrize("dim,expert_hidden,experts,top_k", [(64, 32, 8, 4), (32, 16, 4, 2), (128, 64, 8, 1)])
def test_dense_backbone_matches_the_moe_active_parameters_within_3_percent(dim, expert_hidden, experts, top_k):
    sizes = {"dim": dim, "expert_hidden": expert_hidden, "num_experts": experts, "top_k": top_k}
    moe = create_model("mentor_moe_agent", obs_dim=4, action_dim=2, **sizes)
    mlp = create_model("mentor_mlp_agent", obs_dim=4, action_dim=2, **sizes)
    assert abs(moe.active_parameters() - mlp.active_parameters()) / mlp.active_parameters() < 0.03
    assert mlp.active_parameters() == sum(p.numel() for p in mlp.parameters())  # dense: every weight is active
    assert moe.active_parameters() < sum(p.numel() for p in moe.parameters()) or top_k == experts


def test_active_parameter_count_of_a_moe_block():
    block = MoEMLP(64, 32, 8, 4)
    assert moe_active_parameters(64, 32, 8, 4) == block.active_parameters()
    dense = 2 * 64 * matched_dense_hidden(64, 32, 8, 4) + matched_dense_hidden(64, 32, 8, 4) + 64
    assert abs(dense - block.active_parameters()) <= 64 * 2 + 1  # rounding the width moves it by one row


def test_moe_agent_output_does_not_depend_on_the_rest_of_the_batch():
    torch.manual_seed(0)
    agent = create_model("mentor_moe_agent", obs_dim=4, action_dim=2).eval()
    obs = torch.randn(16, 4)
    with torch.no_grad():
        together = agent(obs)
        alone = torch.cat([agent(obs[i : i + 1]) for i in range(16)])
    assert torch.allclose(together, alone, atol=1e-5)


def test_policy_and_value_split_and_the_balance_loss():
    torch.manual_seed(0)
    agent = create_model("mentor_moe_agent_continuous", obs_dim=3, action_dim=2)
    params, value = agent.policy_and_value(torch.randn(5, 3))
    assert params.shape == (5, 4) and value.shape == (5,)
    assert agent.aux_loss.item() >= 1.0 - 1e-5  # E * sum f_e P_e is at least 1 (1 when perfectly balanced)
    dense = create_model("mentor_mlp_agent", obs_dim=3, action_dim=2)
    dense(torch.randn(5, 3))
    assert dense.aux_loss.item() == 0.0


def test_bad_agent_arguments():
    with pytest.raises(ConfigError, match="backbone='kan'; use one of moe, mlp"):
        ActorCriticAgent(4, 2, backbone="kan")
    with pytest.raises(ConfigError, match="action_dim=0"):
        ActorCriticAgent(4, 0)
    agent = ActorCriticAgent(4, 2)
    with pytest.raises(Exception, match=r"observation of shape \(\.\.\., 4\)"):
        agent(torch.randn(2, 5))


def test_dispatch_policy_masks_unavailable_candidates():
    torch.manual_seed(0)
    policy = create_model("ospo_dispatch_policy", feature_dim=6)
    candidates = torch.randn(2, 3, 6)
    mask = torch.tensor([[True, False, True], [True, True, True]])
    logits = policy(candidates, mask)
    assert logits.shape == (2, 3) and logits[0, 1] == float("-inf") and torch.isfinite(logits[1]).all()
    # One shared scorer: a candidate's logit depends on its own features only.
    swapped = policy(candidates[:, [2, 1, 0]])
    assert torch.allclose(swapped[:, [2, 1, 0]], policy(candidates))
