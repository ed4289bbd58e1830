"""run_all's pooled ctr goals: medians over back-to-back FuxiCTR + mlpzoo rounds."""

import importlib.util
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def run_all():
    sys.path.insert(0, str(BENCHMARKS))  # run_all imports its sibling timing.py
    try:
        spec = importlib.util.spec_from_file_location("run_all", BENCHMARKS / "run_all.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(BENCHMARKS))


def _round(ours: float, fraction: float) -> dict:
    return {"compute_limit": {"trainer_samples_per_s": ours, "fraction": fraction}}


def test_ratio_is_the_median_of_ours_over_the_median_of_theirs(run_all):
    pairs = [(_round(50_000, 0.99), 9_000.0), (_round(40_000, 0.90), 11_000.0), (_round(55_000, 1.01), 10_000.0)]
    fraction, ratio = run_all.pooled_ctr_goals(pairs)
    assert fraction["measured"] == pytest.approx(0.99) and fraction["passed"]
    assert ratio["measured"] == pytest.approx(50_000 / 10_000) and ratio["passed"]
    assert "50,000 / 10,000" in ratio["goal"]


def test_a_low_median_fails_even_when_one_round_passes(run_all):
    pairs = [(_round(60_000, 0.95), 10_000.0), (_round(45_000, 0.95), 10_000.0), (_round(46_000, 0.95), 10_000.0)]
    _, ratio = run_all.pooled_ctr_goals(pairs)
    assert ratio["measured"] == pytest.approx(4.6) and not ratio["passed"]


def test_without_fuxictr_only_the_compute_limit_goal(run_all):
    goals = run_all.pooled_ctr_goals([(_round(50_000, 0.80), None), (_round(50_000, 0.84), None)])
    assert len(goals) == 1 and goals[0]["measured"] == pytest.approx(0.82) and not goals[0]["passed"]
