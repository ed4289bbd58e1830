"""Blind image quality: quality-aware features, a salient crop, the fidelity loss, and the Trainer task.

- :func:`quality_features`: hand-made, quality-aware statistics of an image (no pretrained backbone is
  available offline): BRISQUE-style moments of mean-subtracted contrast-normalised (MSCN) coefficients
  and of their neighbour products at two scales (Mittal, Moorthy and Bovik, IEEE TIP 2012), gradient and
  Laplacian sharpness, high-frequency energy, JPEG blockiness, a noise estimate (Immerkaer 1996),
  brightness, clipping and colourfulness (Hasler and Suesstrunk 2003).
- :func:`salient_crop`: the subject crop of DN-PIQA's second branch. CIFAR-10 photographs have no faces,
  so the crop is the half-size window with the most spectral-residual saliency (Hou and Zhang, CVPR 2007).
- :func:`fidelity_loss`: the fidelity loss of learning to rank (Tsai et al. 2007), as DN-PIQA trains with
  it: for two images of one scene the target probability that the first is better is
  ``Phi((q_i - q_j) / sqrt(2 sd^2))`` from the scores and their rater sd, the model's is
  ``Phi((f_i - f_j) / sqrt(2))``, and the loss is ``1 - sqrt(p p^) - sqrt((1 - p)(1 - p^))``.
- :class:`QualityTask`: MSE or fidelity loss; SRCC and PLCC (``scipy.stats``) within each source scene,
  averaged over scenes (scene-relative scores are comparable only within a scene), and over all images.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from mlpzoo.data.photos import check_photographs, luminance
from mlpzoo.errors import ConfigError, DataError

FEATURE_NAMES = tuple(
    [f"mscn{s}_{m}" for s in (1, 2) for m in ("abs_mean", "var", "kurtosis")]
    + [f"pair{s}_{d}_{m}" for s in (1, 2) for d in ("h", "v", "d1", "d2") for m in ("mean", "var")]
    + [
        "gradient_mean",
        "gradient_std",
        "laplacian_var",
        "high_frequency",
        "blockiness",
        "noise_sigma",
        "brightness",
        "contrast",
        "dark_fraction",
        "bright_fraction",
        "colourfulness",
    ]
)


def _mscn(y: np.ndarray) -> np.ndarray:
    """Mean-subtracted contrast-normalised coefficients of luma ``(N, H, W)`` (Gaussian window, sigma 7/6)."""
    from scipy.ndimage import gaussian_filter

    mu = gaussian_filter(y, sigma=(0, 7 / 6, 7 / 6), mode="nearest")
    sd = np.sqrt(np.abs(gaussian_filter(y * y, sigma=(0, 7 / 6, 7 / 6), mode="nearest") - mu * mu))
    return (y - mu) / (sd + 1 / 255)


def _mscn_statistics(y: np.ndarray) -> list[np.ndarray]:
    m = _mscn(y)
    flat = m.reshape(len(m), -1)
    var = flat.var(1)
    stats = [np.abs(flat).mean(1), var, (flat**4).mean(1) / np.maximum(var, 1e-8) ** 2]
    pairs = {
        "h": m[:, :, :-1] * m[:, :, 1:],
        "v": m[:, :-1, :] * m[:, 1:, :],
        "d1": m[:, :-1, :-1] * m[:, 1:, 1:],
        "d2": m[:, :-1, 1:] * m[:, 1:, :-1],
    }
    return stats + [f(p.reshape(len(p), -1), 1) for p in pairs.values() for f in (np.mean, np.var)]


def _blockiness(y: np.ndarray, block: int = 8) -> np.ndarray:
    """Mean jump across 8-pixel block boundaries over the mean jump elsewhere (JPEG's grid)."""
    dx = np.abs(np.diff(y, axis=2))
    dy = np.abs(np.diff(y, axis=1))
    on_x = (np.arange(dx.shape[2]) % block) == block - 1
    on_y = (np.arange(dy.shape[1]) % block) == block - 1
    boundary = dx[:, :, on_x].mean((1, 2)) + dy[:, on_y, :].mean((1, 2))
    inside = dx[:, :, ~on_x].mean((1, 2)) + dy[:, ~on_y, :].mean((1, 2))
    return boundary / (inside + 1e-4)


def _noise_sigma(y: np.ndarray) -> np.ndarray:
    """Immerkaer's fast noise estimate: the mean |response| to a Laplacian-difference mask."""
    from scipy.ndimage import convolve

    mask = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=float)
    response = convolve(y, mask[None], mode="nearest")[:, 1:-1, 1:-1]
    return np.sqrt(np.pi / 2) / 6 * np.abs(response).mean((1, 2))


