"""Training a shared vehicle policy on the dispatch simulator with PPO, GRPO or OSPO.

All three use PPO's clipped surrogate on the same rollouts (whole simulated days of ``cities`` cities)
and differ only in the advantage of a vehicle's decision at tick ``t`` (OSPO paper, Sec. 4):

- ``ppo``: GAE (gamma 0.99, lambda 0.95) against a learned critic ``V(vehicle state)``, the
  independent-learner baseline whose value estimates the paper blames for biased training;
- ``grpo``: no critic; the vehicle's discounted reward-to-go against the mean (and standard deviation)
  over the group of vehicles deciding at the same tick of the same city;
- ``ospo``: no critic and no return: the vehicle's one-step reward against that same group average,
  which the paper shows suffices for the optimal policy under a homogeneous fleet.

Every draw (days, actions, minibatches) comes from ``seed``; the policy's initial weights come from
the caller, so a seed and those weights pin the run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
from torch import nn

from mlpzoo.errors import ConfigError
from mlpzoo.rl.dispatch import DispatchConfig, DispatchSimulator, Observation
from mlpzoo.rl.objectives import (
    discounted_returns,
    generalized_advantages,
    group_relative_advantages,
    normalize,
    ppo_clip_loss,
)
from mlpzoo.rl.progress import EpisodeProgress

ALGORITHMS = ("ppo", "grpo", "ospo")


@dataclass(frozen=True)
class DispatchTrainConfig:
    """PPO's optimisation settings, shared by the three algorithms.

    ``iterations`` simulated days per city (each an update), ``cities`` cities per day, then
    ``epochs`` passes of ``minibatches`` minibatches over the day's decisions.
    """

    iterations: int = 40
    cities: int = 16
    epochs: int = 4
    minibatches: int = 4
    lr: float = 3e-4
    clip: float = 0.2
    entropy_coef: float = 0.01
    value_coef: float = 0.5
    gamma: float = 0.99
    lam: float = 0.95
    max_grad_norm: float = 0.5

    def __post_init__(self) -> None:
        for name in ("iterations", "cities", "epochs", "minibatches"):
            if getattr(self, name) < 1:
                raise ConfigError(f"DispatchTrainConfig.{name}={getattr(self, name)}; pass a positive integer")


@dataclass
class Day:
    """One simulated day of ``cities`` cities: the decisions taken and what each vehicle earned each tick."""

    candidates: torch.Tensor  # (N, C + 1, F) for the N decisions (idle vehicle-ticks)
    mask: torch.Tensor  # (N, C + 1)
    actions: torch.Tensor  # (N,)
    logp: torch.Tensor  # (N,)
    idle: torch.Tensor  # (T, B, V): which vehicle-ticks were decisions
    rewards: torch.Tensor  # (T, B, V)
    states: torch.Tensor  # (T, B, V, S)
    served: float  # orders served per city
    pickup_ticks: float  # summed pickup ticks per city


def sample_actions(logits: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One action per row of ``logits (..., C + 1)`` drawn from its softmax."""
    probs = torch.softmax(logits, dim=-1)
    return torch.multinomial(probs.reshape(-1, probs.shape[-1]), 1, generator=generator).reshape(probs.shape[:-1])


def rollout_day(policy: nn.Module, sim: DispatchSimulator, day_seed: int, generator: torch.Generator) -> Day:
    """Play one day with the sampling policy; busy vehicles take no decision."""
    obs = sim.reset(day_seed)
    keep: dict[str, list[torch.Tensor]] = {k: [] for k in ("candidates", "mask", "actions", "logp")}
    idle, rewards, states = [], [], []
    while not sim.done:
        with torch.no_grad():
            logits = policy(obs.candidates, obs.mask)
            actions = sample_actions(logits, generator) * obs.idle
            logp = torch.log_softmax(logits, -1).gather(-1, actions.unsqueeze(-1)).squeeze(-1)
        decided = obs.idle
        keep["candidates"].append(obs.candidates[decided])
        keep["mask"].append(obs.mask[decided])
        keep["actions"].append(actions[decided])
        keep["logp"].append(logp[decided])
        idle.append(decided)
        states.append(obs.states)
        obs, reward, _ = sim.step(actions)
        rewards.append(reward)
    return Day(
        *(torch.cat(keep[k]) for k in ("candidates", "mask", "actions", "logp")),
        idle=torch.stack(idle),
        rewards=torch.stack(rewards),
        states=torch.stack(states),
        served=float(sim.served.mean()),
        pickup_ticks=float(sim.pickup_ticks.mean()),
    )


