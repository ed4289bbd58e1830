"""ATM cash demand with chaos (2020): do delay-embedding and day-of-week features improve every model?

Paper: Vangala & Ravi, "ATM cash demand forecasting in an Indian bank with chaos and deep
learning", 2020 (catalog id ``atm-chaos``; arXiv:2008.10365). The abstract: after
reconstructing the state space (lag from the autocorrelation function, embedding dimension from
Cao's method) and adding the day of the week as seven one-hot features, "we observed
improvements in the forecasting for all models" (ARIMA, RF, SVR, MLP, GMDH, GRNN, LSTM, 1D-CNN),
compared with a t-test. The bank's withdrawals are not public; we use real daily series
(:mod:`mlpzoo.data.series`: daily means of ETT loads and oil temperature) and, in the full
budget, two statsmodels series of other frequencies (their calendar one-hot is the month for
weekly data and nothing for yearly data).

Experiment, per series: targets are split in time, first 70 % train, next 10 % validation (early
stopping of the neural nets), last 20 % test; one-step-ahead forecasts of the test days. Two
feature sets with the same validation and test targets:

- ``plain``: the previous ``PLAIN_WINDOW`` = 7 values (lag 1), nothing else;
- ``chaos``: the delay vector ``(x_{t-(m-1)tau}, ..., x_t)`` with ``tau`` from the ACF of the
  differenced training part (first zero crossing) and ``m`` from Cao's method on the training
  part, plus the calendar one-hot of the target date (:mod:`mlpzoo.methods.chaos`).

Models: MLP (registered ``mlp``), LSTM and 1D-CNN (``lstm_forecaster``, ``cnn1d_forecaster``:
steps = delay values, channels = value + calendar), all fitted with the :class:`Trainer` (Adam,
MSE on standardised values, early stopping on validation RMSE); random forest and RBF SVR
(scikit-learn) on the flat features; ARIMA (statsmodels) with AR lags at the feature set's lags
(``1..7``, or ``1, 1+tau, ..., 1+(m-1)tau``; stationarity not enforced), a constant, the calendar dummies as exogenous
regressors in the chaos variant (one dropped against the constant), fitted on the training part
and applied with fixed parameters for the one-step-ahead forecasts. Series are standardised with
training statistics; errors are in the original units.

Metrics: SMAPE (%, ``mean 2|F-A|/(|A|+|F|)``) and MAE on the test days. Paired tests on the
per-day SMAPE terms of the two feature sets (seed-averaged predictions for the nets): paired
t-test (the paper's) and Wilcoxon signed-rank; consecutive days are autocorrelated, so the
p-values are optimistic.
"""

from __future__ import annotations

import math
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy import stats
from sklearn.ensemble import RandomForestRegressor
from sklearn.svm import SVR

from mlpzoo.claims.base import Budget, ClaimResult, now_iso, summarize
from mlpzoo.data.series import load_series
from mlpzoo.data.tensors import ArrayData
from mlpzoo.methods.chaos import (
    Embedding,
    acf_lag,
    calendar_one_hot,
    cao_embedding,
    embed_series,
)
from mlpzoo.registry import create_model
from mlpzoo.tasks import get_task
from mlpzoo.train.trainer import Trainer

PAPER_ID = "atm-chaos"
TITLE = "ATM cash demand forecasting in an Indian bank with chaos and deep learning (Vangala & Ravi, 2020, arXiv:2008.10365)"
CLAIM = ("Delay-embedding features (ACF lag, Cao embedding dimension) plus day-of-week one-hot improve the "
         "forecasts (SMAPE) of every model: ARIMA, random forest, SVR, MLP, LSTM and 1D-CNN.")
PAPER_NUMBERS = {"paper (bank's daily ATM withdrawals)": "improvement for all models after modelling chaos and adding "
                 "day of week; RF best SMAPE, LSTM and 1D-CNN similar to RF by t-test"}
