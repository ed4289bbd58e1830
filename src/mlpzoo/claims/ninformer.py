"""NiNformer (2024): the token-mixing-gated block beats ViT and MLP-Mixer of equal size on CIFAR-10.

Paper: Abdullah and Aydin, "NiNformer: A Network in Network Transformer with Token Mixing Generated Gating
Function", 2024, arXiv:2403.02411. The abstract: "the proposed design provides better performance than the
baseline architectures on multiple datasets applied in the image classification task"; the baselines include
ViT and MLP-Mixer, trained with Adam (lr 1e-3), batch 128, 100 epochs. Experiment
(:mod:`mlpzoo.claims.kits.hybrid`): NiNformer, ViT and Mixer at the same width, depth and patch (4: 8 x 8 tokens),
ViT's and Mixer's MLP widths solved to NiNformer's parameter count (within 3 %), the same CIFAR-10 images,
augmentation, optimiser and epochs; test accuracy of the best-validation weights over seeds.
"""

from __future__ import annotations

from mlpzoo.claims.base import ClaimContext, ClaimSpec, Evidence, outcome
from mlpzoo.claims.kits.hybrid import (
    VIT_CIFAR,
    VIT_MODEL,
    describe,
    margin,
    match_parameters,
    parameter_count,
    recipe_notes,
    rows_by_model,
    run_arms,
    tabulate,
    undertrained,
    unequal_parameters,
)

MODEL, BASELINES = "ninformer", ("vit", "mixer")

_RECIPE = {"optimizer": "adam", "lr": 1e-3, "weight_decay": 0.0, "device": "cpu"}
SPEC = ClaimSpec(
    claim="NiNformer beats a ViT and an MLP-Mixer of equal parameters on CIFAR-10 image classification.",
    paper_numbers={"comparison (abstract)": "better performance than the baseline architectures on multiple datasets"},
    datasets=("cifar10",),
    settings={
        "quick": {
            **_RECIPE,
            "train_per_class": 60,
            "valid_per_class": 20,
            "test_per_class": 20,
            "epochs": 2,
            "warmup_epochs": 1,
            "dim": 32,
            "depth": 2,
        },
        "full": {
            **_RECIPE,
            "train_per_class": 300,
            "valid_per_class": 50,
            "test_per_class": 200,
            "epochs": 10,
            "warmup_epochs": 1,
            "dim": 64,
            "depth": 3,
        },
        "gpu": {
            **_RECIPE,
            "device": "auto",
            "train_per_class": 4500,
            "valid_per_class": 500,
            "test_per_class": None,
            "epochs": 100,
            "warmup_epochs": 5,
            "dim": 128,
            "depth": 8,
        },
    },
    seeds={"quick": 1, "full": 3, "gpu": 3},
    notes=(
        "Full budget against the paper's scale (the 'gpu' budget: all 45,000 + 5,000 training/validation images, "
        "100 epochs, width 128 and depth 8): 300 + 50 images per class, 2,000 test images, 10 epochs (1 warm-up), "
        "width 64, depth 3 (NiNformer about 130 k parameters), 3 seeds. Estimate from fits timed on the 2-core "
        "machine under a load of about 4 (NiNformer 317, Mixer 379, ViT 339 train img/s on one thread): 9 fits of "
        "3,000 images x 10 epochs with their evaluations, about 15 minutes under that load, 8-10 minutes idle.",
        "The abstract gives no model widths; the sizes here are Mixer's CIFAR shapes (patch 4) shrunk for the CPU. The "
        "paper's recipe (Adam, lr 1e-3, batch 128) is kept, with a cosine schedule after one warm-up epoch.",
    ),
)


def arms(settings: dict) -> dict[str, tuple[str, dict]]:
    """NiNformer and its ViT and Mixer of the same width and depth, their MLP widths solved to its parameter count."""
    dim, depth = settings["dim"], settings["depth"]
    mine = {"dim": dim, "depth": depth, "token_hidden": dim // 2, "channel_hidden": 2 * dim}
    target = parameter_count(MODEL, mine)
    vit = {**VIT_CIFAR, "dim": dim, "depth": depth, "heads": 4}
    mixer = {"dim": dim, "depth": depth, "token_hidden": dim // 2}
    return {
        MODEL: (MODEL, mine),
        "vit": (VIT_MODEL, match_parameters(VIT_MODEL, vit, "mlp_ratio", target, (2.0, 4.0))),
        "mixer": ("mixer", match_parameters("mixer", mixer, "channel_hidden", target, (64, 128))),
    }


def experiment(ctx: ClaimContext) -> Evidence:
    runs = run_arms(ctx, arms(ctx.settings))
    return Evidence(tabulate(runs, MODEL), runs, recipe_notes(ctx.settings, ctx.seeds))


def verdict(table: list[dict]) -> tuple[str, str]:
    """Beats both baselines beyond one SE -> reproduced; one -> partly; neither (a tie or a loss) -> not reproduced.
    Counts further apart than the table's tolerance (3 %), or a baseline near chance -> not checkable here."""
    problem = unequal_parameters(table) or undertrained(table, BASELINES)
    if problem:
        return "not checkable here", problem
    by_model = rows_by_model(table)
    mine = by_model[MODEL]
    margins = {name: margin(mine, by_model[name]) for name in BASELINES}
    detail = "; ".join(describe(mine, by_model[name]) for name in BASELINES)
    tail = _tail(margins)
    return outcome([m.wins for m in margins.values()]), f"test accuracy {detail}{tail}."


def _tail(margins: dict) -> str:
    """Ties ("not beyond 1 SE over") and losses ("below ... beyond 1 SE") named separately."""
    ties = [name for name, m in margins.items() if m.ties]
    losses = [name for name, m in margins.items() if m.loses]
    tail = f"; not beyond 1 SE over {', '.join(ties)}" if ties else ""
    return tail + (f"; below {', '.join(losses)} beyond 1 SE" if losses else "")
