"""What the vision-hybrid claims share (ninformer, spartan, efficientmod, dhvt): CIFAR-10 splits with an optional
reduced-data subset, size matching by one linear knob, one fit per arm, latency, and the verdicts' checks.

Data: :func:`mlpzoo.claims.kits.vision.cifar10_splits` (class-balanced train / validation from CIFAR-10's
training split, the test split evaluated once per fit with the best-validation weights). A reduced-data regime
keeps a fixed class-balanced ``train_fraction`` of the training images (the same images for every arm and seed).

Every arm of a claim gets the same images, augmentation (random crop with padding 4 and horizontal flip), optimiser,
learning rate, schedule and epochs: one recipe, no per-model tuning. Training runs the whole cosine schedule after a
linear warm-up (no early stop) and keeps the weights best on validation. Model sizes are matched by one knob whose
parameter count is linear in it (an MLP width or ratio), solved from two probes: counts land within
:data:`PARAMETER_TOLERANCE` (3 %), a column of every evidence table that the verdicts check.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import torch

from mlpzoo.claims.base import ClaimContext, Comparison, compare, summarize
from mlpzoo.claims.kits.vision import BATCH, cifar10_splits, class_balanced_split, inference_speed
from mlpzoo.data.augment import Compose, HorizontalFlip, RandomCrop
from mlpzoo.data.images import ImageData
from mlpzoo.errors import ConfigError
from mlpzoo.measure import count_flops, count_parameters
from mlpzoo.registry import create_model
from mlpzoo.tasks import get_task
from mlpzoo.train.trainer import Trainer

PARAMETER_TOLERANCE = 0.03  # "equal parameters": every arm within 3 % of the claim's reference model
CHANCE = 0.1  # CIFAR-10
UNDERTRAINED_MARGIN = 0.05  # a baseline within 5 points of chance on validation is undertrained, not beaten
METRICS = ("test_accuracy", "valid_accuracy")
VIT_MODEL = "vit_standard"
VIT_CIFAR = {"image_size": 32, "in_channels": 3, "patch_size": 4}  # vit_standard defaults to 28 px grey images


# ------------------------------------------------------------------------------------------------------ data
def cifar10_data(settings: dict, data_dir=None, train_fraction: float = 1.0) -> tuple[ImageData, ImageData, ImageData]:
    """Train (crop + flip), validation and test :class:`ImageData` normalised with the training statistics.

    ``train_fraction`` < 1 keeps that class-balanced share of the training images (the reduced-data regime)."""
    splits = cifar10_splits(
        settings["train_per_class"], settings["valid_per_class"], settings["test_per_class"], data_dir
    )
    images, labels = splits["train"]
    if train_fraction < 1:
        keep = max(1, round(settings["train_per_class"] * train_fraction))
        _, kept = class_balanced_split(labels, keep)
        images, labels = images[kept], labels[kept]
    train = ImageData(images, labels, augment=Compose([RandomCrop(4), HorizontalFlip()]))
    return train, ImageData(*splits["valid"], train.mean, train.std), ImageData(*splits["test"], train.mean, train.std)


# ----------------------------------------------------------------------------------------------- model sizes
def parameter_count(name: str, kwargs: dict) -> int:
    return count_parameters(create_model(name, **kwargs))


def match_parameters(name: str, kwargs: dict, knob: str, target: int, probes: tuple[float, float]) -> dict:
    """``kwargs`` with ``knob`` set so that ``name`` has about ``target`` parameters.

    The count is linear in the knob (an MLP width, or a ratio that sets one), so two probes fix the line; an integer
    knob is rounded. The result is not checked here: the evidence table carries the counts and the verdicts check them.
    """
    low, high = (parameter_count(name, {**kwargs, knob: probe}) for probe in probes)
    if high == low:
        raise ConfigError(f"match_parameters: {knob} does not change the parameters of {name}; pick another knob")
    value = probes[0] + (target - low) * (probes[1] - probes[0]) / (high - low)
    value = max(1, round(value)) if all(isinstance(p, int) for p in probes) else round(max(value, 1e-3), 4)
    return {**kwargs, knob: value}


# ------------------------------------------------------------------------------------------------------ fits
def train_config(settings: dict, seed: int) -> dict:
    """The one recipe of a claim: the whole cosine schedule (patience = epochs turns early stopping off)."""
    return {
        "epochs": settings["epochs"],
        "patience": settings["epochs"],
        "batch_size": BATCH,
        "eval_batch_size": 512,
        "lr": settings["lr"],
        "optimizer": settings["optimizer"],
        "weight_decay": settings["weight_decay"],
        "lr_schedule": "cosine",
        "warmup_epochs": settings["warmup_epochs"],
        "seed": seed,
        "progress": False,
        "save_checkpoints": False,
        "device": settings["device"],
    }


def fit(arm: str, name: str, kwargs: dict, seed: int, data, settings: dict) -> dict:
    """Train registered model ``name`` (built with ``kwargs``; weights seeded by ``ctx.arm``); one evidence row."""
    train, valid, test = data
    model = create_model(name, **kwargs)
    result = Trainer(get_task("classification"), model, train_config(settings, seed)).fit(train, valid, test)
    example = next(test.iter_batches(64))["x"]
    model.cpu()
    return {
        "model": arm,
        "architecture": name,
        "seed": seed,
        "train_images": len(train),
        "test_accuracy": result.metrics["test"]["accuracy"],
        "valid_accuracy": result.metrics["valid"]["accuracy"],
        "epochs": result.epochs_run,
        "parameters": float(count_parameters(model)),
        "flops_per_image": float(count_flops(model, example[:1])),
        "train_samples_per_second": result.train_samples_per_second,
        "infer_images_per_second": inference_speed(model, example),
        **({"latency": latency(model, example)} if settings.get("latency") else {}),
    }


def latency(model: torch.nn.Module, images: torch.Tensor, batches: tuple[int, ...] = (1, 64)) -> dict[str, float]:
    """Milliseconds of one eval-mode forward at each batch size: median of repeats after a warm-up, on this CPU."""
    model.eval()
    out = {}
    with torch.no_grad():
        for size in batches:
            batch = images[:size] if len(images) >= size else images.repeat(-(-size // len(images)), 1, 1, 1)[:size]
            model(batch)
            times = []
            for _ in range(25 if size == 1 else 5):
                start = time.perf_counter()
                model(batch)
                times.append(time.perf_counter() - start)
            out[f"latency_b{size}_ms"] = 1e3 * statistics.median(times)
    return out


def run_arms(
    ctx: ClaimContext, arms: dict[str, tuple[str, dict]], regimes: dict[str, dict] | None = None
) -> list[dict]:
    """Fit every arm (label -> registered name and kwargs) for every seed in every data regime; each fit is one
    ``ctx.arm``, so an interrupted run resumes. A regime (name -> settings overrides, e.g. ``train_fraction`` and
    ``epochs``) applies to every arm alike; the default is one regime, "cifar10", with the budget's settings.
    Data is read on the first fit that is not stored yet."""
    regimes = regimes or {"cifar10": {}}
    ctx.expect(len(arms) * len(regimes) * len(ctx.seeds))
    cache: dict[str, tuple] = {}

    def one(regime: str, label: str, seed: int) -> dict:
        settings = {**ctx.settings, **regimes[regime]}
        if regime not in cache:
            cache[regime] = cifar10_data(settings, ctx.data_dir, settings.get("train_fraction", 1.0))
        name, kwargs = arms[label]
        row = fit(label, name, kwargs, seed, cache[regime], settings)
        return {"regime": regime, **row, **row.pop("latency", {})}

    runs = []
    for regime in regimes:
        for seed in ctx.seeds:
            for label in arms:
                row = ctx.arm(f"{regime}/{label}/seed{seed}", lambda r=regime, a=label, s=seed: one(r, a, s), seed=seed)
                ctx.log(
                    f"{regime} {label} seed {seed}: test accuracy {row['test_accuracy']:.4f}, "
                    f"{row['parameters']:.0f} parameters, {row['train_samples_per_second']:.0f} train img/s"
                )
                runs.append(row)
    return runs


def tabulate(runs: list[dict], reference, metrics: tuple[str, ...] = METRICS) -> list[dict]:
    """One row per (regime, model): mean/std/n of ``metrics``, mean parameters and FLOPs, the tolerance and the
    reference model whose count it is matched to (``reference``: a label, or a function of the row's label)."""
    table = summarize(runs, ("regime", "model"), metrics)
    for row in table:
        mine = [r for r in runs if r["regime"] == row["regime"] and r["model"] == row["model"]]
        row["architecture"] = mine[0]["architecture"]
        row["train_images"] = mine[0]["train_images"]
        row["flops_per_image"] = sum(r["flops_per_image"] for r in mine) / len(mine)
        row["parameter_tolerance"] = PARAMETER_TOLERANCE
        row["reference"] = reference(row["model"]) if callable(reference) else reference
    return table


# ------------------------------------------------------------------------------------------------- verdicts
def rows_by_model(table: list[dict], regime: str | None = None) -> dict[str, dict]:
    """The table's rows of one regime (the first when None), by model label."""
    regime = regime if regime is not None else table[0]["regime"]
    return {row["model"]: row for row in table if row["regime"] == regime}


def regimes_of(table: list[dict]) -> list[str]:
    return list(dict.fromkeys(row["regime"] for row in table))


def unequal_parameters(table: list[dict]) -> str | None:
    """Why the arms are not at equal parameters (a count further than the tolerance from the reference), else None."""
    for row in table:
        ref = next(r for r in table if r["model"] == row["reference"] and r["regime"] == row["regime"])
        ratio = row["parameters"] / ref["parameters"]
        if abs(ratio - 1) > row["parameter_tolerance"]:
            return (
                f"{row['model']} has {row['parameters']:.0f} parameters, {100 * (ratio - 1):+.1f} % from "
                f"{ref['model']}'s {ref['parameters']:.0f} (> {100 * row['parameter_tolerance']:.0f} %): not an "
                "equal-parameter comparison."
            )
    return None


def undertrained(table: list[dict], baselines: tuple[str, ...]) -> str | None:
    """Why a baseline's result says nothing (validation accuracy within the margin of chance), else None."""
    for row in table:
        if row["model"] in baselines and row["valid_accuracy_mean"] <= CHANCE + UNDERTRAINED_MARGIN:
            return (
                f"baseline {row['model']} ({row['regime']}) reached only {row['valid_accuracy_mean']:.4f} validation "
                f"accuracy (chance {CHANCE}): undertrained, not beaten."
            )
    return None


def margin(mine: dict, other: dict, metric: str = "test_accuracy", higher_is_better: bool = True) -> Comparison:
    return compare(mine, other, metric, higher_is_better)


def describe(mine: dict, other: dict, metric: str = "test_accuracy") -> str:
    return (
        f"{mine['model']} {mine[f'{metric}_mean']:.4f} vs {other['model']} {other[f'{metric}_mean']:.4f} "
        f"({margin(mine, other, metric)}, n={mine['n']})"
    )


def recipe_notes(settings: dict, seeds: list[int]) -> list[str]:
    test = "all 10,000" if settings["test_per_class"] is None else f"{settings['test_per_class'] * 10:,}"
    return [
        (
            f"CIFAR-10 from the JPEG zip: {settings['train_per_class']} train + {settings['valid_per_class']} "
            f"validation images per class from the training split, {test} test images (each fit tested once, "
            "best-validation weights)."
        ),
        (
            f"One recipe for every arm: {settings['optimizer']} lr {settings['lr']}, weight decay "
            f"{settings['weight_decay']}, batch {BATCH}, {settings['epochs']} epochs of per-step cosine decay after "
            f"{settings['warmup_epochs']} warm-up epoch(s), crop (pad 4) + flip; seeds {seeds}."
        ),
        "Images/s and latencies are measured on this machine's CPU at the time of each fit; compare within one run.",
    ]


def plot_pareto(runs: list[dict], path: Path, accuracy: str = "test_accuracy") -> Path:
    """Accuracy against latency (batch 1 and 64), one colour per model, each seed a point; the dashed line is the
    Pareto front over all points (lower latency and higher accuracy is better)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = sorted({k for r in runs for k in r if k.startswith("latency_b")}, key=lambda k: int(k[9:-3]))
    fig, axes = plt.subplots(1, len(columns), figsize=(5.5 * len(columns), 4), dpi=100, squeeze=False)
    for column, ax in zip(columns, axes[0]):
        for model in dict.fromkeys(r["model"] for r in runs):
            mine = [r for r in runs if r["model"] == model]
            ax.scatter([r[column] for r in mine], [r[accuracy] for r in mine], s=30, label=model)
        front = pareto_front([(r[column], r[accuracy]) for r in runs])
        ax.step(*zip(*front), where="post", color="k", linestyle="--", marker="x", linewidth=1, label="Pareto front")
        ax.set_xlabel(f"latency, batch {column[9:-3]} (ms, this CPU)")
        ax.set_ylabel(accuracy.replace("_", " "))
        ax.legend(fontsize=7)
    fig.suptitle("accuracy-latency trade-off")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def pareto_front(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The (cost, value) points no other point beats in both (lower cost, higher value), by rising cost."""
    front, best = [], float("-inf")
    for cost, value in sorted(points, key=lambda p: (p[0], -p[1])):
        if value > best:
            front.append((cost, value))
            best = value
    return front
