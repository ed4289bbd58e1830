"""Scaling MLPs (2023): does an MLP's error follow a power law in compute, and augmentation matter more than for CNNs?

Paper: Bachmann, Anagnostidis & Hofmann, "Scaling MLPs: A Tale of Inductive Bias", NeurIPS 2023,
arXiv:2306.13575. Its Figure 1 plots test error on CIFAR-100 against compute (PFLOPS) for MLPs on the
compute-optimal frontier, a power law; the catalog's second half, that data augmentation matters
far more for MLPs than for convolutional networks, is the paper's reading of its augmentation ablations
(no figure of it is quoted here).

Experiment on CIFAR-10 (the JPEG copy in the data directory). A class-balanced validation split is
carved from the training images; the test split is touched only to score models chosen on validation.

1. Scaling: a sweep of Scaling-MLPs (:class:`~mlpzoo.models.deep_mlp.ScalingMLP`, thin widths x
   depths) x training-set fractions, trained with LION (the paper's optimiser; constant learning rate,
   label smoothing 0.3 always, as in the authors' code), once with the heavy augmentation (random crop
   with 4-pixel padding, horizontal flip, mixup alpha 0.8) and once without. Each fit is read at
   epoch milestones: the model of a milestone is the one best on validation so far (what a run of that
   many epochs returns), scored once on test, with the compute spent so far (``count_flops`` of one
   forward pass x 3 x samples seen). With several seeds a (cell, milestone) point averages the seeds.
   Per augmentation setting the compute-optimal frontier is chosen on validation error (the points
   whose validation error is below every point with less compute); the test errors of those points
   are split at two thirds of their log-compute range, the lower part is fitted by least squares as
   ``log10 error = a - b log10 compute`` and the fit must predict the upper third. A good in-sample
   fit proves little (a saturating curve also fits a short frontier with R^2 near 1); the
   out-of-sample prediction tells a power law apart.
2. Augmentation, MLP against CNN: the sweep's largest MLP and a small standard CNN (He et al.'s
   CIFAR ResNet, :class:`~mlpzoo.models.vision.ResNetCIFAR`) are trained on the same training rows,
   with the same recipe (optimiser, learning rate, batch, epochs, label smoothing) with and without
   augmentation. A model's augmentation gain is its test error without augmentation minus with it;
   the claim needs the MLP's gain beyond one standard error and the MLP's gain above the CNN's
   beyond one standard error of the per-seed paired difference.

Verdict: power law (b > 0, R^2 >= ``MIN_R2`` on the fitted part, every held-out point predicted within
``MAX_PREDICTION_ERROR``) and augmentation matters more for the MLP than for the CNN: reproduced; one
of the two: partly; neither: not reproduced.
"""

from __future__ import annotations

import copy
import math
from functools import partial

import numpy as np
import torch
from scipy.stats import linregress

from mlpzoo.claims.base import ClaimContext, ClaimSpec, Evidence, beyond_one_se, outcome
from mlpzoo.claims.kits.vision import cifar10_splits
from mlpzoo.data.augment import (
    Compose,
    HorizontalFlip,
    LabelSmoothing,
    Mixup,
    RandomCrop,
)
from mlpzoo.data.images import ImageData, channel_stats
from mlpzoo.errors import ConfigError
from mlpzoo.measure import count_flops, count_parameters
from mlpzoo.models.deep_mlp import ScalingMLP
from mlpzoo.models.vision import ResNetCIFAR
from mlpzoo.tasks import get_task
from mlpzoo.train.trainer import Trainer

SMOOTHING, MIXUP_ALPHA, CROP_PADDING = 0.3, 0.8, 4
HELD_OUT = 1 / 3  # the top third of the frontier's log-compute range is predicted, not fitted
MAX_PREDICTION_ERROR = 0.10
MIN_R2 = 0.8

