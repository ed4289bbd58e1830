"""What the neural-field claims share (``neuralgs``, ``im4d``, ``level-s2fm``): the Trainer settings of a
coordinate fit, width matching at equal parameters, the 1-SE table helpers, outlier-detection scores and
the pictures (rendered views, error maps, curves) each claim leaves in its work folder.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

PARAMETER_TOLERANCE = 0.03  # "equal parameters": within 3 %


def fit_config(seed: int, epochs: int, batch_size: int, lr: float, steps_per_epoch: int | None = None, **extra) -> dict:
    """The Trainer settings of a field fit: Adam, a cosine schedule run to its end (patience = epochs turns
    early stopping off; the best-validation weights are restored), no checkpoints (throw-away fits)."""
    return {
        "epochs": epochs,
        "patience": epochs,
        "batch_size": batch_size,
        "eval_batch_size": 65536,
        "lr": lr,
        "optimizer": "adam",
        "lr_schedule": "cosine",
        "min_lr": lr * 0.01,
        "max_batches_per_epoch": steps_per_epoch,
        "grad_clip_norm": None,
        "seed": seed,
        "progress": False,
        "save_checkpoints": False,
        **extra,
    }


def matched_width(count: Callable[[int], int], target: int, low: int = 2, high: int = 4096) -> int:
    """The width ``w`` whose parameter count ``count(w)`` is closest to ``target`` (counts grow with ``w``)."""
    best = low
    while low <= high:
        middle = (low + high) // 2
        if abs(count(middle) - target) < abs(count(best) - target):
            best = middle
        if count(middle) < target:
            low = middle + 1
        else:
            high = middle - 1
    return best


def parameters_match(a: float, b: float, tolerance: float = PARAMETER_TOLERANCE) -> bool:
    return abs(a - b) <= tolerance * max(a, b)


# ------------------------------------------------------------------------------------ outlier scores
def precision_recall_f1(scores: np.ndarray, is_outlier: np.ndarray, threshold: float) -> tuple[float, float, float]:
    """Flag ``scores > threshold`` as outliers; precision, recall and F1 against ``is_outlier``."""
    flagged = scores > threshold
    true_positive = float((flagged & is_outlier).sum())
    precision = true_positive / max(float(flagged.sum()), 1.0)
    recall = true_positive / max(float(is_outlier.sum()), 1.0)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return precision, recall, f1


def best_threshold(scores: np.ndarray, is_outlier: np.ndarray, candidates: int = 200) -> float:
    """The threshold with the best F1 among quantiles of ``scores`` (chosen on a validation set only)."""
    quantiles = np.unique(np.quantile(scores, np.linspace(0.0, 1.0, candidates)))
    f1 = [precision_recall_f1(scores, is_outlier, q)[2] for q in quantiles]
    return float(quantiles[int(np.argmax(f1))])


# ------------------------------------------------------------------------------------ pictures
def save_figure(path: Path, draw: Callable, columns: int = 1, rows: int = 1, size: float = 3.2) -> Path:
    """Draw with ``draw(axes)`` onto a ``rows x columns`` grid and save a PNG (Agg backend, no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    figure, axes = plt.subplots(rows, columns, figsize=(size * columns * 1.3, size * rows), squeeze=False)
    draw(axes)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path


def show_image(axis, image, title: str, cmap: str | None = None) -> None:
    axis.imshow(np.clip(np.asarray(image), 0, None if cmap else 1), cmap=cmap)
    axis.set_title(title, fontsize=8)
    axis.axis("off")
