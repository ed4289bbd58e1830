"""Binary CTR prediction: what a batch holds, the loss, and how a prediction is scored."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from mlpzoo.tasks import metrics
from mlpzoo.tasks.checks import check_label


class BinaryCTR:
    """Binary click prediction with BCE on logits; reports AUC, log loss and (with groups) gAUC.

    Batches carry ``label`` (0/1 floats) and optionally ``group`` (e.g. the user id) for gAUC.
    """

    name = "binary_ctr"
    default_monitor = "auc"
    monitor_modes = {"auc": "max", "gauc": "max", "logloss": "min"}

    def loss(self, logits: torch.Tensor, batch) -> torch.Tensor:
        check_label(logits, batch, "binary_ctr")
        return nn.functional.binary_cross_entropy_with_logits(logits, batch["label"])

    def predict(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(logits)

    def evaluate(self, y_true: np.ndarray, y_pred: np.ndarray, groups: np.ndarray | None = None) -> dict[str, float]:
        scores = {"auc": metrics.auc(y_true, y_pred), "logloss": metrics.logloss(y_true, y_pred)}
        if groups is not None:
            scores["gauc"] = metrics.group_auc(y_true, y_pred, groups)
        return scores
