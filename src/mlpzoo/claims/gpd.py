"""GPD (2024): are zero-shot diffusion forecasts competitive with models trained on the target?

Paper: Yang et al., "Generative Pre-Trained Diffusion Paradigm for Zero-Shot Time Series
Forecasting", 2024 (arXiv:2406.02212). The abstract: an unconditional "straightforward MLP
diffusion network", prompted with the history, "achieves comprehensive performance and
generalization comparable to current SOTA LLM-based and deep model paradigms".

Experiment (the zero-shot transfer pair of the ETT benchmark): pretrain :class:`GPDForecaster`
on every channel of the ETTh1 training split (12 months) and forecast the ETTh2 test split
(the last 4 of the 20 months) without seeing any ETTh2 value, and the reverse. History 96
hours, horizons 24, 48 and 96 (quick: 24 only). Each target is standardised with its own
training-split statistics (the Informer convention, so MSE/MAE are on the usual standardised
scale); all channels are forecast independently and the metrics average over channels and
windows. Test windows start every ``test_stride`` hours (a stride coprime with 24, so every
hour of the day is a start), the same windows for every model.

Baselines, trained on the target's training split (validation split for early stopping):

- seasonal naive: the last 24 hours repeated (no training);
- linear: a DLinear-style linear map from history to horizon, shared across channels, fitted by
  least squares (ridge, alpha 1e-3 per row). DLinear's trend/seasonal split is a
  reparametrisation of one linear map, so least squares reaches the optimum its SGD approaches;
- MLP: two hidden layers of 512 (ReLU) on the mean-centred history, trained with the Trainer.

For reference (full budget, outside the verdict) the same GPD is also pretrained on the target's
own training split (``gpd_in_domain``), which separates the quality of diffusion forecasting
from the cost of the zero-shot transfer.

Verdict, fixed before running: GPD is *competitive* in a (direction, horizon) setting unless its
mean test MSE exceeds ``1 + MARGIN`` (10 %) times the better trained baseline's (linear or MLP)
by more than one standard error of the difference over seeds (none with one seed). All settings
competitive -> reproduced; at least half -> partly reproduced; fewer -> not reproduced. GPD must
also beat the seasonal-naive forecast beyond one standard error wherever it counts as competitive:
being within 10 % of a trained model is no achievement where copying yesterday does as well.

A forecaster that fails in distribution is undertrained (or broken), not beaten by transfer: where the
in-domain GPD (pretrained on the target itself) does not beat seasonal naive beyond one SE, the
setting cannot judge zero-shot transfer and is left out of the count; with none left the verdict is
"not checkable here". (This rule was added after the first full run, whose in-domain GPD scored an
MSE of 2.06-2.59 against seasonal naive's 0.27-0.52 in every setting. The cause was a denoiser of
width 128 over a 192-step window, which cannot predict noise in 64 of the window's directions; the
full budget's width is now 192 and :class:`~mlpzoo.layers.denoise.ResidualMLPDenoiser` refuses a
width below its data's. The re-run at width 192 still failed in distribution at H=96 (in-domain MSE
1.65 against naive's 0.52): the noise-predicting denoiser's unconditional draws had 5x the data's
spread. The denoiser now predicts v, whose draws match the data's spread; see
:mod:`mlpzoo.methods.gpd`.)
"""

from __future__ import annotations

from functools import partial

import numpy as np
import torch
from sklearn.linear_model import Ridge
from torch import nn

from mlpzoo.claims.base import ClaimContext, ClaimSpec, Evidence, compare, summarize
from mlpzoo.data.ett import ett_splits, load_ett, make_windows
from mlpzoo.data.tensors import ArrayData
from mlpzoo.layers.mlp import MLP
from mlpzoo.methods.gpd import GPDForecaster
from mlpzoo.tasks import get_task
from mlpzoo.train.trainer import Trainer

DIRECTIONS = (("ETTh1", "ETTh2"), ("ETTh2", "ETTh1"))
MODELS = ("gpd_zero_shot", "seasonal_naive", "linear", "mlp")
IN_DOMAIN = "gpd_in_domain"  # GPD pretrained on the target's own training split (for reference)
TRAINED = ("linear", "mlp")
MARGIN = 0.10
HISTORY, SEASON = 96, 24
METRICS = ("test_mse", "test_mae")

