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
forward pass x 3 (forward + backward) x samples seen; with several seeds the errors of a cell's
epoch are averaged over seeds first. For each augmentation setting the points on the
compute-optimal frontier (lowest error so far as compute grows) are split at two thirds of their
log-compute range: the lower part is fitted by least squares as ``log10 error = a - b log10
compute`` (scipy ``linregress``) and the fit predicts the error of the upper third's points. A
good in-sample fit proves little (a saturating exponential also fits a short frontier with R^2
near 1); the out-of-sample prediction is what tells a power law apart. The table reports ``b``,
the fit's R^2 and the largest relative prediction error on the held-out points. The augmentation
gap is the mean over sweep cells and seeds of (final error without augmentation - final error
with it), with its standard error.

Verdict: the power law holds when the augmented frontier's fit has b > 0 and R^2 >= ``MIN_R2``
(0.8) on the fitted part, and predicts every held-out point within ``MAX_PREDICTION_ERROR`` (10 %)
relative error (the R^2 keeps a nearly flat frontier, which any flat line predicts, from
passing); augmentation matters when the mean
gap exceeds one standard error. Both: reproduced; one: partly; none: not reproduced. The CNN
comparison of the paper ("more than for CNNs") is not run here (noted).
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
              "epochs": 3, "batch_size": 64, "lr": 3e-4, "weight_decay": 0.0, "device": "cpu", "seeds": 1},
    "full": {"widths": (128, 256, 512), "depths": (2, 4), "fractions": (0.1, 0.3, 1.0), "train_per_class": None,
             "test_per_class": None, "epochs": 40, "batch_size": 1024, "lr": 1e-4, "weight_decay": 0.0, "device": "auto",
             "seeds": 1},
}
HELD_OUT = 1 / 3  # the top third of the frontier's log-compute range is predicted, not fitted
MAX_PREDICTION_ERROR = 0.10
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
    """Least-squares fit of log10 error on log10 compute: exponent b (error ~ C^-b), intercept, R^2, points used."""
    if len(points) < 3:
        return {"exponent": math.nan, "intercept": math.nan, "r2": math.nan, "points": len(points)}
    fit = linregress(np.log10([c for c, _ in points]), np.log10([e for _, e in points]))
    return {"exponent": float(-fit.slope), "intercept": float(fit.intercept), "r2": float(fit.rvalue**2), "points": len(points)}


def out_of_sample(points: list[tuple[float, float]], held_out: float = HELD_OUT) -> dict:
    """Fit :func:`power_law` to the frontier points in the lower ``1 - held_out`` of the log-compute
    range; ``prediction_error`` is the largest ``|predicted / observed - 1|`` over the rest (NaN when
    fewer than 3 points are fitted or none is held out)."""
    if not points:
        return {**power_law([]), "held_out_points": 0, "prediction_error": math.nan}
    log_c = np.log10([c for c, _ in points])
    cut = log_c.min() + (1 - held_out) * (log_c.max() - log_c.min())
    inside = [p for p, lc in zip(points, log_c) if lc <= cut]
    outside = [p for p, lc in zip(points, log_c) if lc > cut]
    fit = power_law(inside)
    if math.isnan(fit["exponent"]) or not outside:
        return {**fit, "held_out_points": len(outside), "prediction_error": math.nan}
    predicted = 10 ** (fit["intercept"] - fit["exponent"] * np.log10([c for c, _ in outside]))
    observed = np.array([e for _, e in outside])
    return {**fit, "held_out_points": len(outside), "prediction_error": float(np.max(np.abs(predicted / observed - 1)))}


