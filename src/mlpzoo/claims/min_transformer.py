"""Minimal transformer (2024): similar accuracy with up to 90 % fewer parameters?

Paper: Bermeitinger, Hrycej, Pavone, Kath & Handschuh, "Reducing the Transformer Architecture to
a Minimum", 2024, arXiv:2410.13732: transformers "(a) without MLP, (b) with collapsed matrices,
and (c) symmetric similarity matrices exhibit similar performance as the original architecture,
saving up to 90% of parameters without hurting the classification performance" (MNIST, CIFAR-10).

Experiment on Fashion-MNIST (for MNIST) and CIFAR-10: ViT-style classifiers
(:class:`~mlpzoo.models.transformer.VisionTransformer`, 4 x 4 patches, class token) in nine
configurations: three attention modes (``standard``: ``W_q``, ``W_k``, ``W_v``, ``W_o``;
``collapsed``: one ``W_qk``, no ``W_v``/``W_o``; ``symmetric``: ``L L^T``, no ``W_v``/``W_o``) x
three variants (one head without MLP; ``HEADS`` heads without MLP; ``HEADS`` heads with the MLP).
The baseline is the standard mode with heads and MLP (the ViT block). AdamW with a per-step cosine
schedule after a linear warm-up (2 epochs in ``full``), run to its end, the best epoch chosen on a
validation split held out of the training file and its test accuracy reported, mean and spread
over seeds. Every configuration gets the same data, epochs and optimiser settings. Fashion-MNIST comes from ``<data
directory>/fashion-mnist`` or the Debian package
(:func:`mlpzoo.data.images.fashion_mnist_dir`).

Verdict per data set: a reduced configuration is "similar" when its accuracy is at most
``TOLERANCE`` (or one standard error, if larger) below the baseline's; the saving is
``1 - parameters / baseline parameters``. The configuration judged is the most saving one that is
similar on the validation split (chosen without the test set); its test accuracy must then be
similar too. Reproduced when on both data sets that configuration saves at least 80 %; partly when
on at least one data set it saves at least half; otherwise not reproduced.
"""

from __future__ import annotations

import torch

from mlpzoo.claims.base import ClaimContext, ClaimSpec, Evidence, compare, summarize
from mlpzoo.data.images import (
    ImageData,
    channel_stats,
    fashion_mnist_dir,
    load_cifar10,
    load_fashion_mnist,
)
from mlpzoo.measure import count_parameters
from mlpzoo.models.transformer import VisionTransformer
from mlpzoo.tasks import get_task
from mlpzoo.train.trainer import Trainer

MODES = {"standard": ("separate", True), "collapsed": ("collapsed", False), "symmetric": ("symmetric", False)}
HEADS = 4
VARIANTS = {"1 head, no MLP": (1, 0.0), f"{HEADS} heads, no MLP": (HEADS, 0.0), f"{HEADS} heads, MLP": (HEADS, 4.0)}
BASELINE = ("standard", f"{HEADS} heads, MLP")
DATASETS = ("fashion_mnist", "cifar10")
TOLERANCE = 0.01
FULL_SAVING, HALF_SAVING = 0.8, 0.5  # "up to 90 %": at least 80 % for reproduced, half for partly
LR, WEIGHT_DECAY = 1e-3, 0.05
RIDGE_PENALTIES = (1.0, 10.0, 100.0, 1000.0)

SPEC = ClaimSpec(
    claim=(
        "Transformers without MLP, with collapsed W_qk, without W_v/W_o and with a symmetric similarity classify as "
        "well as the original while saving up to 90 % of the parameters."
    ),
    paper_numbers={
        "abstract (MNIST, CIFAR-10)": "similar performance to the original architecture, saving up to 90 % of "
        "parameters"
    },
    datasets=("cifar10",),
    settings={
        # Quick: 800 training images, width 32, one block, 2 epochs: all 9 configurations on both data sets.
        "quick": {
            "n_train": 800,
            "n_valid": 200,
            "n_test": 500,
            "dim": 32,
            "depth": 1,
            "epochs": 2,
            "warmup_epochs": 0,
            "batch_size": 64,
        },
        "full": {
            "n_train": 2000,
            "n_valid": 1000,
            "n_test": 2000,
            "dim": 32,
            "depth": 2,
            "epochs": 8,
            "warmup_epochs": 1,
            "batch_size": 64,
        },
        # Whole training files, a 4-block width-64 ViT, 30 epochs: the scale of a GPU run.
        "gpu": {
            "device": "cuda",
            "n_train": None,
            "n_valid": 5000,
            "n_test": None,
            "dim": 64,
            "depth": 4,
            "epochs": 30,
            "warmup_epochs": 2,
            "batch_size": 128,
        },
    },
    seeds={"quick": 1, "full": 3, "gpu": 3},
    notes=(
        (
            "Fashion-MNIST stands in for MNIST. Patches 4 x 4, class token; AdamW lr 1e-3, weight decay 0.05, per-step "
            "cosine decay after linear warm-up (the ViT/DeiT schedule; no early stop, the best-validation epoch's "
            "weights "
            "are tested), no augmentation."
        ),
        (
            "Reduced modes split the features across heads, each head with its own W_qk or L on its slice (our "
            "reading of the "
            "multi-head form); parameters count everything, patch embedding and head included."
        ),
        (
            f"Similar = at most {TOLERANCE:.0%} (or one standard error over seeds, if larger) below the baseline; the "
            "configuration judged is chosen on validation accuracy, its test accuracy read once."
        ),
        (
            "Full budget (CPU): 2,000 training images per data set, width 32, 2 blocks, 8 epochs (gpu budget: whole "
            "training "
            "files, width 64, 4 blocks, 30 epochs); 9 configurations x 2 data sets x 3 seeds = 54 fits; an epoch of "
            "all 18 "
            "fits of a seed took 77 s on one CPU thread of a loaded 2-core machine (CIFAR-10 baseline 14 s, the "
            "smallest "
            "model 2 s), so about 31 min, less on an idle machine. Small-data transformers are weak: when the baseline "
            "does not beat the ridge classifier on pixels (79 % Fashion-MNIST, 31 % CIFAR-10 at 2,000 images) the "
            "verdict says so instead of calling reduced models similar; the gpu budget is then the real check."
        ),
    ),
)


