"""The kat, af-kan and flashkat claims: verdicts on hand-made tables, and a quick run of each."""

import math
import os

import pytest
import torch

from mlpzoo.claims import af_kan, flashkat, get_claim, kat, run
from mlpzoo.claims.base import VERDICTS, get_budget
from mlpzoo.errors import DataMissingError


def test_claims_are_registered():
    for paper_id, module in (("kat", kat), ("af-kan", af_kan), ("flashkat", flashkat)):
        assert get_claim(paper_id) is module


def _kat_table(kat_acc, vit_acc, std=0.01, n=3):
    return [
        {"model": m, "n": n, "test_accuracy_mean": a, "test_accuracy_std": std, "parameters": 1000.0}
        for m, a in (("kat", kat_acc), ("kat_vit", vit_acc))
    ]


def test_kat_outperforms_needs_a_lead_beyond_one_standard_error():
    se = math.sqrt(2 * 0.01**2 / 3)
    outcome, reason = kat.verdict(_kat_table(0.60 + 1.5 * se, 0.60))
    assert outcome == "reproduced" and "ahead beyond one standard error" in reason
    # A lead inside the noise is a tie, and a tie is not "outperforms".
    outcome, reason = kat.verdict(_kat_table(0.60 + 0.5 * se, 0.60))
    assert outcome == "partly reproduced" and "level within one standard error" in reason
    assert kat.verdict(_kat_table(0.60 - 0.5 * se, 0.60))[0] == "partly reproduced"
    outcome, reason = kat.verdict(_kat_table(0.55, 0.60))
    assert outcome == "not reproduced" and "behind by more than one standard error" in reason
    # One seed: no spread, so any shortfall counts and an exact tie is only partly.
    assert kat.verdict(_kat_table(0.599, 0.60, std=math.nan, n=1))[0] == "not reproduced"
    assert kat.verdict(_kat_table(0.60, 0.60, std=math.nan, n=1))[0] == "partly reproduced"


def _af_table(af_acc, mlp_acc, af_flops=1e6, mlp_flops=1e5, rmse=None, std=0.002, n=3, rmse_std=0.0):
    rows = [
        {
            "task": "fashion_mnist",
            "metric": "accuracy",
            "model": m,
            "n": n,
            "test_score_mean": a,
            "test_score_std": std,
            "parameters": 5e4,
            "flops_per_sample": f,
        }
        for m, a, f in (("af_kan", af_acc, af_flops), ("mlp", mlp_acc, mlp_flops))
    ]
    for function, (af_rmse, mlp_rmse) in (rmse or {}).items():
        rows += [
            {
                "task": function,
                "metric": "rmse",
                "model": m,
                "n": n,
                "test_score_mean": v,
                "test_score_std": rmse_std,
                "flops_per_sample": 1.0,
            }
            for m, v in (("af_kan", af_rmse), ("mlp", mlp_rmse))
        ]
    return rows


def test_af_kan_verdicts():
    assert af_kan.verdict(_af_table(0.88, 0.86))[0] == "reproduced"
    # Beats the MLP but is not dearer: only half the claim.
    assert af_kan.verdict(_af_table(0.88, 0.86, af_flops=1e5, mlp_flops=2e5))[0] == "partly reproduced"
    # A lead inside one standard error is not a win.
    assert af_kan.verdict(_af_table(0.861, 0.86))[0] == "not reproduced"
    # Losing on Fashion-MNIST but winning most functions: partly.
    suite = {"f1": (0.01, 0.02), "f2": (0.01, 0.02), "f3": (0.05, 0.02)}
    outcome, reason = af_kan.verdict(_af_table(0.80, 0.86, rmse=suite))
    assert outcome == "partly reproduced" and "2 of 3 functions" in reason
    assert af_kan.verdict(_af_table(0.80, 0.86, rmse={"f1": (0.05, 0.02)}))[0] == "not reproduced"
    # A lower mean RMSE inside one standard error of the difference is not a win either
    # (SE = sqrt(2 * 0.01^2 / 3) = 0.0082 > the 0.005 lead).
    close = {"f1": (0.015, 0.02), "f2": (0.015, 0.02), "f3": (0.05, 0.02)}
    outcome, reason = af_kan.verdict(_af_table(0.80, 0.86, rmse=close, rmse_std=0.01))
    assert outcome == "not reproduced" and "on 0 of 3 functions" in reason
    assert af_kan.verdict(_af_table(0.80, 0.86, rmse=close, rmse_std=0.001))[0] == "partly reproduced"


def _flash_table(ratios, error=1e-6, q25=None, error64=1e-16):
    rows = []
    for device, values in ratios.items():
        for i, r in enumerate(values):
            rows.append(
                {
                    "device": device,
                    "device_kind": "cuda" if device.startswith("H") else "cpu",
                    "case": f"c{i}",
                    "step_speedup": r,
                    "step_speedup_q25": r if q25 is None else q25,
                    "rational_speedup": r,
                    "grad_error_flashkat": error,
                    "grad_error_kat": error,
                    "float64_grad_error": error64,
                }
            )
    return rows