PLAIN_WINDOW = 7
SPLIT = (0.7, 0.1)  # train, validation; the rest is test
ALPHA = 0.05
NETS = ("mlp", "lstm", "cnn1d")
SETTINGS = {
    "quick": {"series": ("etth1_ot_daily", "etth2_ot_daily", "etth1_hufl_daily"),
              "models": ("mlp", "lstm", "random_forest", "svr", "arima"), "epochs": 25, "patience": 5, "trees": 50},
    "full": {"series": ("etth1_ot_daily", "etth2_ot_daily", "etth1_hufl_daily", "etth2_hufl_daily", "co2_weekly",
                        "sunspots_yearly"),
             "models": ("mlp", "lstm", "cnn1d", "random_forest", "svr", "arima"), "epochs": 300, "patience": 20,
             "trees": 300},
}
LR, BATCH, HIDDEN = 1e-3, 32, 32


def smape_terms(actual: np.ndarray, forecast: np.ndarray) -> np.ndarray:
    """Per-point symmetric absolute percentage errors (%); 0 where both values are 0."""
    denominator = np.abs(actual) + np.abs(forecast)
    safe = np.where(denominator > 0, denominator, 1.0)
    return np.where(denominator > 0, 200.0 * np.abs(forecast - actual) / safe, 0.0)


def split_points(n: int) -> tuple[int, int]:
    """Series positions where validation and test targets begin."""
    return int(n * SPLIT[0]), int(n * (SPLIT[0] + SPLIT[1]))


def feature_sets(series: pd.Series, train_end: int) -> dict[str, tuple[Embedding, list[int], dict]]:
    """``plain`` and ``chaos`` embeddings with their AR lags (relative to the target) and settings."""
    train = series.to_numpy()[:train_end]
    lag = acf_lag(train, criterion="first_zero", difference=True)
    cao = cao_embedding(train, lag)
    return {
        "plain": (embed_series(series, PLAIN_WINDOW, 1, calendar=False), list(range(1, PLAIN_WINDOW + 1)),
                  {"lag": 1, "dim": PLAIN_WINDOW}),
        "chaos": (embed_series(series, cao.dimension, lag, calendar=True),
                  [1 + j * lag for j in range(cao.dimension)],
                  {"lag": lag, "dim": cao.dimension, "cao_saturated": cao.saturated, "cao_stochastic": cao.stochastic}),
    }


def _fit_net(kind: str, emb: Embedding, parts: dict, settings: dict, seed: int) -> np.ndarray:
    """Standardised test predictions of one neural net."""
    flat = kind == "mlp"
    x = emb.flat() if flat else emb.steps()
    data = {name: ArrayData(torch.as_tensor(x[idx], dtype=torch.float32), torch.as_tensor(emb.target[idx], dtype=torch.float32))
            for name, idx in parts.items()}
    torch.manual_seed(seed)
    if kind == "mlp":
        model = create_model("mlp", in_features=x.shape[1], out_features=1, hidden=(HIDDEN, HIDDEN))
    elif kind == "lstm":
        model = create_model("lstm_forecaster", in_channels=x.shape[2], hidden=HIDDEN)
    else:
        model = create_model("cnn1d_forecaster", in_channels=x.shape[2], steps=x.shape[1], channels=HIDDEN, dense=HIDDEN)
    config = {"epochs": settings["epochs"], "patience": settings["patience"], "batch_size": BATCH, "lr": LR,
              "lr_decay_factor": 1.0, "min_delta": 0.0, "seed": seed, "monitor": "rmse", "progress": False,
              "save_checkpoints": False}
    trainer = Trainer(get_task("regression"), model, config)
    trainer.fit(data["train"], data["valid"])
    return np.asarray(trainer.predict(data["test"]), dtype=np.float64).reshape(-1)


