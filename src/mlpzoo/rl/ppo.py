"""An on-policy PPO learner for gymnasium control tasks from states, with optional weight perturbation.

PPO: Schulman et al., 2017, arXiv:1707.06347, with the usual implementation details (GAE with
lambda 0.95, advantage normalisation per minibatch, value loss weight 0.5, entropy bonus 0.01,
gradient-norm clipping 0.5, linearly annealed learning rate 2.5e-4, 4 epochs of 4 minibatches over
rollouts of 128 steps from 4 environments): the defaults of Huang et al., "The 37 Implementation
Details of Proximal Policy Optimization", ICLR blog track 2022. Episodes that end by truncation are
treated as terminal (no bootstrap), as in those defaults.

MENTOR (arXiv:2410.14972) reports its method on top of PPO for state-based locomotion as well as on
DrQ-v2 from pixels; here the agent is any module with ``policy_and_value(obs)`` and ``aux_loss``
(:class:`mlpzoo.models.agents.ActorCriticAgent`). Every ``perturb_every`` updates the agent's weights
are perturbed: ``"task"`` is MENTOR's task-oriented perturbation, ``"random"`` DrM's shrink-and-perturb.

Every random draw (actions, minibatches, perturbations, environment resets) comes from ``seed``, so a
seed and the agent's initial weights pin the whole return curve.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from mlpzoo.errors import ConfigError
from mlpzoo.rl.curves import return_curve
from mlpzoo.rl.envs import EnvSpec, make_vector_env
from mlpzoo.rl.objectives import generalized_advantages, normalize, ppo_clip_loss
from mlpzoo.rl.perturb import TaskOrientedPerturbation, shrink_and_perturb
from mlpzoo.rl.progress import EpisodeProgress

PERTURBATIONS = ("none", "task", "random")


@dataclass(frozen=True)
class PPOConfig:
    total_steps: int = 100_000
    num_envs: int = 4
    rollout_steps: int = 128
    epochs: int = 4
    minibatches: int = 4
    lr: float = 2.5e-4
    anneal_lr: bool = True
    gamma: float = 0.99
    lam: float = 0.95
    clip: float = 0.2
    entropy_coef: float = 0.01
    value_coef: float = 0.5
    aux_coef: float = 0.01  # the MoE load-balancing loss weight (Switch Transformers' 0.01)
    max_grad_norm: float = 0.5
    perturbation: str = "none"
    perturb_every: int = 10  # updates between perturbations
    perturb_alpha: float = 0.9
    top_n: int = 5
    score_window: int = 10  # episodes in the running return that ranks snapshots for S_top
    curve_points: int = 20

    def __post_init__(self) -> None:
        if self.perturbation not in PERTURBATIONS:
            raise ConfigError(f"PPOConfig.perturbation={self.perturbation!r}; use one of {', '.join(PERTURBATIONS)}")
        for name in ("total_steps", "num_envs", "rollout_steps", "epochs", "minibatches", "perturb_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"PPOConfig.{name}={getattr(self, name)}; pass a positive integer")
        if self.num_envs * self.rollout_steps < self.minibatches:
            raise ConfigError("PPOConfig.minibatches exceeds num_envs * rollout_steps; use fewer minibatches")

    @property
    def batch_size(self) -> int:
        return self.num_envs * self.rollout_steps

    @property
    def updates(self) -> int:
        return max(1, self.total_steps // self.batch_size)


class ActionSampler:
    """The agent's action distribution for one environment spec, sampled from an explicit generator."""

    def __init__(self, spec: EnvSpec):
        self.spec = spec
        if spec.continuous:
            self.low = torch.tensor(spec.action_low)
            self.high = torch.tensor(spec.action_high)

    def distribution(self, params: torch.Tensor):
        if self.spec.continuous:
            mean, log_std = params.chunk(2, dim=-1)
            return torch.distributions.Normal(mean, log_std.exp())
        return torch.distributions.Categorical(logits=params)

    def sample(self, dist, generator: torch.Generator) -> torch.Tensor:
        if self.spec.continuous:
            return dist.mean + dist.stddev * torch.randn(dist.mean.shape, generator=generator)
        return torch.multinomial(dist.probs, 1, generator=generator).squeeze(-1)

    def log_prob(self, dist, actions: torch.Tensor) -> torch.Tensor:
        logp = dist.log_prob(actions)
        return logp.sum(-1) if self.spec.continuous else logp

    def entropy(self, dist) -> torch.Tensor:
        entropy = dist.entropy()
        return entropy.sum(-1) if self.spec.continuous else entropy

    def to_env(self, actions: torch.Tensor) -> np.ndarray:
        if self.spec.continuous:
            return torch.maximum(torch.minimum(actions, self.high), self.low).numpy()
        return actions.numpy()


def _check_agent(agent: nn.Module, spec: EnvSpec) -> None:
    want = (spec.obs_dim, spec.action_dim, spec.continuous)
    have = (getattr(agent, "obs_dim", None), getattr(agent, "action_dim", None), getattr(agent, "continuous", None))
    if have != want:
        kind = "continuous" if spec.continuous else "discrete"
        raise ConfigError(
            f"agent (obs_dim, action_dim, continuous)={have} does not fit {spec.env_id} {want}; "
            f"build it with obs_dim={spec.obs_dim}, action_dim={spec.action_dim} and a {kind} policy"
        )


