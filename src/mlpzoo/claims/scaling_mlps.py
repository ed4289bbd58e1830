"""Scaling MLPs (2023): does an MLP's test error fall as a power law in compute, and does augmentation matter?

Paper: Bachmann, Anagnostidis & Hofmann, "Scaling MLPs: A Tale of Inductive Bias", NeurIPS 2023,
arXiv:2306.13575. Its scaling section fits test error against compute (forward FLOPs x 3 x
samples seen) on the compute-optimal frontier as a power law, and its ablations find data
augmentation far more important for MLPs than for CNNs.

Experiment on CIFAR-10 (the JPEG copy in the data directory): a sweep of Scaling-MLPs
(:class:`~mlpzoo.models.deep_mlp.ScalingMLP`, thin widths x depths) x training-set fractions,
each trained with LION (the paper's optimiser; constant learning rate, batch as in the
settings, label smoothing 0.3 always, as in the authors' code), once with the heavy
augmentation (random crop with 4-pixel padding, horizontal flip, mixup alpha 0.8) and once
without. After every epoch the test error is recorded with its compute: ``count_flops`` of one
forward pass x 3 (forward + backward) x samples seen. For each augmentation setting the points on
the compute-optimal frontier (lowest error so far as compute grows) are fitted by least squares
as ``log10 error = a - b log10 compute`` (scipy ``linregress``); the table reports the exponent
``b`` and R^2. The augmentation gap is the mean over sweep cells of (final error without
augmentation - final error with it), with the standard error over cells.

Verdict: the power law holds when the augmented frontier has b > 0 with R^2 >= 0.8; augmentation
matters when the mean gap exceeds one standard error. Both: reproduced; one: partly; none: not
reproduced. The CNN comparison of the paper ("more than for CNNs") is not run here (noted).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import linregress

from mlpzoo.claims.base import Budget, ClaimResult, now_iso
from mlpzoo.data.augment import (
    Compose,
    HorizontalFlip,
    LabelSmoothing,
    Mixup,
    RandomCrop,
)
from mlpzoo.data.images import ImageData, channel_stats, load_cifar10
from mlpzoo.flops import count_flops
from mlpzoo.models.deep_mlp import ScalingMLP
from mlpzoo.tasks import get_task
from mlpzoo.train.trainer import Trainer

PAPER_ID = "scaling-mlps"
TITLE = "Scaling MLPs: A Tale of Inductive Bias (Bachmann, Anagnostidis & Hofmann, NeurIPS 2023, arXiv:2306.13575)"
CLAIM = "An MLP's test error falls as a power law in compute, and data augmentation matters far more for MLPs than for CNNs."
PAPER_NUMBERS = {
    "B-12/Wi-1024, ImageNet-21k pre-trained, fine-tuned (authors' README)": "CIFAR-10 94.2 % (95.5 % with test-time augmentation)",
    "scaling law": "test error on the compute-optimal frontier follows a power law in compute (their Figure 1/5)",
}
SMOOTHING, MIXUP_ALPHA, CROP_PADDING = 0.3, 0.8, 4
SETTINGS = {
    "quick": {"widths": (32, 96), "depths": (1, 2), "fractions": (0.3, 1.0), "train_per_class": 150, "test_per_class": 50,
              "epochs": 3, "batch_size": 64, "lr": 3e-4, "weight_decay": 0.0, "device": "cpu"},
    "full": {"widths": (128, 256, 512), "depths": (2, 4), "fractions": (0.1, 0.3, 1.0), "train_per_class": None,
             "test_per_class": None, "epochs": 40, "batch_size": 1024, "lr": 1e-4, "weight_decay": 0.0, "device": "auto"},
}
MIN_R2 = 0.8


def augmentation(augment: bool):
    steps = [RandomCrop(CROP_PADDING), HorizontalFlip(), Mixup(MIXUP_ALPHA, 10)] if augment else []
    return Compose(steps + [LabelSmoothing(SMOOTHING, 10)])


def _subset(labels: torch.Tensor, fraction: float, seed: int) -> torch.Tensor:
    """A class-stratified ``fraction`` of the rows, fixed by ``seed`` (nested: smaller fractions are prefixes)."""
    generator = torch.Generator().manual_seed(seed)
    keep = []
    for c in range(10):
        rows = torch.nonzero(labels == c).flatten()
        rows = rows[torch.randperm(len(rows), generator=generator)]
        keep.append(rows[: max(1, round(fraction * len(rows)))])
    return torch.cat(keep).sort().values


def fit_cell(images, labels, test_images, test_labels, width: int, depth: int, fraction: float, augment: bool,
             seed: int, settings: dict) -> list[dict]:
    """Train one sweep cell; one record per epoch with its test error and compute so far."""
    rows = _subset(labels, fraction, seed)
    mean, std = channel_stats(images[rows])
    train = ImageData(images[rows], labels[rows], mean, std, augment=augmentation(augment))
    test = ImageData(test_images, test_labels, mean, std)
    torch.manual_seed(seed)
    model = ScalingMLP(image_size=32, in_channels=3, num_classes=10, width=width, depth=depth)
    flops_per_sample = count_flops(model, torch.zeros(1, 3, 32, 32))
    params = sum(p.numel() for p in model.parameters())
    config = {"epochs": settings["epochs"], "patience": settings["epochs"], "batch_size": settings["batch_size"],
              "lr": settings["lr"], "weight_decay": settings["weight_decay"], "lr_decay_factor": 1.0,
              "grad_clip_norm": None, "seed": seed, "progress": False, "save_checkpoints": False,
              "device": settings["device"], "eval_batch_size": 4096, "optimizer": "lion"}
    records = []

    def record(epoch: int, metrics: dict) -> None:
        records.append({"width": width, "depth": depth, "fraction": fraction, "augment": augment, "seed": seed,
                        "epoch": epoch, "n_train": len(rows), "parameters": params,
                        "compute": 3.0 * flops_per_sample * len(rows) * epoch,
                        "test_error": 1.0 - metrics["valid_accuracy"]})

    Trainer(get_task("classification"), model, config).fit(train, test, callbacks=[record])
    return records


def frontier(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Compute-optimal frontier: the points whose error is below every point with less compute."""
    best, kept = math.inf, []
    for compute, error in sorted(points):
        if error < best:
            kept.append((compute, error))
            best = error
    return kept