def load(dataset: str, settings: dict, data_dir=None) -> tuple[ImageData, ImageData, ImageData]:
    """Train / validation (held out of the training file, seed 0) / test, normalised with training statistics."""
    if dataset == "cifar10":
        per_class = None if settings["n_train"] is None else -(-(settings["n_train"] + settings["n_valid"]) // 10)
        images, labels = load_cifar10("train", data_dir, limit_per_class=per_class)
        test_images, test_labels = load_cifar10(
            "test", data_dir, limit_per_class=None if settings["n_test"] is None else settings["n_test"] // 10
        )
    else:
        folder = fashion_mnist_dir(data_dir)
        images, labels = load_fashion_mnist("train", folder)
        test_images, test_labels = load_fashion_mnist("test", folder)
        if settings["n_test"] is not None:
            test_images, test_labels = test_images[: settings["n_test"]], test_labels[: settings["n_test"]]
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))
    n_valid = settings["n_valid"]
    n_train = len(images) - n_valid if settings["n_train"] is None else settings["n_train"]
    valid_rows, train_rows = order[:n_valid], order[n_valid : n_valid + n_train]
    mean, std = channel_stats(images[train_rows])
    return (
        ImageData(images[train_rows], labels[train_rows], mean, std),
        ImageData(images[valid_rows], labels[valid_rows], mean, std),
        ImageData(test_images, test_labels, mean, std),
    )


def fit_one(dataset: str, mode: str, variant: str, data, settings: dict, seed: int) -> dict:
    """One configuration: validation accuracy of the best epoch and the test accuracy of its weights."""
    train, valid, test = data
    similarity, value_output = MODES[mode]
    heads, mlp_ratio = VARIANTS[variant]
    model = VisionTransformer(
        image_size=train.images.shape[-1],
        in_channels=train.images.shape[1],
        num_classes=10,
        dim=settings["dim"],
        depth=settings["depth"],
        heads=heads,
        similarity=similarity,
        value_output=value_output,
        mlp_ratio=mlp_ratio,
    )
    # A cosine schedule is meant to run to its end: patience = epochs turns early stopping off.
    config = {
        "epochs": settings["epochs"],
        "patience": settings["epochs"],
        "batch_size": settings["batch_size"],
        "optimizer": "adamw",
        "lr": LR,
        "weight_decay": WEIGHT_DECAY,
        "lr_schedule": "cosine",
        "warmup_epochs": settings["warmup_epochs"],
        "seed": seed,
        "progress": False,
        "save_checkpoints": False,
        "monitor": "accuracy",
        "device": settings.get("device", "auto"),
    }
    result = Trainer(get_task("classification"), model, config).fit(train, valid, test)
    return {
        "dataset": dataset,
        "mode": mode,
        "variant": variant,
        "seed": seed,
        "parameters": count_parameters(model),
        "epochs": result.epochs_run,
        "valid_accuracy": result.metrics["valid"]["accuracy"],
        "test_accuracy": result.metrics["test"]["accuracy"],
    }