def advantages(
    algorithm: str, day: Day, config: DispatchTrainConfig, critic: nn.Module | None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(advantage per decision (N,), critic targets (T, B, V) or None)`` of one day."""
    if algorithm == "ospo":
        return group_relative_advantages(day.rewards, day.idle)[day.idle], None
    if algorithm == "grpo":
        returns = discounted_returns(day.rewards, config.gamma)
        return group_relative_advantages(returns, day.idle)[day.idle], None
    with torch.no_grad():
        values = critic(day.states)
    dones = torch.zeros_like(day.rewards)
    dones[-1] = 1.0  # the day ends: nothing to bootstrap from
    gae, returns = generalized_advantages(
        day.rewards, values, dones, torch.zeros_like(values[0]), config.gamma, config.lam
    )
    return gae[day.idle], returns


def update(
    policy: nn.Module,
    critic: nn.Module | None,
    optimizer: torch.optim.Optimizer,
    day: Day,
    advantage: torch.Tensor,
    targets: torch.Tensor | None,
    config: DispatchTrainConfig,
    generator: torch.Generator,
) -> None:
    """PPO epochs over the day's decisions; the critic (PPO only) regresses the GAE returns of every vehicle-tick."""
    n = advantage.shape[0]
    states = day.states.reshape(-1, day.states.shape[-1]) if critic is not None else None
    flat_targets = targets.reshape(-1) if targets is not None else None
    for _ in range(config.epochs):
        order = torch.randperm(n, generator=generator)
        state_order = torch.randperm(states.shape[0], generator=generator) if critic is not None else None
        for k in range(config.minibatches):
            idx = order[k * n // config.minibatches : (k + 1) * n // config.minibatches]
            if idx.numel() == 0:
                continue
            logits = policy(day.candidates[idx], day.mask[idx])
            log_probs = torch.log_softmax(logits, -1)
            logp = log_probs.gather(-1, day.actions[idx].unsqueeze(-1)).squeeze(-1)
            adv = normalize(advantage[idx]) if critic is not None else advantage[idx]
            probs = log_probs.exp()
            entropy = -(probs * log_probs.masked_fill(~day.mask[idx], 0.0)).sum(-1).mean()
            loss = ppo_clip_loss(logp, day.logp[idx], adv, config.clip) - config.entropy_coef * entropy
            if critic is not None:
                m = state_order.shape[0]
                sidx = state_order[k * m // config.minibatches : (k + 1) * m // config.minibatches]
                loss = loss + config.value_coef * 0.5 * ((critic(states[sidx]) - flat_targets[sidx]) ** 2).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            params = [p for group in optimizer.param_groups for p in group["params"]]
            nn.utils.clip_grad_norm_(params, config.max_grad_norm)
            optimizer.step()


def train_dispatch(
    policy: nn.Module,
    algorithm: str,
    sim_config: DispatchConfig,
    config: DispatchTrainConfig,
    seed: int,
    critic: nn.Module | None = None,
    progress: bool = True,
) -> dict:
    """Train ``policy`` in place; returns ``served`` per training day (mean over cities), the training wall time
    ``train_seconds`` and its CPU time ``train_cpu_seconds`` (all the process's threads: on a shared machine the
    time the training itself took; equal to the wall time on an idle one with one thread)."""
    if algorithm not in ALGORITHMS:
        raise ConfigError(f"dispatch algorithm {algorithm!r}; use one of {', '.join(ALGORITHMS)}")
    if (algorithm == "ppo") != (critic is not None):
        raise ConfigError(f"{algorithm} {'needs' if algorithm == 'ppo' else 'takes no'} critic; only ppo has one")
    sim = DispatchSimulator(sim_config, config.cities)
    generator = torch.Generator().manual_seed(seed)
    parameters = list(policy.parameters()) + (list(critic.parameters()) if critic is not None else [])
    optimizer = torch.optim.Adam(parameters, lr=config.lr, eps=1e-5)
    served, pickups = [], []
    day_seeds = torch.randint(0, 2**31 - 1, (config.iterations,), generator=generator).tolist()
    steps_per_day = sim_config.ticks * sim_config.vehicles * config.cities
    start, cpu_start = time.perf_counter(), time.process_time()
    with EpisodeProgress(config.iterations * steps_per_day, f"{algorithm} dispatch", progress) as bar:
        for day_seed in day_seeds:
            day = rollout_day(policy, sim, day_seed, generator)
            advantage, targets = advantages(algorithm, day, config, critic)
            update(policy, critic, optimizer, day, advantage, targets, config, generator)
            served.append(day.served)
            pickups.append(day.pickup_ticks / max(day.served, 1.0))
            bar.advance(steps_per_day, config.cities)
    return {
        "served_curve": served,
        "pickup_curve": pickups,
        "train_seconds": time.perf_counter() - start,
        "train_cpu_seconds": time.process_time() - cpu_start,
        "agent_steps": config.iterations * steps_per_day,
        "config": asdict(config),
    }


def greedy(policy: nn.Module) -> Callable[[Observation], torch.Tensor]:
    """The policy's most likely action for every idle vehicle."""

    def act(obs: Observation) -> torch.Tensor:
        with torch.no_grad():
            return policy(obs.candidates, obs.mask).argmax(-1) * obs.idle

    return act


def nearest_order(obs: Observation) -> torch.Tensor:
    """The myopic heuristic: every idle vehicle takes its nearest open order when it has one."""
    return obs.mask[..., 1].long() * obs.idle


def evaluate_dispatch(
    act: Callable[[Observation], torch.Tensor], sim_config: DispatchConfig, seed: int, cities: int
) -> dict:
    """Served orders per city-day, mean pickup ticks per served order and the served share of demand.

    One day of ``cities`` cities drawn from ``seed``: the same days for every policy compared.
    """
    sim = DispatchSimulator(sim_config, cities)
    obs = sim.reset(seed)
    while not sim.done:
        obs, _, _ = sim.step(act(obs))
    served, demand = float(sim.served.sum()), float(sim.demand.sum())
    return {
        "served": served / cities,
        "pickup_time": float(sim.pickup_ticks.sum()) / max(served, 1.0),
        "served_share": served / max(demand, 1.0),
    }
