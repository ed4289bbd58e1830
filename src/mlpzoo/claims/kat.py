"""KAT (2024): is a ViT whose MLPs are group-rational KANs more accurate than the same-size ViT?

Paper: Yang & Wang, "Kolmogorov-Arnold Transformer", 2024, arXiv:2409.10594. The abstract says
KAT "scales effectively and readily outperforms traditional MLP-based transformers"; its ImageNet-1k
table (ICLR 2025 version, Table 5; 300 epochs, DeiT recipe) has KAT-T 74.6 vs DeiT-T 72.2 top-1.

Experiment: :func:`mlpzoo.models.kat.kat` vs :func:`~mlpzoo.models.kat.kat_vit` on CIFAR-10
(32 px, patch 4, 65 tokens), identical but for the channel mixer, so their parameter counts differ
only by the rationals' coefficients (the table gives both counts and forward FLOPs per image).
The paper trains 300 epochs on ImageNet with DeiT's recipe: AdamW (lr 1e-3 at batch 1024,
weight decay 0.05), cosine schedule with 5 warm-up epochs, RandAugment, mixup 0.8, CutMix 1.0,
label smoothing 0.1, drop path. Here, on 2 CPU cores: AdamW lr 1e-3, weight decay 0.05, batch
128, no gradient clipping, random crop (4 px padding) + horizontal flip, DeiT's per-step cosine
schedule after a linear warm-up (1 epoch in ``full``, none in ``quick``), a fixed number of epochs
and the best-validation weights restored. Models are smaller (width 64, depth 6, 2 heads in
``full``) and trained for 6 epochs (about 25 minutes per seed for the pair on 2 cores: KAT's
rationals make its step ~1.7x the ViT's), so both are far from converged: the claim checked is the
ordering at equal size and equal training, not the paper's accuracies.

Data: the 50,000 training images minus a seeded validation draw of 5,000, and the 10,000 test
images (``full``); ``quick`` uses the first 100 (+20 validation) training and 50 test images per
class and a 2-block width-32 model for 3 epochs.
"""

from __future__ import annotations

import numpy as np
import torch

from mlpzoo.claims.base import ClaimContext, ClaimSpec, Evidence, compare, summarize
from mlpzoo.data.augment import Compose, HorizontalFlip, RandomCrop
from mlpzoo.data.images import ImageData, channel_stats, load_cifar10
from mlpzoo.measure import count_parameters, flops_per_sample
from mlpzoo.registry import create_model
from mlpzoo.tasks import get_task
from mlpzoo.train.trainer import Trainer

MODELS = ("kat", "kat_vit")
LR, WEIGHT_DECAY = 1e-3, 0.05
SPLIT_SEED = 2024

SPEC = ClaimSpec(
    claim="KAT (a ViT whose MLPs are GR-KANs) is more accurate than a ViT of equal size and equal training.",
    paper_numbers={
        "ImageNet-1k top-1, 300 epochs from scratch (KAT paper, ICLR 2025 version, Table 5)": (
            "KAT-T 74.6 vs DeiT-T 72.2; KAT-S 81.2 vs DeiT-S 79.8; KAT-B 82.3 vs DeiT-B 81.8"
        ),
    },
    datasets=("cifar10",),
    settings={
        "quick": {
            "train_per_class": 100,
            "valid_per_class": 20,
            "test_per_class": 50,
            "epochs": 3,
            "warmup_epochs": 0,
            "batch_size": 50,
            "model": {"embed_dim": 32, "depth": 2, "num_heads": 2},
        },
        "full": {
            "train_per_class": None,
            "valid_size": 5000,
            "test_per_class": None,
            "epochs": 3,
            "warmup_epochs": 1,
            "batch_size": 128,
            "model": {"embed_dim": 64, "depth": 4, "num_heads": 2},
        },
        "gpu": {
            "train_per_class": None,
            "valid_size": 5000,
            "test_per_class": None,
            "epochs": 100,
            "warmup_epochs": 5,
            "batch_size": 128,
            "model": {"embed_dim": 192, "depth": 12, "num_heads": 3},
        },
    },
    notes=(
        (
            "Models: mlp ratio 4, patch 4 on 32-px images; KAT's mixers are rational(identity) -> fc1 -> "
            "rational(GELU) -> fc2 with 8 groups; FLOPs per image count the rationals' elementwise work but not the "
            "ViT's GELU (docs/kan.md)."
        ),
        (
            "Paper: 300 ImageNet epochs, DeiT recipe (cosine schedule, 5 warm-up epochs, RandAugment, mixup, CutMix, "
            "label smoothing, drop path). Here: CIFAR-10, AdamW, cosine after linear warm-up, crop + flip only."
        ),
        (
            "Full budget estimate: a training step of batch 128 (width 64, depth 4) took 0.68 s for KAT and 0.37 s "
            "for the ViT on one thread of a loaded 2-core machine (load ~5.6); 352 steps x 3 epochs x 3 seeds gives "
            "~55 min there and about 25 min on an idle machine with 2 threads. Reductions: depth 4 instead of 6, 3 "
            "epochs, 3 seeds."
        ),
    ),
)


