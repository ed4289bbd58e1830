"""Weight perturbation against lost plasticity: random shrink-and-perturb and MENTOR's task-oriented perturbation.

- Shrink-and-perturb: Ash & Adams, "On Warm-Starting Neural Network Training", NeurIPS 2020,
  arXiv:1910.08475; used in RL by DrM (Xu et al., ICLR 2024, arXiv:2310.19668):
  ``theta <- alpha * theta + (1 - alpha) * phi`` with ``phi`` a fresh random initialisation.
- Task-oriented perturbation: MENTOR (Huang et al., ICML 2025, arXiv:2410.14972, Sec. 3.2). The
  candidate ``phi`` is not random: MENTOR keeps the set ``S_top`` of the best-performing agents seen so
  far (by episode return), fits a per-weight Gaussian ``N(mu, sigma^2)`` to their weights and samples
  ``phi`` from it, so the perturbation pulls the agent toward weights that already solved the task.

MENTOR (after DrM) sets ``alpha`` from the agent's dormant-neuron ratio; here ``alpha`` is a fixed
setting (stated in the claims that use it).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn.utils import parameters_to_vector, vector_to_parameters

from mlpzoo.errors import ConfigError


def _check_alpha(alpha: float) -> None:
    if not 0.0 <= alpha <= 1.0:
        raise ConfigError(f"perturbation alpha={alpha}; pass a value in [0, 1] (1 keeps the weights)")


@torch.no_grad()
def shrink_and_perturb(model: nn.Module, fresh: Callable[[], nn.Module], alpha: float) -> None:
    """``theta <- alpha * theta + (1 - alpha) * phi`` with ``phi`` the weights of ``fresh()``, a new initialisation."""
    _check_alpha(alpha)
    phi = parameters_to_vector(fresh().parameters())
    theta = parameters_to_vector(model.parameters())
    vector_to_parameters(alpha * theta + (1 - alpha) * phi, model.parameters())


class TaskOrientedPerturbation:
    """MENTOR's perturbation toward the best agents' weights.

    Args:
        top_n: size of ``S_top``, the best snapshots kept (5).
        alpha: share of the current weights kept at a perturbation (0.9).

    ``observe(model, score)`` offers a snapshot with its score (the mean recent episode return);
    ``perturb(model, generator)`` draws ``phi ~ N(mu, sigma^2)`` from ``S_top`` (per weight) and mixes
    it in. With fewer than two snapshots there is no spread to sample from and nothing happens.
    """

    def __init__(self, top_n: int = 5, alpha: float = 0.9):
        if top_n < 2:
            raise ConfigError(f"TaskOrientedPerturbation top_n={top_n}; keep at least 2 snapshots to fit a spread")
        _check_alpha(alpha)
        self.top_n, self.alpha = top_n, alpha
        self.top: list[tuple[float, torch.Tensor]] = []

    @torch.no_grad()
    def observe(self, model: nn.Module, score: float) -> None:
        if len(self.top) == self.top_n and score <= self.top[-1][0]:
            return
        self.top.append((float(score), parameters_to_vector(model.parameters()).detach().clone()))
        self.top.sort(key=lambda item: -item[0])
        del self.top[self.top_n :]

    @torch.no_grad()
    def perturb(self, model: nn.Module, generator: torch.Generator) -> bool:
        if len(self.top) < 2:
            return False
        weights = torch.stack([w for _, w in self.top])
        mu, sigma = weights.mean(0), weights.std(0)
        phi = mu + sigma * torch.randn(mu.shape, generator=generator, dtype=mu.dtype)
        theta = parameters_to_vector(model.parameters())
        vector_to_parameters(self.alpha * theta + (1 - self.alpha) * phi, model.parameters())
        return True