SPEC = ClaimSpec(
    claim=(
        "An MLP's test error falls as a power law in compute, and data augmentation matters far more for MLPs "
        "than for CNNs."
    ),
    paper_numbers={
        "accuracy at scale (abstract; pre-trained on ImageNet-21k, fine-tuned)": "93 % CIFAR-10, 79 % CIFAR-100",
        "scaling law (Figure 1)": "test error on CIFAR-100 of the compute-optimal MLPs falls as a power law in PFLOPS",
    },
    datasets=("cifar10",),
    settings={
        # Quick: every code path (sweep, milestones, frontier, out-of-sample fit, CNN arm) on a sliver of the data.
        "quick": {
            "widths": (32, 64),
            "depths": (1, 2),
            "fractions": (0.5, 1.0),
            "train_per_class": 100,
            "valid_per_class": 20,
            "test_per_class": 50,
            "epochs": 3,
            "milestones": (1, 2, 3),
            "batch_size": 64,
            "lr": 3e-4,
            "cnn": {"depth": 8, "width": 8},
            "cnn_fraction": 0.5,
            "device": "cpu",
        },
        "full": {
            "widths": (32, 64, 128),
            "depths": (2, 4),
            "fractions": (0.125, 0.25, 0.5, 1.0),
            "train_per_class": 400,
            "valid_per_class": 50,
            "test_per_class": 500,
            "epochs": 12,
            "milestones": (3, 6, 12),
            "batch_size": 64,
            "lr": 3e-4,
            "cnn": {"depth": 8, "width": 16},
            "cnn_fraction": 0.125,
            "device": "cpu",
        },
        "gpu": {
            "widths": (128, 256, 512, 1024),
            "depths": (2, 4, 6),
            "fractions": (0.1, 0.3, 1.0),
            "train_per_class": None,
            "valid_per_class": 500,
            "test_per_class": None,
            "epochs": 40,
            "milestones": (5, 10, 20, 40),
            "batch_size": 1024,
            "lr": 1e-4,
            "cnn": {"depth": 20, "width": 16},
            "cnn_fraction": 1.0,
            "device": "auto",
        },
    },
    seeds={"quick": 1, "full": 3, "gpu": 3},
    notes=(
        (
            "Test is never used to choose anything: the frontier and each fit's weights are chosen on a validation "
            "split carved from the training images; test scores only the chosen models, once each."
        ),
        (
            "Full budget against the 'gpu' budget (itself far below the paper, which pre-trains on ImageNet-21k at "
            "64 x 64): 400 training + 50 validation images per class instead of 4,500 + 500, 5,000 test images "
            "instead of 10,000; widths 32-128 and depths 2-4 instead of 128-1024 and 2-6; 12 epochs instead of 40; "
            "the CNN is ResNet-8 on an eighth of the rows instead of ResNet-20 on all; batch 64 instead of 1,024 "
            "(a 1,024 batch gives 1-4 steps an epoch on 500-4,000 images); 3 seeds."
        ),
        (
            "LION lr 3e-4 instead of 1e-4, chosen on validation error with augmentation, one seed: lr 1e-4 at batch "
            "128 left ResNet-8 at 0.686 validation error on 1,000 images; at batch 64 on the compared rows the MLP "
            "and CNN validation errors summed to 1.352 at lr 3e-4 and 1.360 at 1e-3."
        ),
        (
            "Time, estimated from per-arm times measured on the 2-core machine under a load of about 8 (one thread; "
            "B-4/Wi-256 on 4,000 images for 12 epochs 79 s, B-4/Wi-128 on 500 images 8-18 s, ResNet-8 on 500 "
            "images 91-137 s, each with its evaluations): about 20 minutes of MLP fits and 10 of CNN fits, about 30 "
            "minutes in all under that load, less on an idle machine."
        ),
        (
            "The MLP and the CNN differ in size (the claim is about augmentation gains, not efficiency): each is "
            "trained with the same rows, recipe and epochs; the MLP compared is the sweep's largest."
        ),
    ),
)


def augmentation(augment: bool):
    steps = [RandomCrop(CROP_PADDING), HorizontalFlip(), Mixup(MIXUP_ALPHA, 10)] if augment else []
    return Compose(steps + [LabelSmoothing(SMOOTHING, 10)])


def subset(labels: torch.Tensor, fraction: float, seed: int) -> torch.Tensor:
    """A class-stratified ``fraction`` of the rows, fixed by ``seed`` (nested: smaller fractions are prefixes)."""
    generator = torch.Generator().manual_seed(seed)
    keep = []
    for c in range(10):
        rows = torch.nonzero(labels == c).flatten()
        rows = rows[torch.randperm(len(rows), generator=generator)]
        keep.append(rows[: max(1, round(fraction * len(rows)))])
    return torch.cat(keep).sort().values


def mlp_name(width: int, depth: int) -> str:
    return f"B-{depth}/Wi-{width}"


def cnn_name(cnn: dict) -> str:
    return f"ResNet-{cnn['depth']} (width {cnn['width']})"


