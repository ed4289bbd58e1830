"""Mixture-of-experts MLP layer: top-k router, expert capacity, load-balancing loss, batched experts.

- Top-k gating and capacity: Shazeer et al., "Outrageously Large Neural Networks: The
  Sparsely-Gated Mixture-of-Experts Layer", 2017, arXiv:1701.06538; Lepikhin et al., "GShard",
  2020, arXiv:2006.16668.
- Load-balancing loss and capacity factor: Fedus, Zoph & Shazeer, "Switch Transformers", 2021,
  arXiv:2101.03961: ``aux = E * sum_e f_e * P_e`` with ``f_e`` the fraction of tokens whose first
  choice is expert ``e`` and ``P_e`` the mean router probability of ``e`` (gradient flows through
  ``P`` only).
- Used as the MLP of ZAYA1 (Zyphra, "Training Foundation Models on a Full-Stack AMD Platform",
  2025, catalog id ``zaya1``), whose expert widths are chosen with :mod:`mlpzoo.methods.sizing`.

Routing: softmax over ``E`` experts, the ``k`` largest kept; with ``k > 1`` their gates are
renormalised to sum to one. Each expert takes at most ``capacity = ceil(capacity_factor * N * k / E)``
of the ``N`` tokens' assignments, first choices before second choices and, within a choice rank,
in token order (GShard's priority). **Assignments over capacity are dropped**: they add nothing,
so a token all of whose choices were dropped gets a zero output from this layer and, inside a
residual block, passes through unchanged (as in Switch). ``last_dropped_fraction`` records the
share of dropped assignments.

Computation: assignments are sorted by expert (one stable sort, no ``N x E`` one-hot), scattered
into an ``(E, capacity, dim)`` buffer, run through all experts with two ``torch.bmm`` calls, and
gathered back weighted by their gates with ``index_add``. Memory grows with ``N * k`` (the buffer
is ``capacity_factor * N * k * dim``), not with ``N * E``; only the router's ``(N, E)`` logits
scale with the number of experts.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS = {"gelu": F.gelu, "relu": F.relu, "silu": F.silu}


def load_balancing_loss(router_probs: torch.Tensor, first_choice: torch.Tensor) -> torch.Tensor:
    """Switch/GShard auxiliary loss ``E * sum_e f_e * P_e`` (1 when perfectly balanced).

    ``router_probs (N, E)`` softmax probabilities; ``first_choice (N,)`` each token's top expert.
    """
    num_experts = router_probs.shape[1]
    fraction = torch.bincount(first_choice, minlength=num_experts).to(router_probs.dtype) / first_choice.numel()
    return num_experts * torch.sum(fraction * router_probs.mean(0))


class MoEMLP(nn.Module):
    """``dim -> hidden -> dim`` expert MLPs behind a top-k router.

    Args:
        dim: token width (input and output).
        hidden: hidden width of each expert.
        num_experts: ``E``.
        top_k: experts per token ``k``.
        capacity_factor: expert capacity relative to a perfectly even split of the ``N * k``
            assignments; ``None`` sets capacity to ``N`` (nothing is ever dropped).
        activation: ``gelu``, ``relu`` or ``silu``.

    After each forward, ``aux_loss`` holds the load-balancing loss (add ``weight * aux_loss`` to
    the training loss; Switch uses 0.01) and ``last_dropped_fraction`` the dropped share.
    """

    def __init__(
        self,
        dim: int,
        hidden: int,
        num_experts: int = 8,
        top_k: int = 2,
        capacity_factor: float | None = 1.25,
        activation: str = "gelu",
    ):
        super().__init__()
        if not 1 <= top_k <= num_experts:
            raise ValueError(f"MoEMLP top_k = {top_k} must be between 1 and num_experts = {num_experts}")
        if capacity_factor is not None and capacity_factor <= 0:
            raise ValueError(f"MoEMLP capacity_factor = {capacity_factor} must be positive (or None for no limit)")
        if activation not in ACTIVATIONS:
            raise ValueError(f"MoEMLP activation = {activation!r}; use one of {', '.join(ACTIVATIONS)}")
        self.dim, self.hidden, self.num_experts, self.top_k = dim, hidden, num_experts, top_k
        self.capacity_factor, self.activation = capacity_factor, activation
        self.router = nn.Linear(dim, num_experts, bias=False)
        self.w1 = nn.Parameter(torch.empty(num_experts, dim, hidden))
        self.b1 = nn.Parameter(torch.zeros(num_experts, hidden))
        self.w2 = nn.Parameter(torch.empty(num_experts, hidden, dim))
        self.b2 = nn.Parameter(torch.zeros(num_experts, dim))
        # nn.Linear's default scale, per expert.
        nn.init.uniform_(self.w1, -1 / math.sqrt(dim), 1 / math.sqrt(dim))
        nn.init.uniform_(self.w2, -1 / math.sqrt(hidden), 1 / math.sqrt(hidden))
        self.aux_loss = torch.zeros(())
        self.last_dropped_fraction = 0.0

    def capacity(self, tokens: int) -> int:
        if self.capacity_factor is None:
            return tokens
        return max(1, math.ceil(self.capacity_factor * tokens * self.top_k / self.num_experts))

    def active_parameters(self) -> int:
        """Parameters one token uses: the router and ``k`` experts."""
        per_expert = 2 * self.dim * self.hidden + self.hidden + self.dim
        return self.router.weight.numel() + self.top_k * per_expert

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        tokens = x.reshape(-1, self.dim)
        n, k, e = tokens.shape[0], self.top_k, self.num_experts
        probs = torch.softmax(self.router(tokens), dim=-1)
        gates, experts = probs.topk(k, dim=-1)
        if k > 1:
            gates = gates / gates.sum(-1, keepdim=True)
        self.aux_loss = load_balancing_loss(probs, experts[:, 0])

        # Assignments ordered choice-rank first, then token: GShard's priority for the capacity cut.
        expert_flat = experts.t().reshape(-1)
        token_flat = torch.arange(n, device=x.device).repeat(k)
        gate_flat = gates.t().reshape(-1)
        order = torch.argsort(expert_flat, stable=True)
        expert_sorted = expert_flat[order]
        counts = torch.bincount(expert_flat, minlength=e)
        starts = torch.cumsum(counts, 0) - counts
        position = torch.arange(n * k, device=x.device) - starts[expert_sorted]
        capacity = self.capacity(n)
        keep = position < capacity
        self.last_dropped_fraction = float(1.0 - keep.float().mean()) if n else 0.0
        expert_kept, position_kept = expert_sorted[keep], position[keep]
        token_kept, gate_kept = token_flat[order][keep], gate_flat[order][keep]

        buffer = tokens.new_zeros(e, capacity, self.dim)
        buffer[expert_kept, position_kept] = tokens[token_kept]
        hidden = ACTIVATIONS[self.activation](torch.baddbmm(self.b1.unsqueeze(1), buffer, self.w1))
        out = torch.baddbmm(self.b2.unsqueeze(1), hidden, self.w2)
        combined = tokens.new_zeros(n, self.dim)
        combined.index_add_(0, token_kept, out[expert_kept, position_kept] * gate_kept.unsqueeze(1))
        return combined.reshape(shape)


class DenseMLPBlock(nn.Module):
    """``Linear(dim, hidden) -> activation -> Linear(hidden, dim)``: the dense counterpart of :class:`MoEMLP`.

    ``DenseMLPBlock(dim, top_k * hidden)`` has (up to the router) the active parameters of a
    ``MoEMLP(dim, hidden, top_k=top_k)``.
    """

    def __init__(self, dim: int, hidden: int, activation: str = "gelu"):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"DenseMLPBlock activation = {activation!r}; use one of {', '.join(ACTIVATIONS)}")
        self.fc1, self.fc2, self.activation = nn.Linear(dim, hidden), nn.Linear(hidden, dim), activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(ACTIVATIONS[self.activation](self.fc1(x)))
