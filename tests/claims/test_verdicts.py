"""The verdict functions decide from the evidence table alone; check each outcome on hand-made tables."""

import math

import pytest

from mlpzoo.claims import din, finalmlp
from mlpzoo.claims.base import BELOW_PAPER, ClaimResult, calibrate, get_budget, summarize
from mlpzoo.errors import ConfigError


def _ctr_table(aucs_by_dataset, std=float("nan"), n=1):
    return [
        {"dataset": d, "model": m, "n": n, "test_auc_mean": auc, "test_auc_std": std}
        for d, aucs in aucs_by_dataset.items()
        for m, auc in aucs.items()
    ]


ORDERED = {"finalmlp": 0.97, "dualmlp": 0.96, "dcn": 0.95, "deepfm": 0.955, "dnn": 0.94}


def test_finalmlp_reproduced_when_ordering_holds_everywhere():
    verdict, reason = finalmlp.verdict(_ctr_table({"frappe": ORDERED, "ml": ORDERED}))
    assert verdict == "reproduced"
    assert "2 of 2" in reason


def test_finalmlp_partly_when_dualmlp_below_single_stream():
    bad_dual = {**ORDERED, "dualmlp": 0.90}
    assert finalmlp.verdict(_ctr_table({"frappe": bad_dual, "ml": ORDERED}))[0] == "partly reproduced"


def test_finalmlp_not_reproduced_when_a_baseline_wins_everywhere():
    beaten = {**ORDERED, "dnn": 0.99}
    assert finalmlp.verdict(_ctr_table({"frappe": beaten, "ml": beaten}))[0] == "not reproduced"


def test_finalmlp_dualmlp_tie_within_noise_counts_as_holding():
    # DualMLP 0.001 below DeepFM, but the seeds' spread (std 0.01 over 3 seeds) swamps it.
    close = {**ORDERED, "dualmlp": 0.954}
    assert finalmlp.verdict(_ctr_table({"frappe": close}, std=0.01, n=3))[0] == "reproduced"
    assert finalmlp.verdict(_ctr_table({"frappe": close}))[0] == "partly reproduced"


def _din_table(dice, prelu, base):
    return [
        {"dataset": "ml", "model": m, "n": 1, "test_gauc_mean": v, "test_gauc_std": float("nan")}
        for m, v in (("din_dice", dice), ("din_prelu", prelu), ("base_sum_pooling", base))
    ]


@pytest.mark.parametrize(
    "dice, prelu, base, expected",
    [(0.75, 0.74, 0.73, "reproduced"), (0.73, 0.75, 0.72, "partly reproduced"), (0.70, 0.71, 0.72, "not reproduced")],
)
def test_din_verdicts(dice, prelu, base, expected):
    assert din.verdict(_din_table(dice, prelu, base))[0] == expected


def test_summarize_mean_std_and_count():
    runs = [{"dataset": "d", "model": "m", "auc": v} for v in (0.1, 0.2, 0.3)]
    (row,) = summarize(runs, ("dataset", "model"), ("auc",))
    assert row["n"] == 3 and math.isclose(row["auc_mean"], 0.2) and math.isclose(row["auc_std"], 0.1)


def test_budget_and_verdict_validation():
    assert get_budget("full").seeds == 3 and get_budget("quick", seeds=2).seeds == 2
    with pytest.raises(ConfigError, match="unknown budget"):
        get_budget("huge")
    with pytest.raises(ValueError, match="verdict"):
        ClaimResult("x", "t", "c", "quick", [1], [], [], "sort of", "r")


def test_finalmlp_lead_inside_one_se_is_not_reproduced():
    # FinalMLP leads everything by 0.002 but the seeds' spread (std 0.01 over 3 seeds: 1 SE 0.008) swamps it.
    close = {"finalmlp": 0.962, "dualmlp": 0.96, "dcn": 0.95, "deepfm": 0.955, "dnn": 0.94}
    verdict, reason = finalmlp.verdict(_ctr_table({"frappe": close, "ml": close}, std=0.01, n=3))
    assert verdict != "reproduced" and "a tie within 1 SE" in reason
    clear = {**close, "finalmlp": 0.99}
    verdict, reason = finalmlp.verdict(_ctr_table({"frappe": clear, "ml": clear}, std=0.01, n=3))
    assert verdict == "reproduced" and "better beyond 1 SE" in reason
    # A loss beyond one SE is named as one, not as a tie.
    beaten = {**close, "dcn": 0.99}
    verdict, reason = finalmlp.verdict(_ctr_table({"frappe": beaten}, std=0.01, n=3))
    assert verdict == "not reproduced" and "worse beyond 1 SE" in reason and "tie" not in reason


def _calibrated(finalmlp_values, dcn_values, models=ORDERED):
    """A Frappe table whose FinalMLP and DCN runs sit beside FuxiCTR's own numbers (calibration rows)."""
    runs = [
        {"dataset": "frappe", "model": model, "test_auc": value}
        for model, values in (("finalmlp", finalmlp_values), ("dcn", dcn_values))
        for value in values
    ]
    table = _ctr_table({"frappe": models}, std=0.001, n=3)
    return table + calibrate(runs, finalmlp.FUXICTR, ("dataset", "model"), "test_auc", finalmlp.ROLES)


def test_finalmlp_calibration_against_fuxictr():
    reference = finalmlp.FUXICTR[("frappe", "finalmlp")]
    near = [reference.mean - reference.sd / 2] * 3
    dcn = [finalmlp.FUXICTR[("frappe", "dcn")].mean] * 3
    verdict, reason = finalmlp.verdict(_calibrated(near, dcn))
    assert verdict == "reproduced" and "Against FuxiCTR 2.3.10" in reason and "-0.5 sd" in reason
    # Our FinalMLP far below FuxiCTR's on the same split: a failing ordering is our implementation's fault,
    # so the verdict cannot read "not reproduced".
    far = [reference.mean - 5 * reference.sd] * 3
    beaten = {**ORDERED, "dnn": 0.99}
    verdict, reason = finalmlp.verdict(_calibrated(far, dcn, beaten))
    assert verdict == "not checkable here" and BELOW_PAPER in reason
    # A baseline below its reference is reported without changing the verdict.
    low_dcn = [finalmlp.FUXICTR[("frappe", "dcn")].mean - 5 * finalmlp.FUXICTR[("frappe", "dcn")].sd] * 3
    verdict, reason = finalmlp.verdict(_calibrated(near, low_dcn))
    assert verdict == "reproduced" and "baselines below the paper's number" in reason


def _din_spread_table(dice, prelu, base, std):
    return [
        {"dataset": "ml", "model": m, "n": 3, "test_gauc_mean": v, "test_gauc_std": std}
        for m, v in (("din_dice", dice), ("din_prelu", prelu), ("base_sum_pooling", base))
    ]


def test_din_attention_inside_one_se_is_not_reproduced_even_when_dice_ties():
    # The old floor: Dice within 1 SE of PReLU gave "partly" whatever the headline did.
    assert din.verdict(_din_spread_table(0.741, 0.740, 0.738, std=0.01))[0] == "not reproduced"
    assert din.verdict(_din_spread_table(0.780, 0.775, 0.740, std=0.01))[0] == "reproduced"


def test_din_headline_is_not_judged_on_the_better_variant_picked_after_the_test():
    # Only DIN+Dice beats the base; DIN+PReLU (the one-change ablation) does not.
    assert din.verdict(_din_spread_table(0.80, 0.74, 0.74, std=0.01))[0] == "not reproduced"
