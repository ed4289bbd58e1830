"""Hypernetworks (review, 2023): comparable accuracy with fewer trainable parameters; fast adaptation to new tasks.

Paper: Chauhan, Zhou, Lu, Molaei & Clifton, "A Brief Review of Hypernetworks in Deep Learning",
2023, arXiv:2306.06955. The abstract credits hypernetworks with "adaptability" and "model
compression"; we check both with the hypernetworks of :mod:`mlpzoo.models.hyper`.

Part 1, compression (scikit-learn digits, 1,797 8x8 images, stratified 60/20/20 split per seed,
features standardised on the training part): static chunked hypernetworks (Ha et al. style)
generating the 64-[64]-10 ReLU MLP with at most half its trainable parameters, against that MLP
(the reference) and, for each hypernetwork, a plain 64-[w]-10 MLP whose width is solved so that
its trainable parameters match the hypernetwork's within ``MATCH_TOLERANCE`` (the baseline that
makes "fewer parameters" mean something: a smaller plain MLP is the obvious way to save them).
Every arm: Adam lr 1e-3, batch 64, the same epoch cap and early stopping on validation accuracy.
The hypernetwork is chosen by validation accuracy; test accuracy is read once per chosen model.

Part 2, adaptation (sine waves ``A sin(x + phi)``, the few-shot regression family of MAML):
a task-conditioned hypernetwork (one learned embedding per training task) and a plain 1-40-40-1
MLP are trained on the same training tasks for the same steps (the MLP on all of them jointly: the
"pretrained" baseline of Finn et al. 2017). On new tasks, given ``shots`` points, the hypernetwork
adapts by fitting only the task embedding (started at the mean training embedding); the MLP is
fine-tuned whole. Both use Adam with the learning rate chosen from the same grid on validation
tasks (for each number of steps), then measured on separate test tasks: MSE on 100 query points.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from mlpzoo.claims.base import (
    ClaimContext,
    ClaimSpec,
    Evidence,
    compare,
    outcome,
    summarize,
)
from mlpzoo.data.synthetic_tasks import sample_sine_tasks, sine_wave
from mlpzoo.data.tensors import ArrayData
from mlpzoo.layers.hyper import functional_mlp
from mlpzoo.measure import count_parameters
from mlpzoo.models.hyper import HyperMLP, TaskHyperMLP
from mlpzoo.models.kan import DenseMLP
from mlpzoo.tasks import get_task
from mlpzoo.train.trainer import Trainer

REFERENCE_WIDTH = 64
HYPER_CONFIGS = {  # name -> (chunk_size, chunk_embedding_dim, generator_hidden), all generating 64-[64]-10
    "hyper_c64_e4_h16": (64, 4, 16),
    "hyper_c96_e8_h16": (96, 8, 16),
}
COMPRESSION = 0.5  # "fewer parameters": at most half of the reference MLP's
TOLERANCE = 0.01  # "comparable": within one accuracy point of the reference (or one standard error, if larger)
MATCH_TOLERANCE = 0.05  # a size-matched baseline has trainable parameters within 5 % of the hypernetwork's
SINE_HIDDEN = (40, 40)
ADAPT_LRS = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1)  # the same grid for both arms, chosen on validation tasks
QUERY_POINTS = 100

SPEC = ClaimSpec(
    claim=(
        "A hypernetwork reaches accuracy comparable to the network it generates with fewer trainable parameters, "
        "beating a plain network of the same size, and adapts to a new task faster than fine-tuning a plain network."
    ),
    paper_numbers={
        "review (abstract)": "qualitative: adaptability and model compression are listed among hypernetworks' benefits"
    },
    # Quick: fewer epochs, pretraining steps and tasks; every arm and both parts run.
    settings={
        "quick": {
            "epochs": 12,
            "patience": 12,
            "train_tasks": 100,
            "pretrain_steps": 300,
            "task_batch": 25,
            "valid_tasks": 20,
            "test_tasks": 20,
            "shots": 10,
            "adapt_steps": (0, 5, 20),
        },
        "full": {
            "epochs": 300,
            "patience": 30,
            "train_tasks": 1000,
            "pretrain_steps": 10000,
            "task_batch": 25,
            "valid_tasks": 200,
            "test_tasks": 200,
            "shots": 10,
            "adapt_steps": (0, 1, 5, 10, 20, 50),
        },
    },
    seeds={"quick": 1, "full": 3},
    notes=(
        (
            f"Digits: hypernetworks generate a 64-[{REFERENCE_WIDTH}]-10 ReLU MLP; configs (chunk size, chunk "
            "embedding, "
            f"generator hidden): {HYPER_CONFIGS}. Each has a plain MLP matched to its trainable parameters within "
            f"{MATCH_TOLERANCE:.0%} (mlp_matched_<name>); trainable_parameters_mean is the column the verdict reads."
        ),
        (
            f"Sine: MAML's family (A in [0.1, 5], phase in [0, pi], x in [-5, 5]); query MSE on {QUERY_POINTS} "
            "points; Adam "
            f"learning rate from {ADAPT_LRS} for both arms, chosen per step count on validation tasks, measured on "
            "test tasks."
        ),
        "trainable_parameters in part 2 counts what adaptation changes (the embedding vs the whole MLP).",
        (
            "Full budget: 3 seeds x (5 digits fits of up to 300 epochs on 1,078 rows, about 0.06 s an epoch, + 10,000 "
            "pretraining steps at about 6 ms + 14 s of adaptation); about 8 min on one CPU thread if nothing stops "
            "early "
            "(per-arm times measured on a loaded 2-core machine). The scale is the papers' own (digits, MAML's sine "
            "tasks)."
        ),
    ),
)


# ---------------------------------------------------------------- part 1: digits
def digits_split(seed: int) -> tuple[ArrayData, ArrayData, ArrayData]:
    x, y = load_digits(return_X_y=True)
    x_train, x_rest, y_train, y_rest = train_test_split(x, y, test_size=0.4, stratify=y, random_state=seed)
    x_valid, x_test, y_valid, y_test = train_test_split(
        x_rest, y_rest, test_size=0.5, stratify=y_rest, random_state=seed
    )
    scaler = StandardScaler().fit(x_train)

    def data(xs, ys):
        return ArrayData(
            torch.as_tensor(scaler.transform(xs), dtype=torch.float32), torch.as_tensor(ys, dtype=torch.long)
        )

    return data(x_train, y_train), data(x_valid, y_valid), data(x_test, y_test)


def matched_width(parameters: int, in_features: int = 64, classes: int = 10) -> int:
    """The hidden width of a plain ``in-[w]-classes`` MLP whose parameter count ``(in + 1) w + (w + 1) classes``
    is closest to ``parameters``."""
    return max(1, round((parameters - classes) / (in_features + 1 + classes)))


def digits_models() -> dict:
    """Arm name -> builder: the reference MLP, every hypernetwork and its size-matched plain MLP."""
    models = {f"mlp_w{REFERENCE_WIDTH}": lambda: DenseMLP(64, 10, (REFERENCE_WIDTH,), activation="relu")}
    for name, config in HYPER_CONFIGS.items():
        width = matched_width(count_parameters(HyperMLP(64, 10, (REFERENCE_WIDTH,), *config)))
        models[name] = lambda c=config: HyperMLP(64, 10, (REFERENCE_WIDTH,), *c)
        models[f"mlp_matched_{name}"] = lambda w=width: DenseMLP(64, 10, (w,), activation="relu")
    return models


def fit_digits(name: str, build, seed: int, settings: dict) -> dict:
    """One digits arm: validation and test accuracy of the best-validation weights."""
    train, valid, test = digits_split(seed)
    model = build()
    cfg = {
        "epochs": settings["epochs"],
        "patience": settings["patience"],
        "batch_size": 64,
        "lr": 1e-3,
        "lr_decay_factor": 1.0,
        "seed": seed,
        "monitor": "accuracy",
        "progress": False,
        "save_checkpoints": False,
    }
    metrics = Trainer(get_task("classification"), model, cfg).fit(train, valid, test).metrics
    return {
        "part": "digits",
        "model": name,
        "seed": seed,
        "adapt_steps": -1,
        "valid_accuracy": metrics["valid"]["accuracy"],
        "test_accuracy": metrics["test"]["accuracy"],
        "valid_query_mse": float("nan"),
        "query_mse": float("nan"),
        "trainable_parameters": count_parameters(model),
    }


# ---------------------------------------------------------------- part 2: sine-wave adaptation
def _task_points(amplitude, phase, k: int, generator: torch.Generator):
    x = torch.rand(amplitude.shape[0], k, generator=generator) * 10 - 5
    return x[..., None], sine_wave(amplitude, phase, x)[..., None]


def pretrain(settings: dict, seed: int) -> tuple[TaskHyperMLP, DenseMLP]:
    """Train the task hypernetwork and the joint MLP on the same training tasks (fresh points each step)."""
    generator = torch.Generator().manual_seed(seed)
    tasks = sample_sine_tasks(settings["train_tasks"], 1, generator)
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


def adapt(params: list[torch.Tensor], forward, support, query, steps: tuple[int, ...], lr: float) -> dict[int, float]:
    """Adam on ``params`` (per-task tensors: summed per-task losses keep tasks independent); query MSE at each step
    count."""
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


def new_tasks(n: int, settings: dict, generator: torch.Generator):
    """``n`` unseen sine tasks: (support points, query points)."""
    tasks = sample_sine_tasks(n, 1, generator)
    return (
        _task_points(tasks.amplitude, tasks.phase, settings["shots"], generator),
        _task_points(tasks.amplitude, tasks.phase, QUERY_POINTS, generator),
    )


def run_adaptation(seed: int, settings: dict) -> list[dict]:
    """Pretrain both arms, then per step count: the learning rate chosen on validation tasks, MSE on test tasks."""
    hyper, plain = pretrain(settings, seed)
    generator = torch.Generator().manual_seed(10_000 + seed)
    splits = {
        "valid": new_tasks(settings["valid_tasks"], settings, generator),
        "test": new_tasks(settings["test_tasks"], settings, generator),
    }
    steps = settings["adapt_steps"]
    linears = [m for m in plain.mlp if isinstance(m, torch.nn.Linear)]
    mean_embedding = hyper.task_embedding.weight.detach().mean(0)

    def arms(t: int) -> dict:  # model -> (per-task starting parameters, forward, trainable count)
        # The MLP's weights copied per task, so one batched forward fine-tunes every task independently.
        per_task = [w.detach().expand(t, *w.shape) for layer in linears for w in (layer.weight, layer.bias)]
        return {
            "hyper_task_embedding": (
                [mean_embedding.expand(t, -1)],
                lambda p, x: hyper(x, p[0]),
                mean_embedding.numel(),
            ),
            "mlp_finetune": (per_task, lambda p, x: functional_mlp(x, p), count_parameters(plain)),
        }

    errors = {
        split: {
            model: {lr: adapt(start, forward, support, query, steps, lr) for lr in ADAPT_LRS}
            for model, (start, forward, _) in arms(support[0].shape[0]).items()
        }
        for split, (support, query) in splits.items()
    }
    records = []
    for model, (_, _, trainable) in arms(1).items():
        for step in steps:
            lr = min(ADAPT_LRS, key=lambda rate: errors["valid"][model][rate][step])
            records.append(
                {
                    "part": "sine_adaptation",
                    "model": model,
                    "seed": seed,
                    "adapt_steps": step,
                    "valid_accuracy": float("nan"),
                    "test_accuracy": float("nan"),
                    "lr": lr,
                    "valid_query_mse": errors["valid"][model][lr][step],
                    "query_mse": errors["test"][model][lr][step],
                    "trainable_parameters": trainable,
                }
            )
    return records


# ---------------------------------------------------------------- the experiment
def experiment(ctx: ClaimContext) -> Evidence:
    """Every digits arm and the adaptation study, once per seed."""
    models = digits_models()
    ctx.expect(len(ctx.seeds) * (len(models) + 1))
    runs = []
    for seed in ctx.seeds:
        for name, build in models.items():
            row = ctx.arm(
                f"digits/{name}/seed{seed}",
                lambda n=name, b=build, s=seed: fit_digits(n, b, s, ctx.settings),
                seed=seed,
            )
            ctx.log(
                f"digits seed {seed} {name}: valid {row['valid_accuracy']:.4f}, test {row['test_accuracy']:.4f}, "
                f"{row['trainable_parameters']} trainable parameters"
            )
            runs.append(row)
        rows = ctx.arm(f"sine/seed{seed}", lambda s=seed: run_adaptation(s, ctx.settings), seed=seed)
        for row in rows:
            ctx.log(
                f"sine seed {seed} {row['model']} after {row['adapt_steps']} steps: test MSE {row['query_mse']:.3f} "
                f"(lr {row['lr']:g}, chosen on validation tasks)"
            )
        runs += rows
    table = summarize(
        runs,
        ("part", "model", "adapt_steps"),
        ("valid_accuracy", "test_accuracy", "valid_query_mse", "query_mse", "trainable_parameters"),
    )
    return Evidence(table, runs)


# ---------------------------------------------------------------- the verdict
def _compression(table: list[dict]) -> tuple[list[bool], list[str]]:
    """(comparable to the reference, better than the size-matched MLP) for the hypernetwork chosen on validation."""
    digits = {r["model"]: r for r in table if r["part"] == "digits"}
    reference = digits[f"mlp_w{REFERENCE_WIDTH}"]
    limit = COMPRESSION * reference["trainable_parameters_mean"]
    small = [r for name, r in digits.items() if name.startswith("hyper") and r["trainable_parameters_mean"] <= limit]
    if not small:
        return [False, False], [
            (
                f"no hypernetwork has <= {COMPRESSION:.0%} of the reference MLP's "
                f"{reference['trainable_parameters_mean']:.0f} trainable parameters"
            )
        ]
    best = max(small, key=lambda r: r["valid_accuracy_mean"])
    vs_reference = compare(best, reference, "test_accuracy")
    comparable = -vs_reference.margin <= max(TOLERANCE, vs_reference.se)
    findings = [
        (
            f"digits: {best['model']} (chosen on validation, {best['trainable_parameters_mean']:.0f} parameters) test "
            f"accuracy {best['test_accuracy_mean']:.4f} vs reference MLP 64-{REFERENCE_WIDTH}-10 "
            f"({reference['trainable_parameters_mean']:.0f}) {reference['test_accuracy_mean']:.4f}: {vs_reference} "
            f"({'comparable' if comparable else 'not comparable'}, tolerance {TOLERANCE})"
        )
    ]
    matched = digits.get(f"mlp_matched_{best['model']}")
    if matched is None:
        return [comparable, False], findings + ["no size-matched plain MLP in the table"]
    gap = (
        abs(matched["trainable_parameters_mean"] - best["trainable_parameters_mean"])
        / best["trainable_parameters_mean"]
    )
    if gap > MATCH_TOLERANCE:
        return [comparable, False], findings + [
            (
                f"{matched['model']} has {matched['trainable_parameters_mean']:.0f} parameters, {gap:.1%} off the "
                "hypernetwork's "
                f"(more than {MATCH_TOLERANCE:.0%}): no size-matched baseline, so the compression has nothing to beat"
            )
        ]
    vs_matched = compare(best, matched, "test_accuracy")
    findings.append(
        f"vs the size-matched plain MLP ({matched['trainable_parameters_mean']:.0f} parameters, {gap:.1%} off) "
        f"{matched['test_accuracy_mean']:.4f}: {vs_matched} ({'better' if vs_matched.wins else 'not better'} "
        "beyond 1 SE)"
    )
    return [comparable, vs_matched.wins], findings


def _adaptation(table: list[dict]) -> tuple[bool, str]:
    """Fitting only the embedding beats fine-tuning the MLP (lower test-task MSE beyond 1 SE) after the most steps."""
    rows = {(r["model"], r["adapt_steps"]): r for r in table if r["part"] == "sine_adaptation"}
    steps = sorted(s for m, s in rows if m == "hyper_task_embedding" and s > 0 and ("mlp_finetune", s) in rows)
    if not steps:
        return False, "no adaptation rows"
    hyper, mlp = rows[("hyper_task_embedding", steps[-1])], rows[("mlp_finetune", steps[-1])]
    lead = compare(hyper, mlp, "query_mse", higher_is_better=False)
    return lead.wins, (
        f"sine adaptation after {steps[-1]} steps: embedding-only MSE {hyper['query_mse_mean']:.3f} vs MLP "
        f"fine-tune {mlp['query_mse_mean']:.3f}, {lead} ({'lower' if lead.wins else 'not lower'} beyond 1 SE)"
    )


def verdict(table: list[dict]) -> tuple[str, str]:
    """Three checks: the hypernetwork chosen on validation (with at most ``COMPRESSION`` x the reference's
    trainable parameters) is (1) within ``TOLERANCE`` (or 1 SE) of the reference MLP's test accuracy and
    (2) more accurate, beyond 1 SE, than the plain MLP matched to its parameter count within
    ``MATCH_TOLERANCE`` (read from the table's parameter columns); (3) after the most adaptation steps,
    fitting only the task embedding gives a lower test-task MSE than fine-tuning the MLP, beyond 1 SE.
    All -> reproduced; some -> partly; none -> not reproduced."""
    checks, findings = _compression(table)
    adapts, finding = _adaptation(table)
    return outcome(checks + [adapts]), "; ".join(findings + [finding]) + "."
