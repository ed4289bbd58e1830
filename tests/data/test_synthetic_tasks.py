"""Modular addition split and the sine-wave task family."""

import math

import pytest
import torch

from mlpzoo.data.synthetic_tasks import modular_addition, sample_sine_tasks
from mlpzoo.errors import ConfigError


def test_modular_addition_split():
    data = modular_addition(7, 0.4, seed=0)
    assert data.a.numel() == 28 and (data.a <= data.b).all()
    assert torch.equal(data.label, (data.a + data.b) % 7)
    assert len(data.train_index) == 11 and len(data.test_index) == 17
    assert set(data.train_index.tolist()).isdisjoint(data.test_index.tolist())
    assert not torch.equal(modular_addition(7, 0.4, seed=1).train_index, data.train_index)
    with pytest.raises(ConfigError):
        modular_addition(7, 1.0)


def test_sine_tasks():
    tasks = sample_sine_tasks(4, 9, torch.Generator().manual_seed(0))
    assert tasks.x.shape == tasks.y.shape == (4, 9)
    assert ((tasks.amplitude >= 0.1) & (tasks.amplitude <= 5)).all() and (
        (tasks.phase >= 0) & (tasks.phase <= math.pi)
    ).all()
    torch.testing.assert_close(tasks.y, tasks.amplitude[:, None] * torch.sin(tasks.x + tasks.phase[:, None]))
