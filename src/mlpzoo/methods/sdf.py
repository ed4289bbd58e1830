"""Fitting a signed distance field to a point cloud, and scoring points by their distance to its level set.

IGR's recipe (Gropp et al., ICML 2020), as used by Level-S2fM (arXiv:2211.12018) for its implicit surface:
the field should vanish on the points (``mean |f(x_i)|``) and have unit gradient everywhere (the eikonal term
``lambda * mean (|grad f(y)| - 1)^2`` over points ``y`` drawn uniformly in the box and around the data).
Starting from SAL's geometric initialisation, the fitted zero level set passes through the bulk of the points;
a point far from it (``|f(x)|`` large) is an outlier: Level-S2fM's level-set query.

The fit goes through the one Trainer: :class:`EikonalRegularised` wraps the field (its
``regularization_loss`` is the eikonal term) and :class:`SurfaceFit` is the task (``|f|`` on the points).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from mlpzoo.data import ArrayData
from mlpzoo.errors import DataError
from mlpzoo.train.trainer import Trainer


def check_points(points, where: str = "points", minimum: int = 1) -> torch.Tensor:
    """A finite float ``(N, 3)`` tensor with at least ``minimum`` rows, else a one-line DataError."""
    points = torch.as_tensor(points, dtype=torch.float32)
    if points.dim() != 2 or points.shape[1] != 3:
        raise DataError(f"{where} must be a (N, 3) array of 3-D points, got shape {tuple(points.shape)}")
    if not torch.isfinite(points).all():
        row = int((~torch.isfinite(points)).any(1).nonzero()[0])
        raise DataError(f"{where} hold NaN or infinity (first at row {row}); drop those points first")
    if len(points) < minimum:
        raise DataError(f"{where} has {len(points)} points; at least {minimum} are needed")
    return points


def normalise(points: torch.Tensor, extent: float = 0.9) -> torch.Tensor:
    """Points centred on their bounding box and scaled so the longest side spans ``2 * extent``."""
    low, high = points.min(0).values, points.max(0).values
    return (points - (low + high) / 2) / ((high - low).max().clamp_min(1e-12) / (2 * extent))


class EikonalRegularised(nn.Module):
    """A signed distance field with IGR's eikonal term as its ``regularization_loss``.

    Args:
        field: the SDF model (``(N, 3) -> (N,)`` with a ``gradient`` method).
        points: the data, around which half of the eikonal samples are drawn (Gaussian, ``sigma``).
        weight: lambda (IGR: 0.1). sigma: spread of the samples around the data.
    """

    def __init__(self, field: nn.Module, points: torch.Tensor, weight: float = 0.1, sigma: float = 0.05):
        super().__init__()
        self.field, self.weight, self.sigma = field, weight, sigma
        self.register_buffer("points", points, persistent=False)

    def forward(self, batch) -> torch.Tensor:
        return self.field(batch)

    def regularization_loss(self, batch) -> torch.Tensor:
        x = batch["x"]
        half = (len(x) + 1) // 2  # as many samples as the batch: half around the data, half uniform in the box
        near = x[:half] + self.sigma * torch.randn_like(x[:half])
        uniform = torch.rand_like(x[half:]) * 2 - 1
        gradient = self.field.gradient(torch.cat([near, uniform]), create_graph=True)
        return self.weight * (gradient.norm(dim=1) - 1).pow(2).mean()


class SurfaceFit:
    """The data term of an SDF fit: the field should vanish on every point (L1, as IGR)."""

    name = "surface_fit"
    default_monitor = "surface_distance"
    monitor_modes = {"surface_distance": "min"}

    def loss(self, outputs: torch.Tensor, batch) -> torch.Tensor:
        return outputs.abs().mean()

    def predict(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs

    def evaluate(self, y_true: np.ndarray, y_pred: np.ndarray, groups=None) -> dict[str, float]:
        return {"surface_distance": float(np.abs(y_pred).mean())}


def fit_sdf(field: nn.Module, points: torch.Tensor, config: dict, weight: float = 0.1) -> nn.Module:
    """Fit ``field`` to ``points`` (normalised to the unit box first) with IGR's loss; returns the field."""
    points = check_points(points)
    data = ArrayData(points, torch.zeros(len(points)))
    Trainer(SurfaceFit(), EikonalRegularised(field, points, weight), config).fit(data, data)
    return field


def level_set_scores(field: nn.Module, points: torch.Tensor, batch: int = 65536) -> np.ndarray:
    """``|f(x)|``: each point's distance to the field's zero level set (Level-S2fM's outlier query)."""
    field.eval()
    with torch.no_grad():
        return torch.cat([field(part).abs() for part in torch.split(points, batch)]).numpy()


def knn_distance_scores(points: torch.Tensor, k: int = 8, batch: int = 4096) -> np.ndarray:
    """The baseline: each point's mean distance to its ``k`` nearest other points."""
    points = check_points(points, minimum=k + 1)
    scores = []
    for part in torch.split(points, batch):
        distances = torch.cdist(part, points).topk(k + 1, largest=False).values[:, 1:]
        scores.append(distances.mean(1))
    return torch.cat(scores).numpy()