def experiment(ctx: ClaimContext) -> Evidence:
    """Every configuration on both data sets, once per seed."""
    ctx.expect(len(DATASETS) * (len(MODES) * len(VARIANTS) * len(ctx.seeds) + 1))
    runs, linear = [], {}
    for dataset in DATASETS:
        loaded = {}

        def data(dataset=dataset, loaded=loaded):  # read only when some arm of this data set is not stored yet
            if "splits" not in loaded:
                loaded["splits"] = load(dataset, ctx.settings, ctx.data_dir)
            return loaded["splits"]

        for mode in MODES:
            for variant in VARIANTS:
                for seed in ctx.seeds:
                    record = ctx.arm(
                        f"{dataset}/{mode}/{variant}/seed{seed}",
                        lambda m=mode, v=variant, s=seed, d=dataset, get=data: fit_one(d, m, v, get(), ctx.settings, s),
                        seed=seed,
                    )
                    ctx.log(
                        f"{dataset} {mode} / {variant} seed {seed}: valid {record['valid_accuracy']:.4f}, test "
                        f"{record['test_accuracy']:.4f}, {record['parameters']} parameters"
                    )
                    runs.append(record)
        linear[dataset] = ctx.arm(f"{dataset}/linear", lambda get=data: linear_classifier(*get()))
        ctx.log(f"{dataset} ridge classifier on pixels: test {linear[dataset]['accuracy']:.4f}")
    table = summarize(runs, ("dataset", "mode", "variant"), ("valid_accuracy", "test_accuracy"))
    for row in table:
        row["linear_accuracy"] = linear[row["dataset"]]["accuracy"]
    notes = [
        (
            f"linear_accuracy: a ridge classifier on the normalised pixels (penalty chosen on validation from "
            f"{RIDGE_PENALTIES}), the floor a trained baseline must clear."
        )
    ]
    return Evidence(table, runs, notes)


def _pixels(data: ImageData) -> torch.Tensor:
    x = data.images.double() / 255.0
    x = (x - data.mean.double()[None, :, None, None]) / data.std.double()[None, :, None, None]
    return torch.cat([x.flatten(1), torch.ones(len(x), 1, dtype=x.dtype)], 1)


def linear_classifier(train: ImageData, valid: ImageData, test: ImageData) -> dict:
    """Test accuracy of least squares on one-hot labels (ridge), the penalty chosen on validation accuracy.

    Solved in whichever of the primal (pixels x pixels) and dual (images x images) systems is smaller."""
    x, y = _pixels(train), torch.nn.functional.one_hot(train.labels.long(), 10).double()
    dual = len(x) < x.shape[1]
    system, target = (x @ x.T, y) if dual else (x.T @ x, x.T @ y)
    features = {
        name: _pixels(split) @ x.T if dual else _pixels(split) for name, split in (("valid", valid), ("test", test))
    }
    best = None
    for penalty in RIDGE_PENALTIES:
        weights = torch.linalg.solve(system + penalty * torch.eye(len(system), dtype=system.dtype), target)
        score = float(((features["valid"] @ weights).argmax(1) == valid.labels).double().mean())
        if best is None or score > best[0]:
            best = (score, penalty, weights)
    score, penalty, weights = best
    accuracy = float(((features["test"] @ weights).argmax(1) == test.labels).double().mean())
    return {"accuracy": accuracy, "valid_accuracy": score, "penalty": penalty}


def _similar(row: dict, base: dict, metric: str) -> bool:
    """At most ``TOLERANCE`` (or one standard error, if larger) below the baseline on ``metric``."""
    gap = compare(row, base, metric)
    return -gap.margin <= max(TOLERANCE, gap.se)


def verdict(table: list[dict]) -> tuple[str, str]:
    """Per data set: the most saving reduced configuration that is similar to the baseline on validation accuracy,
    then judged once on test accuracy; its saving counts only if it is similar on test too. A baseline no better
    than the ridge classifier on pixels (``linear_accuracy``) is undertrained: that data set saves nothing."""
    savings, findings = [], []
    for dataset in [d for d in DATASETS if any(r["dataset"] == d for r in table)]:
        rows = [r for r in table if r["dataset"] == dataset]
        base = next(r for r in rows if (r["mode"], r["variant"]) == BASELINE)
        similar = [r for r in rows if r is not base and _similar(r, base, "valid_accuracy")]
        chosen = max(similar, key=lambda r: 1.0 - r["parameters"] / base["parameters"], default=None)
        head = f"{dataset}: baseline {base['test_accuracy_mean']:.4f} test ({base['parameters']:.0f} parameters)"
        if base["test_accuracy_mean"] <= base.get("linear_accuracy", -1.0):
            savings.append(0.0)
            findings.append(
                f"{head} is no better than a ridge classifier on pixels ({base['linear_accuracy']:.4f}): "
                "undertrained, so 'similar to the baseline' says nothing"
            )
            continue
        if chosen is None:
            savings.append(0.0)
            findings.append(f"{head}; no reduced configuration is similar on validation")
            continue
        saving = 1.0 - chosen["parameters"] / base["parameters"]
        confirmed = _similar(chosen, base, "test_accuracy")
        savings.append(saving if confirmed else 0.0)
        findings.append(
            f"{head}; chosen on validation: {chosen['mode']} / {chosen['variant']} ({saving:.0%} fewer "
            f"parameters), test {chosen['test_accuracy_mean']:.4f}, {compare(chosen, base, 'test_accuracy')} "
            f"({'similar' if confirmed else 'not similar'} on test)"
        )
    if savings and min(savings) >= FULL_SAVING:
        outcome = "reproduced"
    elif any(s >= HALF_SAVING for s in savings):
        outcome = "partly reproduced"
    else:
        outcome = "not reproduced"
    return outcome, "; ".join(findings) + "."