def test_flashkat_verdicts():
    assert flashkat.verdict(_flash_table({"cpu": [3.0, 2.5], "H100": [40.0, 80.0]}))[0] == "reproduced"
    # Large on the CPU alone: the paper's GPU setting is not measured, so at most partly.
    outcome, reason = flashkat.verdict(_flash_table({"cpu": [3.0, 2.5]}))
    assert outcome == "partly reproduced" and "No CUDA GPU" in reason
    assert flashkat.verdict(_flash_table({"cpu": [3.0, 1.5]}))[0] == "partly reproduced"
    assert flashkat.verdict(_flash_table({"cpu": [1.2, 0.9], "H100": [40.0, 80.0]}))[0] == "partly reproduced"
    assert flashkat.verdict(_flash_table({"cpu": [0.9, 1.1]}))[0] == "not reproduced"
    # A median speed-up whose lower quartile is below 1 is not reliably faster.
    assert flashkat.verdict(_flash_table({"cpu": [1.5, 1.5]}, q25=0.9))[0] == "not reproduced"
    assert flashkat.verdict(_flash_table({"cpu": [3.0], "H100": [40.0]}, q25=0.9))[0] == "not reproduced"


def test_flashkat_disagreeing_gradients_are_a_fault_not_evidence():
    outcome, reason = flashkat.verdict(_flash_table({"cpu": [10.0]}, error=0.5))
    assert outcome == "not checkable here" and "implementation fault" in reason and "c0" in reason
    outcome, reason = flashkat.verdict(_flash_table({"cpu": [10.0]}, error64=1e-3))
    assert outcome == "not checkable here" and "float64 check" in reason
    assert flashkat.verdict(_flash_table({"cpu": [0.5]}, error=math.nan))[0] == "not checkable here"


def test_flashkat_backwards_agree_with_autograd_in_float64():
    assert flashkat.float64_gradient_error() < 1e-12


def test_flashkat_bench_case_names_what_it_measures():
    row = flashkat.bench_case(16, 8, (4, 3), 2, torch.device("cpu"))
    assert row["elements"] == 4 * 3 * 16
    assert {"step_flashkat_ms", "step_kat_ms", "step_autograd_ms", "rational_flashkat_ms", "rational_kat_ms"} <= set(
        row
    )
    assert row["grad_error_flashkat"] < flashkat.GRAD_TOLERANCE and row["grad_error_kat"] < flashkat.GRAD_TOLERANCE


@pytest.mark.slow
def test_kat_quick(tmp_path, need_data):
    need_data("cifar10")
    result = run("kat", get_budget("quick"), runs_dir=tmp_path, log=lambda s: None)
    assert result.verdict in VERDICTS
    rows = {row["model"]: row for row in result.table}
    assert set(rows) == {"kat", "kat_vit"}
    assert all(0.0 <= row["test_accuracy_mean"] <= 1.0 for row in rows.values())
    assert abs(rows["kat"]["parameters"] / rows["kat_vit"]["parameters"] - 1) < 0.03
    assert rows["kat"]["flops_per_image"] > rows["kat_vit"]["flops_per_image"]  # the rationals' work is counted


@pytest.mark.slow
def test_af_kan_quick(tmp_path):
    try:
        af_kan.load_fashion_mnist("test")
    except DataMissingError as err:
        if os.environ.get("MLPZOO_REQUIRE_DATA") == "1":
            pytest.fail(f"Fashion-MNIST missing while MLPZOO_REQUIRE_DATA=1: {err}")
        pytest.skip(f"Fashion-MNIST missing: {err}")
    result = run("af-kan", get_budget("quick"), runs_dir=tmp_path, log=lambda s: None)
    assert result.verdict in VERDICTS
    fashion = {row["model"]: row for row in result.table if row["task"] == "fashion_mnist"}
    assert set(fashion) == set(af_kan.IMAGE_MODELS)
    counts = [row["parameters"] for row in fashion.values()]
    assert max(counts) <= 1.15 * min(counts)
    assert fashion["af_kan"]["flops_per_sample"] > fashion["mlp"]["flops_per_sample"]
    functions = [row for row in result.table if row["metric"] == "rmse"]
    assert {row["model"] for row in functions} == set(af_kan.FUNCTION_MODELS)
    assert all(math.isfinite(row["test_score_mean"]) for row in result.table)


@pytest.mark.slow
def test_flashkat_quick(tmp_path):
    result = run("flashkat", get_budget("quick"), runs_dir=tmp_path, log=lambda s: None)
    assert result.verdict in VERDICTS
    assert len(result.table) == len(flashkat.SPEC.settings["quick"]["cases"]) * (1 + torch.cuda.is_available())
    assert all(row["grad_error_kat"] < flashkat.GRAD_TOLERANCE and row["step_speedup"] > 0 for row in result.table)
    assert {row["kat_accumulation"] for row in result.table} >= {"index_add_ serial"}
