"""PPO, GRPO and OSPO on the dispatch simulator: every algorithm trains, a seed pins the run, bad calls fail."""

import pytest
import torch

from mlpzoo.errors import ConfigError
from mlpzoo.registry import create_model
from mlpzoo.rl.dispatch import FEATURES, STATE_FEATURES, DispatchConfig, DispatchSimulator
from mlpzoo.rl.dispatch_train import (
    ALGORITHMS,
    DispatchTrainConfig,
    advantages,
    evaluate_dispatch,
    greedy,
    nearest_order,
    rollout_day,
    train_dispatch,
)

SIM = DispatchConfig(vehicles=6, ticks=30, base_demand=2.0)
TRAIN = DispatchTrainConfig(iterations=2, cities=2, epochs=1, minibatches=2)


def _models(algorithm: str, seed: int = 0):
    torch.manual_seed(seed)
    policy = create_model("ospo_dispatch_policy", feature_dim=FEATURES, hidden_units=(16,))
    critic = create_model("ospo_dispatch_critic", state_dim=STATE_FEATURES, hidden_units=(16,))
    return policy, critic if algorithm == "ppo" else None


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_every_algorithm_trains_and_a_seed_pins_the_run(algorithm):
    runs = []
    for _ in range(2):
        policy, critic = _models(algorithm)
        record = train_dispatch(policy, algorithm, SIM, TRAIN, seed=5, critic=critic, progress=False)
        runs.append((record["served_curve"], [p.detach().clone() for p in policy.parameters()]))
    assert len(runs[0][0]) == TRAIN.iterations and runs[0][0] == runs[1][0]
    assert all(torch.equal(a, b) for a, b in zip(runs[0][1], runs[1][1]))
    fresh, _ = _models(algorithm)
    assert any(not torch.equal(a, b) for a, b in zip(runs[0][1], fresh.parameters()))  # the update moved it


def test_ospo_advantage_is_the_one_step_reward_against_the_tick_group():
    policy, _ = _models("ospo")
    day = rollout_day(policy, DispatchSimulator(SIM, 2), 0, torch.Generator().manual_seed(0))
    advantage, targets = advantages("ospo", day, TRAIN, None)
    assert targets is None and advantage.shape == day.actions.shape
    # Standardised within every (tick, city) group of deciding vehicles: a group's advantages sum to zero.
    per_group = torch.zeros_like(day.rewards)
    per_group[day.idle] = advantage
    assert torch.allclose(per_group.sum(-1), torch.zeros(()), atol=1e-4)


def test_ppo_needs_a_critic_and_the_others_refuse_one():
    policy, critic = _models("ppo")
    with pytest.raises(ConfigError, match="ppo needs critic"):
        train_dispatch(policy, "ppo", SIM, TRAIN, seed=0, progress=False)
    with pytest.raises(ConfigError, match="ospo takes no critic"):
        train_dispatch(policy, "ospo", SIM, TRAIN, seed=0, critic=critic, progress=False)
    with pytest.raises(ConfigError, match="use one of ppo, grpo, ospo"):
        train_dispatch(policy, "a2c", SIM, TRAIN, seed=0, progress=False)


def test_evaluation_reports_served_orders_and_pickup_time():
    policy, _ = _models("grpo")
    learned = evaluate_dispatch(greedy(policy), SIM, seed=1, cities=3)
    heuristic = evaluate_dispatch(nearest_order, SIM, seed=1, cities=3)
    for result in (learned, heuristic):
        assert result["served"] > 0 and 0 <= result["pickup_time"] <= SIM.max_pickup and 0 < result["served_share"] <= 1
    assert heuristic == evaluate_dispatch(nearest_order, SIM, seed=1, cities=3)