def fit_cell(
    splits: dict,
    model_name: str,
    model: torch.nn.Module,
    fraction: float,
    augment: bool,
    seed: int,
    settings: dict,
    milestones,
) -> list[dict]:
    """Train one cell; at each milestone epoch, score the weights best on validation so far once on test."""
    images, labels = splits["train"]
    rows = subset(labels, fraction, seed)
    mean, std = channel_stats(images[rows])
    train = ImageData(images[rows], labels[rows], mean, std, augment=augmentation(augment))
    valid, test = (ImageData(*splits[name], mean, std) for name in ("valid", "test"))
    flops_per_sample = count_flops(model, torch.zeros(1, 3, 32, 32))
    params = count_parameters(model)
    config = {
        "epochs": settings["epochs"],
        "patience": settings["epochs"],
        "batch_size": settings["batch_size"],
        "lr": settings["lr"],
        "weight_decay": 0.0,
        "lr_decay_factor": 1.0,
        "grad_clip_norm": None,
        "seed": seed,
        "progress": False,
        "save_checkpoints": False,
        "device": settings["device"],
        "eval_batch_size": 1024,
        "optimizer": "lion",
    }
    trainer = Trainer(get_task("classification"), model, config)
    best = {"valid_error": math.inf, "weights": None, "test_error": None}
    records = []

    def at_epoch(epoch: int, metrics: dict) -> None:
        valid_error = 1.0 - metrics["valid_accuracy"]
        if valid_error < best["valid_error"]:
            best.update(valid_error=valid_error, weights=copy.deepcopy(model.state_dict()), test_error=None)
        if epoch not in milestones:
            return
        if best["test_error"] is None:  # a model still best at a later milestone keeps its one test score
            current = copy.deepcopy(model.state_dict())
            model.load_state_dict(best["weights"])
            best["test_error"] = 1.0 - trainer.evaluate(test)["accuracy"]
            model.load_state_dict(current)
        records.append(
            {
                "model": model_name,
                "fraction": fraction,
                "augment": augment,
                "seed": seed,
                "epoch": epoch,
                "n_train": len(rows),
                "parameters": params,
                "compute": 3.0 * flops_per_sample * len(rows) * epoch,
                "valid_error": best["valid_error"],
                "test_error": best["test_error"],
            }
        )

    trainer.fit(train, valid, callbacks=[at_epoch])
    return records


def experiment(ctx: ClaimContext) -> Evidence:
    s = ctx.settings
    milestones = tuple(s["milestones"])
    if milestones[-1] != s["epochs"] or list(milestones) != sorted(set(milestones)):
        raise ConfigError(f"scaling-mlps settings: milestones {milestones} must rise and end at epochs={s['epochs']}")
    if s["cnn_fraction"] not in s["fractions"]:
        raise ConfigError(
            f"scaling-mlps settings: cnn_fraction {s['cnn_fraction']} must be one of the fractions "
            f"{s['fractions']} (the CNN is compared with the sweep's MLP on the same rows)"
        )
    cells = [(w, d, f) for w in s["widths"] for d in s["depths"] for f in s["fractions"]]
    ctx.expect((len(cells) + 1) * 2 * len(ctx.seeds))
    splits: dict = {}  # loaded on the first arm that is not stored yet

    def data() -> dict:
        if not splits:
            splits.update(cifar10_splits(s["train_per_class"], s["valid_per_class"], s["test_per_class"], ctx.data_dir))
        return splits

    cnn, largest = cnn_name(s["cnn"]), mlp_name(max(s["widths"]), max(s["depths"]))
    runs = []
    for seed in ctx.seeds:
        for augment in (True, False):
            for width, depth, fraction in cells:
                name = mlp_name(width, depth)
                fit = partial(
                    _fit,
                    data,
                    name,
                    partial(ScalingMLP, 32, 3, 10, width=width, depth=depth),
                    fraction,
                    augment,
                    seed,
                    s,
                    milestones,
                )
                runs += _logged(ctx, ctx.arm(f"{name}/fraction{fraction}/augment{augment}/seed{seed}", fit, seed=seed))
            # The CNN is read at the last epoch only: it is compared, not part of the frontier.
            fit = partial(
                _fit, data, cnn, partial(ResNetCIFAR, **s["cnn"]), s["cnn_fraction"], augment, seed, s, (s["epochs"],)
            )
            key = f"cnn/{cnn}/fraction{s['cnn_fraction']}/augment{augment}/seed{seed}"
            runs += _logged(ctx, ctx.arm(key, fit, seed=seed))
    return Evidence(tabulate(runs, largest, cnn, s["cnn_fraction"]), runs)


def _fit(data, name: str, build, fraction: float, augment: bool, seed: int, settings: dict, milestones) -> list[dict]:
    return fit_cell(
        data(), name, build(), fraction, augment, seed, settings, milestones
    )  # the model is seeded by ctx.arm


