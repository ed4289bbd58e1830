"""The calibration rows of claims/base.py: the gap in paper sds, and verdicts that never blame the paper
for an implementation that falls short on matching data."""

import math
from types import SimpleNamespace

import pytest

from mlpzoo.claims import ff_g2m
from mlpzoo.claims.base import (
    BELOW_PAPER,
    PaperNumber,
    below_paper,
    calibrate,
    calibrated_verdict,
    calibration_row,
    split_calibration,
)

PAPER = PaperNumber(80.0, 2.0, "Table 1")


def test_row_holds_both_numbers_and_the_gap_in_paper_sds():
    row = calibration_row(PAPER, [76.0, 77.0, 78.0], dataset="cora", model="glnn")
    assert row["kind"] == "calibration" and row["role"] == "method" and row["n"] == 3
    assert row["ours_mean"] == pytest.approx(77.0) and row["ours_sd"] == pytest.approx(1.0)
    assert row["gap_sd"] == pytest.approx(-1.5) and row["paper_table"] == "Table 1"
    assert math.isnan(calibration_row(PAPER, [80.0])["ours_sd"])
    with pytest.raises(ValueError, match="sd"):
        PaperNumber(80.0, 0.0, "Table 1")


def test_calibrate_groups_runs_and_skips_what_the_paper_lacks():
    values = (("glnn", 79.0), ("glnn", 81.0), ("mlp", 60.0), ("x", 1))
    runs = [{"dataset": "cora", "model": m, "acc": v} for m, v in values]
    papers = {("cora", "glnn"): PAPER, ("cora", "mlp"): PaperNumber(59.0, 1.0, "T1")}
    rows = calibrate(runs, papers, ("dataset", "model"), "acc", {"mlp": "baseline"})
    assert [(r["model"], r["role"], r["n"]) for r in rows] == [("glnn", "method", 2), ("mlp", "baseline", 1)]
    evidence, calibration = split_calibration([{"model": "a"}] + rows)
    assert evidence == [{"model": "a"}] and calibration == rows


def test_method_far_below_the_paper_is_not_a_refutation():
    low = [calibration_row(PAPER, [74.0, 75.0], dataset="cora", model="glnn")]  # gap -2.75 sd
    assert below_paper(low)
    verdict, reason = calibrated_verdict("not reproduced", "FF-G2M below GLNN.", low)
    assert verdict == "not checkable here" and reason.startswith(BELOW_PAPER) and "cora/glnn" in reason
    # Other verdicts keep their word but say so.
    verdict, reason = calibrated_verdict("partly reproduced", "r", low)
    assert verdict == "partly reproduced" and reason.startswith(BELOW_PAPER)


def test_within_the_papers_spread_leaves_the_verdict_alone():
    near = [calibration_row(PAPER, [77.0, 77.5], dataset="cora", model="glnn")]  # gap -1.4 sd
    assert calibrated_verdict("not reproduced", "reason", near) == ("not reproduced", "reason")
    # A baseline below the paper is reported, without lifting a "not reproduced".
    base = [calibration_row(PAPER, [60.0], "baseline", dataset="cora", model="mlp")]
    verdict, reason = calibrated_verdict("not reproduced", "reason", base)
    assert verdict == "not reproduced" and "baselines below" in reason


def test_a_claim_whose_method_lands_far_below_its_paper_says_so_instead_of_not_reproduced():
    """ff-g2m: every main group fails, and GLNN on GLNN's own protocol lies 3+ paper sds below its Table 1."""
    failing = [
        {"dataset": "cora", "teacher": "gcn", "setting": "transductive", "model": m, "n": 5}
        | {"test_acc_mean": v, "test_acc_std": 0.01}
        for m, v in {"teacher": 0.81, "mlp": 0.59, "glnn": 0.80, "ffg2m": 0.70}.items()
    ]
    low = ff_g2m.calibration_rows([{"dataset": "cora", "model": "glnn", "test_acc": v} for v in (0.75, 0.76)])
    verdict, reason = ff_g2m.verdict(failing + low)
    assert verdict == "not checkable here" and verdict != "not reproduced"
    assert reason.startswith(BELOW_PAPER) and "GLNN Table 1" in reason
    near = ff_g2m.calibration_rows([{"dataset": "cora", "model": "glnn", "test_acc": v} for v in (0.80, 0.81)])
    verdict, reason = ff_g2m.verdict(failing + near)
    assert verdict == "not reproduced" and BELOW_PAPER not in reason


@pytest.mark.slow
def test_one_calibration_case_end_to_end_at_the_quick_budget(need_data):
    """GLNN on Cora's CPF split drawn with seed 0, through the claim's own calibration arm at the quick settings."""
    need_data("planetoid")
    ctx = SimpleNamespace(data_dir=None, settings=ff_g2m.SPEC.settings["quick"])
    runs = ff_g2m._calibration_run(ctx, "cora", 0)
    assert {r["model"] for r in runs} == {"teacher", "mlp", "glnn"} and {r["split"] for r in runs} == {"cpf"}
    assert all(r["epochs"] <= ctx.settings["max_epochs"] and 0 <= r["test_acc"] <= 1 for r in runs)
    (row,) = ff_g2m.calibration_rows(runs)
    glnn = next(r["test_acc"] for r in runs if r["model"] == "glnn")
    assert (row["dataset"], row["model"], row["role"], row["n"]) == ("cora", "glnn", "method", 1)
    assert row["ours_mean"] == pytest.approx(100 * glnn) and row["paper_mean"] == 80.54
    assert row["gap_sd"] == pytest.approx((100 * glnn - 80.54) / 1.35)
    below = row["gap_sd"] < -2
    assert (calibrated_verdict("not reproduced", "r", [row])[0] == "not checkable here") == below
