"""Illuminant estimation: the classic statistical estimators, the angular error, and the Trainer task.

The classic estimators are special cases of van de Weijer, Gevers and Gijsenij's grey-edge framework
("Edge-based color constancy", IEEE TIP 2007): the light's colour is the Minkowski ``p``-norm over
pixels of the image's ``order``-th Gaussian derivative at scale ``sigma``.

- grey-world (Buchsbaum 1980): ``order 0, p 1`` (the mean colour is grey);
- white-patch / max-RGB (Land 1977): ``order 0, p inf`` (the brightest response is white);
- shades-of-grey (Finlayson and Trezzi 2004): ``order 0``, ``p`` between (4 to 8 is usual);
- grey-edge (van de Weijer et al. 2007): ``order 1`` (the mean edge is grey), ``p`` and ``sigma`` tuned.

Clipped pixels (any channel at the white level) and, for edges, their neighbours are left out, as is
usual in colour-constancy benchmarks. Errors are angles in degrees between estimated and true light;
the summary is mean, median and the mean of the worst 25 %, as colour-constancy papers report them.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from mlpzoo.data.photos import check_linear_images
from mlpzoo.errors import ConfigError, DataError

CLASSIC = {  # name -> (order, p candidates, sigma candidates); tuned on validation per frame
    "grey_world": (0, (1.0,), (0.0,)),
    "white_patch": (0, (math.inf,), (0.0,)),
    "shades_of_grey": (0, (2.0, 4.0, 6.0, 8.0), (0.0,)),
    "grey_edge": (1, (1.0, 2.0, 6.0), (1.0, 2.0)),
}
WHITE_LEVEL = 0.98


def _smooth(images: np.ndarray, sigma: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    return images if sigma <= 0 else gaussian_filter(images, sigma=(0, 0, sigma, sigma), mode="nearest")


def _valid_pixels(images: np.ndarray, order: int) -> np.ndarray:
    """``(N, H, W)`` mask of pixels below the white level in every channel (and, for edges, their neighbours)."""
    from scipy.ndimage import binary_erosion

    mask = images.max(1) < WHITE_LEVEL
    if order > 0:
        mask = binary_erosion(mask, structure=np.ones((1, 3, 3), bool), border_value=1)
    return mask


def grey_edge_estimate(images, order: int = 0, p: float = 1.0, sigma: float = 0.0) -> torch.Tensor:
    """Illuminant ``(N, 3)`` (unit vectors) of linear images ``(N, 3, H, W)`` in [0, 1] by the grey-edge framework.

    Args:
        order: 0 (pixel values) or 1 (gradient magnitude of the Gaussian-smoothed image).
        p: Minkowski norm (``math.inf`` for the maximum).
        sigma: Gaussian scale in pixels (0: none).
    """
    images = check_linear_images(images, "grey_edge_estimate").double().numpy()
    if order not in (0, 1):
        raise ConfigError(f"grey-edge order={order}; use 0 (pixels) or 1 (edges)")
    if not p >= 1:
        raise ConfigError(f"Minkowski p={p}; use p >= 1 (math.inf for the maximum)")
    mask = _valid_pixels(images, order)
    empty = ~mask.reshape(len(mask), -1).any(1)
    mask[empty] = True  # an image clipped everywhere: use all its pixels rather than none
    x = _smooth(images, sigma)
    if order == 1:
        dy, dx = np.gradient(x, axis=(2, 3))
        x = np.sqrt(dx**2 + dy**2)
    x = x * mask[:, None]
    flat = x.reshape(len(x), 3, -1)
    if math.isinf(p):
        light = flat.max(-1)
    else:
        count = mask.reshape(len(mask), 1, -1).sum(-1)
        light = ((flat**p).sum(-1) / count) ** (1 / p)
    light = light + 1e-9
    return torch.as_tensor(light / np.linalg.norm(light, axis=1, keepdims=True), dtype=torch.float32)


def angular_error(estimate: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Angle in degrees between illuminant vectors ``(N, 3)`` (scale-free, differentiable)."""
    if estimate.shape != truth.shape or estimate.shape[-1] != 3:
        raise DataError(
            f"angular_error: estimate {tuple(estimate.shape)} and truth {tuple(truth.shape)} must both be (N, 3)"
        )
    cosine = torch.nn.functional.cosine_similarity(estimate, truth, dim=-1, eps=1e-9)
    return torch.rad2deg(torch.arccos(cosine.clamp(-1 + 1e-7, 1 - 1e-7)))


def error_statistics(errors) -> dict[str, float]:
    """Mean, median and worst-25 % mean (the mean of the largest quarter) of angular errors in degrees."""
    e = np.sort(np.asarray(errors, dtype=float))
    if e.size == 0:
        raise DataError("error_statistics: no errors to summarise; evaluate at least one image")
    worst = e[int(np.floor(0.75 * e.size)) :]
    return {"mean": float(e.mean()), "median": float(np.median(e)), "worst25": float(worst.mean())}


def tune_classic(name: str, frames: dict[str, torch.Tensor], truth: torch.Tensor) -> dict:
    """The best (frame, p, sigma) of classic estimator ``name`` by mean angular error on validation data.

    ``frames`` maps a frame's name ("long", "short") to its images: a single-frame estimator may use
    either frame, and picks the one it does better on.
    """
    if name not in CLASSIC:
        raise ConfigError(f"unknown classic estimator {name!r}; use one of {', '.join(CLASSIC)}")
    order, ps, sigmas = CLASSIC[name]
    best = None
    for frame, images in frames.items():
        for p in ps:
            for sigma in sigmas:
                error = float(angular_error(grey_edge_estimate(images, order, p, sigma), truth).mean())
                if best is None or error < best["valid_mean"]:
                    best = {"frame": frame, "order": order, "p": p, "sigma": sigma, "valid_mean": error}
    return best


class IlluminantEstimation:
    """Trainer task: ``batch["label"]`` is the true illuminant ``(B, 3)``; the loss is the mean angular
    error in degrees; metrics are mean / median / worst-25 % angular error."""

    name = "illuminant"
    default_monitor = "mean"
    monitor_modes = {"mean": "min", "median": "min", "worst25": "min"}

    def loss(self, outputs: torch.Tensor, batch) -> torch.Tensor:
        return angular_error(outputs, batch["label"]).mean()

    def predict(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs

    def evaluate(self, y_true: np.ndarray, y_pred: np.ndarray, groups=None) -> dict[str, float]:
        return error_statistics(angular_error(torch.as_tensor(y_pred), torch.as_tensor(y_true)).numpy())