def power_law(points: list[tuple[float, float]]) -> dict:
    """Least-squares fit of log10 error on log10 compute: exponent b (error ~ C^-b), R^2, points used."""
    if len(points) < 3:
        return {"exponent": math.nan, "r2": math.nan, "points": len(points)}
    fit = linregress(np.log10([c for c, _ in points]), np.log10([e for _, e in points]))
    return {"exponent": float(-fit.slope), "r2": float(fit.rvalue**2), "points": len(points)}


def tabulate(runs: list[dict]) -> list[dict]:
    """Per augmentation setting: frontier power-law fit, best error; and the paired augmentation gap."""
    table = []
    final = {}  # (cell, augment) -> test error after the cell's last epoch
    for r in sorted(runs, key=lambda r: r["epoch"]):
        final[((r["width"], r["depth"], r["fraction"], r["seed"]), r["augment"])] = r["test_error"]
    gaps = [final[(k, False)] - final[(k, True)] for k, aug in final if aug and (k, False) in final]
    gap = float(np.mean(gaps)) if gaps else math.nan
    gap_se = float(np.std(gaps, ddof=1) / math.sqrt(len(gaps))) if len(gaps) > 1 else math.nan
    for augment in (True, False):
        points = [(r["compute"], r["test_error"]) for r in runs if r["augment"] == augment]
        fit = power_law(frontier(points))
        table.append({"augment": augment, "exponent": fit["exponent"], "r2": fit["r2"], "frontier_points": fit["points"],
                      "runs": len({(r["width"], r["depth"], r["fraction"], r["seed"]) for r in runs if r["augment"] == augment}),
                      "best_test_error": min(e for _, e in points) if points else math.nan,
                      "augmentation_gap": gap, "augmentation_gap_se": gap_se, "cells": len(gaps)})
    return table


