"""The vision token-mixing claims (raftmlp, strip-mlp, ms-mlp, dsm) and their kit: verdicts on hand-made
tables, the shared splits and size matching, resumable arms, and one quick run each."""

import math

import pytest
import torch

from mlpzoo import create_model
from mlpzoo.claims import dsm, get_claim, ms_mlp, raftmlp, run, strip_mlp
from mlpzoo.claims.base import VERDICTS, get_budget
from mlpzoo.claims.kits import vision


def _table(candidate, accuracy, base_accuracy=0.70, params=1.0e6, flops=1.0e8, std=math.nan, n=1, exponent=1.2):
    def row(model, acc, p, f, e):
        return {
            "model": model,
            "n": n,
            "test_accuracy_mean": acc,
            "test_accuracy_std": std,
            "parameters": p,
            "flops_per_image": f,
            "parameter_tolerance": 0.05,
            "cost_exponent": e,
            "max_exponent": 1.254,
        }

    return [row("mixer", base_accuracy, 1.0e6, 1.0e8, 2.0), row(candidate, accuracy, params, flops, exponent)]


def test_raftmlp_verdict():
    assert raftmlp.verdict(_table("raftmlp", 0.71, params=0.9e6, flops=0.8e8))[0] == "reproduced"
    assert raftmlp.verdict(_table("raftmlp", 0.71, params=1.1e6, flops=0.8e8))[0] == "partly reproduced"
    assert raftmlp.verdict(_table("raftmlp", 0.71, params=0.9e6, flops=1.1e8))[0] == "partly reproduced"
    # Equal accuracy with no saving at all is nothing of the claim.
    assert raftmlp.verdict(_table("raftmlp", 0.71, params=1.1e6, flops=1.1e8))[0] == "not reproduced"
    # Sizes are fixed by the architecture: they cannot lift a run whose accuracy fell below Mixer's.
    outcome, reason = raftmlp.verdict(_table("raftmlp", 0.60, params=0.9e6, flops=0.8e8))
    assert outcome == "not reproduced" and "below Mixer's" in reason
    # Within one standard error of the difference counts as equal accuracy; beyond it does not.
    assert raftmlp.verdict(_table("raftmlp", 0.69, params=0.9e6, flops=0.8e8, std=0.02, n=3))[0] == "reproduced"
    assert raftmlp.verdict(_table("raftmlp", 0.66, params=0.9e6, flops=0.8e8, std=0.02, n=3))[0] == "not reproduced"


@pytest.mark.parametrize("module, name", [(strip_mlp, "strip_mlp"), (ms_mlp, "ms_mlp")])
def test_strip_and_ms_verdicts(module, name):
    outcome, reason = module.verdict(_table(name, 0.72))
    assert outcome == "reproduced" and reason.endswith("better beyond 1 SE.")
    # A loss beyond one standard error says so; it is not described as a tie.
    outcome, reason = module.verdict(_table(name, 0.68))
    assert outcome == "not reproduced" and reason.endswith("worse beyond 1 SE.") and "tie" not in reason
    # A margin inside one standard error is a tie, never "reproduced"; the same margin with tight seeds wins.
    outcome, reason = module.verdict(_table(name, 0.705, std=0.02, n=3))
    assert outcome == "partly reproduced" and reason.endswith("a tie within 1 SE.")
    assert module.verdict(_table(name, 0.705, std=0.002, n=3))[0] == "reproduced"
    # Not at equal parameters (more than 5 % apart, either way): the comparison does not test the claim.
    for params in (1.2e6, 0.9e6):
        outcome, reason = module.verdict(_table(name, 0.72, params=params))
        assert outcome == "not checkable here" and "not an equal-parameter comparison" in reason
    assert module.verdict(_table(name, 0.72, params=1.04e6))[0] == "reproduced"


def test_dsm_verdict_and_cost_exponents():
    assert dsm.verdict(_table("dsm", 0.71))[0] == "reproduced"
    # Sub-quadratic is not enough: the claim is near log-linear (N log N's slope over the grids, ~1.18, + 0.07).
    assert dsm.log_linear_exponent() == pytest.approx(1.184, abs=1e-3) and dsm.MAX_EXPONENT == pytest.approx(
        1.254, abs=1e-3
    )
    outcome, reason = dsm.verdict(_table("dsm", 0.71, exponent=1.38))  # today's matrix DCT
    assert outcome == "partly reproduced" and "above the near-log-linear limit" in reason
    assert dsm.verdict(_table("dsm", 0.71, exponent=1.9))[0] == "partly reproduced"
    # The cost exponent is a property of the layer: it cannot lift a run that lost on accuracy.
    assert dsm.verdict(_table("dsm", 0.60, exponent=1.2))[0] == "not reproduced"
    assert dsm.verdict(_table("dsm", 0.60, exponent=1.9))[0] == "not reproduced"
    # The limit is read from the table, so stored evidence is judged by the limit it ran under.
    strict = _table("dsm", 0.71, exponent=1.2)
    strict[1]["max_exponent"] = 1.1
    assert dsm.verdict(strict)[0] == "partly reproduced"
    outcome, reason = dsm.verdict(_table("dsm", 0.71, params=1.1e6))
    assert outcome == "not checkable here" and "+10.0 %" in reason
    exponents = dsm.cost_exponents(grids=(4, 8, 16), dim=4)
    assert 1.2 < exponents["dsm"] < 1.6 and exponents["mixer"] > 1.9