SPEC = ClaimSpec(
    claim="Zero-shot forecasts of an MLP diffusion model pretrained on other series are competitive with models "
    "trained on the target.",
    paper_numbers={
        "paper (abstract)": "zero-shot GPD comparable to SOTA LLM-based and deep models on mainstream "
        "benchmarks; no per-setting number is quoted here"
    },
    datasets=("ett",),
    seeds={"quick": 1, "full": 3},
    # Quick: one horizon, short pretraining, few test windows; every model including the in-domain reference.
    settings={
        "quick": {
            "horizons": (24,),
            "window": 120,
            "hidden": 128,
            "blocks": 3,
            "diffusion_steps": 50,
            "clip_x0": 6.0,
            "train_steps": 200,
            "batch": 128,
            "lr": 2e-3,
            "samples": 4,
            "test_stride": 97,
            "mlp_epochs": 2,
            "mlp_batches": 60,
            "in_domain": True,
        },
        "full": {
            "horizons": (24, 48, 96),
            "window": 192,
            "hidden": 192,  # at least the window: a narrower denoiser cannot predict noise in every direction
            "blocks": 3,
            "diffusion_steps": 200,
            "clip_x0": 6.0,
            "train_steps": 6000,
            "batch": 256,
            "lr": 1e-3,
            "samples": 8,
            "test_stride": 29,
            "mlp_epochs": 30,
            "mlp_batches": None,
            "in_domain": True,
        },
    },
    notes=(
        (
            "Zero-shot means no target value is used for fitting; the target's training-split mean and deviation set "
            "the standardised scale on which every model is scored (the usual ETT convention)."
        ),
        (
            f"Competitive = GPD mean MSE <= {1 + MARGIN:.2f} x the better trained baseline (linear, MLP) plus one "
            "standard error of the difference over seeds, and below the seasonal-naive MSE beyond one standard error."
        ),
        (
            f"{IN_DOMAIN} (not part of the verdict): the same GPD pretrained on the target's training split, to "
            "separate "
            "the diffusion forecaster's quality from the cost of zero-shot transfer."
        ),
        (
            "The paper's own benchmark table (its LLM-based and deep baselines) is not reproduced; the baselines "
            "here are "
            "a least-squares linear map and an MLP trained on the target."
        ),
        (
            "Full budget on the 2-core machine (one thread): 12 pretrainings (3 seeds x 2 directions x zero-shot and "
            "in-domain) of 6,000 steps, 12 x 3 horizons of forecasts (200 denoiser calls on ~5,600 rows), 18 MLP "
            "baselines of at most 30 epochs. At width 128 it took 1,720 s on a loaded machine; width 192 (the "
            "narrowest that covers the 192-step window) costs about 1.6x per step: an interrupted width-192 run did 7 "
            "of its 18 arms in 24 min, so expect about 60 min on a loaded machine. Reduced from width 256, 8,000 "
            "steps and a test window every 13 hours (about 2 h)."
        ),
        (
            "The paper pretrains on a large multi-domain corpus; here pretraining is one ETT series' training split, a "
            "much smaller source, so the zero-shot transfer is harder than in the paper."
        ),
    ),
)


class _CentredMLP(nn.Module):
    """MLP forecaster on the history minus its mean (added back to the output), as NLinear centres."""

    def __init__(self, history: int, horizon: int, hidden: int = 512):
        super().__init__()
        self.mlp = MLP(history, (hidden, hidden), horizon)

    def forward(self, batch) -> torch.Tensor:
        x = batch["x"]
        level = x.mean(1, keepdim=True)
        return self.mlp(x - level) + level


def _univariate(x: np.ndarray) -> np.ndarray:
    """(N, L, C) windows -> (N * C, L) rows, channel-major within each window."""
    return np.ascontiguousarray(x.transpose(0, 2, 1).reshape(-1, x.shape[1]))


def _fit_mlp(train, valid, horizon: int, seed: int, settings: dict) -> _CentredMLP:
    torch.manual_seed(seed)
    model = _CentredMLP(HISTORY, horizon)
    data = [ArrayData(torch.from_numpy(_univariate(x)), torch.from_numpy(_univariate(y))) for x, y in (train, valid)]
    cfg = {
        "epochs": settings["mlp_epochs"],
        "patience": 3,
        "batch_size": 256,
        "lr": 1e-3,
        "lr_decay_factor": 1.0,
        "seed": seed,
        "monitor": "mse",
        "progress": False,
        "save_checkpoints": False,
        "max_batches_per_epoch": settings["mlp_batches"],
    }
    Trainer(get_task("regression"), model, cfg).fit(*data)
    return model.eval()


