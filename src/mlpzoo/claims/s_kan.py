"""S-KAN (2024): does a KAN whose nodes select their basis family beat single-basis KANs and MLPs?

Paper: Yang, Zhang, Luo, Lu & Shen, "Activation Space Selectable Kolmogorov-Arnold Networks",
2024 (the layer docstring cites arXiv:2408.08338). The abstract says S-KAN "outperforms baseline
methods in seven representative function fitting tasks and significantly surpasses MLP methods with
the same level of parameters".

Experiment: the KAN paper's function-fitting suite by the protocol of :mod:`mlpzoo.claims.kits.kan`
(f1, f2, f3, J0(20x), ellipkinc; two hidden layers at ~1,200 trainable parameters; Adam lr 1e-2,
early stopping on validation RMSE; test RMSE over seeds). Five models: MLP (SiLU), B-spline KAN,
RBF KAN (FastKAN), AF-KAN (relu+silu bumps) and S-KAN (B-spline, Chebyshev, RBF and wavelet families
per node). S-KAN trains the mixture, then ``select()`` + ``prune()`` keep each node's heaviest
family, then the pruned net is fine-tuned (pruning drops the other families' share of every node's
output). Every arm gets the same optimisation budget: the rivals train for at most ``epochs``
epochs, S-KAN for at most ``epochs - finetune_epochs`` on the mixture plus ``finetune_epochs`` on
the pruned net, on the same points and batch size (so the same number of steps); the table's
``epoch_budget`` column holds each arm's cap and the verdict refuses a table where they differ.
Row ``s_kan`` is the fine-tuned pruned net (``parameters_pruned`` its count after pruning; the match
is on the count while training, the larger one); row ``s_kan_mixture`` is the same net before
pruning, for reference only.
"""

from __future__ import annotations

from mlpzoo.claims.base import ClaimContext, ClaimSpec, Evidence, compare, summarize
from mlpzoo.claims.kits import kan as suite
from mlpzoo.measure import count_parameters

MODELS = {**suite.MODELS, "s_kan": ("selectable", {})}
RIVALS = ("mlp", "kan_bspline", "kan_rbf", "af_kan")
PARAMETER_SPREAD = 1.25  # the largest trainable count may exceed the smallest by at most this factor

SPEC = ClaimSpec(
    claim=(
        "S-KAN reaches lower error than single-basis KANs and MLPs with the same number of parameters on function "
        "fitting."
    ),
    settings={
        "quick": {**suite.SUITE["quick"], "finetune_epochs": 15},
        "full": {**suite.SUITE["full"], "finetune_epochs": 100},
    },
    notes=(
        (
            f"Matched parameters: {suite.DEPTH} hidden layers per model, width chosen for ~{suite.TARGET_PARAMS} "
            "trainable parameters while training; S-KAN is pruned after training (parameters_pruned)."
        ),
        (
            "Equal optimisation budget: epoch_budget is each arm's epoch cap over the same points and batch size; "
            "S-KAN's covers its mixture training and its fine-tune together (same lr 1e-2). s_kan_mixture is the "
            "unpruned net after the mixture phase (reference only, not in the verdict)."
        ),
        (
            "Calibration (issue 21): no published table row matches this protocol. The KAN paper's Table 2 fits "
            "ellipkinc with LBFGS, grid extension and hand-picked shapes and gives one best RMSE without a spread; "
            "the S-KAN paper's seven tasks are not in its abstract. So no paper number is set beside ours."
        ),
        (
            "Full budget estimate: 5 functions x 5 models x 3 seeds = 75 fits of at most 400 epochs x 8 steps; about "
            "25 min at the caps on one thread (the quick run's 10 fits of 200 steps took 12 s of CPU, ~6 ms a step "
            "with the per-epoch validation, on a loaded machine); early stopping usually ends fits sooner. The S-KAN "
            "paper's own scale (seven tasks, its widths and epochs) is not in its abstract; ours is the KAN paper's "
            "suite."
        ),
    ),
)


def fit_one(function: str, label: str, seed: int, settings: dict) -> dict:
    """One seeded fit of model ``label`` on ``function`` under the shared epoch cap; its run record."""
    kind, kwargs = MODELS[label]
    data = suite.splits(function, settings, seed)
    width, model = suite.matched_model(kind, kwargs, suite.input_dim(function), seed)
    parameters = count_parameters(model)
    budget = settings["epochs"]
    first = budget - settings["finetune_epochs"] if kind == "selectable" else budget
    result = suite.fit(model, data, settings, seed, first)
    record = {
        "function": function,
        "model": label,
        "seed": seed,
        "width": width,
        "parameters": parameters,
        "parameters_pruned": parameters,
        "epoch_budget": budget,
        "epochs": result.epochs_run,
        "test_rmse": result.metrics["test"]["rmse"],
        "test_rmse_before_prune": result.metrics["test"]["rmse"],
    }
    if kind == "selectable":
        chosen = model.select()
        model.prune()
        tuned = suite.fit(model, data, settings, seed, settings["finetune_epochs"])
        record.update(
            parameters_pruned=count_parameters(model),
            test_rmse=tuned.metrics["test"]["rmse"],
            epochs=result.epochs_run + tuned.epochs_run,
            selected={f"layer{i}": names for i, names in enumerate(chosen)},
        )
    return record


