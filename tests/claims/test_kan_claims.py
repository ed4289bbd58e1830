"""The s-kan and kan-hea claims: verdicts on hand-made tables, and a quick run of each."""

import math


from mlpzoo.claims import get_claim, kan_hea, s_kan
from mlpzoo.claims.base import VERDICTS, get_budget


def _skan_table(by_function):
    return [{"function": f, "model": m, "n": 1, "test_rmse_mean": v, "test_rmse_std": math.nan}
            for f, values in by_function.items() for m, v in values.items()]


BEST = {"mlp": 0.3, "kan_bspline": 0.2, "kan_rbf": 0.25, "af_kan": 0.22, "s_kan": 0.1}
WORST = {**BEST, "s_kan": 0.5}


def test_s_kan_verdicts():
    assert s_kan.verdict(_skan_table({"a": BEST, "b": BEST, "c": WORST}))[0] == "reproduced"
    assert s_kan.verdict(_skan_table({"a": BEST, "b": WORST, "c": WORST}))[0] == "partly reproduced"
    assert s_kan.verdict(_skan_table({"a": WORST, "b": WORST}))[0] == "not reproduced"
    assert "0 of 2" in s_kan.verdict(_skan_table({"a": WORST, "b": WORST}))[1]


def _hea_table(f1, r2, std=0.01, n=5):
    rows = []
    for target, metric, values in (("phase", "test_macro_f1", f1), ("yield_strength", "test_r2", r2)):
        for model, v in values.items():
            rows.append({"target": target, "model": model, "n": n, f"{metric}_mean": v, f"{metric}_std": std})
    return rows


def test_kan_hea_verdicts():
    assert kan_hea.verdict(_hea_table({"kan": 0.8, "mlp": 0.8}, {"kan": 0.7, "mlp": 0.6}))[0] == "reproduced"
    # Within one standard error counts as a match.
    assert kan_hea.verdict(_hea_table({"kan": 0.795, "mlp": 0.8}, {"kan": 0.7, "mlp": 0.6}))[0] == "reproduced"
    assert kan_hea.verdict(_hea_table({"kan": 0.5, "mlp": 0.8}, {"kan": 0.7, "mlp": 0.6}))[0] == "partly reproduced"
    assert kan_hea.verdict(_hea_table({"kan": 0.5, "mlp": 0.8}, {"kan": 0.2, "mlp": 0.6}))[0] == "not reproduced"


def test_s_kan_quick(tmp_path):
    result = get_claim("s-kan").run(get_budget("quick"), data_dir=None, runs_dir=tmp_path, log=lambda s: None)
    assert result.verdict in VERDICTS
    models = {row["model"] for row in result.table}
    assert {"mlp", "kan_bspline", "kan_rbf", "af_kan", "s_kan"} <= models
    assert len({row["function"] for row in result.table}) == 2
    assert all(math.isfinite(row["test_rmse_mean"]) and row["parameters"] > 0 for row in result.table)
    counts = [row["parameters"] for row in result.table if row["model"] != "s_kan_mixture"]
    assert max(counts) <= 1.25 * min(counts)
    assert any("af-kan" in note for note in result.notes)
    assert "s-kan" in result.to_markdown()


def test_kan_hea_quick(tmp_path, need_data):
    need_data("mpea")
    result = get_claim("kan-hea").run(get_budget("quick"), data_dir=None, runs_dir=tmp_path, log=lambda s: None)
    assert result.verdict in VERDICTS
    assert {(row["target"], row["model"]) for row in result.table} == {
        (t, m) for t in ("phase", "yield_strength") for m in ("kan", "mlp", "random_forest")}
    for row in result.table:
        assert row["n"] == 3
        key = "test_macro_f1_mean" if row["target"] == "phase" else "test_r2_mean"
        assert math.isfinite(row[key])
