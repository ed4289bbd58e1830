"""Hourglass MLPs (2025): does the wide-narrow-wide Pareto front dominate the conventional one?

Paper: Chen, Lee, Liao & Shiu, "Rethinking the shape convention of an MLP", 2025,
arXiv:2510.01796. Hourglass blocks keep the skip connection in a wide space reached by a fixed
random lift and compute the residual through a narrow bottleneck; the paper's architecture
search finds "Hourglass architectures consistently achieve superior Pareto frontiers compared
to conventional designs" on generative image tasks.

Experiment, two tasks:

- ``digits``: classification of scikit-learn's 8x8 digits (64 pixels scaled to 0..1; stratified
  60/20/20 split, seed 0); quality = test accuracy.
- ``fashion_denoise``: Fashion-MNIST denoising: input = clean image (0..1) + Gaussian noise of
  standard deviation ``NOISE_STD``, fixed per image, target = the clean image; quality = test
  PSNR in dB (``10 log10(1 / MSE)``). The CPU budgets pool images to 14 x 14. The images come
  from ``<data directory>/fashion-mnist`` or the Debian package
  (:func:`mlpzoo.data.images.fashion_mnist_dir`).

At each parameter budget, each shape is searched over the same number of (width, depth)
candidates (the first of its grid that fit the budget) whose inner width is solved so the trainable parameters match
the budget (the
hourglass's lift is a buffer and does not count): the conventional MLP keeps the skip at the input
width (64 or the pixel count; for denoising the output is the residual stream itself, no head),
the hourglass lifts to ``dim`` and reads out with a linear head. The candidate with the best
validation score is kept and its test quality reported (mean and spread over seeds). Adam, early
stopping on the validation metric, best weights restored (the project's Trainer).

Verdict per task: the hourglass front dominates when it is no worse (within one standard error)
at every budget and better by more than one standard error at half of them or more; a budget counts
only when both shapes' trainable parameters are within ``MATCH_TOLERANCE`` of it, and the hourglass
may not win a budget where it was given more candidates than the conventional shape, nor one
where the conventional MLP denoises no better than a least-squares linear map (a baseline that
fails on its own training distribution is undertrained, not beaten). Both tasks:
reproduced; one: partly reproduced; none: not reproduced.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from torch import nn

from mlpzoo.claims.base import ClaimContext, ClaimSpec, Evidence, compare
from mlpzoo.data.images import fashion_mnist_dir, load_digits_images, load_fashion_mnist
from mlpzoo.data.tensors import ArrayData
from mlpzoo.measure import count_parameters
from mlpzoo.models.deep_mlp import DeepResidualMLP
from mlpzoo.tasks import get_task
from mlpzoo.train.trainer import Trainer

NOISE_STD = 0.5
TASKS = ("digits", "fashion_denoise")
SHAPES = ("conventional", "hourglass")
MATCH_TOLERANCE = 0.05  # both shapes' trainable parameters within 5 % of the budget
LR = 1e-3
RIDGE = 1e-3

SPEC = ClaimSpec(
    claim=(
        "At matched parameter counts, the Hourglass (wide-narrow-wide, fixed random lift) MLP's quality-parameter "
        "Pareto front dominates the conventional one."
    ),
    paper_numbers={
        "abstract (generative tasks on image data sets)": "Hourglass architectures consistently achieve superior "
        "Pareto frontiers compared to conventional designs"
    },
    settings={
        # Quick: 4 budgets a task, 2 candidates a shape, few epochs, 14 x 14 denoising on 1,200 images.
        "quick": {
            "digits": {
                "budgets": (10_000, 20_000, 40_000, 80_000),
                "conventional": (1, 2),
                "hourglass": ((128, 2), (256, 2)),
                "epochs": 8,
                "patience": 8,
                "batch_size": 64,
            },
            "fashion_denoise": {
                "budgets": (100_000, 200_000, 400_000, 800_000),
                "conventional": (1, 2),
                "hourglass": ((392, 2), (784, 2)),
                "epochs": 3,
                "patience": 3,
                "batch_size": 64,
                "n_train": 1200,
                "n_valid": 300,
                "n_test": 400,
                "pool": 2,
            },
        },
        "full": {
            "digits": {
                "budgets": (10_000, 20_000, 40_000, 80_000, 160_000),
                "conventional": (1, 2, 4),
                "hourglass": ((128, 2), (256, 2), (256, 4)),
                "epochs": 60,
                "patience": 10,
                "batch_size": 64,
            },
            "fashion_denoise": {
                "budgets": (100_000, 200_000, 400_000, 800_000),
                "conventional": (1, 2, 4),
                "hourglass": ((392, 2), (784, 2), (784, 4)),
                "epochs": 10,
                "patience": 3,
                "batch_size": 128,
                "n_train": 8000,
                "n_valid": 2000,
                "n_test": 2000,
                "pool": 2,
            },
        },
        # Full-resolution denoising at millions of parameters on all of Fashion-MNIST: about a day a seed on a CPU.
        "gpu": {
            "digits": {
                "device": "cuda",
                "budgets": (10_000, 20_000, 40_000, 80_000, 160_000),
                "conventional": (1, 2, 4, 8),
                "hourglass": ((128, 2), (256, 2), (256, 4), (512, 4)),
                "epochs": 300,
                "patience": 20,
                "batch_size": 64,
            },
            "fashion_denoise": {
                "device": "cuda",
                "budgets": (2_000_000, 4_000_000, 8_000_000, 16_000_000),
                "conventional": (1, 2, 4),
                "hourglass": ((1024, 2), (1024, 4), (2048, 4)),
                "epochs": 60,
                "patience": 5,
                "batch_size": 256,
                "n_train": 50_000,
                "n_valid": 10_000,
                "n_test": 10_000,
                "pool": 1,
            },
        },
    },
    seeds={"quick": 1, "full": 3, "gpu": 3},
    notes=(
        (
            "Quality: test accuracy (digits), test PSNR in dB on 0..1 pixels (Fashion-MNIST denoising, noise std "
            f"{NOISE_STD}); the configuration per (shape, budget, seed) is chosen on the validation split."
        ),
        (
            "Parameters count trainable weights; the hourglass's fixed random lift is a buffer, rebuilt from its seed. "
            "'candidates' counts the configurations searched per seed (the tuning effort of each shape)."
        ),
        "The paper's generative tasks on image data sets are replaced by digits classification and Fashion-MNIST "
        "denoising.",
        (
            "Full budget (CPU): denoising at 14 x 14 on 8,000 training images, budgets 100k-800k, 10 epochs (gpu "
            "budget: "
            "28 x 28 on 50,000 images, budgets 2M-16M, 60 epochs); digits up to 60 epochs. An epoch of every "
            "candidate of a "
            "seed took 37 s (denoising) and 4 s (digits) on one CPU thread of a loaded 2-core machine: at most 31 "
            "min for 3 "
            "seeds, about 20 min with early stopping."
        ),
    ),
)


# ---------------------------------------------------------------------------- data
def digits_splits() -> tuple[ArrayData, ArrayData, ArrayData]:
    images, labels = load_digits_images()
    x = images.reshape(len(images), -1).float() / 255.0
    index = np.arange(len(x))
    train, rest = train_test_split(index, test_size=0.4, stratify=labels.numpy(), random_state=0)
    valid, test = train_test_split(rest, test_size=0.5, stratify=labels.numpy()[rest], random_state=0)
    return tuple(ArrayData(x[i], labels[i]) for i in (train, valid, test))


def denoise_splits(settings: dict, data_dir=None) -> tuple[ArrayData, ArrayData, ArrayData]:
    """Noisy -> clean pairs; validation rows come from the training file, test rows from the test file."""
    folder = fashion_mnist_dir(data_dir)
    train_images, _ = load_fashion_mnist("train", folder)
    test_images, _ = load_fashion_mnist("test", folder)
    generator = torch.Generator().manual_seed(0)
    order = torch.randperm(len(train_images), generator=generator)
    n_train, n_valid = settings["n_train"], settings["n_valid"]
    parts = (
        train_images[order[:n_train]],
        train_images[order[n_train : n_train + n_valid]],
        test_images[: settings["n_test"]],
    )
    out = []
    for images in parts:
        clean = images.float() / 255.0
        if settings["pool"] > 1:
            clean = nn.functional.avg_pool2d(clean, settings["pool"])
        clean = clean.reshape(len(clean), -1)
        noisy = clean + NOISE_STD * torch.randn(clean.shape, generator=generator)
        out.append(ArrayData(noisy, clean))
    return tuple(out)


# ---------------------------------------------------------------------------- models at a budget
def build(
    shape: str, task: str, in_features: int, out_features: int, dim: int, hidden: int, depth: int, seed: int
) -> DeepResidualMLP:
    if shape == "hourglass":
        return DeepResidualMLP(in_features, out_features, dim, hidden, depth, "fixed", seed)
    if task == "fashion_denoise":  # the residual stream is the image: no head, no final norm
        return DeepResidualMLP(
            in_features, out_features, dim, hidden, depth, "identity", final_norm=False, output_projection="identity"
        )
    return DeepResidualMLP(in_features, out_features, dim, hidden, depth, "identity")


def trainable(model: nn.Module) -> int:
    return count_parameters(model, trainable_only=True)


def hidden_for_budget(
    shape: str, task: str, in_features: int, out_features: int, dim: int, depth: int, budget: int
) -> int | None:
    """The inner width whose trainable count is closest to ``budget`` (counts are linear in it); None if none fits."""
    with torch.device("meta"):
        base = trainable(build(shape, task, in_features, out_features, dim, 1, depth, 0))
        slope = trainable(build(shape, task, in_features, out_features, dim, 2, depth, 0)) - base
    hidden = round(1 + (budget - base) / slope)
    if hidden < 1 or (shape == "hourglass" and hidden >= dim) or (shape == "conventional" and hidden <= dim):
        return None
    return hidden


def candidates(
    shape: str, task: str, settings: dict, in_features: int, out_features: int, budget: int
) -> list[tuple[int, int, int]]:
    """(dim, hidden, depth) per candidate of ``shape`` at ``budget``."""
    # A conventional block must widen (hidden > dim), an hourglass block narrow (hidden < dim).
    grid = (
        [(in_features, depth) for depth in settings["conventional"]]
        if shape == "conventional"
        else list(settings["hourglass"])
    )
    found = []
    for dim, depth in grid:
        hidden = hidden_for_budget(shape, task, in_features, out_features, dim, depth, budget)
        if hidden is not None:
            found.append((dim, hidden, depth))
    return found


# ---------------------------------------------------------------------------- one fit
def fit(task: str, model: nn.Module, data, settings: dict, seed: int) -> tuple[float, float]:
    """Train; (validation score, test quality): accuracy for digits, PSNR (dB) for denoising."""
    train, valid, test = data
    classify = task == "digits"
    config = {
        "epochs": settings["epochs"],
        "patience": settings["patience"],
        "batch_size": settings["batch_size"],
        "lr": LR,
        "lr_decay_factor": 1.0,
        "min_delta": 0.0,
        "seed": seed,
        "progress": False,
        "save_checkpoints": False,
        "monitor": "accuracy" if classify else "mse",
        "device": settings.get("device", "auto"),
    }
    trainer = Trainer(get_task("classification" if classify else "regression"), model, config)
    result = trainer.fit(train, valid, test)
    if classify:
        return result.metrics["valid"]["accuracy"], result.metrics["test"]["accuracy"]

    def psnr(split):
        return 10 * math.log10(1.0 / result.metrics[split]["mse"])

    return psnr("valid"), psnr("test")


def fit_candidate(
    task: str, shape: str, budget: int, option: tuple[int, int, int], data, settings: dict, seed: int
) -> dict:
    dim, hidden, depth = option
    in_features = data[0].x.shape[1]
    model = build(shape, task, in_features, 10 if task == "digits" else in_features, dim, hidden, depth, seed)
    valid_score, quality = fit(task, model, data, settings, seed)
    return {
        "task": task,
        "shape": shape,
        "budget": budget,
        "seed": seed,
        "config": f"dim {dim}, hidden {hidden}, depth {depth}",
        "parameters": trainable(model),
        "valid_score": valid_score,
        "quality": quality,
    }


def experiment(ctx: ClaimContext) -> Evidence:
    """Every candidate of every shape at every budget, once per seed; the best on validation per (shape, budget,
    seed)."""
    plan = []  # (task, budget, shape, options)
    for task in TASKS:
        s = ctx.settings[task]
        in_features = 64 if task == "digits" else (28 // s["pool"]) ** 2
        out_features = 10 if task == "digits" else in_features
        for budget in s["budgets"]:
            options = {shape: candidates(shape, task, s, in_features, out_features, budget) for shape in SHAPES}
            # Equal tuning effort: each shape searches as many candidates as the other (the first that fit its grid).
            k = min(len(found) for found in options.values())
            plan += [(task, budget, shape, options[shape][:k]) for shape in SHAPES]
    ctx.expect(sum(len(options) for *_, options in plan) * len(ctx.seeds) + 1)
    loaded: dict[str, tuple] = {}

    def data(task: str):  # read only when some arm of the task is not stored yet
        if task not in loaded:
            loaded[task] = digits_splits() if task == "digits" else denoise_splits(ctx.settings[task], ctx.data_dir)
        return loaded[task]

    runs = []
    for task, budget, shape, options in plan:
        for seed in ctx.seeds:
            tried = [
                ctx.arm(
                    f"{task}/{budget}/{shape}/{option}/seed{seed}",
                    lambda o=option, t=task, b=budget, sh=shape, sd=seed: fit_candidate(
                        t, sh, b, o, data(t), ctx.settings[t], sd
                    ),
                    seed=seed,
                )
                for option in options
            ]
            if tried:  # accuracy or PSNR: higher is better
                best = dict(max(tried, key=lambda r: r["valid_score"]), candidates=len(tried))
                ctx.log(f"{task} budget {budget} {shape} seed {seed}: {best['config']} -> {best['quality']:.4f}")
                runs.append(best)
    # The floor any trained denoiser must clear: the least-squares linear map, fitted on the training images.
    linear = ctx.arm("fashion_denoise/linear", lambda: {"quality": linear_denoiser_psnr(data("fashion_denoise"))})
    ctx.log(f"fashion_denoise least-squares linear map: test PSNR {linear['quality']:.2f} dB")
    table = tabulate(runs)
    for row in table:
        if row["task"] == "fashion_denoise":
            row["linear_quality"] = linear["quality"]
    return Evidence(
        table,
        runs,
        [
            (
                f"Least-squares linear denoiser (ridge {RIDGE}, one weight a pixel pair plus biases), fitted on the "
                "training pairs: "
                f"test PSNR {linear['quality']:.2f} dB (linear_quality)."
            )
        ],
    )


def linear_denoiser_psnr(data) -> float:
    """Test PSNR of the ridge-regression linear map noisy -> clean fitted on the training pairs."""
    train, _, test = data
    x = torch.cat([train.x, torch.ones(len(train.x), 1)], 1).double()
    weights = torch.linalg.solve(x.T @ x + RIDGE * torch.eye(x.shape[1], dtype=x.dtype), x.T @ train.label.double())
    prediction = torch.cat([test.x, torch.ones(len(test.x), 1)], 1).double() @ weights
    return 10 * math.log10(1.0 / float((prediction - test.label.double()).square().mean()))


def tabulate(runs: list[dict]) -> list[dict]:
    groups: dict[tuple, list[dict]] = {}
    for r in runs:
        groups.setdefault((r["task"], r["shape"], r["budget"]), []).append(r)
    table = []
    for (task, shape, budget_params), members in groups.items():
        values = np.array([m["quality"] for m in members])
        table.append(
            {
                "task": task,
                "shape": shape,
                "budget": budget_params,
                "n": len(members),
                "parameters": float(np.mean([m["parameters"] for m in members])),
                "candidates": max(m["candidates"] for m in members),
                "quality_mean": float(values.mean()),
                "quality_std": float(values.std(ddof=1)) if len(values) > 1 else math.nan,
                "configs": "; ".join(sorted({m["config"] for m in members})),
            }
        )
    return table


def _matched(row: dict) -> bool:
    return abs(row["parameters"] - row["budget"]) <= MATCH_TOLERANCE * row["budget"]


def verdict(table: list[dict]) -> tuple[str, str]:
    """Per task: at every shared budget (both shapes' parameters within ``MATCH_TOLERANCE`` of it) the
    hourglass is no worse (1 SE), and better (> 1 SE) at half of them or more, a budget where it searched
    more candidates than the conventional shape not counting as a win, nor a win over a conventional MLP no better
    than the least-squares linear map (``linear_quality``: an undertrained baseline). A mismatched budget fails
    the task."""
    rows = {(r["task"], r["shape"], r["budget"]): r for r in table}
    dominated, findings = 0, []
    tasks = sorted({r["task"] for r in table}, key=lambda t: TASKS.index(t) if t in TASKS else 99)
    for task in tasks:
        budgets = sorted(b for (t, s, b) in rows if t == task and s == "hourglass" and (t, "conventional", b) in rows)
        better = no_worse = 0
        diffs, problems = [], []
        for b in budgets:
            hg, conv = rows[(task, "hourglass", b)], rows[(task, "conventional", b)]
            if not (_matched(hg) and _matched(conv)):
                problems.append(
                    f"budget {b}: parameters {hg['parameters']:.0f} / {conv['parameters']:.0f} not within "
                    f"{MATCH_TOLERANCE:.0%}"
                )
                continue
            lead = compare(hg, conv, "quality")
            diffs.append(str(lead))
            no_worse += not lead.loses
            fair = hg["candidates"] <= conv["candidates"]
            trained = conv["quality_mean"] > conv.get("linear_quality", -math.inf)
            better += lead.wins and fair and trained
            if lead.wins and not trained:
                problems.append(
                    f"budget {b}: the conventional MLP ({conv['quality_mean']:.2f}) is no better than the "
                    f"least-squares linear map ({conv['linear_quality']:.2f}): undertrained, not beaten"
                )
            if lead.wins and not fair:
                problems.append(
                    f"budget {b}: hourglass searched {hg['candidates']} candidates, conventional {conv['candidates']}"
                )
        ok = (
            bool(budgets)
            and not any("not within" in p for p in problems)
            and no_worse == len(budgets)
            and better >= len(budgets) / 2
        )
        dominated += ok
        findings.append(
            f"{task}: hourglass - conventional at budgets {budgets} = {', '.join(diffs)} (better at {better}, "
            f"no worse at {no_worse} of {len(budgets)}{'; ' + '; '.join(problems) if problems else ''}; front "
            f"{'dominates' if ok else 'does not dominate'})"
        )
    outcome = (
        "reproduced" if dominated == len(tasks) and tasks else ("partly reproduced" if dominated else "not reproduced")
    )
    return outcome, "; ".join(findings) + "."