def _metrics(forecast: np.ndarray, target: np.ndarray) -> dict[str, float]:
    return {"test_mse": float(np.mean((forecast - target) ** 2)), "test_mae": float(np.mean(np.abs(forecast - target)))}


def _records(direction: str, horizon: int, seed: int, forecasts: dict, y_test: np.ndarray) -> list[dict]:
    return [
        {
            "direction": direction,
            "horizon": horizon,
            "model": model,
            "seed": seed,
            "windows": len(y_test),
            **_metrics(forecast, y_test),
        }
        for model, forecast in forecasts.items()
    ]


def baselines(source: str, target: str, splits: dict, seed: int, settings: dict) -> list[dict]:
    """Seasonal naive, the least-squares linear map and the MLP on the target, every horizon."""
    train, valid, test, _ = splits[target]
    records = []
    for horizon in settings["horizons"]:
        x_test, y_test = make_windows(test, HISTORY, horizon, settings["test_stride"])
        n, c = x_test.shape[0], x_test.shape[2]
        forecasts = {"seasonal_naive": np.tile(x_test[:, -SEASON:], (1, -(-horizon // SEASON), 1))[:, :horizon]}
        x_train, y_train = make_windows(train, HISTORY, horizon)
        rows_train = _univariate(x_train)
        linear = Ridge(alpha=1e-3 * len(rows_train)).fit(rows_train, _univariate(y_train))
        forecasts["linear"] = linear.predict(_univariate(x_test)).reshape(n, c, horizon).transpose(0, 2, 1)
        mlp = _fit_mlp((x_train, y_train), make_windows(valid, HISTORY, horizon), horizon, seed, settings)
        with torch.no_grad():
            out = mlp({"x": torch.from_numpy(_univariate(x_test))}).numpy()
        forecasts["mlp"] = out.reshape(n, c, horizon).transpose(0, 2, 1)
        records += _records(f"{source}->{target}", horizon, seed, forecasts, y_test)
    return records


def gpd_forecasts(name: str, source: str, target: str, splits: dict, seed: int, settings: dict) -> list[dict]:
    """Pretrain GPD on ``source`` (zero-shot) or on ``target`` (in-domain) and forecast the target's test split."""
    gpd = GPDForecaster(
        settings["window"],
        pretrain_horizon=settings["window"] - HISTORY,
        hidden_dim=settings["hidden"],
        n_blocks=settings["blocks"],
        diffusion_steps=settings["diffusion_steps"],
        clip_x0=settings["clip_x0"],
    )
    # Pretraining windows are centred on their first HISTORY hours, as forecasts centre on the history.
    gpd.fit(
        splits[source if name == "gpd_zero_shot" else target][0],
        steps=settings["train_steps"],
        batch_size=settings["batch"],
        lr=settings["lr"],
        seed=seed,
    )
    records = []
    for horizon in settings["horizons"]:
        x_test, y_test = make_windows(splits[target][2], HISTORY, horizon, settings["test_stride"])
        forecast = gpd.forecast(x_test, horizon, n_samples=settings["samples"], seed=seed)
        records += _records(f"{source}->{target}", horizon, seed, {name: forecast}, y_test)
    return records


def experiment(ctx: ClaimContext) -> Evidence:
    s = ctx.settings
    # Validation and test segments start HISTORY hours early so their first target hour has a history.
    splits = {name: ett_splits(load_ett(name, ctx.data_dir), history=HISTORY) for name in ("ETTh1", "ETTh2")}
    gpds = ("gpd_zero_shot", IN_DOMAIN) if s["in_domain"] else ("gpd_zero_shot",)
    ctx.expect(len(ctx.seeds) * len(DIRECTIONS) * (1 + len(gpds)))
    runs = []
    for seed in ctx.seeds:
        for source, target in DIRECTIONS:
            units = {name: partial(gpd_forecasts, name, source, target, splits, seed, s) for name in gpds}
            units["baselines"] = partial(baselines, source, target, splits, seed, s)
            for unit, fn in units.items():
                for record in ctx.arm(f"{source}->{target}/{unit}/seed{seed}", fn, seed=seed):
                    ctx.log(
                        f"seed {seed} {record['direction']} H={record['horizon']} {record['model']}: "
                        f"MSE {record['test_mse']:.4f} MAE {record['test_mae']:.4f}"
                    )
                    runs.append(record)
    table = summarize(runs, ("direction", "horizon", "model"), METRICS)
    for row in table:
        row["margin"] = MARGIN
    notes = [
        (
            f"GPD: residual-MLP DDPM (v prediction) over windows of {s['window']} hours ({s['blocks']} blocks of width "
            f"{s['hidden']}, "
            f"{s['diffusion_steps']} linear-schedule steps, x_0 estimate clipped to +-{s['clip_x0']}), pretrained "
            f"{s['train_steps']} AdamW steps on the source's training split, all 7 channels as univariate windows; "
            f"forecast = mean of {s['samples']} RePaint draws with the 96-hour history imposed, each window centred "
            "on its history mean."
        ),
        (
            f"Test windows start every {s['test_stride']} hours over the 4-month test split (history taken from the "
            "hours before it); n in the table counts seeds."
        ),
    ]
    return Evidence(table, runs, notes)


def _row(rows: dict, direction: str, horizon: int, model: str) -> dict:
    return rows[(direction, horizon, model)]


def _scaled(row: dict, factor: float) -> dict:
    """``row`` with its MSE mean and spread multiplied by ``factor`` (the competitive bound)."""
    return {**row, "test_mse_mean": factor * row["test_mse_mean"], "test_mse_std": factor * row["test_mse_std"]}


def verdict(table: list[dict]) -> tuple[str, str]:
    """Per (direction, horizon): GPD is competitive when its MSE does not exceed ``1 + margin`` times the
    better trained baseline's beyond one standard error, and it beats seasonal naive beyond one SE.
    All settings -> reproduced; at least half -> partly; fewer -> not reproduced. A setting whose in-domain
    GPD (when the table has it) does not beat seasonal naive beyond one SE is left out: the forecaster fails
    in distribution, so transfer cannot be judged (none left -> not checkable here)."""
    rows = {(r["direction"], r["horizon"], r["model"]): r for r in table}
    settings = sorted({(r["direction"], r["horizon"]) for r in table})
    competitive, findings, failing = 0, [], []
    for direction, horizon in settings:
        row = partial(_row, rows, direction, horizon)
        reference = rows.get((direction, horizon, IN_DOMAIN))
        naive = row("seasonal_naive")
        if reference is not None and not compare(reference, naive, "test_mse", higher_is_better=False).wins:
            failing.append(
                f"{direction} H={horizon} (in-domain GPD {reference['test_mse_mean']:.4f} vs seasonal naive "
                f"{naive['test_mse_mean']:.4f})"
            )
            continue
        gpd = row("gpd_zero_shot")
        best = min((row(m) for m in TRAINED), key=lambda r: r["test_mse_mean"])
        bound = compare(gpd, _scaled(best, 1 + gpd["margin"]), "test_mse", higher_is_better=False)
        over_naive = compare(gpd, naive, "test_mse", higher_is_better=False)
        ok = not bound.loses and over_naive.wins
        competitive += ok
        findings.append(
            f"{direction} H={horizon}: GPD {gpd['test_mse_mean']:.4f} vs {best['model']} "
            f"{best['test_mse_mean']:.4f} ({gpd['test_mse_mean'] / best['test_mse_mean'] - 1:+.0%}; vs "
            f"{1 + gpd['margin']:.2f}x {bound}), seasonal naive {row('seasonal_naive')['test_mse_mean']:.4f} "
            f"({'beaten' if over_naive.wins else 'not beaten'} beyond 1 SE)"
            + (f", in-domain GPD {reference['test_mse_mean']:.4f}" if reference else "")
            + f" -> {'competitive' if ok else 'not competitive'}"
        )
    failed = (
        "GPD fails in distribution, so zero-shot transfer cannot be judged there (undertrained or broken at this "
        "budget): " + ", ".join(failing) + "."
    )
    if not findings:
        return "not checkable here", failed
    share = competitive / len(findings)
    verdict_ = "reproduced" if share == 1 else "partly reproduced" if share >= 0.5 else "not reproduced"
    reason = f"GPD competitive in {competitive} of {len(findings)} settings: " + "; ".join(findings) + "."
    return verdict_, reason + (f" Left out: {failed}" if failing else "")
