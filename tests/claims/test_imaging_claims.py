"""The imaging claims (emlp, dn-piqa): verdicts on hand-made tables and one quick run each."""

import math

import pytest

from mlpzoo.claims import emlp, get_claim, run
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
    assert outcome == "partly reproduced" and "grey_world worst25_error" in reason


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
