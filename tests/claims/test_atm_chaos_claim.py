"""The atm-chaos claim: SMAPE, the Diebold-Mariano test, verdicts on hand-made tables, and a quick run."""

import math

import numpy as np
import pytest

from mlpzoo.claims import atm_chaos
from mlpzoo.claims import run as run_claim
from mlpzoo.claims.base import VERDICTS, get_budget


def test_smape_terms():
    terms = atm_chaos.smape_terms(np.array([100.0, 0.0, 50.0]), np.array([110.0, 0.0, -50.0]))
    assert terms == pytest.approx([200 * 10 / 210, 0.0, 200.0])


def test_diebold_mariano_discounts_autocorrelated_differences():
    # Loss differences with mean 0.2 that come in runs of 30 days (+1.2 then -0.8): the paired t-test
    # counts every day as independent evidence, the Newey-West variance discounts the runs.
    n = 300
    b = np.ones(n)
    a = b + 0.2 + np.where(np.arange(n) // 30 % 2 == 0, 1.0, -1.0)
    assert atm_chaos.stats.ttest_rel(a, b).pvalue < 0.01
    assert atm_chaos.diebold_mariano(a, b) > 0.05
    assert atm_chaos.diebold_mariano(b, b) == 1.0
    independent = 1.0 + 0.3 + np.random.default_rng(0).normal(size=n)
    assert atm_chaos.diebold_mariano(independent, b) < 0.01


def _table(results, std=math.nan, n=1):
    """results: {(series, model): (smape_plain, smape_chaos, p)}."""
    rows = []
    for (series, model), (plain, chaos, p) in results.items():
        for features, value, p_value in (("plain", plain, math.nan), ("chaos", chaos, p)):
            change = chaos - plain if features == "chaos" else math.nan
            rows.append(
                {
                    "series": series,
                    "model": model,
                    "features": features,
                    "n": n,
                    "smape_mean": value,
                    "smape_std": std,
                    "smape_change": change,
                    "p_dm": p_value,
                    "p_ttest": p_value,
                    "p_wilcoxon": p_value,
                    "alpha": atm_chaos.ALPHA,
                }
            )
    return rows


SERIES = ("a", "b", "c")
BETTER = {(s, m): (20.0, 15.0, 0.001) for s in SERIES for m in ("mlp", "arima")}


def test_verdicts():
    assert atm_chaos.verdict(_table(BETTER))[0] == "reproduced"
    # arima: improvement not significant on 2 of 3 series -> only mlp improves
    mixed = {**BETTER, ("a", "arima"): (20.0, 19.0, 0.4), ("b", "arima"): (20.0, 19.0, 0.4)}
    outcome, reason = atm_chaos.verdict(_table(mixed))
    assert outcome == "partly reproduced" and "1 of 2 models" in reason
    # significantly worse on one series vetoes a model even if better elsewhere
    veto = {**mixed, ("c", "mlp"): (20.0, 25.0, 0.001)}
    assert atm_chaos.verdict(_table(veto))[0] == "not reproduced"


def test_a_change_within_the_seed_spread_does_not_count():
    # 1 SMAPE point better with p < 0.05 on the days, but seeds spread by 3 points (1 SE 2.4 over 3 seeds).
    small = {(s, m): (20.0, 19.0, 0.001) for s in SERIES for m in ("mlp", "arima")}
    assert atm_chaos.verdict(_table(small, std=3.0, n=3))[0] == "not reproduced"
    assert atm_chaos.verdict(_table(BETTER, std=3.0, n=3))[0] == "reproduced"


@pytest.mark.slow
def test_quick_run(tmp_path, need_data):
    need_data("ett")
    result = run_claim("atm-chaos", get_budget("quick"), runs_dir=tmp_path, log=lambda s: None)
    assert result.verdict in VERDICTS
    settings = atm_chaos.SPEC.settings["quick"]
    assert len(settings["series"]) >= 3 and set(settings["models"]) == set(atm_chaos.SPEC.settings["full"]["models"])
    assert {(r["series"], r["model"], r["features"]) for r in result.table} == {
        (s, m, f) for s in settings["series"] for m in settings["models"] for f in ("plain", "chaos")
    }
    for row in result.table:
        assert math.isfinite(row["smape_mean"]) and 0 <= row["smape_mean"] <= 200 and row["mae_mean"] >= 0
        if row["features"] == "chaos":
            assert 0 <= row["p_dm"] <= 1 and 0 <= row["p_ttest"] <= 1 and row["dim"] >= 1
            assert math.isfinite(row["smape_change"])
        else:
            assert row["lag"] == 1 and row["dim"] == atm_chaos.PLAIN_WINDOW
    assert all("forecast" not in r for r in result.runs)