def _logged(ctx: ClaimContext, records: list[dict]) -> list[dict]:
    last = records[-1]
    ctx.log(
        f"{last['model']} fraction {last['fraction']} augment {last['augment']} seed {last['seed']}: valid error "
        f"{last['valid_error']:.4f}, test error {last['test_error']:.4f} at {last['compute']:.3g} FLOPs"
    )
    return records


# ---------------------------------------------------------------------------- the evidence table
def frontier(points: list[tuple]) -> list[tuple]:
    """Compute-optimal frontier of ``(compute, selection error, ...)`` points: those whose selection
    error is below every point with less compute."""
    best, kept = math.inf, []
    for point in sorted(points):
        if point[1] < best:
            kept.append(point)
            best = point[1]
    return kept


def power_law(points: list[tuple[float, float]]) -> dict:
    """Least-squares fit of log10 error on log10 compute: exponent b (error ~ C^-b), intercept, R^2, points used."""
    if len(points) < 3:
        return {"exponent": math.nan, "intercept": math.nan, "r2": math.nan, "points": len(points)}
    fit = linregress(np.log10([c for c, _ in points]), np.log10([e for _, e in points]))
    return {
        "exponent": float(-fit.slope),
        "intercept": float(fit.intercept),
        "r2": float(fit.rvalue**2),
        "points": len(points),
    }


def out_of_sample(points: list[tuple[float, float]], held_out: float = HELD_OUT) -> dict:
    """Fit :func:`power_law` to the ``(compute, error)`` points in the lower ``1 - held_out`` of the
    log-compute range; ``prediction_error`` is the largest ``|predicted / observed - 1|`` over the rest
    (NaN when fewer than 3 points are fitted or none is held out)."""
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


def frontier_row(runs: list[dict], augment: bool) -> dict:
    """The out-of-sample power-law check on one augmentation setting's validation-chosen frontier."""
    by_point: dict[tuple, list[dict]] = {}  # one point per sweep cell and milestone: the mean over seeds
    for r in runs:
        if r["augment"] == augment:
            by_point.setdefault((r["model"], r["fraction"], r["epoch"]), []).append(r)
    points = [
        tuple(float(np.mean([m[k] for m in ms])) for k in ("compute", "valid_error", "test_error"))
        for ms in by_point.values()
    ]
    kept = frontier(points)
    fit = out_of_sample([(c, test) for c, _, test in kept])
    return {
        "quantity": "frontier",
        "model": "MLP sweep",
        "augment": augment,
        "exponent": fit["exponent"],
        "r2": fit["r2"],
        "frontier_points": len(kept),
        "held_out_points": fit["held_out_points"],
        "prediction_error": fit["prediction_error"],
        "min_r2": MIN_R2,
        "max_prediction_error": MAX_PREDICTION_ERROR,
        "best_test_error": kept[-1][2] if kept else math.nan,
    }


def final_errors(runs: list[dict]) -> dict[tuple, float]:
    """(model, fraction, seed, augment) -> test error of the fit's last milestone (best validation over all epochs)."""
    final = {}
    for r in sorted(runs, key=lambda r: r["epoch"]):
        final[(r["model"], r["fraction"], r["seed"], r["augment"])] = r["test_error"]
    return final


def gain_row(quantity: str, model: str, gains: list[float]) -> dict:
    """Mean augmentation gain (test error without minus with augmentation) and its standard error."""
    se = float(np.std(gains, ddof=1) / math.sqrt(len(gains))) if len(gains) > 1 else math.nan
    return {
        "quantity": quantity,
        "model": model,
        "gain_mean": float(np.mean(gains)) if gains else math.nan,
        "gain_se": se,
        "n": len(gains),
    }


def tabulate(runs: list[dict], mlp: str, cnn: str, fraction: float) -> list[dict]:
    """Frontier rows per augmentation setting; augmentation gains of the sweep, of ``mlp`` and ``cnn`` on
    the same ``fraction`` of rows, and their per-seed paired difference."""
    mlps = [r for r in runs if r["model"] != cnn]
    final = final_errors(runs)
    sweep = [final[(*k, False)] - e for (*k, aug), e in final.items() if aug and k[0] != cnn and (*k, False) in final]
    seeds = sorted({r["seed"] for r in runs})
    gains = {
        model: {
            seed: final[(model, fraction, seed, False)] - final[(model, fraction, seed, True)]
            for seed in seeds
            if (model, fraction, seed, True) in final and (model, fraction, seed, False) in final
        }
        for model in (mlp, cnn)
    }
    paired = [gains[mlp][seed] - gains[cnn][seed] for seed in seeds if seed in gains[mlp] and seed in gains[cnn]]
    rows = [
        frontier_row(mlps, True),
        frontier_row(mlps, False),
        gain_row("gain_sweep", "MLP sweep", sweep),
        {**gain_row("gain_mlp", mlp, list(gains[mlp].values())), "fraction": fraction},
        {**gain_row("gain_cnn", cnn, list(gains[cnn].values())), "fraction": fraction},
        {**gain_row("gain_difference", f"{mlp} - {cnn}", paired), "fraction": fraction},
    ]
    columns = list(dict.fromkeys(c for row in rows for c in row))
    return [{c: row.get(c) for c in columns} for row in rows]  # every row has every column (None where it has no value)


