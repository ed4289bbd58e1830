"""The experiment shared by the vision token-mixing claims: a candidate against MLP-Mixer on CIFAR-10.

Used by :mod:`raftmlp`, :mod:`strip_mlp`, :mod:`ms_mlp` and :mod:`dsm`. Both models are the
registered CIFAR-size models of :mod:`mlpzoo.models.vision` (isotropic, patch 4, 8 x 8 tokens,
defaults matched to Mixer's 1.13 M parameters). CIFAR-10 comes from the JPEG zip
(:func:`mlpzoo.data.images.load_cifar10`); a class-balanced part of the training split is held
out for model selection and the test split is reported. Training follows the papers' DeiT-style
recipe scaled to CPU: AdamW (lr 1e-3, weight decay 0.05), batch 128, a per-step cosine schedule
after 5 linear warm-up epochs, the whole schedule run (no early stop; the best-validation weights
are restored), random crop (pad 4) and horizontal flip; the full budget adds mixup (alpha 0.8)
and label smoothing 0.1. Per model we record test accuracy, parameters, forward FLOPs per image
(:func:`mlpzoo.flops.count_flops`), training images/s (from the fit) and inference images/s.
Comparisons are at equal parameters: :func:`unequal_parameters` says when the two counts differ
by more than ``PARAMETER_TOLERANCE``.

The quick budget is a smoke test: 100 training + 25 validation images per class, 40 test images
per class, models shrunk to width 64 and depth 3 (channel MLPs sized to match Mixer's parameters) and 2 epochs of cosine
decay without warm-up.
"""

from __future__ import annotations

import inspect
import math
import time
from typing import Callable

import torch

from mlpzoo.claims.base import Budget, ClaimResult, now_iso, standard_error_of_difference, summarize
from mlpzoo.data.augment import Compose, HorizontalFlip, LabelSmoothing, Mixup, RandomCrop
from mlpzoo.data.images import ImageData, load_cifar10
from mlpzoo.flops import count_flops
from mlpzoo.registry import create_model, model_entry
from mlpzoo.tasks import get_task
from mlpzoo.train.trainer import Trainer

BASELINE = "mixer"
METRICS = ("test_accuracy", "parameters", "flops_per_image", "train_images_per_second", "infer_images_per_second")
SETTINGS = {
    "quick": {"train_per_class": 100, "valid_per_class": 25, "test_per_class": 40, "epochs": 2, "warmup_epochs": 0,
              "shrink": {"dim": 64, "depth": 3}, "heavy_augment": False},
    "full": {"train_per_class": 4500, "valid_per_class": 500, "test_per_class": None, "epochs": 100, "warmup_epochs": 5,
             "shrink": {}, "heavy_augment": True},
}
LR, WEIGHT_DECAY, BATCH = 1e-3, 0.05, 128
PARAMETER_TOLERANCE = 0.05  # "equal parameters": the two counts within 5 %


def settings_for(budget: Budget) -> dict:
    return SETTINGS.get(budget.name, SETTINGS["full"])


