"""Experiment helpers of the decision-making claims (mentor, ospo): one arm each, plus the return-curve plot.

An arm builds its model inside (so ``ctx.arm``'s seed pins the initial weights), trains it with the
learners of :mod:`mlpzoo.rl`, and returns a JSON-ready record the claim summarises.
"""

from __future__ import annotations

from pathlib import Path

from mlpzoo.registry import create_model
from mlpzoo.rl.curves import area_under_curve, plot_return_curves, steps_to_threshold
from mlpzoo.rl.dispatch import FEATURES, STATE_FEATURES, DispatchConfig
from mlpzoo.rl.dispatch_train import DispatchTrainConfig, evaluate_dispatch, greedy, nearest_order, train_dispatch
from mlpzoo.rl.envs import make_vector_env
from mlpzoo.rl.ppo import PPOConfig, train_ppo

AGENTS = {"moe": "mentor_moe_agent", "mlp": "mentor_mlp_agent"}


def control_arm(backbone: str, seed: int, s: dict) -> dict:
    """MENTOR's agent with one backbone trained by PPO on ``s["env"]``: the return curve and its summaries."""
    envs, spec = make_vector_env(s["env"], 1, seed)
    envs.close()
    kwargs = {"continuous": spec.continuous, **s["agent"]}

    def build():
        return create_model(AGENTS[backbone], obs_dim=spec.obs_dim, action_dim=spec.action_dim, **kwargs)

    agent = build()
    config = PPOConfig(**s["ppo"])
    record = train_ppo(agent, s["env"], config, seed, fresh_agent=build, progress=s.get("progress", True))
    return {
        "backbone": backbone,
        "seed": seed,
        "env": s["env"],
        "auc": area_under_curve(record["curve"]),
        "steps_to_threshold": steps_to_threshold(
            record["steps"], record["curve"], s["threshold"], config.updates * config.batch_size
        ),
        "reached_threshold": float(max(record["curve"]) >= s["threshold"]),
        "final_return": record["curve"][-1],
        "active_parameters": agent.active_parameters(),
        "total_parameters": sum(p.numel() for p in agent.parameters()),
        "episodes": len(record["episodes"]),
        "perturbations": record["perturbations"],
        "train_seconds": record["train_seconds"],
        "train_cpu_seconds": record["train_cpu_seconds"],
        "steps": record["steps"],
        "curve": record["curve"],
    }


def dispatch_arm(algorithm: str, seed: int, s: dict) -> dict:
    """A shared MLP dispatch policy trained by ``algorithm``, then evaluated greedily on held-out days."""
    sim_config = DispatchConfig.from_dict(s["simulator"])
    policy = create_model("ospo_dispatch_policy", feature_dim=FEATURES, **s.get("policy", {}))
    critic = (
        create_model("ospo_dispatch_critic", state_dim=STATE_FEATURES, **s.get("policy", {}))
        if algorithm == "ppo"
        else None
    )
    record = train_dispatch(
        policy,
        algorithm,
        sim_config,
        DispatchTrainConfig(**s["train"]),
        seed,
        critic=critic,
        progress=s.get("progress", True),
    )
    evaluation = evaluate_dispatch(greedy(policy), sim_config, s["eval_seed"], s["eval_cities"])
    return {
        "algorithm": algorithm,
        "seed": seed,
        **evaluation,
        "train_seconds": record["train_seconds"],
        "train_cpu_seconds": record["train_cpu_seconds"],
        "policy_parameters": sum(p.numel() for p in policy.parameters()),
        "critic_parameters": sum(p.numel() for p in critic.parameters()) if critic is not None else 0,
        "served_curve": record["served_curve"],
    }


def nearest_order_reference(s: dict) -> dict:
    """The myopic nearest-order heuristic on the same held-out days: a reference row, not an arm of the claim."""
    sim_config = DispatchConfig.from_dict(s["simulator"])
    return evaluate_dispatch(nearest_order, sim_config, s["eval_seed"], s["eval_cities"])


def save_return_curves(runs: list[dict], key: str, path: Path, title: str, threshold: float | None = None) -> Path:
    """Each seed's return curve per value of ``key`` with the mean and a one-standard-error band, as one PNG."""
    groups: dict[str, list[dict]] = {}
    for run in runs:
        groups.setdefault(str(run[key]), []).append(run)
    return plot_return_curves(groups, path, title, threshold)