def verdict(table: list[dict]) -> tuple[str, str]:
    """Power law on the augmented frontier (b > 0, R^2 >= the table's min_r2 on the fitted part, the
    held-out points predicted within its max_prediction_error), and augmentation matters more for the MLP
    than for the CNN (the MLP's gain beyond 1 SE, and the MLP's gain minus the CNN's beyond 1 SE):
    both -> reproduced, one -> partly reproduced, none -> not reproduced."""
    aug = next(r for r in table if r["quantity"] == "frontier" and r["augment"])
    plain = next((r for r in table if r["quantity"] == "frontier" and not r["augment"]), None)
    rows = {r["quantity"]: r for r in table if r["quantity"] != "frontier"}
    # NaN (too few frontier points) fails every comparison.
    law = aug["exponent"] > 0 and aug["r2"] >= aug["min_r2"] and aug["prediction_error"] <= aug["max_prediction_error"]
    mlp, cnn, difference = rows["gain_mlp"], rows["gain_cnn"], rows["gain_difference"]
    helps = beyond_one_se(mlp["gain_mean"], mlp["gain_se"])
    more = beyond_one_se(difference["gain_mean"], difference["gain_se"])
    if math.isnan(aug["prediction_error"]):
        fit = (
            f"with augmentation the validation-chosen frontier has {aug['frontier_points']} points, too few to fit 3 "
            "and hold out the highest-compute ones (power law not shown)"
        )
    else:
        fit = (
            f"with augmentation the frontier's test error ~ compute^-{aug['exponent']:.3f}, fitted on "
            f"{aug['frontier_points'] - aug['held_out_points']} of {aug['frontier_points']} frontier points (R^2 "
            f"{aug['r2']:.2f}), predicts the {aug['held_out_points']} highest-compute ones within "
            f"{aug['prediction_error']:.1%} (power law {'holds' if law else 'does not hold'}: needs b > 0, R^2 >= "
            f"{aug['min_r2']} and {aug['max_prediction_error']:.0%})"
        )
    other = f"; without augmentation b = {plain['exponent']:.3f}" if plain else ""
    sweep = rows.get("gain_sweep")
    sweep_text = f"; over the whole sweep it {_change(sweep['gain_mean'], 'test error')}" if sweep else ""
    mlp_error, cnn_error = f"{mlp['model']}'s test error", f"{cnn['model']}'s"
    gains = (
        f"augmentation {_change(mlp['gain_mean'], mlp_error)} ({_se(mlp)}; "
        f"{_standing(mlp)}) and {_change(cnn['gain_mean'], cnn_error)} ({_se(cnn)}; "
        f"{_standing(cnn)}) on "
        f"the same rows; MLP gain - CNN gain {difference['gain_mean']:+.4f} ({_se(difference)}, paired over "
        f"{difference['n']} seeds: {'more for the MLP' if more else 'not more for the MLP'} beyond 1 SE){sweep_text}"
    )
    return outcome([law, helps and more]), f"{fit}{other}; {gains}."


def _change(gain: float, what: str) -> str:
    """A gain (error without minus error with augmentation) in words: a negative gain is a rise in error."""
    return f"lowers {what} by {gain:.4f}" if gain >= 0 else f"raises {what} by {-gain:.4f}"


def _standing(row: dict) -> str:
    """Whether the gain differs from zero beyond one SE, in either direction."""
    if beyond_one_se(row["gain_mean"], row["gain_se"]):
        return "a gain beyond 1 SE"
    if beyond_one_se(-row["gain_mean"], row["gain_se"]):
        return "a loss beyond 1 SE"
    return "within 1 SE of none"


def _se(row: dict) -> str:
    return "single run, no SE" if math.isnan(row["gain_se"]) else f"1 SE {row['gain_se']:.4f}"
