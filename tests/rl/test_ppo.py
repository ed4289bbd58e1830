"""The PPO learner: a seed pins the return curve, continuous actions work, an agent that does not fit is refused."""

import pytest
import torch

from mlpzoo.errors import ConfigError
from mlpzoo.registry import create_model

pytest.importorskip("gymnasium")

from mlpzoo.rl.ppo import PPOConfig, train_ppo  # noqa: E402

TINY = {"dim": 8, "depth": 1, "num_experts": 4, "top_k": 2, "expert_hidden": 4}


def _run(name: str, env: str, seed: int, **config):
    torch.manual_seed(seed)
    agent = create_model(
        name, obs_dim=4 if env == "CartPole-v1" else 3, action_dim=2 if env == "CartPole-v1" else 1, **TINY
    )
    settings = {
        "total_steps": 512,
        "num_envs": 2,
        "rollout_steps": 64,
        "epochs": 1,
        "minibatches": 2,
        "curve_points": 4,
    }
    return train_ppo(agent, env, PPOConfig(**{**settings, **config}), seed=seed, progress=False), agent


@pytest.mark.parametrize("perturbation", ["none", "task"])
def test_same_seed_gives_the_same_return_curve(perturbation):
    first, agent_a = _run("mentor_moe_agent", "CartPole-v1", 3, perturbation=perturbation, perturb_every=1)
    second, agent_b = _run("mentor_moe_agent", "CartPole-v1", 3, perturbation=perturbation, perturb_every=1)
    assert first["episodes"] and first["episodes"] == second["episodes"] and first["curve"] == second["curve"]
    assert all(torch.equal(a, b) for a, b in zip(agent_a.parameters(), agent_b.parameters()))
    other, _ = _run("mentor_moe_agent", "CartPole-v1", 4, perturbation=perturbation, perturb_every=1)
    assert other["episodes"] != first["episodes"]
    if perturbation == "task":
        assert first["perturbations"] >= 1


def test_continuous_actions_on_pendulum():
    record, agent = _run("mentor_moe_agent_continuous", "Pendulum-v1", 0)
    assert record["env_steps"] == 512 and len(record["curve"]) == 4
    assert not torch.equal(agent.log_std.detach(), torch.zeros(1))  # learned through the Gaussian's log-probability
    assert all(r < 0 for _, r in record["episodes"])  # Pendulum's returns are costs


def test_random_perturbation_needs_a_builder():
    torch.manual_seed(0)
    agent = create_model("mentor_mlp_agent", obs_dim=4, action_dim=2, **TINY)
    with pytest.raises(ConfigError, match="fresh_agent"):
        train_ppo(agent, "CartPole-v1", PPOConfig(total_steps=64, perturbation="random"), seed=0, progress=False)


def test_an_agent_that_does_not_fit_the_environment_is_refused():
    torch.manual_seed(0)
    agent = create_model("mentor_mlp_agent", obs_dim=4, action_dim=3, **TINY)
    with pytest.raises(ConfigError, match="does not fit CartPole-v1.*action_dim=2"):
        train_ppo(agent, "CartPole-v1", PPOConfig(total_steps=64), seed=0, progress=False)


def test_unknown_perturbation_is_refused():
    with pytest.raises(ConfigError, match="use one of none, task, random"):
        PPOConfig(perturbation="shrink")
