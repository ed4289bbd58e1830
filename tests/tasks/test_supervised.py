"""Regression and classification tasks: losses and metrics against scikit-learn, and a real fit."""

import numpy as np
import torch
from sklearn.metrics import f1_score, r2_score
from torch import nn

from mlpzoo.data import ArrayData
from mlpzoo.tasks import get_task
from mlpzoo.train import Trainer


def test_regression_metrics():
    task = get_task("regression")
    y, p = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.5, 2.0, 2.0, 4.0])
    scores = task.evaluate(y, p)
    assert np.isclose(scores["mse"], (0.25 + 1.0) / 4) and np.isclose(scores["rmse"], np.sqrt(1.25 / 4))
    assert np.isclose(scores["mae"], 1.5 / 4) and np.isclose(scores["r2"], r2_score(y, p))


def test_classification_metrics_and_loss():
    task = get_task("classification")
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])
    y = np.array([0, 1, 1, 0])
    scores = task.evaluate(y, probs)
    assert scores["accuracy"] == 0.75
    assert np.isclose(scores["macro_f1"], f1_score(y, probs.argmax(1), average="macro"))
    logits = torch.tensor([[2.0, 0.0], [0.0, 2.0]])
    loss = task.loss(logits, {"label": torch.tensor([0, 1])})
    assert torch.isclose(loss, nn.functional.cross_entropy(logits, torch.tensor([0, 1])))


def test_array_data_fit_learns_a_linear_function(tmp_path):
    torch.manual_seed(0)
    x = torch.randn(512, 3)
    y = x @ torch.tensor([1.0, -2.0, 0.5]) + 0.3
    train, valid = ArrayData(x[:400], y[:400]), ArrayData(x[400:], y[400:])

    class Linear(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = nn.Linear(3, 1)

        def forward(self, batch):
            return self.layer(batch["x"]).squeeze(-1)

    result = Trainer(
        get_task("regression"),
        Linear(),
        {"epochs": 60, "batch_size": 64, "lr": 0.05, "patience": 10, "run_dir": str(tmp_path), "progress": False},
    ).fit(train, valid)
    assert result.metrics["valid"]["rmse"] < 0.05 and result.metrics["valid"]["r2"] > 0.99


def test_array_data_shuffle_is_a_seeded_permutation():
    data = ArrayData(torch.arange(10).float().unsqueeze(1), torch.arange(10))
    first = torch.cat([b["label"] for b in data.iter_batches(3, shuffle=True, seed=1, epoch=1)])
    again = torch.cat([b["label"] for b in data.iter_batches(3, shuffle=True, seed=1, epoch=1)])
    other = torch.cat([b["label"] for b in data.iter_batches(3, shuffle=True, seed=1, epoch=2)])
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert sorted(first.tolist()) == list(range(10))
