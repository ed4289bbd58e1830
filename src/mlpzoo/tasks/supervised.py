"""Regression and multi-class classification on dense inputs (tabular, images, function fitting)."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import accuracy_score, f1_score, log_loss, mean_absolute_error, mean_squared_error, r2_score
from torch import nn

from mlpzoo.errors import DataError
from mlpzoo.tasks.checks import check_label


class Regression:
    """Mean squared error on ``label`` (any trailing shape); reports RMSE, MSE, MAE and R^2."""

    name = "regression"
    default_monitor = "rmse"
    monitor_modes = {"rmse": "min", "mse": "min", "mae": "min", "r2": "max"}

    def loss(self, outputs: torch.Tensor, batch) -> torch.Tensor:
        label = check_label(outputs, batch, "regression")
        if label.numel() != outputs.numel():
            raise DataError(
                f"regression: the model gives {tuple(outputs.shape)} outputs but batch['label'] is "
                f"{tuple(label.shape)}; "
                "match the model's out_features to the label's width"
            )
        return nn.functional.mse_loss(outputs.reshape(batch["label"].shape), batch["label"])

    def predict(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs

    def evaluate(self, y_true: np.ndarray, y_pred: np.ndarray, groups=None) -> dict[str, float]:
        y_true = y_true.reshape(len(y_true), -1)
        y_pred = y_pred.reshape(y_true.shape)
        mse = float(mean_squared_error(y_true, y_pred))
        return {
            "rmse": mse**0.5,
            "mse": mse,
            "mae": float(mean_absolute_error(y_true, y_pred)),
            "r2": float(r2_score(y_true, y_pred)),
        }


class Classification:
    """Cross-entropy on integer ``label`` (or float ``(N, C)`` soft targets, e.g. from mixup); reports accuracy,
    macro F1 and log loss."""

    name = "classification"
    default_monitor = "accuracy"
    monitor_modes = {"accuracy": "max", "macro_f1": "max", "logloss": "min"}

    def loss(self, outputs: torch.Tensor, batch) -> torch.Tensor:
        label = check_label(outputs, batch, "classification")
        if outputs.dim() != 2:
            raise DataError(
                f"classification: outputs must be logits (batch, classes), got {tuple(outputs.shape)}; "
                "build the model with out_features / num_classes = the number of classes"
            )
        if label.is_floating_point() and label.shape == outputs.shape:
            return nn.functional.cross_entropy(outputs, label)  # soft targets (class probabilities)
        if label.shape != outputs.shape[:1]:
            raise DataError(
                f"classification: batch['label'] must be class ids ({outputs.shape[0]},) or probabilities "
                f"{tuple(outputs.shape)}, got {tuple(label.shape)}; pass one class id per row"
            )
        try:
            return nn.functional.cross_entropy(outputs, label.long())
        except IndexError:  # CPU reports a class id outside [0, classes); checking first would cost a pass
            raise DataError(
                f"classification: batch['label'] holds a class id outside 0..{outputs.shape[1] - 1}; "
                f"build the model with as many outputs as classes (it has {outputs.shape[1]}) or fix the labels"
            ) from None

    def predict(self, outputs: torch.Tensor) -> torch.Tensor:
        return torch.softmax(outputs, dim=-1)

    def evaluate(self, y_true: np.ndarray, y_pred: np.ndarray, groups=None) -> dict[str, float]:
        y_true = y_true.astype(np.int64)
        labels = np.arange(y_pred.shape[1])
        predicted = y_pred.argmax(axis=1)
        return {
            "accuracy": float(accuracy_score(y_true, predicted)),
            "macro_f1": float(f1_score(y_true, predicted, average="macro", zero_division=0)),
            "logloss": float(log_loss(y_true, np.clip(y_pred, 1e-7, 1), labels=labels)),
        }


class WeightedClassification(Classification):
    """Cross-entropy with per-class weights, for rare classes (CAN attacks are 0.01 % to 5 % of frames).

    ``weights`` is a ``(classes,)`` tensor, e.g. inverse class frequencies; metrics are unweighted.
    """

    def __init__(self, weights: torch.Tensor):
        self.weights = weights

    def loss(self, outputs: torch.Tensor, batch) -> torch.Tensor:
        label = check_label(outputs, batch, "classification")
        return nn.functional.cross_entropy(outputs, label.long(), weight=self.weights.to(outputs.device))
