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
over seeds. Fashion-MNIST comes from ``<data directory>/fashion-mnist`` or the Debian package
(:func:`mlpzoo.data.images.fashion_mnist_dir`).

Verdict per data set: a reduced configuration is "similar" when its accuracy is at most
``TOLERANCE`` (or one standard error, if larger) below the baseline's; the saving is
``1 - parameters / baseline parameters``. Reproduced when on both data sets some similar
configuration saves at least 80 %; partly when on at least one data set some similar
configuration saves at least half; otherwise not reproduced.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from mlpzoo.claims.base import (
    Budget,
    ClaimResult,
    now_iso,
    standard_error_of_difference,
    summarize,
)
from mlpzoo.data.images import (
    ImageData,
    channel_stats,
    fashion_mnist_dir,
    load_cifar10,
    load_fashion_mnist,
)
from mlpzoo.models.transformer import VisionTransformer
from mlpzoo.tasks import get_task
from mlpzoo.train.trainer import Trainer

PAPER_ID = "min-transformer"
TITLE = "Reducing the Transformer Architecture to a Minimum (Bermeitinger et al., 2024, arXiv:2410.13732)"
CLAIM = "Transformers without MLP, with collapsed W_qk, without W_v/W_o and with a symmetric similarity classify as well as the original while saving up to 90 % of the parameters."
PAPER_NUMBERS = {"paper (MNIST, CIFAR-10)": "similar accuracy to the original architecture with up to 90 % fewer parameters"}
MODES = {"standard": ("separate", True), "collapsed": ("collapsed", False), "symmetric": ("symmetric", False)}
HEADS = 4
VARIANTS = {"1 head, no MLP": (1, 0.0), f"{HEADS} heads, no MLP": (HEADS, 0.0), f"{HEADS} heads, MLP": (HEADS, 4.0)}
BASELINE = ("standard", f"{HEADS} heads, MLP")
DATASETS = ("fashion_mnist", "cifar10")
TOLERANCE = 0.01
SETTINGS = {
    "quick": {"n_train": 800, "n_valid": 200, "n_test": 500, "dim": 32, "depth": 1, "epochs": 2, "warmup_epochs": 0, "batch_size": 64},
    "full": {"n_train": None, "n_valid": 5000, "n_test": None, "dim": 64, "depth": 4, "epochs": 30, "warmup_epochs": 2, "batch_size": 128},
}
LR, WEIGHT_DECAY = 1e-3, 0.05


def load(dataset: str, settings: dict, data_dir=None) -> tuple[ImageData, ImageData, ImageData]:
    """Train / validation (held out of the training file, seed 0) / test, normalised with training statistics."""
    if dataset == "cifar10":
        per_class = None if settings["n_train"] is None else -(-(settings["n_train"] + settings["n_valid"]) // 10)
        images, labels = load_cifar10("train", data_dir, limit_per_class=per_class)
        test_images, test_labels = load_cifar10("test", data_dir, limit_per_class=None if settings["n_test"] is None else settings["n_test"] // 10)
    else:
        folder = fashion_mnist_dir(data_dir)
        images, labels = load_fashion_mnist("train", folder)
        test_images, test_labels = load_fashion_mnist("test", folder)
        if settings["n_test"] is not None:
            test_images, test_labels = test_images[: settings["n_test"]], test_labels[: settings["n_test"]]
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))
    n_valid = settings["n_valid"]
    n_train = len(images) - n_valid if settings["n_train"] is None else settings["n_train"]
    valid_rows, train_rows = order[:n_valid], order[n_valid:n_valid + n_train]
    mean, std = channel_stats(images[train_rows])
    return (ImageData(images[train_rows], labels[train_rows], mean, std), ImageData(images[valid_rows], labels[valid_rows], mean, std),
            ImageData(test_images, test_labels, mean, std))


