"""The multi-label task: per-label and mean AUC, BCE on float targets, targets of the wrong width."""

import numpy as np
import pytest
import torch

from mlpzoo.errors import DataError
from mlpzoo.tasks.multilabel import MultiLabel


def test_per_class_and_mean_auc_skip_single_valued_labels():
    y = np.array([[1, 0, 1], [0, 1, 1], [1, 1, 1], [0, 0, 1]], dtype=float)
    scores = np.array([[0.9, 0.2, 0.5], [0.1, 0.8, 0.5], [0.8, 0.3, 0.5], [0.2, 0.4, 0.5]])
    metrics = MultiLabel().evaluate(y, scores)
    assert metrics["auc_0"] == 1.0 and metrics["auc_1"] == 0.75 and np.isnan(metrics["auc_2"])
    assert metrics["mean_auc"] == pytest.approx(0.875)


def test_loss_and_wrong_width():
    logits = torch.zeros(2, 10)
    assert MultiLabel().loss(logits, {"label": torch.ones(2, 10)}) == pytest.approx(np.log(2))
    with pytest.raises(DataError, match="num_labels=14") as err:
        MultiLabel().loss(logits, {"label": torch.ones(2, 14)})
    assert "\n" not in str(err.value)
