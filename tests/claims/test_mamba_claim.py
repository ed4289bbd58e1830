"""The mamba claim: verdicts on hand-made tables and a quick run."""

import math

import pytest
import torch

from mlpzoo.claims import get_claim, mamba
from mlpzoo.claims.base import VERDICTS, get_budget


def _table(copy, induction, us_per_token, std=math.nan, n=1, scored=2000):
    rows = [{"task": "selective_copying", "model": m, "length": 36, "n": n, "accuracy_mean": v, "accuracy_std": std,
             "scored": scored} for m, v in copy.items()]
    for m, (short, long) in induction.items():
        rows += [{"task": "induction_heads", "model": m, "length": length, "n": n, "accuracy_mean": v,
                  "accuracy_std": std, "scored": scored} for length, v in ((32, short), (128, long))]
    for m, values in us_per_token.items():
        rows += [{"task": "time_per_token", "model": m, "length": length, "n": 1, "accuracy_mean": math.nan,
                  "accuracy_std": math.nan, "scored": 0, "us_per_token": v} for length, v in zip((256, 1024, 4096), values)]
    return rows


LINEAR = {"mamba": (30.0, 30.0, 31.0), "transformer_lm": (30.0, 120.0, 480.0)}
GOOD_COPY = {"mamba": 0.99, "mamba_lti": 0.5, "transformer_lm": 0.6}
GOOD_INDUCTION = {"mamba": (1.0, 0.99), "mamba_lti": (0.2, 0.1), "transformer_lm": (1.0, 0.1)}


def test_verdicts():
    assert mamba.verdict(_table(GOOD_COPY, GOOD_INDUCTION, LINEAR))[0] == "reproduced"
    reason = mamba.verdict(_table(GOOD_COPY, GOOD_INDUCTION, LINEAR))[1]
    assert "4 of 4" in reason and "k=1.0" in reason and "k=2.0" in reason
    # Not solved and no extrapolation: only the selectivity and linear-cost checks pass.
    weak = {**GOOD_COPY, "mamba": 0.7}
    assert mamba.verdict(_table(weak, {**GOOD_INDUCTION, "mamba": (1.0, 0.3)}, LINEAR))[0] == "partly reproduced"
    quadratic = {"mamba": (30.0, 120.0, 480.0), "transformer_lm": (30.0, 120.0, 480.0)}
    chance = {"mamba": 0.07, "mamba_lti": 0.07, "transformer_lm": 0.07}
    assert mamba.verdict(_table(chance, {**GOOD_INDUCTION, "mamba": (0.1, 0.1)}, quadratic))[0] == "not reproduced"


def test_selectivity_fails_when_the_lti_ablation_also_solves_copying():
    both = {**GOOD_COPY, "mamba_lti": 0.95}
    outcome, reason = mamba.verdict(_table(both, GOOD_INDUCTION, LINEAR, scored=100_000))
    assert outcome == "partly reproduced" and "3 of 4" in reason and "which solves it too" in reason


def test_single_seed_difference_must_exceed_the_sampling_error():
    close = {"mamba": 0.074, "mamba_lti": 0.066, "transformer_lm": 0.06}
    _, reason = mamba.verdict(_table(close, GOOD_INDUCTION, LINEAR, scored=512))
    assert "does not beat" in reason
    _, reason = mamba.verdict(_table({**close, "mamba": 0.2}, GOOD_INDUCTION, LINEAR, scored=512))
    assert "S6 beats" in reason


def test_length_exponent():
    assert mamba.length_exponent([100, 1000], [1.0, 1.0]) == pytest.approx(1.0)
    assert mamba.length_exponent([100, 1000], [1.0, 10.0]) == pytest.approx(2.0)
    # Overhead-dominated short lengths are left out of the fit when only the longest are asked for.
    assert mamba.length_exponent([10, 100, 1000], [100.0, 1.0, 10.0], longest=2) == pytest.approx(2.0)


@pytest.mark.slow
def test_quick_run(tmp_path):
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = get_claim("mamba").run(get_budget("quick"), data_dir=None, runs_dir=tmp_path, log=lambda s: None)
    finally:
        torch.set_num_threads(before)
    assert result.verdict in VERDICTS
    tasks = {(r["task"], r["model"]) for r in result.table}
    assert {("selective_copying", m) for m in mamba.MODELS} <= tasks
    assert {("time_per_token", "mamba"), ("time_per_token", "transformer_lm")} <= tasks
    lengths = {r["length"] for r in result.table if r["task"] == "induction_heads"}
    assert len(lengths) == 3
    assert all(0 <= r["accuracy_mean"] <= 1 for r in result.table if r["task"] != "time_per_token")
    assert all(r["us_per_token"] > 0 for r in result.table if r["task"] == "time_per_token")
    assert "mamba" in result.to_markdown()
