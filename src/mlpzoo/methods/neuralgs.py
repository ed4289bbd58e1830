"""NeuralGS (arXiv:2503.23162): compress a 3-D Gaussian scene into cluster-wise tiny MLPs.

The pipeline, in the paper's order: score every Gaussian's importance (its total blending weight over the
training views), prune the least important, cluster the rest by position (k-means), and fit one tiny MLP
per cluster from position to the remaining attributes (scale, rotation, opacity, colour) with the
importance as the weight of each Gaussian's error. What is stored: the positions (quantised inside their
cluster's box), the cluster boxes and counts, and the MLP weights in half precision.

Fits go through the one :class:`~mlpzoo.train.trainer.Trainer`: :class:`ClusteredAttributes` serves batches
of ``(clusters, batch, 3)`` positions (every cluster the same batch size, so the K MLPs run as one batched
product) and :class:`ImportanceWeightedFit` is the task (importance-weighted squared error).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from mlpzoo.errors import ConfigError, DataError
from mlpzoo.layers.fields_nd import PinholeCamera, render_gaussians

ATTRIBUTES = ("log_scale", "log_scale", "log_scale", "qw", "qx", "qy", "qz", "opacity_logit", "red", "green", "blue")
FLOAT32_BYTES_PER_GAUSSIAN = 14 * 4  # position 3, scale 3, rotation 4, opacity 1, colour 3 (no SH here)


@dataclass
class GaussianScene:
    """3-D Gaussians as float32 tensors: ``positions (N, 3)``, ``scales (N, 3)``, ``rotations (N, 4)`` (w, x, y,
    z), ``opacities (N,)`` in (0, 1), ``colours (N, 3)`` in [0, 1]."""

    positions: torch.Tensor
    scales: torch.Tensor
    rotations: torch.Tensor
    opacities: torch.Tensor
    colours: torch.Tensor

    @classmethod
    def from_arrays(cls, arrays: dict) -> "GaussianScene":
        fields = {name: torch.as_tensor(np.asarray(arrays[name]), dtype=torch.float32) for name in _FIELDS}
        scene = cls(**fields)
        scene.validate()
        return scene

    def validate(self) -> None:
        n = self.positions.shape[0] if self.positions.dim() == 2 else -1
        for name, width in _FIELDS.items():
            value = getattr(self, name)
            expected = (n,) if width == 0 else (n, width)
            if n < 0 or tuple(value.shape) != expected:
                raise DataError(
                    f"GaussianScene {name} has shape {tuple(value.shape)}, expected {expected}; "
                    "pass one row per Gaussian"
                )
            if not torch.isfinite(value).all():
                row = int((~torch.isfinite(value)).reshape(n, -1).any(1).nonzero()[0])
                raise DataError(f"GaussianScene {name} holds NaN or infinity (first at row {row}); drop or fill it")

    def __len__(self) -> int:
        return self.positions.shape[0]

    def select(self, index) -> "GaussianScene":
        return GaussianScene(*(getattr(self, name)[index] for name in _FIELDS))

    def attributes(self) -> torch.Tensor:
        """(N, 11): log-scales, sign-fixed unit quaternion, opacity logit, colour (the fitted targets)."""
        q = self.rotations / self.rotations.norm(dim=1, keepdim=True)
        q = q * torch.where(q[:, :1] < 0, -1.0, 1.0)
        opacity = self.opacities.clamp(1e-4, 1 - 1e-4)
        return torch.cat([self.scales.log(), q, torch.logit(opacity).unsqueeze(1), self.colours], 1)

    @classmethod
    def from_attributes(cls, positions: torch.Tensor, attributes: torch.Tensor) -> "GaussianScene":
        return cls(
            positions,
            attributes[:, :3].exp(),
            attributes[:, 3:7],
            torch.sigmoid(attributes[:, 7]),
            attributes[:, 8:].clamp(0, 1),
        )

    def render(self, camera: PinholeCamera, radius: int = 2, return_weights: bool = False):
        return render_gaussians(
            self.positions,
            self.scales,
            self.rotations,
            self.opacities,
            self.colours,
            camera,
            radius=radius,
            return_weights=return_weights,
        )


_FIELDS = {"positions": 3, "scales": 3, "rotations": 4, "opacities": 0, "colours": 3}


def orbit_cameras(camera: PinholeCamera, centre: torch.Tensor, degrees: tuple[float, ...]) -> list[PinholeCamera]:
    """``camera`` turned about the vertical axis through ``centre`` by each angle (0 is ``camera`` itself)."""
    cameras = []
    for angle in degrees:
        a = math.radians(angle)
        turn = torch.tensor([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
        R = camera.R @ turn
        t = camera.R @ (centre - turn @ centre) + camera.t
        cameras.append(PinholeCamera(camera.fx, camera.fy, camera.cx, camera.cy, camera.height, camera.width, R, t))
    return cameras


def importance_scores(scene: GaussianScene, cameras: list[PinholeCamera], radius: int = 2) -> torch.Tensor:
    """Each Gaussian's total blending weight ``sum over pixels of alpha * transmittance`` over ``cameras``."""
    with torch.no_grad():
        return sum(scene.render(camera, radius, return_weights=True)[1] for camera in cameras)


