"""What the vision claims share: class-balanced CIFAR-10 splits, and a candidate against MLP-Mixer.

Used by the token-mixing claims (``raftmlp``, ``strip-mlp``, ``ms-mlp``, ``dsm``), which compare a
registered CIFAR-size model of :mod:`mlpzoo.models.vision` with MLP-Mixer of the same width and
depth (isotropic, patch 4, 8 x 8 tokens); ``scaling-mlps`` uses the splits. CIFAR-10 comes from the
JPEG zip (:func:`mlpzoo.data.images.load_cifar10`); a class-balanced part of the training split is
held out for model selection and the test split is evaluated once per fitted model, with the weights
best on validation.

Training follows the papers' DeiT-style recipe: AdamW (lr 1e-3, weight decay 0.05), batch 128, a
per-step cosine schedule after linear warm-up epochs, the whole schedule run (no early stop; the
best-validation weights are restored), random crop (pad 4) and horizontal flip, with mixup (alpha
0.8) and label smoothing 0.1 where the budget's ``heavy_augment`` says so. Per fit we record test
and validation accuracy, parameters, forward FLOPs per image (:func:`mlpzoo.measure.count_flops`),
training images/s (from the fit) and inference images/s. Each claim fits its own Mixer baseline
(one ``ctx.arm`` per model and seed, so an interrupted run resumes).
"""

from __future__ import annotations

import inspect
import math
import time

import torch

from mlpzoo.claims.base import ClaimContext, Comparison, Evidence, compare, summarize
from mlpzoo.data.augment import (
    Compose,
    HorizontalFlip,
    LabelSmoothing,
    Mixup,
    RandomCrop,
)
from mlpzoo.data.images import ImageData, load_cifar10
from mlpzoo.measure import count_flops, count_parameters
from mlpzoo.registry import create_model, model_entry
from mlpzoo.tasks import get_task
from mlpzoo.train.trainer import Trainer

BASELINE = "mixer"
METRICS = ("test_accuracy", "valid_accuracy")
COSTS = ("flops_per_image", "infer_images_per_second")  # per model: the mean over seeds
LR, WEIGHT_DECAY, BATCH = 1e-3, 0.05, 128
PARAMETER_TOLERANCE = 0.05  # "equal parameters": the two counts within 5 %
VALIDATION_SEED = 0  # the held-out validation images are the same for every seed and claim

# The budgets of the token-mixing claims. "full" fits a 2-core CPU (about 20 minutes a claim, see
# ``FULL_NOTE``); "gpu" is the papers' CIFAR-scale recipe (all 50,000 training images, full-size models).
MIXER_SETTINGS = {
    "quick": {
        "train_per_class": 100,
        "valid_per_class": 25,
        "test_per_class": 40,
        "epochs": 2,
        "warmup_epochs": 1,
        "shrink": {"dim": 64, "depth": 3},
        "heavy_augment": True,
        "device": "cpu",
    },
    "full": {
        "train_per_class": 400,
        "valid_per_class": 100,
        "test_per_class": None,
        "epochs": 10,
        "warmup_epochs": 1,
        "shrink": {"dim": 64, "depth": 3},
        "heavy_augment": True,
        "device": "cpu",
    },
    "gpu": {
        "train_per_class": 4500,
        "valid_per_class": 500,
        "test_per_class": None,
        "epochs": 100,
        "warmup_epochs": 5,
        "shrink": {},
        "heavy_augment": True,
        "device": "auto",
    },
}
MIXER_SEEDS = {"quick": 1, "full": 3, "gpu": 3}
FULL_NOTE = (
    "Full budget against the papers' CIFAR scale (the 'gpu' budget): 400 + 100 training/validation images "
    "per class instead of 4,500 + 500, 10 epochs instead of 100 (1 warm-up epoch instead of 5), models at width "
    "64 and depth 3 instead of 128 and 8 (channel MLPs re-sized to Mixer's parameters), 3 seeds. Estimated from "
    "measured fits of 5,000 images x 12 epochs with their evaluations on the 2-core machine under a load of 8-12 "
    "(Mixer 468 s, Strip-MLP 676 s): 6 fits of 4,000 images x 10 epochs, about 30-40 minutes under that load, "
    "less on an idle machine."
)