def fit_one(dataset: str, mode: str, variant: str, data, settings: dict, seed: int) -> dict:
    train, valid, test = data
    similarity, value_output = MODES[mode]
    heads, mlp_ratio = VARIANTS[variant]
    torch.manual_seed(seed)
    model = VisionTransformer(image_size=train.images.shape[-1], in_channels=train.images.shape[1], num_classes=10,
                              dim=settings["dim"], depth=settings["depth"], heads=heads, similarity=similarity,
                              value_output=value_output, mlp_ratio=mlp_ratio)
    # A cosine schedule is meant to run to its end: patience = epochs turns early stopping off.
    config = {"epochs": settings["epochs"], "patience": settings["epochs"], "batch_size": settings["batch_size"],
              "optimizer": "adamw", "lr": LR, "weight_decay": WEIGHT_DECAY, "lr_schedule": "cosine",
              "warmup_epochs": settings["warmup_epochs"], "seed": seed, "progress": False, "save_checkpoints": False,
              "monitor": "accuracy"}
    result = Trainer(get_task("classification"), model, config).fit(train, valid, test)
    return {"dataset": dataset, "mode": mode, "variant": variant, "seed": seed,
            "parameters": sum(p.numel() for p in model.parameters()), "epochs": result.epochs_run,
            "test_accuracy": result.metrics["test"]["accuracy"]}


def run(budget: Budget, data_dir=None, runs_dir: Path = Path("runs"), log=print) -> ClaimResult:
    """``runs_dir`` is unused: the fits are throw-away (no checkpoints)."""
    started, clock = now_iso(), time.perf_counter()
    settings = SETTINGS.get(budget.name, SETTINGS["full"])
    seeds = list(range(budget.seeds))
    runs = []
    for dataset in DATASETS:
        data = load(dataset, settings, data_dir)
        for mode in MODES:
            for variant in VARIANTS:
                for seed in seeds:
                    record = fit_one(dataset, mode, variant, data, settings, seed)
                    log(f"{dataset} {mode} / {variant} seed {seed}: accuracy {record['test_accuracy']:.4f}, {record['parameters']} parameters")
                    runs.append(record)
    table = summarize(runs, ("dataset", "mode", "variant"), ("test_accuracy",))
    verdict_, reason = verdict(table)
    notes = [
        (f"Fashion-MNIST stands in for MNIST. Patches 4 x 4, width {settings['dim']}, depth {settings['depth']}, class token; "
         f"AdamW lr {LR}, weight decay {WEIGHT_DECAY}, batch {settings['batch_size']}, {settings['epochs']} epochs of per-step "
         f"cosine decay after {settings['warmup_epochs']} linear warm-up epochs (the ViT/DeiT schedule; no early stop, the "
         "best-validation epoch's weights are tested), no augmentation."),
        ("Reduced modes split the features across heads, each head with its own W_qk or L on its slice (our reading of the "
         "multi-head form); parameters count everything, patch embedding and head included."),
        f"Similar = at most {TOLERANCE:.0%} (or one standard error over seeds, if larger) below the baseline's test accuracy.",
    ]
    if budget.name == "quick":
        notes.append(f"Quick budget: {settings['n_train']} training images per data set.")
    return ClaimResult(PAPER_ID, TITLE, CLAIM, budget.name, seeds, runs, table, verdict_, reason, PAPER_NUMBERS, notes,
                       started, now_iso(), time.perf_counter() - clock)


def verdict(table: list[dict]) -> tuple[str, str]:
    """Largest parameter saving among configurations within TOLERANCE (or 1 SE) of the baseline, per data set."""
    savings, findings = [], []
    for dataset in [d for d in DATASETS if any(r["dataset"] == d for r in table)]:
        rows = [r for r in table if r["dataset"] == dataset]
        base = next(r for r in rows if (r["mode"], r["variant"]) == BASELINE)
        best_saving, best_row = 0.0, None
        for row in rows:
            if row is base:
                continue
            margin = max(TOLERANCE, standard_error_of_difference(row, base, "test_accuracy"))
            saving = 1.0 - row["parameters"] / base["parameters"]
            if row["test_accuracy_mean"] >= base["test_accuracy_mean"] - margin and saving > best_saving:
                best_saving, best_row = saving, row
        savings.append(best_saving)
        what = (f"{best_row['mode']} / {best_row['variant']} at {best_row['test_accuracy_mean']:.4f} saves {best_saving:.0%}"
                if best_row else "no reduced configuration is similar")
        findings.append(f"{dataset}: baseline {base['test_accuracy_mean']:.4f} ({base['parameters']:.0f} parameters); {what}")
    if savings and min(savings) >= 0.8:
        outcome = "reproduced"
    elif any(s >= 0.5 for s in savings):
        outcome = "partly reproduced"
    else:
        outcome = "not reproduced"
    return outcome, "; ".join(findings) + "."
