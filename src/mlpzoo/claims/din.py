"""DIN (KDD 2018): does target-aware attention over the behaviour history beat sum pooling?

Paper: Zhou et al., "Deep Interest Network for Click-Through Rate Prediction", KDD 2018,
arXiv:1706.06978. On MovieLens the paper reports DIN above the Embedding&MLP base model in
user-weighted AUC (gAUC), and Dice above PReLU.

Experiment: MovieLens-100k impressions ordered by time, history = the user's previous 50 rated
movies (and their genres), label rating >= 4, chronological 70/20/10 split. Models: DIN with
Dice, DIN with PReLU, and the base model (sum pooling, PReLU), all with mini-batch aware
regularisation; test gAUC averaged over seeds, early stopping on validation gAUC. The headline
(attention beats sum pooling) is judged on DIN with PReLU, the base model's own activation, so
the comparison changes one thing and no variant is picked after seeing the test set.
"""

from __future__ import annotations

from mlpzoo.claims.base import ClaimContext, ClaimSpec, Evidence, compare, summarize
from mlpzoo.claims.kits.ctr import Arm, run_arms

VARIANTS = {  # label -> (registered model, arguments)
    "din_dice": ("din", {"activation": "dice"}),
    "din_prelu": ("din", {"activation": "prelu"}),
    "base_sum_pooling": ("din_base", {}),
}
TRAIN = {"batch_size": 1024, "lr": 1e-3, "monitor": "gauc"}
DATASET = "movielens-100k-din"

SPEC = ClaimSpec(
    claim="DIN > Embedding&MLP base model with sum pooling in gAUC; Dice >= PReLU.",
    paper_numbers={
        "MovieLens (paper, MovieLens-20M; Table 5)": "DIN with Dice above DIN with PReLU above the base model in gAUC"
    },
    datasets=(DATASET,),
    first_seed=2021,
    settings={"quick": {"epochs": 1, "patience": 2, "max_train_rows": 20_000}, "full": {"epochs": 100, "patience": 2}},
    notes=("MovieLens-100k, not the paper's MovieLens-20M; history = all previously rated movies; split by time.",),
)


def experiment(ctx: ClaimContext) -> Evidence:
    arms = [Arm(DATASET, label, model, kwargs, TRAIN) for label, (model, kwargs) in VARIANTS.items()]
    runs = run_arms(ctx, arms, ("gauc", "auc"))
    return Evidence(summarize(runs, ("dataset", "model"), ("test_gauc", "test_auc")), runs)


def verdict(table: list[dict]) -> tuple[str, str]:
    """Headline: DIN (PReLU) beats the sum-pooling base beyond one standard error; without it, not
    reproduced. With it: Dice not below PReLU by more than one SE -> reproduced, else partly."""
    rows = {row["model"]: row for row in table}
    dice, prelu, base = rows["din_dice"], rows["din_prelu"], rows["base_sum_pooling"]
    attention = compare(prelu, base, "test_gauc")
    dice_vs_prelu = compare(dice, prelu, "test_gauc")
    reason = (
        f"test gAUC: DIN+Dice {dice['test_gauc_mean']:.4f}, DIN+PReLU {prelu['test_gauc_mean']:.4f}, "
        f"base (sum pooling) {base['test_gauc_mean']:.4f}; attention vs sum pooling {attention} "
        f"({'beyond' if attention.wins else 'not beyond'} 1 SE); Dice vs PReLU {dice_vs_prelu}."
    )
    if not attention.wins:
        return "not reproduced", reason
    return ("partly reproduced" if dice_vs_prelu.loses else "reproduced"), reason
