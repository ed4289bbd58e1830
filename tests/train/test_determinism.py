"""Determinism beyond CTR: the same seed gives bit-identical metrics, losses and weights on CPU.

A KAN regression (B-spline layers, the KAN paper's f1 target) and an MLP classifier with dropout
(so the dropout masks and the shuffling both draw from the seeded generators) are fitted twice
with one seed and once with another through the Trainer.
"""

from __future__ import annotations

import pytest
import torch

import mlpzoo
from mlpzoo.data.functions import load_function
from mlpzoo.data.tensors import ArrayData
from mlpzoo.tasks import get_task
from mlpzoo.train.config import TrainConfig
from mlpzoo.train.trainer import Trainer, seed_everything


def _regression():
    train, valid, _ = load_function("f1", n_train=256, n_test=128, seed=0)
    return "regression", train, valid, {"name": "kan_bspline", "in_features": 2, "hidden": (5,), "grid_size": 5}


def _classification():
    train, valid, _ = load_function("f2", n_train=256, n_test=128, seed=1)

    # Classes: the sign of x1 * x2 (two classes), as integer labels.
    def as_classes(d: ArrayData) -> ArrayData:
        return ArrayData(d.x, (d.label > 0).long())

    spec = {"name": "mlp", "in_features": 2, "out_features": 2, "hidden": (16, 16), "dropout": 0.2}
    return "classification", as_classes(train), as_classes(valid), spec


def _fit(setup, seed: int):
    task_name, train, valid, model_spec = setup
    spec = dict(model_spec)
    seed_everything(seed)  # parameter initialisation
    model = mlpzoo.create_model(spec.pop("name"), **spec)
    config = TrainConfig(
        epochs=3, batch_size=32, lr=1e-2, patience=10, progress=False, save_checkpoints=False, seed=seed, num_threads=1
    )
    result = Trainer(get_task(task_name), model, config).fit(train, valid)
    return result, model


@pytest.mark.parametrize("setup", [_regression, _classification], ids=["kan-regression", "mlp-dropout-classification"])
def test_same_seed_is_bit_identical_and_another_seed_differs(setup):
    data = setup()
    (first, model_a), (second, model_b), (other, model_c) = (_fit(data, seed) for seed in (11, 11, 12))
    assert first.metrics == second.metrics
    assert [h["train_loss"] for h in first.history] == [h["train_loss"] for h in second.history]
    assert all(torch.equal(a, b) for a, b in zip(model_a.state_dict().values(), model_b.state_dict().values()))
    assert first.metrics != other.metrics
    assert not all(torch.equal(a, c) for a, c in zip(model_a.state_dict().values(), model_c.state_dict().values()))
