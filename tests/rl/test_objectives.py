"""GAE, reward-to-go, GRPO/OSPO group-relative advantages and PPO's clipped surrogate against hand computations."""

import torch

from mlpzoo.rl.objectives import (
    discounted_returns,
    generalized_advantages,
    group_relative_advantages,
    normalize,
    ppo_clip_loss,
)


def test_gae_matches_a_hand_computation_and_stops_at_episode_ends():
    rewards = torch.tensor([[1.0], [0.0], [2.0]])
    values = torch.tensor([[0.5], [0.2], [0.1]])
    dones = torch.tensor([[0.0], [1.0], [0.0]])
    last = torch.tensor([0.3])
    gamma, lam = 0.9, 0.8
    adv, ret = generalized_advantages(rewards, values, dones, last, gamma, lam)
    d2 = 2.0 + gamma * 0.3 - 0.1
    d1 = 0.0 - 0.2  # the episode ended at step 1: no bootstrap, and step 2's advantage does not flow back
    d0 = 1.0 + gamma * 0.2 - 0.5
    expected = torch.tensor([[d0 + gamma * lam * d1], [d1], [d2]])
    assert torch.allclose(adv, expected)
    assert torch.allclose(ret, expected + values)


def test_gae_with_lambda_one_and_no_critic_is_the_discounted_return():
    rewards = torch.rand(6, 3, generator=torch.Generator().manual_seed(0))
    dones = torch.zeros(6, 3)
    adv, _ = generalized_advantages(rewards, torch.zeros(6, 3), dones, torch.zeros(3), 0.95, 1.0)
    assert torch.allclose(adv, discounted_returns(rewards, 0.95))


def test_discounted_returns():
    returns = discounted_returns(torch.tensor([1.0, 2.0, 4.0]), 0.5)
    assert torch.allclose(returns, torch.tensor([1 + 0.5 * 2 + 0.25 * 4, 2 + 0.5 * 4, 4.0]))


def test_group_relative_advantage_is_standardised_within_each_group_only():
    scores = torch.tensor([[1.0, 3.0, 100.0, 5.0]])
    members = torch.tensor([[True, True, False, True]])
    adv = group_relative_advantages(scores, members)
    assert adv[0, 2] == 0  # not in the group
    inside = adv[members]
    assert torch.allclose(inside.mean(), torch.tensor(0.0), atol=1e-6)
    assert torch.allclose(inside, torch.tensor([-1.0, 0.0, 1.0]) * (3 / 8) ** 0.5 * 2, atol=1e-4)


def test_a_group_of_one_has_no_advantage():
    adv = group_relative_advantages(torch.tensor([[7.0, 2.0]]), torch.tensor([[True, False]]))
    assert torch.equal(adv, torch.zeros(1, 2))


def test_ppo_clip_loss_clips_the_ratio_in_the_direction_of_the_advantage():
    old = torch.zeros(2)
    new = torch.log(torch.tensor([1.5, 0.5]))  # ratios 1.5 and 0.5
    # Positive advantage: the gain is capped at 1 + clip; negative advantage: the ratio is floored at 1 - clip.
    assert torch.isclose(ppo_clip_loss(new[:1], old[:1], torch.tensor([1.0]), 0.2), torch.tensor(-1.2))
    assert torch.isclose(ppo_clip_loss(new[1:], old[1:], torch.tensor([-1.0]), 0.2), torch.tensor(0.8))
    # Inside the trust region the loss is the plain surrogate.
    assert torch.isclose(
        ppo_clip_loss(torch.log(torch.tensor([1.1])), old[:1], torch.tensor([2.0]), 0.2), torch.tensor(-2.2)
    )


def test_normalize():
    x = normalize(torch.tensor([1.0, 2.0, 3.0]))
    assert torch.isclose(x.mean(), torch.tensor(0.0), atol=1e-6) and torch.isclose(
        x.std(unbiased=False), torch.tensor(1.0)
    )
    assert torch.equal(normalize(torch.tensor([4.0])), torch.tensor([0.0]))
