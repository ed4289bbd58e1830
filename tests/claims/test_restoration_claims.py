"""The maxim, scalekd and swinchex claims: verdicts on hand-made tables (pass, fail, a tie inside one SE, the
cases that make a comparison unfit) and one quick run each on real data."""

import math

import pytest

from mlpzoo.claims import get_claim, run
from mlpzoo.claims.base import VERDICTS, get_budget


# ---------------------------------------------------------------------------- maxim
def _maxim_table(margin, std=math.nan, n=1, params=272_000.0, base_psnr=(30.0, 27.0, 23.0), odd=27.5):
    def row(model, psnrs, parameters, odd_psnr):
        out = {"model": model, "n": n, "parameters": parameters, "parameter_tolerance": 0.03, "odd_size": 28}
        for sigma, value, noisy in zip((15, 25, 50), psnrs, (24.8, 20.5, 15.0)):
            out[f"psnr_sigma{sigma}_mean"], out[f"psnr_sigma{sigma}_std"] = value, std
            out[f"noisy_psnr_sigma{sigma}"] = noisy
        out["psnr_odd_size_sigma25_mean"], out["psnr_odd_size_sigma25_std"] = odd_psnr, std
        out["noisy_psnr_odd_size_sigma25"] = 20.5
        return out

    mine = tuple(p + m for p, m in zip(base_psnr, margin if isinstance(margin, tuple) else (margin,) * 3))
    return [row("conv_unet", base_psnr, 272_000.0, 27.0), row("maxim_unet", mine, params, odd)]


def test_maxim_verdict():
    verdict = get_claim("maxim").verdict
    assert verdict(_maxim_table(0.5))[0] == "reproduced"
    assert verdict(_maxim_table(-0.5))[0] == "not reproduced"
    assert verdict(_maxim_table((0.5, 0.5, -0.5)))[0] == "partly reproduced"
    # Inside one standard error: a tie at every level, never a win (higher PSNR not shown); tight seeds win.
    outcome, reason = verdict(_maxim_table(0.1, std=0.3, n=3))
    assert outcome == "not reproduced" and "1 SE 0.2449" in reason
    assert verdict(_maxim_table(0.0))[0] == "not reproduced"
    assert verdict(_maxim_table(0.1, std=0.01, n=3))[0] == "reproduced"
    # A MAXIM that does not denoise at the unseen odd size is at most partly reproduced.
    assert verdict(_maxim_table(0.5, odd=19.0))[0] == "partly reproduced"


def test_maxim_verdict_refuses_unfit_comparisons():
    verdict = get_claim("maxim").verdict
    outcome, reason = verdict(_maxim_table(0.5, params=290_000.0))
    assert outcome == "not checkable here" and "not an equal-parameter comparison" in reason
    outcome, reason = verdict(_maxim_table(0.5, base_psnr=(24.0, 20.0, 14.0)))
    assert outcome == "not checkable here" and "undertrained" in reason


@pytest.mark.slow
def test_maxim_quick_run(need_data, tmp_path):
    data_dir = need_data("cifar10")
    result = run("maxim", get_budget("quick"), data_dir, tmp_path, log=lambda _: None)
    assert result.verdict in VERDICTS
    rows = {row["model"]: row for row in result.table}
    assert set(rows) == {"maxim_unet", "conv_unet"}
    assert abs(rows["maxim_unet"]["parameters"] / rows["conv_unet"]["parameters"] - 1) <= 0.03
    # Trained on 16-pixel crops, scored on whole 32-pixel images and padded 28-pixel crops.
    assert all(math.isfinite(row["psnr_odd_size_sigma25_mean"]) and row["train_size"] == 16 for row in rows.values())
    assert get_claim("maxim").verdict(result.table) == (result.verdict, result.reason)


# ---------------------------------------------------------------------------- swinchex
def _swinchex_table(deep, linear=0.80, std=math.nan, n=1):
    def row(layers, value):
        out = {"head_layers": layers, "n": n, "test_mean_auc_mean": value, "test_mean_auc_std": std}
        out.update({f"test_auc_{i}_mean": value for i in range(10)})
        return out

    return [row(1, linear), row(3, deep)]


