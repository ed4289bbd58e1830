"""DIN (KDD 2018): does target-aware attention over the behaviour history beat sum pooling?

Paper: Zhou et al., "Deep Interest Network for Click-Through Rate Prediction", KDD 2018,
arXiv:1706.06978. On MovieLens the paper reports DIN above the Embedding&MLP base model in
user-weighted AUC (gAUC), and Dice above PReLU.

Experiment: MovieLens-100k impressions ordered by time, history = the user's previous 50 rated
movies (and their genres), label rating >= 4, chronological 70/20/10 split. Models: DIN with
Dice, DIN with PReLU, and the base model (sum pooling, PReLU), all with mini-batch aware
regularisation; test gAUC averaged over seeds, early stopping on validation gAUC.
"""

from __future__ import annotations

import time
from pathlib import Path

from mlpzoo.claims.base import Budget, ClaimResult, now_iso, standard_error_of_difference, summarize
from mlpzoo.claims.ctr_experiment import Arm, run_arms

PAPER_ID = "din"
TITLE = "Deep Interest Network for Click-Through Rate Prediction (KDD 2018)"
CLAIM = "DIN > Embedding&MLP base model with sum pooling in gAUC; Dice >= PReLU."
PAPER_NUMBERS = {"MovieLens (paper, MovieLens-20M)": "DIN with Dice above DIN with PReLU above the base model in gAUC"}
VARIANTS = {  # label -> (registered model, arguments)
    "din_dice": ("din", {"activation": "dice"}),
    "din_prelu": ("din", {"activation": "prelu"}),
    "base_sum_pooling": ("din_base", {}),
}
TRAIN = {"batch_size": 1024, "lr": 1e-3, "monitor": "gauc"}
DATASET = "movielens-100k-din"


def run(budget: Budget, data_dir=None, runs_dir: Path = Path("runs"), log=print) -> ClaimResult:
    started, clock = now_iso(), time.perf_counter()
    arms = [Arm(DATASET, label, model, kwargs, TRAIN) for label, (model, kwargs) in VARIANTS.items()]
    runs, seeds = run_arms(PAPER_ID, arms, budget, data_dir, runs_dir, ("gauc", "auc"), log)
    table = summarize(runs, ("dataset", "model"), ("test_gauc", "test_auc"))
    verdict_, reason = verdict(table)
    notes = ["MovieLens-100k, not the paper's MovieLens-20M; history = all previously rated movies; split by time."]
    return ClaimResult(PAPER_ID, TITLE, CLAIM, budget.name, seeds, runs, table, verdict_, reason, PAPER_NUMBERS, notes,
                       started, now_iso(), time.perf_counter() - clock)


def verdict(table: list[dict]) -> tuple[str, str]:
    rows = {row["model"]: row for row in table}
    dice, prelu, base = rows["din_dice"], rows["din_prelu"], rows["base_sum_pooling"]
    best_din = max(dice, prelu, key=lambda r: r["test_gauc_mean"])
    attention_wins = best_din["test_gauc_mean"] > base["test_gauc_mean"]
    dice_ok = dice["test_gauc_mean"] >= prelu["test_gauc_mean"] - standard_error_of_difference(dice, prelu, "test_gauc")
    reason = (f"test gAUC: DIN+Dice {dice['test_gauc_mean']:.4f}, DIN+PReLU {prelu['test_gauc_mean']:.4f}, "
              f"base (sum pooling) {base['test_gauc_mean']:.4f}; attention beats sum pooling: {'yes' if attention_wins else 'no'}; "
              f"Dice >= PReLU: {'yes' if dice_ok else 'no'}.")
    if attention_wins and dice_ok and dice["test_gauc_mean"] > base["test_gauc_mean"]:
        return "reproduced", reason
    if attention_wins or dice_ok:
        return "partly reproduced", reason
    return "not reproduced", reason