def model_kwargs(name: str, settings: dict) -> dict:
    """The size overrides of a budget: quick shrinks width and depth, halves Mixer's channel MLP and
    gives every other model the channel MLP width (a multiple of 8) that matches Mixer's parameters."""
    if not settings["shrink"]:
        return {}
    kwargs = dict(settings["shrink"])
    default = inspect.signature(model_entry("mixer").builder).parameters["channel_hidden"].default
    if name == "mixer":
        return {**kwargs, "channel_hidden": default // 2}
    target = _parameters("mixer", {**kwargs, "channel_hidden": default // 2})
    # Parameters grow linearly in the channel MLP width: solve from two sizes, round to a multiple of 8.
    low, high = (_parameters(name, {**kwargs, "channel_hidden": width}) for width in (8, 16))
    width = 8 + (target - low) / ((high - low) / 8)
    return {**kwargs, "channel_hidden": max(8, 8 * round(width / 8))}


def _parameters(name: str, kwargs: dict) -> int:
    return sum(p.numel() for p in create_model(name, **kwargs).parameters())


def load_splits(settings: dict, data_dir=None) -> tuple[ImageData, ImageData, ImageData]:
    """Class-balanced train / validation parts of the training split, and the test split."""
    per_class = settings["train_per_class"] + settings["valid_per_class"]
    images, labels = load_cifar10("train", data_dir, limit_per_class=None if settings["test_per_class"] is None else per_class)
    # Within each class, a fixed random permutation decides which images are held out.
    generator = torch.Generator().manual_seed(0)
    train_idx, valid_idx = [], []
    for c in range(10):
        members = (labels == c).nonzero().squeeze(1)
        members = members[torch.randperm(len(members), generator=generator)]
        valid_idx.append(members[:settings["valid_per_class"]])
        train_idx.append(members[settings["valid_per_class"]:per_class])
    train_idx, valid_idx = torch.cat(train_idx), torch.cat(valid_idx)
    augment = [RandomCrop(4), HorizontalFlip()]
    if settings["heavy_augment"]:
        augment += [Mixup(0.8, 10), LabelSmoothing(0.1, 10)]
    train = ImageData(images[train_idx], labels[train_idx], augment=Compose(augment))
    valid = ImageData(images[valid_idx], labels[valid_idx], train.mean, train.std)
    test_images, test_labels = load_cifar10("test", data_dir, limit_per_class=settings["test_per_class"])
    return train, valid, ImageData(test_images, test_labels, train.mean, train.std)


def inference_speed(model: torch.nn.Module, images: torch.Tensor, repeats: int = 3) -> float:
    """Images per second of ``model`` in eval mode on ``images`` (best of ``repeats``)."""
    model.eval()
    best = math.inf
    with torch.no_grad():
        model(images)
        for _ in range(repeats):
            start = time.perf_counter()
            model(images)
            best = min(best, time.perf_counter() - start)
    return len(images) / best


def fit_one(name: str, seed: int, data: tuple[ImageData, ImageData, ImageData], settings: dict, log: Callable = print) -> dict:
    train, valid, test = data
    torch.manual_seed(seed)
    model = create_model(name, **model_kwargs(name, settings))
    # A cosine schedule is meant to run to its end: patience = epochs turns early stopping off.
    config = {"epochs": settings["epochs"], "patience": settings["epochs"], "batch_size": BATCH, "eval_batch_size": 512,
              "lr": LR, "optimizer": "adamw", "weight_decay": WEIGHT_DECAY, "lr_schedule": "cosine",
              "warmup_epochs": settings["warmup_epochs"], "seed": seed, "progress": False, "save_checkpoints": False}
    trainer = Trainer(get_task("classification"), model, config)
    result = trainer.fit(train, valid, test)
    example = next(test.iter_batches(64))["x"]
    record = {"model": name, "seed": seed, "test_accuracy": result.metrics["test"]["accuracy"],
              "valid_accuracy": result.metrics["valid"]["accuracy"], "epochs": result.epochs_run,
              "parameters": float(sum(p.numel() for p in model.parameters())),
              "flops_per_image": float(count_flops(model.cpu(), example[:1])),
              "train_images_per_second": result.train_samples_per_second,
              "infer_images_per_second": inference_speed(model, example)}
    log(f"{name} seed {seed}: test accuracy {record['test_accuracy']:.4f}, {record['parameters']:.0f} parameters, "
        f"{record['flops_per_image'] / 1e6:.1f} MFLOPs/image, {record['train_images_per_second']:.0f} train img/s")
    return record


def run_against_mixer(candidate: str, budget: Budget, data_dir=None, log: Callable = print) -> tuple[list[dict], list[dict], dict]:
    """Fit Mixer and ``candidate`` on the same data for each seed; returns (runs, table, settings)."""
    settings = settings_for(budget)
    data = load_splits(settings, data_dir)
    runs = []
    for seed in range(budget.seeds):
        # Several claims share the Mixer baseline: within one process it is fitted once per budget and seed.
        key = (budget.name, seed, str(data_dir))
        if key not in _BASELINE_RUNS:
            _BASELINE_RUNS[key] = fit_one(BASELINE, seed, data, settings, log)
        runs += [dict(_BASELINE_RUNS[key]), fit_one(candidate, seed, data, settings, log)]
    return runs, summarize(runs, ("model",), METRICS), settings


_BASELINE_RUNS: dict[tuple, dict] = {}


def compare(table: list[dict], candidate: str, metric: str = "test_accuracy") -> tuple[dict, dict, float, float]:
    """The candidate's and Mixer's rows, the accuracy difference and its standard error."""
    rows = {row["model"]: row for row in table}
    mine, base = rows[candidate], rows[BASELINE]
    return mine, base, mine[f"{metric}_mean"] - base[f"{metric}_mean"], standard_error_of_difference(mine, base, metric)


def unequal_parameters(table: list[dict], candidate: str) -> str | None:
    """Why the comparison is not at equal parameters (counts differ by more than ``PARAMETER_TOLERANCE``), else None."""
    rows = {row["model"]: row for row in table}
    ratio = rows[candidate]["parameters_mean"] / rows[BASELINE]["parameters_mean"]
    if abs(ratio - 1) <= PARAMETER_TOLERANCE:
        return None
    return (f"parameters differ by {100 * (ratio - 1):+.1f} % ({rows[candidate]['parameters_mean']:.0f} vs Mixer "
            f"{rows[BASELINE]['parameters_mean']:.0f}; > {100 * PARAMETER_TOLERANCE:.0f} %): not an equal-parameter comparison.")


def describe(mine: dict, base: dict, diff: float, se: float) -> str:
    return (f"{mine['model']} {mine['test_accuracy_mean']:.4f} vs Mixer {base['test_accuracy_mean']:.4f} test accuracy "
            f"(difference {diff:+.4f}, 1 SE {se:.4f}, n={mine['n']}); parameters {mine['parameters_mean']:.0f} vs "
            f"{base['parameters_mean']:.0f}; FLOPs/image {mine['flops_per_image_mean'] / 1e6:.1f} M vs {base['flops_per_image_mean'] / 1e6:.1f} M")


def notes(settings: dict, budget: Budget) -> list[str]:
    sizes = "width 64, depth 3, channel MLPs sized to Mixer's parameters" if settings["shrink"] else "the registered CIFAR-10 defaults (about 1.13 M parameters each)"
    return [
        f"CIFAR-10 from the JPEG zip (lossy re-encoding): {settings['train_per_class']} train + {settings['valid_per_class']} "
        f"validation images per class from the training split, test {'all 10,000' if settings['test_per_class'] is None else str(settings['test_per_class'] * 10)} test images.",
        f"Models: {sizes}; isotropic single-stage versions (patch 4, 8 x 8 tokens), not the papers' ImageNet hierarchies.",
        f"AdamW lr {LR}, weight decay {WEIGHT_DECAY}, batch {BATCH}, {settings['epochs']} epochs of per-step cosine decay after "
        f"{settings['warmup_epochs']} linear warm-up epochs (DeiT's schedule; no early stop, best-validation weights restored), "
        f"crop+flip{' + mixup 0.8 + label smoothing 0.1' if settings['heavy_augment'] else ''}; seeds 0..{budget.seeds - 1}.",
        "Images/s are measured on this machine's CPU threads at the time of each fit (the Mixer baseline is fitted once per "
        "process and budget and shared by the vision claims); compare them within one run only.",
    ]


def claim_result(paper_id: str, title: str, claim: str, paper_numbers: dict, budget: Budget, runs: list[dict], table: list[dict],
                 verdict_fn: Callable, settings: dict, started: str, clock: float, extra_notes: list[str] = ()) -> ClaimResult:
    verdict, reason = verdict_fn(table)
    return ClaimResult(paper_id, title, claim, budget.name, list(range(budget.seeds)), runs, table, verdict, reason, paper_numbers,
                       notes(settings, budget) + list(extra_notes), started, now_iso(), time.perf_counter() - clock)