def test_class_balanced_split_is_fixed_disjoint_and_balanced():
    labels = torch.arange(10).repeat(12)
    kept, held_out = vision.class_balanced_split(labels, 3)
    assert len(set(kept.tolist()) & set(held_out.tolist())) == 0 and len(kept) + len(held_out) == len(labels)
    assert torch.bincount(labels[held_out]).tolist() == [3] * 10
    assert torch.equal(held_out, vision.class_balanced_split(labels, 3)[1])


@pytest.mark.parametrize("candidate", ["raftmlp", "strip_mlp", "ms_mlp", "dsm"])
def test_budget_sizes_match_mixer(candidate):
    settings = vision.MIXER_SETTINGS["full"]
    count = {
        name: sum(p.numel() for p in create_model(name, **vision.model_kwargs(name, settings)).parameters())
        for name in (vision.BASELINE, candidate)
    }
    assert abs(count[candidate] / count[vision.BASELINE] - 1) <= vision.PARAMETER_TOLERANCE, count


def test_raftmlp_keeps_mixers_channel_mlp_so_a_saving_can_show():
    """RaftMLP's claim is a saving at Mixer's width and depth: its channel MLP is Mixer's, not re-sized to
    Mixer's parameter count (which would make "fewer parameters" fail by construction)."""
    settings = vision.MIXER_SETTINGS["full"]
    mine, base = (vision.model_kwargs(name, settings, match_parameters=False) for name in ("raftmlp", vision.BASELINE))
    assert mine == base
    counts = [
        sum(p.numel() for p in create_model(name, **kwargs).parameters())
        for name, kwargs in (("raftmlp", mine), (vision.BASELINE, base))
    ]
    assert counts[0] < counts[1]


def test_arms_resume_and_each_claim_fits_its_own_baseline(monkeypatch, tmp_path):
    """No cache shared between claims: each fits its own Mixer arms, and a rerun reuses its stored arms."""
    fits = []

    def fake_fit(name, seed, data, settings, match_parameters=True):
        fits.append(name)
        return {
            "model": name,
            "seed": seed,
            "test_accuracy": 0.5,
            "valid_accuracy": 0.5,
            "epochs": 2,
            "parameters": 1000.0,
            "flops_per_image": 1e6,
            "train_samples_per_second": 1.0,
            "infer_images_per_second": 1.0,
        }

    monkeypatch.setattr(vision, "mixer_data", lambda settings, data_dir: None)
    monkeypatch.setattr(vision, "fit_one", fake_fit)
    budget = get_budget("quick", seeds=2)
    first = run("strip-mlp", budget, runs_dir=tmp_path, log=lambda _: None)
    assert sorted(fits) == ["mixer", "mixer", "strip_mlp", "strip_mlp"] and first.verdict == "partly reproduced"
    run("strip-mlp", budget, runs_dir=tmp_path, log=lambda _: None)
    assert len(fits) == 4  # every arm stored: nothing refitted
    run("ms-mlp", budget, runs_dir=tmp_path, log=lambda _: None)
    assert sorted(fits[4:]) == ["mixer", "mixer", "ms_mlp", "ms_mlp"]


@pytest.mark.slow
@pytest.mark.parametrize("paper_id", ["raftmlp", "strip-mlp", "ms-mlp", "dsm"])
def test_quick_run(paper_id, need_data, tmp_path):
    data_dir = need_data("cifar10")
    result = run(paper_id, get_budget("quick"), data_dir, tmp_path, log=lambda _: None)
    assert result.verdict in VERDICTS and result.paper_id == paper_id
    rows = {row["model"]: row for row in result.table}
    assert set(rows) == {"mixer", get_claim(paper_id).MODEL}
    assert all(0.0 <= row["test_accuracy_mean"] <= 1.0 and row["flops_per_image"] > 0 for row in rows.values())
    assert get_claim(paper_id).verdict(result.table) == (result.verdict, result.reason)
    assert (result.save(tmp_path) / "report.md").exists()
