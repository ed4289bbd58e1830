"""Multi-label classification: one independent binary decision per label, scored by per-label ROC AUC.

Targets are float ``(B, L)`` vectors of 0/1 (a finding present or not); the loss is binary cross-entropy on
the ``L`` logits, as in CheXNet and SwinCheX. Metrics: the AUC of every label (``auc_<i>``) and their mean
(``mean_auc``) over the labels whose evaluation split holds both values, the measure Chest X-ray14 papers report.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from mlpzoo.errors import DataError
from mlpzoo.tasks.checks import check_label
from mlpzoo.tasks.metrics import auc


def per_label_auc(y_true: np.ndarray, y_score: np.ndarray) -> list[float]:
    """ROC AUC of each label column (NaN where a column holds only one value)."""
    return [auc(y_true[:, i], y_score[:, i]) for i in range(y_true.shape[1])]


class MultiLabel:
    """Binary cross-entropy over ``L`` labels; metrics ``mean_auc`` and ``auc_<i>`` per label."""

    name = "multilabel"
    default_monitor = "mean_auc"
    monitor_modes = {"mean_auc": "max", "bce": "min"}

    def loss(self, outputs: torch.Tensor, batch) -> torch.Tensor:
        label = check_label(outputs, batch, self.name)
        if outputs.dim() != 2 or label.shape != outputs.shape:
            raise DataError(
                f"multilabel: the model gives logits {tuple(outputs.shape)} but batch['label'] is "
                f"{tuple(label.shape)}; "
                f"pass one 0/1 target per label (width {outputs.shape[-1]}) or build the head with num_labels="
                f"{label.shape[-1] if label.dim() == 2 else '<target width>'}"
            )
        return nn.functional.binary_cross_entropy_with_logits(outputs, label.to(outputs.dtype))

    def predict(self, outputs: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(outputs)

    def evaluate(self, y_true: np.ndarray, y_pred: np.ndarray, groups=None) -> dict[str, float]:
        if y_true.shape != y_pred.shape:
            raise DataError(
                f"multilabel: targets {y_true.shape} and predictions {y_pred.shape} differ; match the label width"
            )
        aucs = per_label_auc(y_true, y_pred)
        scored = [a for a in aucs if not math.isnan(a)]
        p = np.clip(y_pred, 1e-7, 1 - 1e-7)
        bce = float(-(y_true * np.log(p) + (1 - y_true) * np.log(1 - p)).mean())
        return {"mean_auc": float(np.mean(scored)) if scored else float("nan"), "bce": bce} | {
            f"auc_{i}": a for i, a in enumerate(aucs)
        }