def test_swinchex_verdict():
    verdict = get_claim("swinchex").verdict
    assert verdict(_swinchex_table(0.83))[0] == "reproduced"
    assert verdict(_swinchex_table(0.77))[0] == "not reproduced"
    outcome, reason = verdict(_swinchex_table(0.77))
    assert "below it beyond 1 SE" in reason and "not beyond 1 SE" not in reason
    # A tie: one comparison, higher not shown.
    outcome, reason = verdict(_swinchex_table(0.81, std=0.02, n=3))
    assert outcome == "not reproduced" and "not beyond 1 SE" in reason
    assert verdict(_swinchex_table(0.81, std=0.002, n=3))[0] == "reproduced"
    # A linear head near chance: the backbone did not learn, nothing is checked.
    outcome, reason = verdict(_swinchex_table(0.70, linear=0.52))
    assert outcome == "not checkable here" and "undertrained" in reason


@pytest.mark.slow
def test_swinchex_quick_run(need_data, tmp_path):
    need_data("fashion-mnist")
    result = run("swinchex", get_budget("quick"), None, tmp_path, log=lambda _: None)
    assert result.verdict in VERDICTS
    rows = {row["head_layers"]: row for row in result.table}
    assert set(rows) == {1, 2, 3}
    assert all(0.0 <= row[f"test_auc_{i}_mean"] <= 1.0 for row in rows.values() for i in range(10))
    assert rows[3]["parameters"] > rows[1]["parameters"]
    assert get_claim("swinchex").verdict(result.table) == (result.verdict, result.reason)


# ---------------------------------------------------------------------------- scalekd
def _scalekd_table(scalekd, alone=0.40, hinton=0.42, teacher=0.60, std=math.nan, n=1, valid=None):
    """Validation accuracy equals test accuracy unless ``valid`` maps (student, method) to another value."""

    def row(student, method, value):
        held_out = (valid or {}).get((student, method), value)
        return {
            "student": student,
            "method": method,
            "n": n,
            "test_accuracy_mean": value,
            "test_accuracy_std": std,
            "valid_accuracy_mean": held_out,
        }

    table = [row("resnet_cifar (teacher)", "teacher", teacher)]
    for student in ("mixer", "scaling_mlp"):
        table += [row(student, "alone", alone), row(student, "hinton", hinton), row(student, "scalekd", scalekd)]
    return table


def test_scalekd_verdict():
    verdict = get_claim("scalekd").verdict
    assert verdict(_scalekd_table(0.45))[0] == "reproduced"
    assert verdict(_scalekd_table(0.38))[0] == "not reproduced"
    # Above training alone, below Hinton KD: half the claim.
    assert verdict(_scalekd_table(0.41))[0] == "partly reproduced"
    # Inside one standard error of both: no check passes; tight seeds make the same margins count.
    assert verdict(_scalekd_table(0.43, std=0.05, n=3))[0] == "not reproduced"
    assert verdict(_scalekd_table(0.43, std=0.005, n=3))[0] == "reproduced"
    outcome, reason = verdict(_scalekd_table(0.45, teacher=0.39))
    assert outcome == "not checkable here" and "nothing to distil" in reason
    # Teacher strength is judged on validation, not test: a teacher stronger on validation only still teaches.
    assert verdict(_scalekd_table(0.45, teacher=0.39, valid={("resnet_cifar (teacher)", "teacher"): 0.60}))[0] == (
        "reproduced"
    )
    # A student alone near chance on validation is undertrained, not beaten.
    outcome, reason = verdict(_scalekd_table(0.45, valid={("mixer", "alone"): 0.11}))
    assert outcome == "not checkable here" and "undertrained" in reason


@pytest.mark.slow
def test_scalekd_quick_run(need_data, tmp_path):
    data_dir = need_data("cifar10")
    result = run("scalekd", get_budget("quick"), data_dir, tmp_path, log=lambda _: None)
    assert result.verdict in VERDICTS
    methods = {(row["student"], row["method"]) for row in result.table}
    assert {("mixer", m) for m in ("alone", "hinton", "scalekd")} <= methods
    assert {("scaling_mlp", m) for m in ("alone", "hinton", "scalekd")} <= methods
    # The teacher is trained once per seed and cached in the work directory.
    assert len(list(tmp_path.glob("claims/scalekd/work/*/teacher-seed0.pt"))) == 1
    assert get_claim("scalekd").verdict(result.table) == (result.verdict, result.reason)
