"""Synthetic tasks generated in code: modular addition and a family of sine-wave regression tasks.

- Modular addition ``(a + b) mod p`` over unordered pairs ``a <= b`` with a random train/test
  split of the pairs, as in Minegishi et al., "Grokking Tickets: Lottery Tickets Accelerate
  Grokking", 2023, arXiv:2310.19470 (their ``gen_train_test(..., is_symmetric_input=True)``):
  the model sums the two token embeddings, so ``(a, b)`` and ``(b, a)`` are one example and
  keeping both would leak test pairs into training.
- Sine waves ``y = A sin(x + phi)``, ``A ~ U[0.1, 5]``, ``phi ~ U[0, pi]``, ``x ~ U[-5, 5]``: the
  few-shot regression family of Finn et al. (MAML, 2017, arXiv:1703.03400), used here for the
  task-conditioned hypernetwork (Chauhan et al., "A Brief Review of Hypernetworks in Deep
  Learning", 2023, arXiv:2306.06955).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from mlpzoo.errors import ConfigError

AMPLITUDE_RANGE = (0.1, 5.0)
PHASE_RANGE = (0.0, math.pi)
X_RANGE = (-5.0, 5.0)


@dataclass
class ModularAddition:
    """All pairs of one modulus split into train and test: ``a``, ``b``, ``label`` and index tensors."""

    p: int
    a: torch.Tensor
    b: torch.Tensor
    label: torch.Tensor
    train_index: torch.Tensor
    test_index: torch.Tensor


def modular_addition(p: int, train_fraction: float = 0.4, seed: int = 0) -> ModularAddition:
    """Pairs ``0 <= a <= b < p`` with label ``(a + b) % p``; ``train_fraction`` of them (shuffled by ``seed``) train."""
    if p < 2:
        raise ConfigError(f"modular_addition p = {p} must be at least 2")
    if not 0 < train_fraction < 1:
        raise ConfigError(f"modular_addition train_fraction = {train_fraction} must be in (0, 1)")
    a, b = torch.triu_indices(p, p)
    order = torch.randperm(a.numel(), generator=torch.Generator().manual_seed(seed))
    n_train = int(train_fraction * a.numel())
    return ModularAddition(p, a, b, (a + b) % p, order[:n_train], order[n_train:])


@dataclass
class SineTasks:
    """A batch of sine-wave tasks: parameters ``(T,)`` and points ``x, y`` of shape ``(T, K)``."""

    amplitude: torch.Tensor
    phase: torch.Tensor
    x: torch.Tensor
    y: torch.Tensor


def sine_wave(amplitude: torch.Tensor, phase: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``A sin(x + phi)`` with ``A`` and ``phi`` of shape ``(T,)`` broadcast over ``x`` ``(T, K)``."""
    return amplitude[:, None] * torch.sin(x + phase[:, None])


def sample_sine_tasks(n_tasks: int, points: int, generator: torch.Generator) -> SineTasks:
    """``n_tasks`` random sine waves with ``points`` random inputs each."""
    if n_tasks < 1 or points < 1:
        raise ConfigError(f"sample_sine_tasks needs n_tasks >= 1 and points >= 1, got {n_tasks} and {points}")

    def uniform(shape, low, high):
        return torch.rand(shape, generator=generator) * (high - low) + low

    amplitude = uniform((n_tasks,), *AMPLITUDE_RANGE)
    phase = uniform((n_tasks,), *PHASE_RANGE)
    x = uniform((n_tasks, points), *X_RANGE)
    return SineTasks(amplitude, phase, x, sine_wave(amplitude, phase, x))
