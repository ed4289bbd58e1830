"""KAN for high-entropy alloys (2024): is a KAN at least as good as an MLP on alloy data?

Paper: "Kolmogorov-Arnold Neural Networks for High-Entropy Alloys Design", 2024 (catalog id
``kan-hea``; arXiv id not recorded). The abstract: "KAN either outperform or match the
performance in terms of accuracy such as F1 score for classification and Mean Square Error (MSE),
and coefficient of determination (R2) for regression of the multilayer perceptron (MLP)". The
paper's own data sets (carbide ceramics, a yield/UTS set, HEA vs non-HEA) are not here; we use
the public MPEA data set (:mod:`mlpzoo.data.mpea`) for the same two kinds of task.

Experiment, two targets on MPEA (composition fractions, processing one-hot, test type one-hot,
test temperature): phase class (BCC / FCC / other, 1,545 rows; macro F1) and yield strength
(1,067 rows; R2 and MSE in MPa^2). Models: B-spline KAN (one hidden layer of ``KAN_HIDDEN``),
an MLP (two SiLU hidden layers, width chosen by :func:`width_for_parameters` to match the KAN's
parameter count) and a scikit-learn RandomForest as a reference. K-fold cross-validation
(StratifiedKFold on the phase, KFold on yield strength, shuffled with seed 0); inside each fold,
inputs (and the yield-strength target) are standardised with the training part's statistics
only, and 15 % of the training part is held out for early stopping of the neural nets (Adam lr
1e-3, batch 64, patience on validation macro F1 / RMSE). Mean and standard deviation over folds.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.metrics import f1_score, mean_squared_error, r2_score
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

from mlpzoo.claims.base import Budget, ClaimResult, now_iso, standard_error_of_difference, summarize
from mlpzoo.data.mpea import load_mpea, read_mpea
from mlpzoo.data.tensors import ArrayData
from mlpzoo.models.kan import build, count_parameters, width_for_parameters
from mlpzoo.tasks import get_task
from mlpzoo.train.trainer import Trainer

PAPER_ID = "kan-hea"
TITLE = "Kolmogorov-Arnold Neural Networks for High-Entropy Alloys Design (2024)"
CLAIM = "A KAN matches or beats an MLP in F1 (phase classification) and in R2 / MSE (yield-strength regression)."
PAPER_NUMBERS = {"paper (own data sets)": "KAN outperforms or matches the MLP in F1, MSE and R2 in all three examples"}
KAN_HIDDEN = 16
MLP_DEPTH = 2
TARGETS = ("phase", "yield_strength")
MODELS = ("kan", "mlp", "random_forest")
SETTINGS = {
    "quick": {"folds": 3, "epochs": 8, "patience": 8, "trees": 50},
    "full": {"folds": 5, "epochs": 300, "patience": 30, "trees": 300},
}
LR, BATCH = 1e-3, 64
METRICS = ("test_macro_f1", "test_r2", "test_mse")


def _standardise(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    mean = train.mean(0)
    std = train.std(0)
    std = np.where(std > 1e-12, std, 1.0)
    return [((a - mean) / std).astype(np.float32) for a in (train, *others)]


def _fit_net(kind: str, target: str, x_tr, y_tr, x_va, y_va, x_te, seed: int, settings: dict, n_out: int):
    """Train a KAN or MLP; returns (test outputs: class probabilities or standardised values, parameters)."""
    d = x_tr.shape[1]
    torch.manual_seed(seed)
    if kind == "kan":
        model = build("bspline", d, n_out, (KAN_HIDDEN,))
    else:
        target_params = count_parameters(build("bspline", d, n_out, (KAN_HIDDEN,)))
        width = width_for_parameters("mlp", d, n_out, MLP_DEPTH, target_params)
        model = build("mlp", d, n_out, (width,) * MLP_DEPTH)
    classify = target == "phase"
    task = get_task("classification" if classify else "regression")
    label = (lambda y: torch.as_tensor(y, dtype=torch.long)) if classify else (lambda y: torch.as_tensor(y, dtype=torch.float32))
    train = ArrayData(torch.as_tensor(x_tr), label(y_tr))
    valid = ArrayData(torch.as_tensor(x_va), label(y_va))
    test = ArrayData(torch.as_tensor(x_te), label(np.zeros(len(x_te))))
    cfg = {"epochs": settings["epochs"], "patience": settings["patience"], "batch_size": BATCH, "lr": LR,
           "lr_decay_factor": 1.0, "min_delta": 0.0, "seed": seed, "monitor": "macro_f1" if classify else "rmse",
           "progress": False, "save_checkpoints": False}
    trainer = Trainer(task, model, cfg)
    trainer.fit(train, valid)
    return trainer.predict(test), count_parameters(model)


def run_fold(target: str, model: str, x: np.ndarray, y: np.ndarray, train_idx, test_idx, fold: int, settings: dict) -> dict:
    classify = target == "phase"
    x_train, y_train, x_test, y_test = x[train_idx], y[train_idx], x[test_idx], y[test_idx]
    record = {"target": target, "model": model, "fold": fold, "seed": 0, "test_macro_f1": math.nan,
              "test_r2": math.nan, "test_mse": math.nan}
    if model == "random_forest":
        forest = (RandomForestClassifier if classify else RandomForestRegressor)(n_estimators=settings["trees"], random_state=fold, n_jobs=1)
        forest.fit(x_train, y_train)
        predicted = forest.predict(x_test)
        record["parameters"] = float(sum(t.tree_.node_count for t in forest.estimators_))  # tree nodes, not weights
    else:
        x_fit, x_es, y_fit, y_es = train_test_split(x_train, y_train, test_size=0.15, random_state=fold,
                                                    stratify=y_train if classify else None)
        x_fit, x_es, x_te = _standardise(x_fit, x_es, x_test)
        if classify:
            probs, params = _fit_net(model, target, x_fit, y_fit, x_es, y_es, x_te, fold, settings, 3)
            predicted = probs.argmax(1)
        else:
            mean, std = float(y_fit.mean()), float(y_fit.std()) or 1.0
            out, params = _fit_net(model, target, x_fit, (y_fit - mean) / std, x_es, (y_es - mean) / std, x_te, fold, settings, 1)
            predicted = out.reshape(-1) * std + mean
        record["parameters"] = float(params)
    if classify:
        record["test_macro_f1"] = float(f1_score(y_test, predicted, average="macro", zero_division=0))
    else:
        record["test_r2"] = float(r2_score(y_test, predicted))
        record["test_mse"] = float(mean_squared_error(y_test, predicted))
    return record


def run(budget: Budget, data_dir=None, runs_dir: Path = Path("runs"), log=print) -> ClaimResult:
    """``runs_dir`` is unused: the fits are throw-away (no checkpoints)."""
    started, clock = now_iso(), time.perf_counter()
    settings = SETTINGS.get(budget.name, SETTINGS["full"])
    frame = read_mpea(data_dir)
    runs = []
    for target in TARGETS:
        table = load_mpea(target, frame=frame)
        x, y = table.x.astype(np.float64), table.y
        splitter = (StratifiedKFold if target == "phase" else KFold)(n_splits=settings["folds"], shuffle=True, random_state=0)
        for fold, (train_idx, test_idx) in enumerate(splitter.split(x, y)):
            for model in MODELS:
                record = run_fold(target, model, x, y, train_idx, test_idx, fold, settings)
                log(f"{target} fold {fold} {model}: F1 {record['test_macro_f1']:.4f} R2 {record['test_r2']:.4f}")
                runs.append(record)
    table = summarize(runs, ("target", "model"), METRICS)
    verdict_, reason = verdict(table)
    notes = [
        f"{settings['folds']}-fold cross-validation (seed 0); n in the table counts folds, and the spread is over folds.",
        "MPEA data, not the paper's: phase = the file's BCC/FCC/other column; yield strength mixes compression and tension "
        "tests at all temperatures (test type and temperature are inputs).",
        f"KAN: B-spline, one hidden layer of {KAN_HIDDEN}; MLP: {MLP_DEPTH} SiLU hidden layers matched to the KAN's "
        "parameter count; random forest 'parameters' counts tree nodes.",
        f"Neural nets: Adam lr {LR}, batch {BATCH}, up to {settings['epochs']} epochs, patience {settings['patience']} "
        "on a 15 % early-stopping split of each training fold.",
    ]
    return ClaimResult(PAPER_ID, TITLE, CLAIM, budget.name, [0], runs, table, verdict_, reason, PAPER_NUMBERS, notes,
                       started, now_iso(), time.perf_counter() - clock)


def verdict(table: list[dict]) -> tuple[str, str]:
    """KAN >= MLP, within one standard error of the difference over folds, in phase macro F1 and in
    yield-strength R2: both -> reproduced, one -> partly, neither -> not reproduced."""
    rows = {(row["target"], row["model"]): row for row in table}
    checks, findings = 0, []
    for target, metric in (("phase", "test_macro_f1"), ("yield_strength", "test_r2")):
        kan, mlp = rows[(target, "kan")], rows[(target, "mlp")]
        se = standard_error_of_difference(kan, mlp, metric)
        ok = kan[f"{metric}_mean"] >= mlp[f"{metric}_mean"] - se
        checks += ok
        forest = rows.get((target, "random_forest"))
        extra = f", forest {forest[f'{metric}_mean']:.4f}" if forest else ""
        findings.append(f"{target} {metric[5:]}: KAN {kan[f'{metric}_mean']:.4f} vs MLP {mlp[f'{metric}_mean']:.4f} "
                        f"(1 SE {se:.4f}; KAN {'>=' if ok else '<'} MLP){extra}")
    outcome = {2: "reproduced", 1: "partly reproduced", 0: "not reproduced"}[checks]
    return outcome, "; ".join(findings) + "."
