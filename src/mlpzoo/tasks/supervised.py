"""Regression and multi-class classification on dense inputs (tabular, images, function fitting)."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import accuracy_score, f1_score, log_loss, mean_absolute_error, mean_squared_error, r2_score
from torch import nn


class Regression:
    """Mean squared error on ``label`` (any trailing shape); reports RMSE, MSE, MAE and R^2."""

    name = "regression"
    default_monitor = "rmse"
    monitor_modes = {"rmse": "min", "mse": "min", "mae": "min", "r2": "max"}

    def loss(self, outputs: torch.Tensor, batch) -> torch.Tensor:
        return nn.functional.mse_loss(outputs.reshape(batch["label"].shape), batch["label"])

    def predict(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs

    def evaluate(self, y_true: np.ndarray, y_pred: np.ndarray, groups=None) -> dict[str, float]:
        y_true = y_true.reshape(len(y_true), -1)
        y_pred = y_pred.reshape(y_true.shape)
        mse = float(mean_squared_error(y_true, y_pred))
        return {"rmse": mse**0.5, "mse": mse, "mae": float(mean_absolute_error(y_true, y_pred)), "r2": float(r2_score(y_true, y_pred))}


class Classification:
    """Cross-entropy on integer ``label``; reports accuracy, macro F1 and log loss."""

    name = "classification"
    default_monitor = "accuracy"
    monitor_modes = {"accuracy": "max", "macro_f1": "max", "logloss": "min"}

    def loss(self, outputs: torch.Tensor, batch) -> torch.Tensor:
        return nn.functional.cross_entropy(outputs, batch["label"].long())

    def predict(self, outputs: torch.Tensor) -> torch.Tensor:
        return torch.softmax(outputs, dim=-1)

    def evaluate(self, y_true: np.ndarray, y_pred: np.ndarray, groups=None) -> dict[str, float]:
        y_true = y_true.astype(np.int64)
        labels = np.arange(y_pred.shape[1])
        predicted = y_pred.argmax(axis=1)
        return {"accuracy": float(accuracy_score(y_true, predicted)),
                "macro_f1": float(f1_score(y_true, predicted, average="macro", zero_division=0)),
                "logloss": float(log_loss(y_true, np.clip(y_pred, 1e-7, 1), labels=labels))}
