"""What the imaging claims (``emlp``, ``dn-piqa``) share: splits by source photograph, one fit through the
Trainer, and the plots people look at (errors against colour temperature, corrected frames, predicted
against true quality).

Both claims draw their scenes from real photographs (:mod:`mlpzoo.data.photos`); every split holds out
whole source photographs, so no scene is seen in training and in test. Each seed draws its own split
(a fold over the photographs) and its own weights.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from mlpzoo.train.trainer import FitResult, Trainer


def source_split(count: int, seed: int, valid: int, test: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices of ``count`` source photographs split into train / ``valid`` / ``test`` by a seeded permutation."""
    if valid + test >= count:
        raise ValueError(f"split of {count} photographs leaves no training photograph (valid {valid}, test {test})")
    order = np.random.default_rng(10_000 + seed).permutation(count)
    return np.sort(order[valid + test :]), np.sort(order[:valid]), np.sort(order[valid : valid + test])


def fit(model: torch.nn.Module, task, train, valid, test, settings: dict, seed: int) -> FitResult:
    """Adam with a per-step cosine schedule, early stopping on the task's validation metric, best weights
    restored, test evaluated once. ``init: keep``: the model was built (and its input scaling fitted) by the
    arm, whose seed fixes its weights."""
    config = {
        "epochs": settings["epochs"],
        "patience": settings["patience"],
        "batch_size": settings["batch_size"],
        "eval_batch_size": 4096,
        "lr": settings["lr"],
        "optimizer": "adamw",
        "weight_decay": settings.get("weight_decay", 0.0),
        "lr_schedule": "cosine",
        "seed": seed,
        "init": "keep",
        "progress": False,
        "save_checkpoints": False,
    }
    return Trainer(task, model, config).fit(train, valid, test)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_illuminant_errors(errors: dict[str, list[float]], kelvin: list[float], path: Path) -> Path:
    """Angular error against the light's colour temperature per method, and each method's error CDF."""
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for name, values in errors.items():
        left.scatter(kelvin, values, s=5, alpha=0.45, label=name)
        ordered = np.sort(values)
        right.plot(ordered, np.arange(1, len(ordered) + 1) / len(ordered), label=name)
    left.set(xlabel="colour temperature of the light (K)", ylabel="angular error (degrees)", yscale="log")
    left.set_title("Error against the light's colour temperature (test scenes)")
    right.set(
        xlabel="angular error (degrees)",
        ylabel="share of test scenes",
        xlim=(0, np.percentile(np.concatenate([np.asarray(v) for v in errors.values()]), 98)),
    )
    right.set_title("Cumulative error")
    right.legend(fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_corrections(long: torch.Tensor, estimates: dict[str, torch.Tensor], truth: torch.Tensor, path: Path) -> Path:
    """Rows of scenes: the long frame as captured, then white-balanced by the true light and by each estimate
    (von Kries: divide each channel by the light), with each estimate's angular error."""
    from mlpzoo.data.photos import linear_to_srgb
    from mlpzoo.methods.color_constancy import angular_error

    plt = _pyplot()
    columns = {"captured": None, "true light": truth, **estimates}
    fig, axes = plt.subplots(len(long), len(columns), figsize=(1.6 * len(columns), 1.6 * len(long)), squeeze=False)
    for i in range(len(long)):
        for j, (name, light) in enumerate(columns.items()):
            image = long[i]
            title = name
            if light is not None:
                gain = light[i].min() / light[i]
                image = (image * gain[:, None, None]).clamp(0, 1)
                if name != "true light":
                    error = float(angular_error(light[i : i + 1], truth[i : i + 1]))
                    title = f"{name}\n{error:.1f} deg"
            axes[i, j].imshow(linear_to_srgb(image).permute(1, 2, 0).numpy())
            axes[i, j].set_axis_off()
            axes[i, j].set_title(title, fontsize=7)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def within_scene_z(values, groups) -> np.ndarray:
    """Values standardised within each group (scene), for plotting scene-relative scores on one axis."""
    values, groups = np.asarray(values, float), np.asarray(groups)
    out = np.zeros_like(values)
    for g in np.unique(groups):
        member = groups == g
        v = values[member]
        out[member] = (v - v.mean()) / (v.std() + 1e-9)
    return out


def plot_quality_scatter(panels: dict[str, dict], path: Path) -> Path:
    """Per panel (a loss): predicted against observed quality, both standardised within each test scene,
    coloured by distortion; ``panels[name]`` holds ``predicted``, ``observed``, ``group``, ``kind``, ``srcc``."""
    from mlpzoo.data.photos import DISTORTIONS

    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 5), squeeze=False)
    for ax, (name, panel) in zip(axes[0], panels.items()):
        x = within_scene_z(panel["observed"], panel["group"])
        y = within_scene_z(panel["predicted"], panel["group"])
        kind = np.asarray(panel["kind"])
        for k, label in enumerate(DISTORTIONS):
            ax.scatter(x[kind == k], y[kind == k], s=6, alpha=0.5, label=label)
        ax.set(xlabel="observed score (z within scene)", ylabel="predicted score (z within scene)")
        ax.set_title(f"{name}: within-scene SRCC {panel['srcc']:.3f}")
        ax.legend(fontsize=7, markerscale=2)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path
