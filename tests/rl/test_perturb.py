"""MENTOR's task-oriented perturbation pulls toward the best snapshots; shrink-and-perturb toward a fresh init."""

import pytest
import torch
from torch import nn
from torch.nn.utils import parameters_to_vector, vector_to_parameters

from mlpzoo.errors import ConfigError
from mlpzoo.rl.perturb import TaskOrientedPerturbation, shrink_and_perturb


def _set(model: nn.Module, value: float) -> nn.Module:
    vector_to_parameters(torch.full_like(parameters_to_vector(model.parameters()), value), model.parameters())
    return model


def test_s_top_keeps_the_best_scores_only():
    model = nn.Linear(2, 1)
    perturbation = TaskOrientedPerturbation(top_n=2, alpha=0.5)
    for score in (1.0, 5.0, 3.0, 0.5):
        perturbation.observe(_set(model, score), score)
    assert [score for score, _ in perturbation.top] == [5.0, 3.0]
    assert torch.equal(perturbation.top[0][1], torch.full((3,), 5.0))


def test_perturbation_moves_toward_the_top_agents_distribution():
    model = nn.Linear(50, 40)
    perturbation = TaskOrientedPerturbation(top_n=3, alpha=0.8)
    for value in (9.0, 10.0, 11.0):
        perturbation.observe(_set(model, value), value)
    _set(model, 0.0)
    assert perturbation.perturb(model, torch.Generator().manual_seed(0))
    theta = parameters_to_vector(model.parameters())
    # theta = 0.8 * 0 + 0.2 * phi with phi ~ N(10, 1) per weight.
    assert abs(theta.mean().item() - 2.0) < 0.05
    assert abs(theta.std().item() - 0.2) < 0.02


def test_nothing_to_sample_from_with_one_snapshot():
    model = _set(nn.Linear(2, 1), 1.0)
    perturbation = TaskOrientedPerturbation(top_n=3)
    perturbation.observe(model, 1.0)
    assert not perturbation.perturb(model, torch.Generator().manual_seed(0))
    assert torch.equal(parameters_to_vector(model.parameters()), torch.ones(3))


def test_shrink_and_perturb_mixes_with_a_fresh_initialisation():
    model = _set(nn.Linear(2, 1), 1.0)
    shrink_and_perturb(model, lambda: _set(nn.Linear(2, 1), 3.0), alpha=0.75)
    assert torch.allclose(parameters_to_vector(model.parameters()), torch.full((3,), 1.5))


def test_bad_settings_are_refused():
    with pytest.raises(ConfigError, match="alpha"):
        TaskOrientedPerturbation(alpha=1.5)
    with pytest.raises(ConfigError, match="top_n"):
        TaskOrientedPerturbation(top_n=1)