def class_balanced_split(
    labels: torch.Tensor, held_out_per_class: int, seed: int = VALIDATION_SEED
) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices (kept, held out): per class a fixed random ``held_out_per_class`` rows are held out."""
    generator = torch.Generator().manual_seed(seed)
    kept, held_out = [], []
    for c in sorted(labels.unique().tolist()):
        members = (labels == c).nonzero().squeeze(1)
        members = members[torch.randperm(len(members), generator=generator)]
        held_out.append(members[:held_out_per_class])
        kept.append(members[held_out_per_class:])
    return torch.cat(kept).sort().values, torch.cat(held_out).sort().values


def cifar10_splits(
    train_per_class: int | None, valid_per_class: int, test_per_class: int | None, data_dir=None
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """uint8 images and labels of a train / validation / test split of CIFAR-10.

    Train and validation come from the training split (``train_per_class + valid_per_class`` images per
    class, or all 50,000 when ``train_per_class`` is None), test from the test split (all when None).
    """
    per_class = None if train_per_class is None else train_per_class + valid_per_class
    images, labels = load_cifar10("train", data_dir, limit_per_class=per_class)
    train_idx, valid_idx = class_balanced_split(labels, valid_per_class)
    test = load_cifar10("test", data_dir, limit_per_class=test_per_class)
    return {
        "train": (images[train_idx], labels[train_idx]),
        "valid": (images[valid_idx], labels[valid_idx]),
        "test": test,
    }


# ---------------------------------------------------------------------------- a candidate against Mixer
def model_kwargs(name: str, settings: dict, match_parameters: bool = True) -> dict:
    """The size overrides of a budget: width and depth shrink and Mixer's channel MLP halves. With
    ``match_parameters`` every other model gets the channel MLP width (a multiple of 8) that matches Mixer's
    parameters; without it, Mixer's own channel MLP width (for a claim about saving parameters)."""
    if not settings["shrink"]:
        return {}
    kwargs = dict(settings["shrink"])
    default = inspect.signature(model_entry(BASELINE).builder).parameters["channel_hidden"].default
    if name == BASELINE or not match_parameters:
        return {**kwargs, "channel_hidden": default // 2}
    target = _parameters(BASELINE, {**kwargs, "channel_hidden": default // 2})
    # Parameters grow linearly in the channel MLP width: solve from two sizes, round to a multiple of 8.
    low, high = (_parameters(name, {**kwargs, "channel_hidden": width}) for width in (8, 16))
    width = 8 + (target - low) / ((high - low) / 8)
    return {**kwargs, "channel_hidden": max(8, 8 * round(width / 8))}


def _parameters(name: str, kwargs: dict) -> int:
    return count_parameters(create_model(name, **kwargs))


def mixer_data(settings: dict, data_dir=None) -> tuple[ImageData, ImageData, ImageData]:
    """Train (augmented), validation and test :class:`ImageData`, normalised with the training statistics."""
    splits = cifar10_splits(
        settings["train_per_class"], settings["valid_per_class"], settings["test_per_class"], data_dir
    )
    augment = [RandomCrop(4), HorizontalFlip()]
    if settings["heavy_augment"]:
        augment += [Mixup(0.8, 10), LabelSmoothing(0.1, 10)]
    train = ImageData(*splits["train"], augment=Compose(augment))
    return train, ImageData(*splits["valid"], train.mean, train.std), ImageData(*splits["test"], train.mean, train.std)


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


def fit_one(
    name: str, seed: int, data: tuple[ImageData, ImageData, ImageData], settings: dict, match_parameters: bool = True
) -> dict:
    """Train ``name`` with ``seed`` (weights seeded by ``ctx.arm``); one evidence row."""
    train, valid, test = data
    model = create_model(name, **model_kwargs(name, settings, match_parameters))
    # A cosine schedule is meant to run to its end: patience = epochs turns early stopping off.
    config = {
        "epochs": settings["epochs"],
        "patience": settings["epochs"],
        "batch_size": BATCH,
        "eval_batch_size": 512,
        "lr": LR,
        "optimizer": "adamw",
        "weight_decay": WEIGHT_DECAY,
        "lr_schedule": "cosine",
        "warmup_epochs": settings["warmup_epochs"],
        "seed": seed,
        "progress": False,
        "save_checkpoints": False,
        "device": settings["device"],
    }
    result = Trainer(get_task("classification"), model, config).fit(
        train, valid, test
    )  # test once, best-validation weights
    example = next(test.iter_batches(64))["x"]
    model.cpu()
    return {
        "model": name,
        "seed": seed,
        "test_accuracy": result.metrics["test"]["accuracy"],
        "valid_accuracy": result.metrics["valid"]["accuracy"],
        "epochs": result.epochs_run,
        "parameters": float(count_parameters(model)),
        "flops_per_image": float(count_flops(model, example[:1])),
        "train_samples_per_second": result.train_samples_per_second,
        "infer_images_per_second": inference_speed(model, example),
    }


def run_against_mixer(ctx: ClaimContext, candidate: str, match_parameters: bool = True) -> Evidence:
    """Fit Mixer and ``candidate`` on the same data for every seed; the table has one row per model.

    ``match_parameters``: size the candidate's channel MLP to Mixer's parameter count (claims at equal
    parameters), else give it Mixer's channel MLP width (claims of a parameter saving at equal width and depth)."""
    settings = ctx.settings
    ctx.expect(2 * len(ctx.seeds))
    data: list = []  # loaded on the first arm that is not stored yet

    def fit(name: str, seed: int):
        if not data:
            data.append(mixer_data(settings, ctx.data_dir))
        return fit_one(name, seed, data[0], settings, match_parameters)

    runs = []
    for seed in ctx.seeds:
        for name in (BASELINE, candidate):
            row = ctx.arm(f"{name}/seed{seed}", lambda name=name, seed=seed: fit(name, seed), seed=seed)
            ctx.log(
                f"{name} seed {seed}: test accuracy {row['test_accuracy']:.4f}, {row['parameters']:.0f} parameters, "
                f"{row['flops_per_image'] / 1e6:.1f} MFLOPs/image, {row['train_samples_per_second']:.0f} train img/s"
            )
            runs.append(row)
    table = summarize(runs, ("model",), METRICS)
    for row in table:
        mine = [run for run in runs if run["model"] == row["model"]]
        row.update({cost: sum(run[cost] for run in mine) / len(mine) for cost in COSTS})
        row["parameter_tolerance"] = PARAMETER_TOLERANCE
    return Evidence(table, runs, mixer_notes(settings, ctx.seeds))


def rows(table: list[dict], candidate: str) -> tuple[dict, dict, Comparison]:
    """The candidate's and Mixer's rows, and the candidate's test-accuracy margin over Mixer (1-SE rule)."""
    by_model = {row["model"]: row for row in table}
    mine, base = by_model[candidate], by_model[BASELINE]
    return mine, base, compare(mine, base, "test_accuracy")


def unequal_parameters(table: list[dict], candidate: str) -> str | None:
    """Why the comparison is not at equal parameters (counts differ by more than the table's
    ``parameter_tolerance``), else None."""
    mine, base, _ = rows(table, candidate)
    ratio = mine["parameters"] / base["parameters"]
    tolerance = mine["parameter_tolerance"]
    if abs(ratio - 1) <= tolerance:
        return None
    return (
        f"parameters differ by {100 * (ratio - 1):+.1f} % ({mine['parameters']:.0f} vs Mixer "
        f"{base['parameters']:.0f}; > {100 * tolerance:.0f} %): not an equal-parameter comparison."
    )


def describe(mine: dict, base: dict, margin: Comparison) -> str:
    return (
        f"{mine['model']} {mine['test_accuracy_mean']:.4f} vs Mixer {base['test_accuracy_mean']:.4f} test accuracy "
        f"(difference {margin}, n={mine['n']}); parameters {mine['parameters']:.0f} vs "
        f"{base['parameters']:.0f}; FLOPs/image {mine['flops_per_image'] / 1e6:.1f} M vs "
        f"{base['flops_per_image'] / 1e6:.1f} M"
    )


def beats_mixer(table: list[dict], candidate: str) -> tuple[str, str]:
    """Parameter counts apart by more than the tolerance -> not checkable here. Else better than Mixer
    beyond one SE -> reproduced; within one SE (a tie) -> partly; worse beyond one SE -> not reproduced."""
    unequal = unequal_parameters(table, candidate)
    if unequal:
        return "not checkable here", unequal
    mine, base, margin = rows(table, candidate)
    verdict = "reproduced" if margin.wins else "not reproduced" if margin.loses else "partly reproduced"
    standing = "better beyond 1 SE" if margin.wins else "worse beyond 1 SE" if margin.loses else "a tie within 1 SE"
    return verdict, f"{describe(mine, base, margin)}: {standing}."


def mixer_notes(settings: dict, seeds: list[int]) -> list[str]:
    shrink = settings["shrink"]
    sizes = (
        f"width {shrink['dim']}, depth {shrink['depth']}, channel MLPs sized to Mixer's parameters"
        if shrink
        else "the registered CIFAR-10 defaults (about 1.13 M parameters each)"
    )
    test = "all 10,000" if settings["test_per_class"] is None else str(settings["test_per_class"] * 10)
    mixup = " + mixup 0.8 + label smoothing 0.1" if settings["heavy_augment"] else ""
    return [
        (
            f"CIFAR-10 from the JPEG zip (lossy re-encoding): {settings['train_per_class']} train + "
            f"{settings['valid_per_class']} validation images per class from the training split, {test} test images "
            "(each fit is tested once, with its best-validation weights)."
        ),
        (
            f"Models: {sizes}; isotropic single-stage versions (patch 4, 8 x 8 tokens), not the papers' ImageNet "
            "hierarchies."
        ),
        (
            f"AdamW lr {LR}, weight decay {WEIGHT_DECAY}, batch {BATCH}, {settings['epochs']} epochs of per-step "
            "cosine "
            f"decay after {settings['warmup_epochs']} linear warm-up epochs (DeiT's schedule; no early stop), "
            f"crop+flip{mixup}; seeds {seeds}."
        ),
        (
            "Images/s are measured on this machine's CPU threads at the time of each fit; compare them within one run "
            "only."
        ),
    ]