def _fit_arima(values: np.ndarray, calendar: np.ndarray, ar_lags: list[int], starts: tuple[int, int]) -> np.ndarray:
    """One-step-ahead ARIMA forecasts of the test positions (standardised units); ``calendar``
    ``(n, k)`` one-hot of every position (``k = 0``: no exogenous regressors)."""
    from statsmodels.tsa.arima.model import ARIMA

    valid_start, test_start = starts
    exog = calendar[:, 1:] if calendar.shape[1] else None  # one category dropped against the constant
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter of the MLE fit
        # Not forced stationary: trending levels (CO2) put AR roots near 1, where the stationary
        # initialisation fails; the diffuse one does not.
        model = ARIMA(values[:valid_start], exog=None if exog is None else exog[:valid_start], order=(ar_lags, 0, 0),
                      trend="c", enforce_stationarity=False)
        applied = model.fit().apply(values, exog=exog)
        return np.asarray(applied.predict(start=test_start, end=len(values) - 1))


def run_series(name: str, settings: dict, seeds: list[int], data_dir, log) -> tuple[list[dict], list[dict]]:
    """Runs (one per model, feature set and seed) and the paired tests of one series."""
    series = load_series(name, data_dir, fill="interpolate")
    raw = series.to_numpy()
    valid_start, test_start = split_points(len(raw))
    mean, std = raw[:valid_start].mean(), raw[:valid_start].std()
    scaled = pd.Series((raw - mean) / std, index=series.index, name=name)
    sets = feature_sets(scaled, valid_start)
    actual = raw[test_start:]
    errors: dict[tuple[str, str], np.ndarray] = {}
    runs = []
    for features, (emb, ar_lags, info) in sets.items():
        parts = {"train": np.flatnonzero(emb.position < valid_start),
                 "valid": np.flatnonzero((emb.position >= valid_start) & (emb.position < test_start)),
                 "test": np.flatnonzero(emb.position >= test_start)}
        if not np.array_equal(emb.position[parts["test"]], np.arange(test_start, len(raw))):
            raise AssertionError("feature sets must forecast the same test days")
        for model in settings["models"]:
            predictions = []
            for seed in (seeds if model in NETS or model == "random_forest" else seeds[:1]):
                if model in NETS:
                    pred = _fit_net(model, emb, parts, settings, seed)
                elif model == "random_forest":
                    forest = RandomForestRegressor(n_estimators=settings["trees"], random_state=seed, n_jobs=1)
                    pred = forest.fit(emb.flat()[parts["train"]], emb.target[parts["train"]]).predict(emb.flat()[parts["test"]])
                elif model == "svr":
                    pred = SVR(kernel="rbf", C=1.0, epsilon=0.1).fit(emb.flat()[parts["train"]], emb.target[parts["train"]]).predict(
                        emb.flat()[parts["test"]])
                else:
                    calendar = calendar_one_hot(series.index) if features == "chaos" else np.zeros((len(raw), 0))
                    pred = _fit_arima(scaled.to_numpy(), calendar, ar_lags, (valid_start, test_start))
                forecast = pred * std + mean
                terms = smape_terms(actual, forecast)
                runs.append({"series": name, "model": model, "features": features, "seed": seed,
                             "smape": float(terms.mean()), "mae": float(np.abs(forecast - actual).mean()),
                             "lag": info["lag"], "dim": info["dim"], "train_samples": len(parts["train"])})
                predictions.append(forecast)
            errors[(model, features)] = smape_terms(actual, np.mean(predictions, axis=0))
            log(f"{name} {model} {features} (lag {info['lag']}, dim {info['dim']}): SMAPE {errors[(model, features)].mean():.3f}")
    tests = []
    for model in settings["models"]:
        chaos, plain = errors[(model, "chaos")], errors[(model, "plain")]
        differ = not np.allclose(chaos, plain)
        tests.append({"series": name, "model": model, "smape_change": float(np.mean(chaos - plain)),
                      "p_ttest": float(stats.ttest_rel(chaos, plain).pvalue) if differ else 1.0,
                      "p_wilcoxon": float(stats.wilcoxon(chaos, plain).pvalue) if differ else 1.0})
    return runs, tests


