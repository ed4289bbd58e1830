"""The s-kan and kan-hea claims: verdicts on hand-made tables, the equal budget, and a quick run of each."""

import math

import pytest

from mlpzoo.claims import kan_hea, run, s_kan
from mlpzoo.claims.base import VERDICTS, get_budget
from mlpzoo.claims.kits import kan as suite


def _skan_table(by_function, std=math.nan, n=1, budgets=None):
    budgets = budgets or {}
    return [
        {
            "function": f,
            "model": m,
            "n": n,
            "test_rmse_mean": v,
            "test_rmse_std": std,
            "parameters": 1200.0,
            "epoch_budget": budgets.get(m, 400),
        }
        for f, values in by_function.items()
        for m, v in values.items()
    ]


BEST = {"mlp": 0.3, "kan_bspline": 0.2, "kan_rbf": 0.25, "af_kan": 0.22, "s_kan": 0.1}
WORST = {**BEST, "s_kan": 0.5}
CLOSE = {**BEST, "s_kan": 0.19}  # 0.01 below the best rival


def test_s_kan_verdicts_on_wins_and_losses():
    assert s_kan.verdict(_skan_table({"a": BEST, "b": BEST, "c": CLOSE}))[0] == "reproduced"
    # A majority of wins but a loss elsewhere: partly.
    assert s_kan.verdict(_skan_table({"a": BEST, "b": BEST, "c": WORST}))[0] == "partly reproduced"
    assert s_kan.verdict(_skan_table({"a": BEST, "b": WORST, "c": WORST}))[0] == "partly reproduced"
    outcome, reason = s_kan.verdict(_skan_table({"a": WORST, "b": WORST}))
    assert outcome == "not reproduced" and "0 of 2" in reason


def test_s_kan_margins_inside_one_standard_error_are_not_wins():
    # 0.01 leads with a spread of 0.05 over 3 seeds (1 SE = 0.041): ties everywhere, never reproduced.
    outcome, reason = s_kan.verdict(_skan_table({"a": CLOSE, "b": CLOSE, "c": CLOSE}, std=0.05, n=3))
    assert outcome == "not reproduced" and "ties" in reason
    # The same leads with a spread of 0.001 are beyond 1 SE.
    assert s_kan.verdict(_skan_table({"a": CLOSE, "b": CLOSE, "c": CLOSE}, std=0.001, n=3))[0] == "reproduced"


def test_s_kan_refuses_a_table_where_s_kan_had_more_epochs():
    outcome, reason = s_kan.verdict(_skan_table({"a": BEST, "b": BEST}, budgets={"s_kan": 550}))
    assert outcome == "not checkable here" and "epoch caps" in reason
    unmatched = _skan_table({"a": BEST})
    unmatched[0]["parameters"] = 3000.0
    assert s_kan.verdict(unmatched)[0] == "not checkable here"


def test_s_kan_mixture_and_finetune_share_the_rivals_epoch_cap():
    settings = {"n_train": 40, "n_test": 20, "epochs": 4, "patience": 4, "batch_size": 20, "finetune_epochs": 2}
    skan = s_kan.fit_one("f2", "s_kan", 0, settings)
    mlp = s_kan.fit_one("f2", "mlp", 0, settings)
    assert skan["epoch_budget"] == mlp["epoch_budget"] == 4
    assert skan["epochs"] <= 4 and mlp["epochs"] <= 4
    assert skan["parameters_pruned"] < skan["parameters"]


def test_kit_matches_parameters():
    counts = [
        sum(p.numel() for p in suite.matched_model(kind, kwargs, 2, 0)[1].parameters())
        for kind, kwargs in s_kan.MODELS.values()
    ]
    assert max(counts) <= s_kan.PARAMETER_SPREAD * min(counts)


def _hea_table(f1, r2, mse=None, std=0.01, n=5, floor=(0.3, 0.0, 2.0)):
    mse = mse or {"kan": 1.0, "mlp": 1.0}
    values = {
        "test_macro_f1": {**f1, "constant": floor[0]},
        "test_r2": {**r2, "constant": floor[1]},
        "test_mse": {**mse, "constant": floor[2]},
    }
    rows = []
    for target, metrics in (("phase", ("test_macro_f1",)), ("yield_strength", ("test_r2", "test_mse"))):
        for model in ("kan", "mlp", "constant"):
            row = {"target": target, "model": model, "n": n}
            for metric in metrics:
                row.update({f"{metric}_mean": values[metric][model], f"{metric}_std": std})
            rows.append(row)
    return rows


def test_kan_hea_verdicts():
    assert kan_hea.verdict(_hea_table({"kan": 0.8, "mlp": 0.8}, {"kan": 0.7, "mlp": 0.6}))[0] == "reproduced"
    # Within one standard error counts as a match.
    assert kan_hea.verdict(_hea_table({"kan": 0.795, "mlp": 0.8}, {"kan": 0.7, "mlp": 0.6}))[0] == "reproduced"
    assert kan_hea.verdict(_hea_table({"kan": 0.5, "mlp": 0.8}, {"kan": 0.7, "mlp": 0.6}))[0] == "partly reproduced"
    assert kan_hea.verdict(_hea_table({"kan": 0.5, "mlp": 0.8}, {"kan": 0.2, "mlp": 0.6}))[0] == "not reproduced"
    # R2 holds but the KAN's MSE is worse beyond 1 SE: the regression half fails.
    worse_mse = _hea_table({"kan": 0.8, "mlp": 0.8}, {"kan": 0.7, "mlp": 0.7}, mse={"kan": 1.5, "mlp": 1.0})
    assert kan_hea.verdict(worse_mse)[0] == "partly reproduced"


def test_kan_hea_a_tie_of_models_no_better_than_a_constant_is_no_evidence():
    failing = _hea_table({"kan": 0.30, "mlp": 0.30}, {"kan": 0.0, "mlp": 0.0}, mse={"kan": 2.0, "mlp": 2.0})
    outcome, reason = kan_hea.verdict(failing)
    assert outcome == "not reproduced" and "not beyond 1 SE above it" in reason


@pytest.mark.slow
def test_s_kan_quick(tmp_path):
    result = run("s-kan", get_budget("quick"), runs_dir=tmp_path, log=lambda s: None)
    assert result.verdict in VERDICTS
    models = {row["model"] for row in result.table}
    assert {"mlp", "kan_bspline", "kan_rbf", "af_kan", "s_kan", "s_kan_mixture"} == models
    assert len({row["function"] for row in result.table}) == 2
    assert all(math.isfinite(row["test_rmse_mean"]) and row["parameters"] > 0 for row in result.table)
    budgets = {row["epoch_budget"] for row in result.table if row["model"] != "s_kan_mixture"}
    assert budgets == {s_kan.SPEC.settings["quick"]["epochs"]}
    assert "s-kan" in result.to_markdown()


@pytest.mark.slow
def test_kan_hea_quick(tmp_path, need_data):
    need_data("mpea")
    result = run("kan-hea", get_budget("quick"), runs_dir=tmp_path, log=lambda s: None)
    assert result.verdict in VERDICTS
    assert {(row["target"], row["model"]) for row in result.table} == {
        (t, m) for t in kan_hea.TARGETS for m in kan_hea.MODELS
    }
    for row in result.table:
        assert row["n"] == 3
        key = "test_macro_f1_mean" if row["target"] == "phase" else "test_r2_mean"
        assert math.isfinite(row[key])