def load_splits(settings: dict, data_dir=None) -> tuple[ImageData, ImageData, ImageData]:
    """Train / validation / test :class:`ImageData`, normalised with the training part's statistics.

    The validation images are a seeded draw from the training split (the same for every seed and
    model); only the training part is augmented (crop + flip).
    """
    per_class = settings["train_per_class"]
    if per_class is None:
        images, labels = load_cifar10("train", data_dir)
        n_valid = settings["valid_size"]
    else:
        images, labels = load_cifar10("train", data_dir, limit_per_class=per_class + settings["valid_per_class"])
        n_valid = 10 * settings["valid_per_class"]
    order = torch.from_numpy(np.random.default_rng(SPLIT_SEED).permutation(len(labels)))
    valid_idx, train_idx = order[:n_valid], order[n_valid:]
    test_images, test_labels = load_cifar10("test", data_dir, limit_per_class=settings["test_per_class"])
    mean, std = channel_stats(images[train_idx])
    augment = Compose([RandomCrop(4), HorizontalFlip()])
    return (
        ImageData(images[train_idx], labels[train_idx], mean, std, augment),
        ImageData(images[valid_idx], labels[valid_idx], mean, std),
        ImageData(test_images, test_labels, mean, std),
    )


def _train_config(settings: dict, seed: int, name: str, run_dir, save: bool) -> dict:
    epochs = settings["epochs"]
    return {
        "epochs": epochs,
        "patience": epochs,
        "batch_size": settings["batch_size"],
        "eval_batch_size": 1000,
        "lr": LR,
        "optimizer": "adamw",
        "weight_decay": WEIGHT_DECAY,
        "lr_schedule": "cosine",
        "warmup_epochs": settings["warmup_epochs"],
        "min_delta": 0.0,
        "grad_clip_norm": None,
        "seed": seed,
        "progress": False,
        "save_checkpoints": save,
        "run_dir": str(run_dir),
        "run_name": f"{name}-seed{seed}",
    }


def fit_one(name: str, seed: int, settings: dict, splits, run_dir, save: bool) -> dict:
    """One seeded fit of ``name`` (``kat`` or ``kat_vit``); the run record for the table."""
    train, valid, test = splits
    torch.manual_seed(seed)
    model = create_model(name, **settings["model"])
    example = next(test.iter_batches(2))["x"]
    flops = flops_per_sample(model, example)
    cfg = _train_config(settings, seed, name, run_dir, save)
    result = Trainer(get_task("classification"), model, cfg).fit(train, valid, test)
    return {
        "model": name,
        "seed": seed,
        "parameters": count_parameters(model),
        "flops_per_image": flops,
        "epochs": result.epochs_run,
        "train_samples_per_second": result.train_samples_per_second,
        "valid_accuracy": result.metrics["valid"]["accuracy"],
        "test_accuracy": result.metrics["test"]["accuracy"],
    }


def experiment(ctx: ClaimContext) -> Evidence:
    """Every fit but the quick ones keeps checkpoints under the claim's work folder, so a cut-off fit resumes."""
    s = ctx.settings
    ctx.expect(len(ctx.seeds) * len(MODELS))
    loaded = {}

    def splits():
        if "cifar10" not in loaded:
            loaded["cifar10"] = load_splits(s, ctx.data_dir)
        return loaded["cifar10"]

    runs = []
    for seed in ctx.seeds:
        for name in MODELS:
            record = ctx.arm(
                f"{name}/seed{seed}",
                lambda m=name, sd=seed: fit_one(
                    m, sd, s, splits(), ctx.work_dir / "fits", save=ctx.budget.name != "quick"
                ),
                seed=seed,
            )
            ctx.log(f"{name} seed {seed}: {record['parameters']} params, test accuracy {record['test_accuracy']:.4f}")
            runs.append(record)
    table = summarize(runs, ("model",), ("test_accuracy", "valid_accuracy"))
    for row in table:
        row["flops_per_image"] = float(np.mean([r["flops_per_image"] for r in runs if r["model"] == row["model"]]))
    sizes = s["model"]
    train = "45,000" if s["train_per_class"] is None else f"{10 * s['train_per_class']:,}"
    note = (
        f"This run: width {sizes['embed_dim']}, depth {sizes['depth']}, {sizes['num_heads']} heads; CIFAR-10 {train} "
        f"training images (validation a seeded draw from the train split); AdamW lr {LR}, weight decay "
        f"{WEIGHT_DECAY}, batch {s['batch_size']}, {s['epochs']} epochs, {s['warmup_epochs']} warm-up epoch(s), "
        "best-validation weights restored."
    )
    return Evidence(table, runs, [note])


def verdict(table: list[dict]) -> tuple[str, str]:
    """KAT outperforms the ViT when its mean test accuracy is higher by more than one standard error of
    the difference (:func:`compare`): reproduced. Level within one standard error: partly reproduced
    (a tie is not "outperforms"). Behind by more than one standard error: not reproduced."""
    rows = {row["model"]: row for row in table}
    kat, vit = rows["kat"], rows["kat_vit"]
    lead = compare(kat, vit, "test_accuracy")
    if lead.wins:
        outcome, how = "reproduced", "ahead beyond one standard error"
    elif lead.loses:
        outcome, how = "not reproduced", "behind by more than one standard error"
    else:
        outcome, how = "partly reproduced", "level within one standard error (a tie, not a lead)"
    return outcome, (
        f"test accuracy KAT {kat['test_accuracy_mean']:.4f} vs ViT {vit['test_accuracy_mean']:.4f} "
        f"({kat.get('parameters', float('nan')):.0f} vs {vit.get('parameters', float('nan')):.0f} parameters): "
        f"KAT {how} (difference {lead}, n = {kat['n']})."
    )