def _high_frequency(y: np.ndarray) -> np.ndarray:
    """Share of spectral energy (DC removed) above half the Nyquist frequency."""
    spectrum = np.abs(np.fft.fft2(y - y.mean((1, 2), keepdims=True))) ** 2
    fy, fx = np.meshgrid(np.fft.fftfreq(y.shape[1]), np.fft.fftfreq(y.shape[2]), indexing="ij")
    high = np.hypot(fy, fx) > 0.25
    return spectrum[:, high].sum(1) / (spectrum.reshape(len(y), -1).sum(1) + 1e-12)


def quality_features(images) -> np.ndarray:
    """``(N, len(FEATURE_NAMES))`` float32 quality-aware features of uint8 RGB images ``(N, 3, H, W)``."""
    from scipy.ndimage import laplace, sobel

    images = check_photographs(images, "quality_features").numpy()
    if min(images.shape[2:]) < 8:
        raise DataError(f"quality_features: images of {images.shape[2]}x{images.shape[3]} are too small; use >= 8x8")
    y = luminance(images)
    half = y[:, : y.shape[1] // 2 * 2, : y.shape[2] // 2 * 2]
    half = half.reshape(len(y), half.shape[1] // 2, 2, half.shape[2] // 2, 2).mean((2, 4))
    gradient = np.hypot(sobel(y, axis=1, mode="nearest"), sobel(y, axis=2, mode="nearest"))
    rgb = images.astype(np.float64) / 255.0
    rg, yb = rgb[:, 0] - rgb[:, 1], 0.5 * (rgb[:, 0] + rgb[:, 1]) - rgb[:, 2]
    colourfulness = np.hypot(rg.reshape(len(y), -1).std(1), yb.reshape(len(y), -1).std(1)) + 0.3 * np.hypot(
        rg.mean((1, 2)), yb.mean((1, 2))
    )
    columns = _mscn_statistics(y) + _mscn_statistics(half)
    columns += [
        gradient.mean((1, 2)),
        gradient.reshape(len(y), -1).std(1),
        laplace(y, mode="nearest").reshape(len(y), -1).var(1),
        _high_frequency(y),
        _blockiness(y),
        _noise_sigma(y),
        y.mean((1, 2)),
        y.reshape(len(y), -1).std(1),
        (y < 0.02).mean((1, 2)),
        (y > 0.98).mean((1, 2)),
        colourfulness,
    ]
    return np.stack(columns, 1).astype(np.float32)


def spectral_residual_saliency(images) -> np.ndarray:
    """Saliency maps ``(N, H, W)`` of uint8 RGB images by the spectral residual (Hou and Zhang 2007)."""
    from scipy.ndimage import gaussian_filter, uniform_filter

    y = luminance(check_photographs(images, "spectral_residual_saliency").numpy())
    spectrum = np.fft.fft2(y)
    log_amplitude = np.log(np.abs(spectrum) + 1e-8)
    residual = log_amplitude - uniform_filter(log_amplitude, size=(1, 3, 3), mode="wrap")
    saliency = np.abs(np.fft.ifft2(np.exp(residual + 1j * np.angle(spectrum)))) ** 2
    return gaussian_filter(saliency, sigma=(0, y.shape[1] / 16, y.shape[2] / 16))


def salient_crop(images, fraction: float = 0.5) -> torch.Tensor:
    """The ``fraction``-size window of each image holding the most spectral-residual saliency, uint8."""
    from scipy.ndimage import uniform_filter

    images = check_photographs(images, "salient_crop")
    if not 0 < fraction <= 1:
        raise ConfigError(f"salient_crop fraction={fraction}; use a share of the side in (0, 1]")
    n, _, h, w = images.shape
    ch, cw = max(1, round(h * fraction)), max(1, round(w * fraction))
    saliency = spectral_residual_saliency(images)
    # The sum over every window: a box filter, read at each window's top-left corner.
    box = uniform_filter(saliency, size=(1, ch, cw), mode="constant", origin=(0, -(ch // 2), -(cw // 2)))
    box = box[:, : h - ch + 1, : w - cw + 1].reshape(n, -1)
    top, left = np.divmod(box.argmax(1), w - cw + 1)
    return torch.stack([images[i, :, t : t + ch, s : s + cw] for i, (t, s) in enumerate(zip(top, left))])


def two_branch_features(images) -> np.ndarray:
    """DN-PIQA's input: the features of the whole image and of its salient crop, ``(N, 2 F)``."""
    return np.concatenate([quality_features(images), quality_features(salient_crop(images))], 1)


def _normal_cdf(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * (1 + torch.erf(x / 2**0.5))


def fidelity_loss(prediction: torch.Tensor, score: torch.Tensor, group: torch.Tensor, score_sd: float) -> torch.Tensor:
    """Mean fidelity loss over all ordered pairs of rows that share a ``group`` (a source scene).

    ``score_sd`` is the sd of one observed score (raters' noise); a batch without a pair is an error.
    """
    if score_sd <= 0:
        raise ConfigError(f"fidelity loss score_sd={score_sd}; pass the (positive) sd of an observed score")
    same = (group[:, None] == group[None, :]) & ~torch.eye(len(group), dtype=torch.bool, device=group.device)
    if not bool(same.any()):
        raise DataError("fidelity loss: no two rows of the batch share a group; batch whole source scenes")
    target = _normal_cdf((score[:, None] - score[None, :]) / (2**0.5 * score_sd))
    predicted = _normal_cdf((prediction[:, None] - prediction[None, :]) / 2**0.5)
    loss = 1 - torch.sqrt(target * predicted + 1e-8) - torch.sqrt((1 - target) * (1 - predicted) + 1e-8)
    return loss[same].mean()


def rank_metrics(y_true, y_pred, groups=None) -> dict[str, float]:
    """SRCC and PLCC (``scipy.stats``) over all images and, with ``groups``, within each group averaged."""
    from scipy.stats import pearsonr, spearmanr

    y_true, y_pred = np.asarray(y_true, float).ravel(), np.asarray(y_pred, float).ravel()
    if len(y_true) != len(y_pred) or len(y_true) < 3:
        raise DataError(f"rank_metrics: {len(y_true)} labels and {len(y_pred)} predictions; need >= 3 matching rows")
    flat = float(np.std(y_pred)) == 0.0
    metrics = {
        "srcc_all": 0.0 if flat else float(spearmanr(y_true, y_pred).statistic),
        "plcc_all": 0.0 if flat else float(pearsonr(y_true, y_pred).statistic),
    }
    if groups is not None:
        groups = np.asarray(groups).ravel()
        srcc, plcc = [], []
        for g in np.unique(groups):
            t, p = y_true[groups == g], y_pred[groups == g]
            if len(t) < 3:
                continue
            constant = np.std(p) == 0 or np.std(t) == 0
            srcc.append(0.0 if constant else spearmanr(t, p).statistic)
            plcc.append(0.0 if constant else pearsonr(t, p).statistic)
        metrics["srcc"], metrics["plcc"] = float(np.mean(srcc)), float(np.mean(plcc))
    return metrics


class QualityTask:
    """Trainer task for a quality regressor: ``loss`` "mse" or "fidelity" (within-scene pairs).

    Batches carry ``x``, ``label`` (observed scores) and ``group`` (source scene); selection is on the
    within-scene SRCC.
    """

    name = "quality"
    default_monitor = "srcc"
    monitor_modes = {"srcc": "max", "plcc": "max", "srcc_all": "max", "plcc_all": "max"}

    def __init__(
        self, loss: str = "fidelity", score_sd: float = 3.0, score_center: float = 0.0, score_scale: float = 1.0
    ):
        if loss not in ("mse", "fidelity"):
            raise ConfigError(f"quality loss {loss!r}; use 'mse' or 'fidelity'")
        if not score_scale > 0:
            raise ConfigError(f"quality score_scale={score_scale}; pass the (positive) sd of the training scores")
        self.kind, self.score_sd = loss, score_sd
        self.score_center, self.score_scale = score_center, score_scale

    def loss(self, outputs: torch.Tensor, batch) -> torch.Tensor:
        if self.kind == "mse":
            # Standardised scores (training mean and sd): the regressor starts near its target, and the MSE is
            # of order 1 like the fidelity loss, so one learning rate suits both.
            return nn.functional.mse_loss(outputs, (batch["label"] - self.score_center) / self.score_scale)
        return fidelity_loss(outputs, batch["label"], batch["group"], self.score_sd)

    def predict(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs

    def evaluate(self, y_true: np.ndarray, y_pred: np.ndarray, groups=None) -> dict[str, float]:
        return rank_metrics(y_true, y_pred, groups)
