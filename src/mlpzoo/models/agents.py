"""Decision-making agents: MENTOR's mixture-of-experts actor-critic and the MLP dispatch policies of OSPO.

- MENTOR: Huang, Zhang, Liang, Xu, Kou, Lu, Xu, Xue & Xu, "MENTOR: Mixture-of-Experts Network with
  Task-Oriented Perturbation for Visual Reinforcement Learning", ICML 2025, arXiv:2410.14972 (catalog
  id ``mentor``). The agent's MLP backbone is replaced by a mixture of experts (top-k routing with a
  load-balancing loss) so that experts specialise and gradients of different skills stop conflicting;
  the authors' ablation settles on 8 experts with top-k = 4. :class:`ActorCriticAgent` is that agent
  from states (a stem, residual backbone blocks, a policy head and a value head) with either backbone:
  ``"moe"`` (:class:`~mlpzoo.layers.moe.MoEMLP`) or ``"mlp"`` (:class:`~mlpzoo.layers.moe.DenseMLPBlock`
  sized by :func:`matched_dense_hidden` to the same *active* parameters). The task-oriented
  perturbation lives with the learner in :mod:`mlpzoo.rl.perturb`.
- OSPO: "One Step is Enough: Multi-Agent Reinforcement Learning based on One-Step Policy Optimization
  for Order Dispatch on Ride-Sharing Platforms", 2025 (catalog id ``ospo``): every vehicle is an agent
  of a homogeneous fleet sharing one simple MLP. :class:`DispatchPolicy` scores each of a vehicle's
  candidate actions (serve one of its nearest open orders, or stay idle) from the candidate's features;
  :class:`DispatchCritic` is the state-value MLP that only the PPO baseline needs.
"""

from __future__ import annotations

import torch
from torch import nn

from mlpzoo.errors import ConfigError
from mlpzoo.layers.activation import make_activation
from mlpzoo.layers.mlp import MLP, check_features, check_width
from mlpzoo.layers.moe import DenseMLPBlock, MoEMLP
from mlpzoo.registry import register_model

BACKBONES = ("moe", "mlp")


def moe_active_parameters(dim: int, expert_hidden: int, num_experts: int, top_k: int) -> int:
    """Parameters one token uses in a ``MoEMLP(dim, expert_hidden, num_experts, top_k)``: router + k experts."""
    return dim * num_experts + top_k * (2 * dim * expert_hidden + expert_hidden + dim)


def matched_dense_hidden(dim: int, expert_hidden: int, num_experts: int, top_k: int) -> int:
    """Hidden width of the ``DenseMLPBlock(dim, hidden)`` whose parameters equal the MoE block's active ones.

    A dense block holds ``2 * dim * hidden + hidden + dim`` parameters; solving for ``hidden`` and
    rounding keeps the two within a fraction of a percent (the router's ``dim * num_experts`` included).
    """
    active = moe_active_parameters(dim, expert_hidden, num_experts, top_k)
    return max(1, round((active - dim) / (2 * dim + 1)))


class BackboneBlock(nn.Module):
    """Pre-norm residual block ``x + f(LayerNorm(x))`` with ``f`` a mixture of experts or a dense MLP."""

    def __init__(self, dim: int, mixer: nn.Module):
        super().__init__()
        self.norm, self.mixer = nn.LayerNorm(dim), mixer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.mixer(self.norm(x))