def run(budget: Budget, data_dir=None, runs_dir: Path = Path("runs"), log=print) -> ClaimResult:
    """``runs_dir`` is unused: the sweep's fits are throw-away (no checkpoints)."""
    started, clock = now_iso(), time.perf_counter()
    settings = SETTINGS.get(budget.name, SETTINGS["full"])
    images, labels = load_cifar10("train", data_dir, limit_per_class=settings["train_per_class"])
    test_images, test_labels = load_cifar10("test", data_dir, limit_per_class=settings["test_per_class"])
    runs = []
    seed = 0
    for width in settings["widths"]:
        for depth in settings["depths"]:
            for fraction in settings["fractions"]:
                for augment in (True, False):
                    records = fit_cell(images, labels, test_images, test_labels, width, depth, fraction, augment, seed, settings)
                    last = records[-1]
                    log(f"B-{depth}/Wi-{width} fraction {fraction} augment {augment}: test error {last['test_error']:.4f} "
                        f"at {last['compute']:.3g} FLOPs")
                    runs += records
    table = tabulate(runs)
    verdict_, reason = verdict(table)
    notes = [
        (f"CIFAR-10 JPEG copy: {len(labels)} training images ({settings['train_per_class'] or 'all'} per class), "
         f"{len(test_labels)} test images; the test set is evaluated after every epoch (as in the authors' code), "
         "so it is never used to choose anything."),
        (f"Sweep: thin widths {settings['widths']}, depths {settings['depths']}, training fractions {settings['fractions']}; "
         f"seed {seed}; {settings['epochs']} epochs, LION lr {settings['lr']}, betas (0.9, 0.99), weight decay "
         f"{settings['weight_decay']}, batch {settings['batch_size']}, constant learning rate, label smoothing {SMOOTHING} in both settings."),
        (f"Augmentation: random crop (padding {CROP_PADDING}), horizontal flip, mixup alpha {MIXUP_ALPHA}. "
         "Images stay 32 x 32 (the paper pre-trains at 64 x 64 on ImageNet-21k; not checkable here)."),
        ("Compute = forward FLOPs (mlpzoo.flops) x 3 x samples seen; the power law is fitted on each setting's "
         "compute-optimal frontier of (compute, test error) over all cells and epochs."),
        "Not run: the CNN side of 'augmentation matters more for MLPs than for CNNs'; the gap is measured for MLPs only.",
    ]
    return ClaimResult(PAPER_ID, TITLE, CLAIM, budget.name, [seed], runs, table, verdict_, reason, PAPER_NUMBERS, notes,
                       started, now_iso(), time.perf_counter() - clock)


def verdict(table: list[dict]) -> tuple[str, str]:
    """Power law on the augmented frontier (b > 0, R^2 >= MIN_R2) and a positive augmentation gap beyond 1 SE."""
    rows = {row["augment"]: row for row in table}
    aug = rows[True]
    law = aug["exponent"] > 0 and aug["r2"] >= MIN_R2
    gap, se = aug["augmentation_gap"], aug["augmentation_gap_se"]
    se = 0.0 if math.isnan(se) else se
    helps = gap > se
    outcome = {2: "reproduced", 1: "partly reproduced", 0: "not reproduced"}[law + helps]
    plain = rows.get(False)
    other = f"; without augmentation b = {plain['exponent']:.3f}, R^2 = {plain['r2']:.2f}" if plain else ""
    return outcome, (f"with augmentation the frontier error ~ compute^-{aug['exponent']:.3f} (R^2 {aug['r2']:.2f}, "
                     f"{aug['frontier_points']} points; power law {'holds' if law else 'does not hold'} at R^2 >= {MIN_R2}){other}; "
                     f"augmentation lowers the final test error by {gap:.4f} on average over {aug['cells']} cells "
                     f"(1 SE {se:.4f}: {'helps' if helps else 'does not help'}).")