def kmeans(points: torch.Tensor, num_clusters: int, iterations: int = 25, seed: int = 0):
    """Lloyd's k-means with k-means++ seeding; returns ``(labels (N,), centroids (K, 3))``."""
    if not isinstance(points, torch.Tensor) or points.dim() != 2:
        raise DataError(f"kmeans points must be a (N, D) tensor, got {getattr(points, 'shape', type(points))}")
    if not torch.isfinite(points).all():
        raise DataError("kmeans points hold NaN or infinity; drop those points before clustering")
    if isinstance(num_clusters, bool) or not isinstance(num_clusters, int) or num_clusters < 1:
        raise ConfigError(f"kmeans num_clusters={num_clusters!r}; pass a positive integer")
    if points.shape[0] < num_clusters:
        raise DataError(
            f"kmeans got {points.shape[0]} points, fewer than num_clusters={num_clusters}; use fewer clusters"
        )
    generator = torch.Generator().manual_seed(seed)
    centroids = points[torch.randint(len(points), (1,), generator=generator)]
    for _ in range(1, num_clusters):
        nearest = torch.cdist(points, centroids).min(1).values ** 2
        pick = torch.multinomial(nearest + 1e-12, 1, generator=generator)
        centroids = torch.cat([centroids, points[pick]])
    for _ in range(iterations):
        labels = torch.cdist(points, centroids).argmin(1)
        sums = torch.zeros_like(centroids).index_add(0, labels, points)
        counts = torch.bincount(labels, minlength=num_clusters).unsqueeze(1)
        centroids = torch.where(counts > 0, sums / counts.clamp_min(1), centroids)
    return torch.cdist(points, centroids).argmin(1), centroids