class ActorCriticAgent(nn.Module):
    """MENTOR's agent from states: ``obs -> stem -> depth x backbone block -> (policy head, value head)``.

    Args:
        obs_dim: observation width.
        action_dim: number of discrete actions, or the width of a continuous action.
        continuous: Gaussian policy over a box (mean head plus a learned state-independent
            log standard deviation) instead of a categorical one.
        backbone: ``"moe"`` (MENTOR) or ``"mlp"`` (the dense baseline of equal active parameters).
        dim: width of the stem and the residual stream (64).
        depth: backbone blocks (2).
        num_experts: experts per MoE block (8, the paper's choice).
        top_k: experts per token (4, the paper's choice).
        expert_hidden: hidden width of each expert (32).
        hidden: hidden width of a dense block; ``None`` matches the MoE block's active parameters.
        activation: ``relu``, ``gelu`` or ``silu``.

    ``forward(obs)`` returns one tensor ``(B, P + 1)``: the policy's parameters (``P`` = logits, or
    the mean and the log standard deviation) and the state value in the last column;
    :meth:`policy_and_value` splits them. ``aux_loss`` is the MoE blocks' load-balancing loss of the
    last forward (0 for the dense backbone). Routing keeps every assignment (no capacity limit), so a
    state's action distribution does not depend on which other states share its batch.
    """

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        continuous: bool = False,
        backbone: str = "moe",
        dim: int = 64,
        depth: int = 2,
        num_experts: int = 8,
        top_k: int = 4,
        expert_hidden: int = 32,
        hidden: int | None = None,
        activation: str = "relu",
    ):
        super().__init__()
        for name, value in (("obs_dim", obs_dim), ("action_dim", action_dim), ("dim", dim), ("depth", depth)):
            check_width("ActorCriticAgent", name, value)
        if backbone not in BACKBONES:
            raise ConfigError(f"ActorCriticAgent backbone={backbone!r}; use one of {', '.join(BACKBONES)}")
        self.obs_dim, self.action_dim, self.continuous, self.backbone = obs_dim, action_dim, continuous, backbone
        if hidden is None:
            hidden = matched_dense_hidden(dim, expert_hidden, num_experts, top_k)
        self.stem = nn.Sequential(nn.Linear(obs_dim, dim), make_activation(activation, dim))
        self.blocks = nn.ModuleList(
            BackboneBlock(
                dim,
                MoEMLP(dim, expert_hidden, num_experts, top_k, capacity_factor=None, activation=activation)
                if backbone == "moe"
                else DenseMLPBlock(dim, hidden, activation),
            )
            for _ in range(depth)
        )
        self.norm = nn.LayerNorm(dim)
        self.policy_head = nn.Linear(dim, action_dim)
        self.value_head = nn.Linear(dim, 1)
        # Small policy weights start near-uniform (or near-zero-mean) actions, as PPO implementations do.
        nn.init.orthogonal_(self.policy_head.weight, gain=0.01)
        nn.init.zeros_(self.policy_head.bias)
        self.log_std = nn.Parameter(torch.zeros(action_dim)) if continuous else None

    @property
    def aux_loss(self) -> torch.Tensor:
        losses = [block.mixer.aux_loss for block in self.blocks if isinstance(block.mixer, MoEMLP)]
        return torch.stack(losses).mean() if losses else torch.zeros(())

    def active_parameters(self) -> int:
        """Parameters one observation passes through: the dense parts plus each MoE block's router and k experts."""
        total = sum(p.numel() for p in self.parameters())
        for module in self.modules():
            if isinstance(module, MoEMLP):
                total -= sum(p.numel() for p in module.parameters()) - module.active_parameters()
        return total

    def features(self, obs: torch.Tensor) -> torch.Tensor:
        check_features(obs, self.obs_dim, "ActorCriticAgent", self.stem[0].weight, name="observation")
        x = self.stem(obs)
        for block in self.blocks:
            x = block(x)
        return self.norm(x)

    def policy_and_value(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(policy parameters (B, P), value (B,))``; see the class docstring for ``P``."""
        out = self.forward(obs)
        return out[:, :-1], out[:, -1]

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        h = self.features(obs)
        policy = self.policy_head(h)
        if self.continuous:
            policy = torch.cat([policy, self.log_std.expand_as(policy)], dim=-1)
        return torch.cat([policy, self.value_head(h)], dim=-1)


class DispatchPolicy(nn.Module):
    """OSPO's shared vehicle policy: a simple MLP scoring each candidate action from its features.

    ``forward(candidates (N, C, F), mask (N, C) or None)`` returns logits ``(N, C)``; candidates the
    mask marks unavailable get ``-inf`` (candidate 0, staying idle, is always available in the simulator).

    Args:
        feature_dim: features per candidate ``F``.
        hidden_units: the MLP's hidden widths ((64, 64)).
    """

    def __init__(self, feature_dim: int, hidden_units: tuple[int, ...] = (64, 64)):
        super().__init__()
        check_width("DispatchPolicy", "feature_dim", feature_dim)
        self.feature_dim = feature_dim
        self.scorer = MLP(feature_dim, tuple(hidden_units), 1, activation="relu")

    def forward(self, candidates: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        check_features(candidates, self.feature_dim, "DispatchPolicy", name="candidates")
        logits = self.scorer(candidates).squeeze(-1)
        return logits if mask is None else logits.masked_fill(~mask, float("-inf"))


class DispatchCritic(nn.Module):
    """The PPO baseline's critic ``V(vehicle state)``: an MLP from state features to one value per vehicle."""

    def __init__(self, state_dim: int, hidden_units: tuple[int, ...] = (64, 64)):
        super().__init__()
        check_width("DispatchCritic", "state_dim", state_dim)
        self.state_dim = state_dim
        self.net = MLP(state_dim, tuple(hidden_units), 1, activation="relu")

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        check_features(states, self.state_dim, "DispatchCritic", name="states")
        return self.net(states).squeeze(-1)


def _agent_example() -> tuple[dict, tuple]:
    obs = torch.randn(3, 4, generator=torch.Generator().manual_seed(0))
    # Two experts with top-2 so that every expert (and the router) gets a gradient from a batch of three.
    return {"obs_dim": 4, "action_dim": 2, "dim": 8, "depth": 1, "num_experts": 2, "top_k": 2, "expert_hidden": 4}, (
        obs,
    )


def _continuous_example() -> tuple[dict, tuple]:
    kwargs, inputs = _agent_example()
    return {**kwargs, "continuous": True}, inputs


@register_model("mentor_moe_agent", family="rl", paper="mentor", example=_agent_example)
def mentor_moe_agent(obs_dim: int, action_dim: int, **kwargs) -> ActorCriticAgent:
    """MENTOR's agent: MoE backbone, 8 experts, top-4."""
    return ActorCriticAgent(obs_dim, action_dim, **{"backbone": "moe", **kwargs})


@register_model("mentor_mlp_agent", family="rl", paper="mentor", example=_agent_example)
def mentor_mlp_agent(obs_dim: int, action_dim: int, **kwargs) -> ActorCriticAgent:
    """The same agent with a dense MLP backbone of MENTOR's active parameters."""
    return ActorCriticAgent(obs_dim, action_dim, **{"backbone": "mlp", **kwargs})


@register_model("mentor_moe_agent_continuous", family="rl", paper="mentor", example=_continuous_example)
def mentor_moe_agent_continuous(obs_dim: int, action_dim: int, **kwargs) -> ActorCriticAgent:
    """MENTOR's agent with a Gaussian policy for box action spaces (MuJoCo)."""
    return ActorCriticAgent(obs_dim, action_dim, **{"backbone": "moe", "continuous": True, **kwargs})


def _dispatch_example() -> tuple[dict, tuple]:
    candidates = torch.randn(3, 5, 6, generator=torch.Generator().manual_seed(0))
    return {"feature_dim": 6, "hidden_units": (8,)}, (candidates,)


def _critic_example() -> tuple[dict, tuple]:
    states = torch.randn(3, 6, generator=torch.Generator().manual_seed(0))
    return {"state_dim": 6, "hidden_units": (8,)}, (states,)


@register_model("ospo_dispatch_policy", family="rl", paper="ospo", example=_dispatch_example)
def ospo_dispatch_policy(feature_dim: int, hidden_units: tuple[int, ...] = (64, 64)) -> DispatchPolicy:
    """The shared MLP dispatch policy (two hidden layers of 64)."""
    return DispatchPolicy(feature_dim, hidden_units)


@register_model("ospo_dispatch_critic", family="rl", paper="ospo", example=_critic_example)
def ospo_dispatch_critic(state_dim: int, hidden_units: tuple[int, ...] = (64, 64)) -> DispatchCritic:
    """The PPO baseline's state-value MLP."""
    return DispatchCritic(state_dim, hidden_units)
