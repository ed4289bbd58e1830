"""Advantages and losses of the policy-gradient methods the decision-making claims compare.

- PPO: Schulman, Wolski, Dhariwal, Radford & Klimov, "Proximal Policy Optimization Algorithms", 2017,
  arXiv:1707.06347 (clipped surrogate, Eq. 7); GAE: Schulman, Moritz, Levine, Jordan & Abbeel,
  "High-Dimensional Continuous Control Using Generalized Advantage Estimation", 2016, arXiv:1506.02438.
- GRPO: Shao et al., "DeepSeekMath", 2024, arXiv:2402.03300: the critic's baseline is replaced by the
  mean reward of a group of samples, normalised by the group's standard deviation. For ride-hailing
  (OSPO paper) the group is the fleet's vehicles deciding at the same tick of the same city.
- OSPO ("One Step is Enough", 2025): under a homogeneous fleet the policy can be trained from one-step
  rewards alone, each agent's immediate reward against the same group average.
"""

from __future__ import annotations

import torch


def generalized_advantages(
    rewards: torch.Tensor, values: torch.Tensor, dones: torch.Tensor, last_value: torch.Tensor, gamma: float, lam: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """GAE over a rollout ``(T, ...)``: returns ``(advantages, returns)``, both ``(T, ...)``.

    ``dones[t]`` marks that the episode ended at step ``t`` (no bootstrap from ``t + 1``);
    ``last_value`` is the critic's value of the state after the last step.
    """
    advantages = torch.zeros_like(rewards)
    running = torch.zeros_like(last_value)
    next_value = last_value
    for t in range(rewards.shape[0] - 1, -1, -1):
        alive = 1.0 - dones[t].float()
        delta = rewards[t] + gamma * next_value * alive - values[t]
        running = delta + gamma * lam * alive * running
        advantages[t] = running
        next_value = values[t]
    return advantages, advantages + values


def discounted_returns(rewards: torch.Tensor, gamma: float) -> torch.Tensor:
    """Reward-to-go ``G_t = sum_k gamma^k r_{t+k}`` over a finished episode ``(T, ...)``."""
    returns = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[0])
    for t in range(rewards.shape[0] - 1, -1, -1):
        running = rewards[t] + gamma * running
        returns[t] = running
    return returns


def group_relative_advantages(scores: torch.Tensor, members: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """GRPO's advantage: ``(score - group mean) / (group std + eps)`` over the last dimension.

    ``scores (..., N)`` hold one score per agent and ``members (..., N)`` (bool) who belongs to the
    group (the agents that acted); non-members get 0. A group of one has no baseline to compare
    against, so its advantage is 0 too.
    """
    weight = members.float()
    count = weight.sum(-1, keepdim=True).clamp_min(1.0)
    mean = (scores * weight).sum(-1, keepdim=True) / count
    var = ((scores - mean) ** 2 * weight).sum(-1, keepdim=True) / count
    return (scores - mean) / (var.sqrt() + eps) * weight


def ppo_clip_loss(logp: torch.Tensor, old_logp: torch.Tensor, advantages: torch.Tensor, clip: float) -> torch.Tensor:
    """PPO's clipped surrogate (to minimise): ``-mean(min(rho A, clip(rho, 1 - eps, 1 + eps) A))``."""
    ratio = torch.exp(logp - old_logp)
    clipped = torch.clamp(ratio, 1.0 - clip, 1.0 + clip)
    return -torch.min(ratio * advantages, clipped * advantages).mean()


def normalize(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Zero mean, unit standard deviation over the whole tensor (PPO's per-minibatch advantage normalisation)."""
    return (x - x.mean()) / (x.std(unbiased=False) + eps) if x.numel() > 1 else x - x.mean()
