"""The vision token-mixing claims (raftmlp, strip-mlp, ms-mlp, dsm): verdicts on hand-made tables, quick runs."""

import math

import pytest
import torch

from mlpzoo.claims import dsm, get_claim, ms_mlp, raftmlp, strip_mlp
from mlpzoo.claims.base import VERDICTS, get_budget


def _table(candidate, accuracy, base_accuracy=0.70, params=1.0e6, flops=1.0e8, std=math.nan, n=1, exponent=1.2):
    def row(model, acc, p, f, e):
        return {"model": model, "n": n, "test_accuracy_mean": acc, "test_accuracy_std": std, "parameters_mean": p,
                "flops_per_image_mean": f, "cost_exponent": e}
    return [row("mixer", base_accuracy, 1.0e6, 1.0e8, 2.0), row(candidate, accuracy, params, flops, exponent)]


def test_raftmlp_verdict():
    assert raftmlp.verdict(_table("raftmlp", 0.71, params=0.9e6, flops=0.8e8))[0] == "reproduced"
    assert raftmlp.verdict(_table("raftmlp", 0.71, params=1.1e6, flops=0.8e8))[0] == "partly reproduced"
    assert raftmlp.verdict(_table("raftmlp", 0.60, params=0.9e6, flops=0.8e8))[0] == "partly reproduced"
    assert raftmlp.verdict(_table("raftmlp", 0.60, params=1.1e6, flops=0.8e8))[0] == "not reproduced"
    # Within one standard error of the difference counts as equal accuracy.
    assert raftmlp.verdict(_table("raftmlp", 0.69, params=0.9e6, flops=0.8e8, std=0.02, n=3))[0] == "reproduced"


def test_strip_and_ms_verdicts():
    for module, name in ((strip_mlp, "strip_mlp"), (ms_mlp, "ms_mlp")):
        assert module.verdict(_table(name, 0.72))[0] == "reproduced"
        assert module.verdict(_table(name, 0.68))[0] == "not reproduced"
        assert module.verdict(_table(name, 0.705, std=0.02, n=3))[0] == "partly reproduced"
        # Not at equal parameters (more than 5 % apart, either way): the comparison does not test the claim.
        for params in (1.2e6, 0.9e6):
            outcome, reason = module.verdict(_table(name, 0.72, params=params))
            assert outcome == "not checkable here" and "not an equal-parameter comparison" in reason
        assert module.verdict(_table(name, 0.72, params=1.04e6))[0] == "reproduced"


def test_dsm_verdict_and_cost_exponents():
    assert dsm.verdict(_table("dsm", 0.71))[0] == "reproduced"
    # Sub-quadratic is not enough: the claim is near log-linear (N log N's slope over the grids, ~1.18, + 0.07).
    assert dsm.log_linear_exponent() == pytest.approx(1.184, abs=1e-3) and dsm.MAX_EXPONENT == pytest.approx(1.254, abs=1e-3)
    outcome, reason = dsm.verdict(_table("dsm", 0.71, exponent=1.38))  # today's matrix DCT
    assert outcome == "partly reproduced" and "above the near-log-linear limit" in reason
    assert dsm.verdict(_table("dsm", 0.71, exponent=1.9))[0] == "partly reproduced"
    assert dsm.verdict(_table("dsm", 0.60, exponent=1.2))[0] == "partly reproduced"
    assert dsm.verdict(_table("dsm", 0.60, exponent=1.9))[0] == "not reproduced"
    outcome, reason = dsm.verdict(_table("dsm", 0.71, params=1.1e6))
    assert outcome == "not checkable here" and "+10.0 %" in reason
    exponents = dsm.cost_exponents(grids=(4, 8, 16), dim=4)
    assert 1.2 < exponents["dsm"] < 1.6 and exponents["mixer"] > 1.9


@pytest.mark.slow
@pytest.mark.parametrize("paper_id", ["raftmlp", "strip-mlp", "ms-mlp", "dsm"])
def test_quick_run(paper_id, need_data, tmp_path):
    data_dir = need_data("cifar10")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = get_claim(paper_id).run(get_budget("quick"), data_dir, tmp_path, log=lambda _: None)
    finally:
        torch.set_num_threads(before)
    assert result.verdict in VERDICTS and result.paper_id == paper_id
    rows = {row["model"]: row for row in result.table}
    assert set(rows) == {"mixer", get_claim(paper_id).MODEL}
    assert all(0.0 <= row["test_accuracy_mean"] <= 1.0 and row["flops_per_image_mean"] > 0 for row in rows.values())
    assert result.seconds < 60
    assert (result.save(tmp_path) / "report.md").exists()