def train_ppo(
    agent: nn.Module,
    env_id: str,
    config: PPOConfig,
    seed: int,
    fresh_agent: Callable[[], nn.Module] | None = None,
    progress: bool = True,
) -> dict:
    """Train ``agent`` in place on ``env_id``; returns the run's record.

    The record holds ``episodes`` (``[step, return]`` of every finished training episode), the
    return ``curve`` on ``steps`` (``config.curve_points`` points), ``perturbations`` applied,
    ``train_seconds`` (wall), ``train_cpu_seconds`` and the config. ``fresh_agent`` builds a new
    initialisation (needed by the ``"random"`` perturbation).
    """
    if config.perturbation == "random" and fresh_agent is None:
        raise ConfigError("PPOConfig.perturbation='random' needs fresh_agent, a builder of a new initialisation")
    envs, spec = make_vector_env(env_id, config.num_envs, seed)
    _check_agent(agent, spec)
    sampler = ActionSampler(spec)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(agent.parameters(), lr=config.lr, eps=1e-5)
    task_perturbation = TaskOrientedPerturbation(config.top_n, config.perturb_alpha)
    n, t_len = config.num_envs, config.rollout_steps
    obs_buf = torch.zeros(t_len, n, spec.obs_dim)
    act_buf = torch.zeros((t_len, n, spec.action_dim) if spec.continuous else (t_len, n), dtype=torch.float32)
    logp_buf, rew_buf, done_buf, val_buf = (torch.zeros(t_len, n) for _ in range(4))
    episodes: list[tuple[int, float]] = []
    running = np.zeros(n)
    perturbations, step = 0, 0
    obs_np, _ = envs.reset(seed=seed)
    obs = torch.as_tensor(obs_np, dtype=torch.float32)
    start, cpu_start = time.perf_counter(), time.process_time()
    with EpisodeProgress(config.updates * config.batch_size, f"ppo {env_id}", progress) as bar:
        for update in range(config.updates):
            if config.anneal_lr:
                for group in optimizer.param_groups:
                    group["lr"] = config.lr * (1.0 - update / config.updates)
            finished_before = len(episodes)
            for t in range(t_len):
                with torch.no_grad():
                    params, value = agent.policy_and_value(obs)
                    dist = sampler.distribution(params)
                    action = sampler.sample(dist, generator)
                obs_buf[t], act_buf[t], val_buf[t] = obs, action.float(), value
                logp_buf[t] = sampler.log_prob(dist, action)
                obs_np, reward, terminated, truncated, _ = envs.step(sampler.to_env(action))
                step += n
                done = np.logical_or(terminated, truncated)
                running += reward
                for i in np.flatnonzero(done):
                    episodes.append((step, float(running[i])))
                    running[i] = 0.0
                rew_buf[t] = torch.as_tensor(reward, dtype=torch.float32)
                done_buf[t] = torch.as_tensor(done, dtype=torch.float32)
                obs = torch.as_tensor(obs_np, dtype=torch.float32)
            with torch.no_grad():
                last_value = agent.policy_and_value(obs)[1]
            advantages, returns = generalized_advantages(
                rew_buf, val_buf, done_buf, last_value, config.gamma, config.lam
            )
            _update(agent, optimizer, sampler, config, generator, obs_buf, act_buf, logp_buf, advantages, returns)
            bar.advance(config.batch_size, len(episodes) - finished_before)
            perturbations += _maybe_perturb(agent, config, update, episodes, task_perturbation, fresh_agent, generator)
    envs.close()
    steps, curve = return_curve(episodes, config.updates * config.batch_size, config.curve_points)
    return {
        "episodes": [[s, r] for s, r in episodes],
        "steps": steps,
        "curve": curve,
        "perturbations": perturbations,
        "train_seconds": time.perf_counter() - start,
        "train_cpu_seconds": time.process_time() - cpu_start,
        "env_steps": step,
        "config": asdict(config),
    }


def _update(agent, optimizer, sampler, config, generator, obs, actions, old_logp, advantages, returns) -> None:
    """``config.epochs`` passes of clipped-surrogate + value + entropy (+ MoE balance) minibatch steps."""
    flat = config.batch_size
    obs, old_logp = obs.reshape(flat, -1), old_logp.reshape(flat)
    actions = actions.reshape(flat, -1) if sampler.spec.continuous else actions.reshape(flat).long()
    advantages, returns = advantages.reshape(flat), returns.reshape(flat)
    size = flat // config.minibatches
    for _ in range(config.epochs):
        order = torch.randperm(flat, generator=generator)
        for k in range(config.minibatches):
            idx = order[k * size : (k + 1) * size]
            params, value = agent.policy_and_value(obs[idx])
            dist = sampler.distribution(params)
            logp = sampler.log_prob(dist, actions[idx])
            policy_loss = ppo_clip_loss(logp, old_logp[idx], normalize(advantages[idx]), config.clip)
            value_loss = 0.5 * ((value - returns[idx]) ** 2).mean()
            entropy = sampler.entropy(dist).mean()
            loss = (
                policy_loss
                + config.value_coef * value_loss
                - config.entropy_coef * entropy
                + config.aux_coef * agent.aux_loss
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(agent.parameters(), config.max_grad_norm)
            optimizer.step()


def _maybe_perturb(agent, config, update, episodes, task_perturbation, fresh_agent, generator) -> int:
    """Offer the agent to S_top after every update; perturb every ``perturb_every`` updates. Returns 1 if perturbed."""
    if config.perturbation == "none" or not episodes:
        return 0
    score = float(np.mean([r for _, r in episodes[-config.score_window :]]))
    task_perturbation.observe(agent, score)
    if (update + 1) % config.perturb_every or update + 1 == config.updates:
        return 0
    if config.perturbation == "task":
        return int(task_perturbation.perturb(agent, generator))
    shrink_and_perturb(agent, fresh_agent, config.perturb_alpha)
    return 1
