"""The imaging claims (emlp, dn-piqa): verdicts on hand-made tables and one quick run each."""

import math

import pytest

from mlpzoo.claims import dn_piqa, emlp, get_claim, run
from mlpzoo.claims.base import VERDICTS, get_budget

CLASSIC = ("grey_world", "white_patch", "shades_of_grey", "grey_edge")


def _emlp_table(mean, std=math.nan, n=1, parameters=355, classic=4.0, ablation=None):
    def row(method, value, p=0):
        return {
            "method": method,
            "n": n,
            **{f"{m}_mean": value * scale for m, scale in zip(emlp.METRICS, (1.0, 0.7, 2.2))},
            **{f"{m}_std": std for m in emlp.METRICS},
            "parameters": p,
        }

    rows = [row(name, classic + i, 0) for i, name in enumerate(CLASSIC)] + [row("emlp", mean, parameters)]
    if ablation is not None:
        rows.append(row("emlp_no_def", ablation, 354))
    return rows


def test_emlp_verdict():
    assert emlp.verdict(_emlp_table(3.0))[0] == "reproduced"
    assert emlp.verdict(_emlp_table(5.0))[0] == "not reproduced"
    # Better than three estimators but not the best one on the mean: not reproduced.
    assert emlp.verdict(_emlp_table(4.5))[0] == "not reproduced"
    # A margin inside one standard error of the difference is a tie, not a win.
    assert emlp.verdict(_emlp_table(3.8, std=0.5, n=3))[0] == "not reproduced"
    assert emlp.verdict(_emlp_table(3.8, std=0.05, n=3))[0] == "reproduced"
    outcome, reason = emlp.verdict(_emlp_table(3.0, ablation=3.5))
    assert outcome == "reproduced" and "355 parameters" in reason and "DEF ablation" in reason
    assert emlp.verdict(_emlp_table(3.0, parameters=5000))[0] == "not checkable here"


def test_emlp_verdict_partly_when_some_statistics_tie():
    table = _emlp_table(3.0, std=0.05, n=3)
    mine = next(row for row in table if row["method"] == "emlp")
    mine["worst25_error_mean"] = 4.0 * 2.2  # the worst quarter no better than grey-world's
    outcome, reason = emlp.verdict(table)
    assert outcome == "partly reproduced" and "not beyond 1 SE: grey_world worst25_error" in reason
    mine["worst25_error_mean"] = 20.0  # the worst quarter worse than every classic estimator's beyond 1 SE
    outcome, reason = emlp.verdict(table)
    assert outcome == "partly reproduced" and "worse beyond 1 SE: grey_world worst25_error" in reason
    assert "not beyond 1 SE" not in reason


@pytest.mark.slow
def test_emlp_quick_run(need_data, tmp_path):
    data_dir = need_data("cifar10")
    result = run("emlp", get_budget("quick"), data_dir, tmp_path, log=lambda _: None)
    assert result.verdict in VERDICTS
    rows = {row["method"]: row for row in result.table}
    assert set(rows) == {*CLASSIC, "emlp", "emlp_no_def"}
    assert rows["emlp"]["parameters"] == 355
    assert all(0 < row["mean_error_mean"] < 45 for row in rows.values())
    assert get_claim("emlp").verdict(result.table) == (result.verdict, result.reason)
    assert list((tmp_path / "claims" / "emlp").rglob("emlp_errors.png"))


def _piqa_table(fidelity, mse, std=math.nan, n=1, consistent_mse=0.7):
    def row(condition, loss, value):
        return {
            "condition": condition,
            "loss": loss,
            "n": n,
            **{f"{m}_mean": value for m in dn_piqa.METRICS},
            **{f"{m}_std": std for m in dn_piqa.METRICS},
            "parameters": 6401,
        }

    return [
        row("scene-relative", "mse", mse),
        row("scene-relative", "fidelity", fidelity),
        row("consistent", "mse", consistent_mse),
        row("consistent", "fidelity", 0.75),
    ]


def test_dn_piqa_verdict():
    assert dn_piqa.verdict(_piqa_table(0.8, 0.5))[0] == "reproduced"
    assert dn_piqa.verdict(_piqa_table(0.5, 0.8))[0] == "not reproduced"
    # Inside one standard error: a tie, not a win.
    assert dn_piqa.verdict(_piqa_table(0.78, 0.76, std=0.05, n=3))[0] == "not reproduced"
    assert dn_piqa.verdict(_piqa_table(0.78, 0.76, std=0.005, n=3))[0] == "reproduced"
    table = _piqa_table(0.8, 0.5, std=0.01, n=3)
    table[1]["plcc_mean"] = 0.5  # fidelity wins SRCC only, ties PLCC
    outcome, reason = dn_piqa.verdict(table)
    assert outcome == "partly reproduced" and "not beyond 1 SE: plcc" in reason
    table[1]["plcc_mean"] = 0.3  # fidelity wins SRCC, loses PLCC beyond 1 SE
    outcome, reason = dn_piqa.verdict(table)
    assert outcome == "partly reproduced" and "below MSE beyond 1 SE: plcc" in reason and "not beyond" not in reason
    outcome, reason = dn_piqa.verdict(_piqa_table(0.5, 0.8))
    assert "below MSE beyond 1 SE: srcc, plcc" in reason and "not beyond" not in reason
    outcome, reason = dn_piqa.verdict(_piqa_table(0.8, 0.1, consistent_mse=0.1))
    assert outcome == "not checkable here" and "did not learn" in reason


@pytest.mark.slow
def test_dn_piqa_quick_run(need_data, tmp_path):
    data_dir = need_data("cifar10")
    result = run("dn-piqa", get_budget("quick"), data_dir, tmp_path, log=lambda _: None)
    assert result.verdict in VERDICTS
    assert {(row["condition"], row["loss"]) for row in result.table} == {
        (c, loss) for c in dn_piqa.CONDITIONS for loss in dn_piqa.LOSSES
    }
    assert all(-1 <= row["srcc_mean"] <= 1 for row in result.table)
    assert get_claim("dn-piqa").verdict(result.table) == (result.verdict, result.reason)
    assert list((tmp_path / "claims" / "dn-piqa").rglob("dn_piqa_scatter.png"))
