"""Image denoising: mean squared error on clean images, reported as peak signal-to-noise ratio (PSNR).

Images are floats in [0, 1] (``batch["x"]`` noisy, ``batch["label"]`` clean, both ``(B, C, H, W)``). PSNR is
``10 log10(1 / MSE)`` per image, after clipping the restored image to [0, 1], averaged over images, as the
restoration papers (and MAXIM's evaluation) report it.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from mlpzoo.errors import DataError
from mlpzoo.tasks.checks import check_label


def psnr(clean: np.ndarray, restored: np.ndarray) -> np.ndarray:
    """Per-image PSNR in dB of ``restored`` against ``clean`` (both ``(N, ...)`` in [0, 1]; restored is clipped)."""
    error = (np.clip(restored, 0.0, 1.0) - clean).reshape(len(clean), -1).astype(np.float64)
    mse = np.maximum((error**2).mean(axis=1), 1e-12)  # a perfect image would be infinite; 120 dB caps it
    return 10.0 * np.log10(1.0 / mse)


class Denoising:
    """MSE loss between the restored and the clean image; metrics PSNR (dB, mean over images) and MSE."""

    name = "denoising"
    default_monitor = "psnr"
    monitor_modes = {"psnr": "max", "mse": "min"}

    def loss(self, outputs: torch.Tensor, batch) -> torch.Tensor:
        label = check_label(outputs, batch, self.name)
        if label.shape != outputs.shape:
            raise DataError(
                f"denoising: the model restores images of shape {tuple(outputs.shape)} but batch['label'] is "
                f"{tuple(label.shape)}; pass the clean images, one per noisy input"
            )
        return nn.functional.mse_loss(outputs, label)

    def predict(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs

    def evaluate(self, y_true: np.ndarray, y_pred: np.ndarray, groups=None) -> dict[str, float]:
        error = (np.clip(y_pred, 0.0, 1.0) - y_true).astype(np.float64)
        return {"psnr": float(psnr(y_true, y_pred).mean()), "mse": float((error**2).mean())}