class ClusteredAttributes:
    """The fitting data: Gaussians grouped by cluster, positions normalised to their cluster's box.

    ``iter_batches(batch_size, shuffle=True, ...)`` draws ``batch_size`` Gaussians from every cluster per step
    (a cluster smaller than that repeats members), giving ``{"x": (K, B, 3), "label": (K * B, 12)}``: the 11
    standardised targets and the importance weight in the last column. Without ``shuffle`` it walks every
    cluster's members once, padding short clusters with weight 0. An epoch is as many steps as the largest
    cluster needs.
    """

    def __init__(self, positions: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor, labels: torch.Tensor):
        self.num_clusters = int(labels.max()) + 1
        counts = torch.bincount(labels, minlength=self.num_clusters)
        if (counts == 0).any():
            raise DataError(
                f"ClusteredAttributes: cluster {int((counts == 0).nonzero()[0])} is empty; use fewer clusters"
            )
        self.counts, self.longest = counts, int(counts.max())
        order = torch.argsort(labels, stable=True)
        self.order = order
        starts = torch.cumsum(counts, 0) - counts
        # members[k, j]: the j-th Gaussian of cluster k (padding repeats the cluster's members cyclically)
        slot = torch.arange(self.longest).unsqueeze(0) % counts.unsqueeze(1)
        self.members = order[starts.unsqueeze(1) + slot]
        self.padding = torch.arange(self.longest).unsqueeze(0) >= counts.unsqueeze(1)
        low = torch.full((self.num_clusters, 3), math.inf).scatter_reduce(
            0, labels.unsqueeze(1).expand(-1, 3), positions, "amin"
        )
        high = torch.full((self.num_clusters, 3), -math.inf).scatter_reduce(
            0, labels.unsqueeze(1).expand(-1, 3), positions, "amax"
        )
        self.box_low, self.box_high = low, high
        span = (high - low).clamp_min(1e-6)
        self.local = 2 * (positions - low[labels]) / span[labels] - 1
        self.targets, self.weights, self.labels = targets, weights, labels

    def __len__(self) -> int:
        return self.longest

    def num_batches(self, batch_size: int) -> int:
        return -(-self.longest // batch_size)

    def _batch(self, slots: torch.Tensor, pad: torch.Tensor) -> dict:
        index = torch.gather(self.members, 1, slots)
        weight = torch.where(pad, 0.0, self.weights[index])
        label = torch.cat([self.targets[index], weight.unsqueeze(-1)], -1)
        return {"x": self.local[index], "label": label.reshape(-1, label.shape[-1])}

    def iter_batches(self, batch_size: int, shuffle: bool = False, seed: int = 0, epoch: int = 0) -> Iterator[dict]:
        steps = self.num_batches(batch_size)
        if shuffle:
            generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
            # Per cluster a random order of its members, repeated to fill every step's slots.
            keys = torch.rand(self.num_clusters, self.longest, generator=generator).masked_fill(self.padding, 2.0)
            ranks = torch.argsort(keys, 1)
            span = torch.arange(steps * batch_size).unsqueeze(0) % self.counts.unsqueeze(1)
            slots = torch.gather(ranks, 1, span)
            for step in range(steps):
                part = slots[:, step * batch_size : (step + 1) * batch_size]
                yield self._batch(part, torch.zeros_like(part, dtype=torch.bool))
            return
        for start in range(0, self.longest, batch_size):
            part = torch.arange(start, min(start + batch_size, self.longest)).expand(self.num_clusters, -1)
            yield self._batch(part, self.padding[:, start : start + batch_size])

    def decode_order(self, outputs: torch.Tensor) -> torch.Tensor:
        """Model outputs ``(K, longest, D)`` over the padded member grid back to one row per Gaussian."""
        result = torch.empty(len(self.labels), outputs.shape[-1])
        keep = ~self.padding
        result[self.members[keep]] = outputs[keep]
        return result


class ImportanceWeightedFit:
    """NeuralGS's fitting loss: the squared error of the standardised attributes, weighted by importance."""

    name = "importance_weighted_fit"
    default_monitor = "weighted_mse"
    monitor_modes = {"weighted_mse": "min"}

    @staticmethod
    def _split(label: torch.Tensor):
        return label[..., :-1], label[..., -1]

    def loss(self, outputs: torch.Tensor, batch) -> torch.Tensor:
        target, weight = self._split(batch["label"])
        error = (outputs.reshape(target.shape) - target).pow(2).mean(-1)
        return (weight * error).sum() / weight.sum().clamp_min(1e-12)

    def predict(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs.reshape(-1, outputs.shape[-1])

    def evaluate(self, y_true: np.ndarray, y_pred: np.ndarray, groups=None) -> dict[str, float]:
        target, weight = y_true[:, :-1], y_true[:, -1]
        error = ((y_pred - target) ** 2).mean(1)
        return {"weighted_mse": float((weight * error).sum() / max(weight.sum(), 1e-12))}


# ------------------------------------------------------------------------------------------ storage
def field_bytes(num_gaussians: int, num_clusters: int, parameters: int, position_bits: int = 12) -> int:
    """Bytes NeuralGS stores: positions at ``position_bits`` per axis inside their cluster's box (Gaussians
    sorted by cluster, so the cluster is implicit), per cluster a float32 box (6) and an int32 count, and
    ``parameters`` MLP weights in float16."""
    positions = math.ceil(num_gaussians * 3 * position_bits / 8)
    return positions + num_clusters * (6 * 4 + 4) + 2 * parameters


def quantize_positions(positions: torch.Tensor, clusters: ClusteredAttributes, bits: int = 12) -> torch.Tensor:
    """Positions rounded to ``bits`` per axis inside their cluster's box (what :func:`field_bytes` counts)."""
    levels = 2**bits - 1
    low, high = clusters.box_low[clusters.labels], clusters.box_high[clusters.labels]
    span = (high - low).clamp_min(1e-12)
    return low + torch.round((positions - low) / span * levels) / levels * span


def quantize_8bit(scene: GaussianScene) -> tuple[GaussianScene, int]:
    """The 8-bit baseline: every attribute (log-scales, quaternion, opacity logit, colour) uniformly quantised
    to 256 levels between its minimum and maximum, positions kept in float16; returns the decoded scene and its
    bytes."""
    attributes = scene.attributes()
    low, high = attributes.min(0).values, attributes.max(0).values
    span = (high - low).clamp_min(1e-12)
    decoded = low + torch.round((attributes - low) / span * 255) / 255 * span
    positions = scene.positions.half().float()
    size = len(scene) * (3 * 2 + attributes.shape[1]) + attributes.shape[1] * 2 * 4
    return GaussianScene.from_attributes(positions, decoded), size


def psnr(image: torch.Tensor, reference: torch.Tensor) -> float:
    """Peak signal-to-noise ratio in dB of images in [0, 1]."""
    mse = float((image.clamp(0, 1) - reference.clamp(0, 1)).pow(2).mean())
    return 10 * math.log10(1.0 / max(mse, 1e-12))