def run(budget: Budget, data_dir=None, runs_dir: Path = Path("runs"), log=print) -> ClaimResult:
    """``runs_dir`` is unused: the fits are throw-away (no checkpoints)."""
    started, clock = now_iso(), time.perf_counter()
    settings = SETTINGS.get(budget.name, SETTINGS["full"])
    seeds = list(range(budget.seeds))
    runs, tests = [], []
    for name in settings["series"]:
        series_runs, series_tests = run_series(name, settings, seeds, data_dir, log)
        runs += series_runs
        tests += series_tests
    table = summarize(runs, ("series", "model", "features"), ("smape", "mae"))
    by_key = {(t["series"], t["model"]): t for t in tests}
    for row in table:
        first = next(r for r in runs if (r["series"], r["model"], r["features"]) == (row["series"], row["model"], row["features"]))
        row["lag"], row["dim"] = first["lag"], first["dim"]
        test = by_key[(row["series"], row["model"])]
        chaos_row = row["features"] == "chaos"
        row["smape_change"] = test["smape_change"] if chaos_row else math.nan
        row["p_ttest"] = test["p_ttest"] if chaos_row else math.nan
        row["p_wilcoxon"] = test["p_wilcoxon"] if chaos_row else math.nan
    verdict_, reason = verdict(table)
    notes = [
        ("Not the paper's data: the bank's ATM withdrawals are not public; daily means of ETT (hourly transformer "
        "loads and oil temperature, 2016-2018) stand in as real daily series with a weekly rhythm."),
        (f"Split in time: {SPLIT[0]:.0%} train, {SPLIT[1]:.0%} validation, rest test; one-step-ahead forecasts; lag and "
        "embedding dimension estimated on the training part only."),
        f"plain = the last {PLAIN_WINDOW} values; chaos = delay embedding (lag, dim in the table) + calendar one-hot.",
        (f"Neural nets: Adam lr {LR}, batch {BATCH}, width {HIDDEN}, up to {settings['epochs']} epochs, patience "
        f"{settings['patience']}; random forest {settings['trees']} trees; SVR RBF C=1, epsilon=0.1 on standardised data; "
        "SVR and ARIMA are deterministic (one run)."),
        ("smape_change, p-values: mean change (chaos - plain), paired t-test and Wilcoxon on the per-day SMAPE terms "
        "of the seed-averaged forecasts (chaos rows); consecutive days are "
        "autocorrelated, so they are optimistic. GMDH and GRNN of the paper are not implemented."),
    ]
    return ClaimResult(PAPER_ID, TITLE, CLAIM, budget.name, seeds, runs, table, verdict_, reason, PAPER_NUMBERS, notes,
                       started, now_iso(), time.perf_counter() - clock)


def verdict(table: list[dict]) -> tuple[str, str]:
    """A model improves when, on a majority of series, the chaos features lower its SMAPE with a paired
    t-test p < ALPHA, and on no series raise it significantly. The direction is the mean paired
    change ``smape_change`` (chaos - plain) of the terms the test compares. Every model ->
    reproduced; some -> partly; none -> not reproduced."""
    rows = {(r["series"], r["model"], r["features"]): r for r in table}
    models = list(dict.fromkeys(r["model"] for r in table))
    series = list(dict.fromkeys(r["series"] for r in table))
    improved_models, findings = [], []
    for model in models:
        better = worse = 0
        for name in series:
            chaos = rows[(name, model, "chaos")]
            significant = chaos["p_ttest"] < ALPHA
            better += significant and chaos["smape_change"] < 0
            worse += significant and chaos["smape_change"] > 0
        improves = better > len(series) / 2 and worse == 0
        improved_models += [model] if improves else []
        findings.append(f"{model} better on {better}, worse on {worse} of {len(series)}")
    outcome = ("reproduced" if len(improved_models) == len(models)
               else "not reproduced" if not improved_models else "partly reproduced")
    return outcome, (f"chaos features improve {len(improved_models)} of {len(models)} models "
                     f"(significant SMAPE change at p < {ALPHA}, paired t-test): " + "; ".join(findings) + ".")
