"""Hypernetworks (review, 2023): comparable accuracy with fewer trainable parameters; fast adaptation to new tasks.

Paper: Chauhan, Zhou, Lu, Molaei & Clifton, "A Brief Review of Hypernetworks in Deep Learning",
2023, arXiv:2306.06955. The review credits hypernetworks with "model compression" and
"adaptability"; we check both with the hypernetworks of :mod:`mlpzoo.models.hyper`.

Part 1, compression (scikit-learn digits, 1,797 8x8 images, stratified 60/20/20 split per seed,
features standardised on the training part): plain ReLU MLPs 64-[w]-10 for several w against
static chunked hypernetworks (Ha et al. style) generating the 64-[64]-10 MLP with fewer trainable
parameters. Trainer: Adam lr 1e-3, batch 64, early stopping on validation accuracy; test accuracy.
The best hypernetwork is chosen by validation accuracy, then compared on test accuracy with the
64-[64]-10 MLP it generates and with the widest plain MLP that has no more trainable parameters
than it (the size-matched baseline that makes "fewer parameters" mean something).

Part 2, adaptation (sine waves ``A sin(x + phi)``, the few-shot regression family of MAML):
a task-conditioned hypernetwork (one learned embedding per training task) and a plain 1-40-40-1
MLP are trained on the same training tasks (the MLP on all of them jointly: the "pretrained"
baseline of Finn et al. 2017). On new tasks, given ``shots`` points, the hypernetwork adapts by
fitting only the task embedding (started at the mean training embedding); the MLP is fine-tuned
whole, with the best of several learning rates (chosen on the query error, which favours the
baseline). Both use Adam; MSE on 100 query points after each number of ``adapt_steps``.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from mlpzoo.claims.base import (
    Budget,
    ClaimResult,
    now_iso,
    standard_error_of_difference,
    summarize,
)
from mlpzoo.data.synthetic_tasks import sample_sine_tasks, sine_wave
from mlpzoo.data.tensors import ArrayData
from mlpzoo.layers.hyper import functional_mlp
from mlpzoo.models.hyper import HyperMLP, TaskHyperMLP
from mlpzoo.models.kan import DenseMLP, count_parameters
from mlpzoo.tasks import get_task
from mlpzoo.train.trainer import Trainer

PAPER_ID = "hypernetworks"
TITLE = "A Brief Review of Hypernetworks in Deep Learning (2023, arXiv:2306.06955)"
CLAIM = ("A hypernetwork reaches accuracy comparable to the network it generates with fewer trainable parameters, "
         "and adapts to a new task faster than fine-tuning a plain network.")
PAPER_NUMBERS = {"review": "qualitative: model compression and fast adaptation are listed among hypernetworks' benefits"}
MLP_WIDTHS = (16, 32, 64)
REFERENCE_WIDTH = 64
HYPER_CONFIGS = {  # name -> (chunk_size, chunk_embedding_dim, generator_hidden), all generating 64-[64]-10
    "hyper_c64_e4_h16": (64, 4, 16),
    "hyper_c96_e8_h16": (96, 8, 16),
}
COMPRESSION = 0.5  # "fewer parameters": at most half of the reference MLP's
TOLERANCE = 0.01  # "comparable": within one accuracy point (or one standard error, if larger)
SINE_HIDDEN = (40, 40)
MLP_FINETUNE_LRS = (1e-3, 1e-2, 3e-2)
EMBEDDING_LR = 3e-2
SETTINGS = {
    "quick": {"epochs": 12, "patience": 12, "train_tasks": 100, "pretrain_steps": 300, "task_batch": 25,
              "test_tasks": 20, "shots": 10, "adapt_steps": (0, 5, 20)},
    "full": {"epochs": 300, "patience": 30, "train_tasks": 1000, "pretrain_steps": 10000, "task_batch": 25,
             "test_tasks": 200, "shots": 10, "adapt_steps": (0, 1, 5, 10, 20, 50)},
}
QUERY_POINTS = 100


# ---------------------------------------------------------------- part 1: digits
def _digits_split(seed: int):
    x, y = load_digits(return_X_y=True)
    x_train, x_rest, y_train, y_rest = train_test_split(x, y, test_size=0.4, stratify=y, random_state=seed)
    x_valid, x_test, y_valid, y_test = train_test_split(x_rest, y_rest, test_size=0.5, stratify=y_rest, random_state=seed)
    scaler = StandardScaler().fit(x_train)

    def data(xs, ys):
        return ArrayData(torch.as_tensor(scaler.transform(xs), dtype=torch.float32), torch.as_tensor(ys, dtype=torch.long))

    return data(x_train, y_train), data(x_valid, y_valid), data(x_test, y_test)


def _fit_digits(model, train, valid, test, seed: int, settings: dict) -> tuple[float, float]:
    """Returns (validation accuracy, test accuracy) of the best-validation weights."""
    cfg = {"epochs": settings["epochs"], "patience": settings["patience"], "batch_size": 64, "lr": 1e-3,
           "lr_decay_factor": 1.0, "seed": seed, "monitor": "accuracy", "progress": False, "save_checkpoints": False}
    metrics = Trainer(get_task("classification"), model, cfg).fit(train, valid, test).metrics
    return metrics["valid"]["accuracy"], metrics["test"]["accuracy"]


def run_digits(seed: int, settings: dict, log=print) -> list[dict]:
    train, valid, test = _digits_split(seed)
    records = []
    models = {f"mlp_w{w}": lambda w=w: DenseMLP(64, 10, (w,), activation="relu") for w in MLP_WIDTHS}
    models |= {name: lambda c=c: HyperMLP(64, 10, (REFERENCE_WIDTH,), *c) for name, c in HYPER_CONFIGS.items()}
    for name, build in models.items():
        torch.manual_seed(seed)
        model = build()
        valid_accuracy, accuracy = _fit_digits(model, train, valid, test, seed, settings)
        records.append({"part": "digits", "model": name, "seed": seed, "adapt_steps": -1, "valid_accuracy": valid_accuracy,
                        "test_accuracy": accuracy, "query_mse": math.nan, "trainable_parameters": count_parameters(model)})
        log(f"digits seed {seed} {name}: valid accuracy {valid_accuracy:.4f}, test accuracy {accuracy:.4f}, "
            f"{count_parameters(model)} trainable parameters")
    return records


# ---------------------------------------------------------------- part 2: sine-wave adaptation
def _task_points(amplitude, phase, k: int, generator: torch.Generator):
    x = torch.rand(amplitude.shape[0], k, generator=generator) * 10 - 5
    return x[..., None], sine_wave(amplitude, phase, x)[..., None]


def pretrain(settings: dict, seed: int):
    """Train the task hypernetwork and the joint MLP on the same training tasks (fresh points each step)."""
    generator = torch.Generator().manual_seed(seed)
    tasks = sample_sine_tasks(settings["train_tasks"], 1, generator)
    torch.manual_seed(seed)
    hyper = TaskHyperMLP(1, 1, SINE_HIDDEN, n_tasks=settings["train_tasks"])
    plain = DenseMLP(1, 1, SINE_HIDDEN, activation="relu")
    opt_h = torch.optim.Adam(hyper.parameters(), lr=1e-3)
    opt_m = torch.optim.Adam(plain.parameters(), lr=1e-3)
    for _ in range(settings["pretrain_steps"]):
        ids = torch.randint(settings["train_tasks"], (settings["task_batch"],), generator=generator)
        x, y = _task_points(tasks.amplitude[ids], tasks.phase[ids], settings["shots"], generator)
        loss_h = F.mse_loss(hyper(x, hyper.embeddings(ids)), y)
        loss_m = F.mse_loss(plain.mlp(x), y)
        for opt, loss in ((opt_h, loss_h), (opt_m, loss_m)):
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return hyper, plain


def _adapt(params: list[torch.Tensor], forward, support, query, steps: tuple[int, ...], lr: float) -> dict[int, float]:
    """Adam on ``params`` (per-task tensors: summed per-task losses keep tasks independent); query MSE at each step count."""
    params = [p.detach().clone().requires_grad_(True) for p in params]
    optimizer = torch.optim.Adam(params, lr=lr)
    (xs, ys), (xq, yq) = support, query
    errors = {}
    for step in range(max(steps) + 1):
        if step in steps:
            with torch.no_grad():
                errors[step] = float(F.mse_loss(forward(params, xq), yq))
        if step == max(steps):
            break
        loss = (forward(params, xs) - ys).square().mean(dim=(1, 2)).sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return errors


def run_adaptation(seed: int, settings: dict, log=print) -> list[dict]:
    hyper, plain = pretrain(settings, seed)
    generator = torch.Generator().manual_seed(10_000 + seed)
    new = sample_sine_tasks(settings["test_tasks"], 1, generator)
    support = _task_points(new.amplitude, new.phase, settings["shots"], generator)
    query = _task_points(new.amplitude, new.phase, QUERY_POINTS, generator)
    steps, t = settings["adapt_steps"], settings["test_tasks"]
    start = hyper.task_embedding.weight.detach().mean(0).expand(t, -1)
    hyper_err = _adapt([start], lambda p, x: hyper(x, p[0]), support, query, steps, EMBEDDING_LR)
    # The MLP's weights copied per task, so one batched forward fine-tunes every task independently.
    linears = [m for m in plain.mlp if isinstance(m, torch.nn.Linear)]
    per_task = [w.detach().expand(t, *w.shape) for layer in linears for w in (layer.weight, layer.bias)]
    mlp_err = {lr: _adapt(per_task, lambda p, x: functional_mlp(x, p), support, query, steps, lr) for lr in MLP_FINETUNE_LRS}
    records = []
    for step in steps:
        best_lr = min(MLP_FINETUNE_LRS, key=lambda lr: mlp_err[lr][step])
        for model, error, params in (("hyper_task_embedding", hyper_err[step], start.shape[1]),
                                     ("mlp_finetune", mlp_err[best_lr][step], count_parameters(plain))):
            records.append({"part": "sine_adaptation", "model": model, "seed": seed, "adapt_steps": step,
                            "valid_accuracy": math.nan, "test_accuracy": math.nan, "query_mse": error, "trainable_parameters": params})
        log(f"sine seed {seed} after {step} steps: hypernetwork (embedding only) MSE {hyper_err[step]:.3f}, "
            f"MLP fine-tune MSE {mlp_err[best_lr][step]:.3f} (lr {best_lr:g})")
    return records


# ---------------------------------------------------------------- claim
def run(budget: Budget, data_dir=None, runs_dir: Path = Path("runs"), log=print) -> ClaimResult:
    """``data_dir`` and ``runs_dir`` are unused: digits ships with scikit-learn, the sine tasks are generated."""
    started, clock = now_iso(), time.perf_counter()
    settings = SETTINGS.get(budget.name, SETTINGS["full"])
    seeds = list(range(budget.seeds))
    runs = []
    for seed in seeds:
        runs += run_digits(seed, settings, log)
        runs += run_adaptation(seed, settings, log)
    table = summarize(runs, ("part", "model", "adapt_steps"), ("valid_accuracy", "test_accuracy", "query_mse", "trainable_parameters"))
    verdict_, reason = verdict(table)
    s = settings
    notes = [
        f"Digits: hypernetworks generate a 64-[{REFERENCE_WIDTH}]-10 ReLU MLP; configs (chunk size, chunk embedding, generator "
        f"hidden): {HYPER_CONFIGS}; up to {s['epochs']} epochs, patience {s['patience']}.",
        f"Sine: {s['train_tasks']} training tasks, {s['pretrain_steps']} pretraining steps of {s['task_batch']} tasks x "
        f"{s['shots']} points; {s['test_tasks']} new tasks, {s['shots']} shots, query MSE on {QUERY_POINTS} points; embedding "
        f"Adam lr {EMBEDDING_LR}; MLP fine-tune: best of Adam lr {MLP_FINETUNE_LRS} at each step count.",
        "trainable_parameters in part 2 counts what adaptation changes (the embedding vs the whole MLP).",
    ]
    return ClaimResult(PAPER_ID, TITLE, CLAIM, budget.name, seeds, runs, table, verdict_, reason, PAPER_NUMBERS, notes,
                       started, now_iso(), time.perf_counter() - clock)


def verdict(table: list[dict]) -> tuple[str, str]:
    """Two checks. (1) Compression: the hypernetwork with the best validation accuracy among those
    with at most ``COMPRESSION`` x the trainable parameters of the 64-[64]-10 MLP is within
    ``TOLERANCE`` (or one standard error) of that MLP's test accuracy, and at least as accurate
    (within one standard error) as the widest plain MLP with no more trainable parameters than it.
    (2) Adaptation: after the largest common number of adaptation steps > 0, fitting only the task
    embedding gives a lower query MSE than fine-tuning the MLP. Both -> reproduced; one -> partly;
    none -> not reproduced."""
    rows = {(r["part"], r["model"], r["adapt_steps"]): r for r in table}
    findings, passed = [], 0
    reference = rows[("digits", f"mlp_w{REFERENCE_WIDTH}", -1)]
    limit = COMPRESSION * reference["trainable_parameters_mean"]
    digits = [r for r in table if r["part"] == "digits"]
    small = [r for r in digits if r["model"].startswith("hyper") and r["trainable_parameters_mean"] <= limit]
    best = max(small, key=lambda r: r["valid_accuracy_mean"], default=None)
    if best is None:
        findings.append(f"no hypernetwork has <= {COMPRESSION:.0%} of the MLP's {reference['trainable_parameters_mean']:.0f} parameters")
    else:
        margin = max(TOLERANCE, standard_error_of_difference(best, reference, "test_accuracy"))
        comparable = best["test_accuracy_mean"] >= reference["test_accuracy_mean"] - margin
        findings.append(f"digits: {best['model']} (best validation accuracy among small hypernetworks, "
                        f"{best['trainable_parameters_mean']:.0f} parameters) test accuracy {best['test_accuracy_mean']:.4f} vs "
                        f"MLP 64-{REFERENCE_WIDTH}-10 ({reference['trainable_parameters_mean']:.0f}) "
                        f"{reference['test_accuracy_mean']:.4f} ({'within' if comparable else 'below'} the {margin:.3f} margin)")
        plain = [r for r in digits if r["model"].startswith("mlp_")
                 and r["trainable_parameters_mean"] <= best["trainable_parameters_mean"]]
        matched = max(plain, key=lambda r: r["trainable_parameters_mean"], default=None)
        if matched is None:
            findings.append(f"no plain MLP with <= {best['trainable_parameters_mean']:.0f} parameters to compare with, "
                            "so the compression check does not count")
            beats_matched = False
        else:
            se = standard_error_of_difference(best, matched, "test_accuracy")
            beats_matched = best["test_accuracy_mean"] >= matched["test_accuracy_mean"] - se
            findings.append(f"vs the size-matched plain {matched['model']} ({matched['trainable_parameters_mean']:.0f} "
                            f"parameters) {matched['test_accuracy_mean']:.4f} ({'at least as accurate' if beats_matched else 'less accurate'}, "
                            f"1 SE {se:.3f})")
        passed += comparable and beats_matched
    steps = sorted(r["adapt_steps"] for r in table if r["part"] == "sine_adaptation" and r["model"] == "hyper_task_embedding"
                   and r["adapt_steps"] > 0 and ("sine_adaptation", "mlp_finetune", r["adapt_steps"]) in rows)
    if steps:
        step = steps[-1]
        hyper, mlp = rows[("sine_adaptation", "hyper_task_embedding", step)], rows[("sine_adaptation", "mlp_finetune", step)]
        se = standard_error_of_difference(hyper, mlp, "query_mse")
        ok = hyper["query_mse_mean"] < mlp["query_mse_mean"] - se
        passed += ok
        findings.append(f"sine adaptation after {step} steps: embedding-only MSE {hyper['query_mse_mean']:.3f} vs MLP fine-tune "
                        f"{mlp['query_mse_mean']:.3f} ({'lower' if ok else 'not lower'}, 1 SE {se:.3f})")
    else:
        findings.append("no adaptation rows")
    return {2: "reproduced", 1: "partly reproduced", 0: "not reproduced"}[passed], "; ".join(findings) + "."