def tabulate(runs: list[dict]) -> list[dict]:
    """Per augmentation setting: out-of-sample power-law check on the frontier, best error; and the paired augmentation gap."""
    table = []
    final = {}  # (cell, seed, augment) -> test error after the cell's last epoch
    for r in sorted(runs, key=lambda r: r["epoch"]):
        final[((r["width"], r["depth"], r["fraction"], r["seed"]), r["augment"])] = r["test_error"]
    gaps = [final[(k, False)] - final[(k, True)] for k, aug in final if aug and (k, False) in final]
    gap = float(np.mean(gaps)) if gaps else math.nan
    gap_se = float(np.std(gaps, ddof=1) / math.sqrt(len(gaps))) if len(gaps) > 1 else math.nan
    for augment in (True, False):
        by_epoch: dict[tuple, list[dict]] = {}  # one point per cell and epoch: the mean over seeds
        for r in runs:
            if r["augment"] == augment:
                by_epoch.setdefault((r["width"], r["depth"], r["fraction"], r["epoch"]), []).append(r)
        points = [(float(np.mean([m["compute"] for m in ms])), float(np.mean([m["test_error"] for m in ms]))) for ms in by_epoch.values()]
        kept = frontier(points)
        fit = out_of_sample(kept)
        table.append({"augment": augment, "exponent": fit["exponent"], "r2": fit["r2"], "frontier_points": len(kept),
                      "held_out_points": fit["held_out_points"], "prediction_error": fit["prediction_error"],
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
    # get_budget returns the stock Budget unless --seeds was given; then the user's count wins over the settings'.
    seeds = budget.seed_list(settings["seeds"])
    runs = []
    for seed in seeds:
        for width in settings["widths"]:
            for depth in settings["depths"]:
                for fraction in settings["fractions"]:
                    for augment in (True, False):
                        records = fit_cell(images, labels, test_images, test_labels, width, depth, fraction, augment, seed, settings)
                        last = records[-1]
                        log(f"B-{depth}/Wi-{width} fraction {fraction} augment {augment} seed {seed}: test error "
                            f"{last['test_error']:.4f} at {last['compute']:.3g} FLOPs")
                        runs += records
    table = tabulate(runs)
    verdict_, reason = verdict(table)
    notes = [
        (f"CIFAR-10 JPEG copy: {len(labels)} training images ({settings['train_per_class'] or 'all'} per class), "
         f"{len(test_labels)} test images; the test set is evaluated after every epoch (as in the authors' code), "
         "so it is never used to choose anything."),
        (f"Sweep: thin widths {settings['widths']}, depths {settings['depths']}, training fractions {settings['fractions']}; "
         f"seeds {seeds}; {settings['epochs']} epochs, LION lr {settings['lr']}, betas (0.9, 0.99), weight decay "
         f"{settings['weight_decay']}, batch {settings['batch_size']}, constant learning rate, label smoothing {SMOOTHING} in both settings."),
        (f"Augmentation: random crop (padding {CROP_PADDING}), horizontal flip, mixup alpha {MIXUP_ALPHA}. "
         "Images stay 32 x 32 (the paper pre-trains at 64 x 64 on ImageNet-21k; not checkable here)."),
        ("Compute = forward FLOPs (mlpzoo.flops) x 3 x samples seen; each setting's compute-optimal frontier of "
         "(compute, test error) is taken over all cells and epochs (errors averaged over seeds), the power law is fitted on "
         f"its lower {1 - HELD_OUT:.0%} of log compute and must predict the top {HELD_OUT:.0%} within "
         f"{MAX_PREDICTION_ERROR:.0%} relative error."),
        "Not run: the CNN side of 'augmentation matters more for MLPs than for CNNs'; the gap is measured for MLPs only.",
    ]
    return ClaimResult(PAPER_ID, TITLE, CLAIM, budget.name, seeds, runs, table, verdict_, reason, PAPER_NUMBERS, notes,
                       started, now_iso(), time.perf_counter() - clock)


def verdict(table: list[dict]) -> tuple[str, str]:
    """Power law on the augmented frontier (b > 0, R^2 >= MIN_R2 on the fitted part, the held-out
    points predicted within MAX_PREDICTION_ERROR) and a positive augmentation gap beyond 1 SE:
    both -> reproduced, one -> partly reproduced, none -> not reproduced."""
    rows = {row["augment"]: row for row in table}
    aug = rows[True]
    # NaN (too few frontier points) fails every comparison.
    law = aug["exponent"] > 0 and aug["r2"] >= MIN_R2 and aug["prediction_error"] <= MAX_PREDICTION_ERROR
    gap, se = aug["augmentation_gap"], aug["augmentation_gap_se"]
    se = 0.0 if math.isnan(se) else se
    helps = gap > se
    outcome = {2: "reproduced", 1: "partly reproduced", 0: "not reproduced"}[law + helps]
    plain = rows.get(False)
    other = (f"; without augmentation b = {plain['exponent']:.3f}, held-out error {plain['prediction_error']:.1%}" if plain else "")
    if math.isnan(aug["prediction_error"]):
        fit = (f"with augmentation the frontier has {aug['frontier_points']} points, too few to fit 3 and hold out the "
               "highest-compute ones (power law does not hold: not shown)")
    else:
        fit = (f"with augmentation the frontier error ~ compute^-{aug['exponent']:.3f}, fitted on "
               f"{aug['frontier_points'] - aug['held_out_points']} of {aug['frontier_points']} frontier points (R^2 {aug['r2']:.2f}), "
               f"predicts the {aug['held_out_points']} highest-compute ones within {aug['prediction_error']:.1%} "
               f"(power law {'holds' if law else 'does not hold'}: needs b > 0, R^2 >= {MIN_R2} and {MAX_PREDICTION_ERROR:.0%})")
    return outcome, (f"{fit}{other}; augmentation lowers the final test error by {gap:.4f} on average over "
                     f"{aug['cells']} (cell, seed) pairs (1 SE {se:.4f}: {'helps' if helps else 'does not help'}).")