def experiment(ctx: ClaimContext) -> Evidence:
    s = ctx.settings
    ctx.expect(len(s["functions"]) * len(MODELS) * len(ctx.seeds))
    runs = []
    for function in s["functions"]:
        for label in MODELS:
            for seed in ctx.seeds:
                record = ctx.arm(
                    f"{function}/{label}/seed{seed}",
                    lambda f=function, m=label, sd=seed: fit_one(f, m, sd, s),
                    seed=seed,
                )
                ctx.log(
                    f"{function} {label} seed {seed}: {record['parameters']} params, test RMSE "
                    f"{record['test_rmse']:.4g}"
                )
                runs.append(record)
                if label == "s_kan":  # the unpruned mixture, for reference (not part of the verdict)
                    runs.append(
                        {
                            **record,
                            "model": "s_kan_mixture",
                            "test_rmse": record["test_rmse_before_prune"],
                            "parameters_pruned": record["parameters"],
                            "epoch_budget": s["epochs"] - s["finetune_epochs"],
                        }
                    )
    table = summarize(runs, ("function", "model"), ("test_rmse",))
    for row in table:
        members = [r for r in runs if r["function"] == row["function"] and r["model"] == row["model"]]
        row["parameters_pruned"] = float(sum(r["parameters_pruned"] for r in members) / len(members))
        row["epoch_budget"] = members[0]["epoch_budget"]
    return Evidence(table, runs)


def verdict(table: list[dict]) -> tuple[str, str]:
    """Per function, S-KAN wins when its mean test RMSE is lower than every rival's (MLP and the
    single-basis KANs) by more than one standard error of the difference, and loses when some rival
    is lower by more than one. Wins on more than half of the functions and no loss: reproduced; a win
    somewhere: partly; none: not reproduced. A table where the arms had different epoch caps or
    parameter counts more than ``PARAMETER_SPREAD`` apart is not a fair comparison: not checkable."""
    functions = sorted({row["function"] for row in table})
    unfair = _unfair(table, functions)
    if unfair:
        return "not checkable here", "unequal arms: " + "; ".join(unfair) + "."
    findings, wins, losses = [], 0, 0
    for name in functions:
        rows = {row["model"]: row for row in table if row["function"] == name}
        skan = rows["s_kan"]
        duels = {m: compare(skan, rows[m], "test_rmse", higher_is_better=False) for m in RIVALS if m in rows}
        best = min(duels, key=lambda m: rows[m]["test_rmse_mean"])
        won = all(d.wins for d in duels.values())
        lost = [m for m, d in duels.items() if d.loses]
        wins += won
        losses += bool(lost)
        status = "wins" if won else f"loses to {', '.join(lost)}" if lost else "ties"
        findings.append(
            f"{name}: S-KAN {skan['test_rmse_mean']:.4g} vs best rival {best} {rows[best]['test_rmse_mean']:.4g}, "
            f"margin {duels[best]} ({status})"
        )
    if wins * 2 > len(functions) and not losses:
        outcome = "reproduced"
    elif wins:
        outcome = "partly reproduced"
    else:
        outcome = "not reproduced"
    return outcome, (
        "test RMSE: "
        + "; ".join(findings)
        + f" (S-KAN below every rival beyond 1 SE on {wins} of {len(functions)} functions, beaten on {losses})."
    )


def _unfair(table: list[dict], functions: list[str]) -> list[str]:
    """Why the arms of a function are not comparable: unequal epoch caps or parameter counts."""
    problems = []
    for name in functions:
        rows = [row for row in table if row["function"] == name and row["model"] in (*RIVALS, "s_kan")]
        budgets = {row["model"]: row.get("epoch_budget") for row in rows}
        if len(set(budgets.values())) > 1:
            problems.append(f"{name} epoch caps {budgets}")
        counts = [row["parameters"] for row in rows if "parameters" in row]
        if counts and max(counts) > PARAMETER_SPREAD * min(counts):
            problems.append(f"{name} parameters {min(counts):.0f}-{max(counts):.0f}")
    return problems
