"""The atm-chaos claim: SMAPE, verdicts on hand-made tables, and a quick run on real daily series."""

import math

import numpy as np
import pytest
import torch

from mlpzoo.claims import atm_chaos, get_claim
from mlpzoo.claims.base import VERDICTS, get_budget


def test_smape_terms():
    terms = atm_chaos.smape_terms(np.array([100.0, 0.0, 50.0]), np.array([110.0, 0.0, -50.0]))
    assert terms == pytest.approx([200 * 10 / 210, 0.0, 200.0])


def _table(results):
    """results: {(series, model): (smape_plain, smape_chaos, p)}."""
    rows = []
    for (series, model), (plain, chaos, p) in results.items():
        for features, value, p_value in (("plain", plain, math.nan), ("chaos", chaos, p)):
            change = chaos - plain if features == "chaos" else math.nan
            rows.append({"series": series, "model": model, "features": features, "n": 1, "smape_mean": value,
                         "smape_std": math.nan, "smape_change": change, "p_ttest": p_value, "p_wilcoxon": p_value})
    return rows


SERIES = ("a", "b", "c")


def test_verdicts():
    better = {(s, m): (20.0, 15.0, 0.001) for s in SERIES for m in ("mlp", "arima")}
    assert atm_chaos.verdict(_table(better))[0] == "reproduced"
    # arima: improvement not significant on 2 of 3 series -> only mlp improves
    mixed = {**better, ("a", "arima"): (20.0, 19.0, 0.4), ("b", "arima"): (20.0, 19.0, 0.4)}
    outcome, reason = atm_chaos.verdict(_table(mixed))
    assert outcome == "partly reproduced" and "1 of 2 models" in reason
    # significantly worse on one series vetoes a model even if better elsewhere
    veto = {**better, ("c", "mlp"): (20.0, 25.0, 0.001), ("a", "arima"): (20.0, 19.0, 0.4), ("b", "arima"): (20.0, 19.0, 0.4)}
    assert atm_chaos.verdict(_table(veto))[0] == "not reproduced"


@pytest.mark.slow
def test_quick_run(tmp_path, need_data):
    need_data("ett")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = get_claim("atm-chaos").run(get_budget("quick"), data_dir=None, runs_dir=tmp_path, log=lambda s: None)
    finally:
        torch.set_num_threads(before)
    assert result.verdict in VERDICTS
    settings = atm_chaos.SETTINGS["quick"]
    assert len(settings["series"]) >= 3
    assert {(r["series"], r["model"], r["features"]) for r in result.table} == {
        (s, m, f) for s in settings["series"] for m in settings["models"] for f in ("plain", "chaos")}
    for row in result.table:
        assert math.isfinite(row["smape_mean"]) and 0 <= row["smape_mean"] <= 200 and row["mae_mean"] >= 0
        if row["features"] == "chaos":
            assert 0 <= row["p_ttest"] <= 1 and 0 <= row["p_wilcoxon"] <= 1 and row["dim"] >= 1
            assert math.isfinite(row["smape_change"])
        else:
            assert row["lag"] == 1 and row["dim"] == atm_chaos.PLAIN_WINDOW
