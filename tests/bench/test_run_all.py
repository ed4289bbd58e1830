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


def test_notes_of_goals_not_met_follow_the_table(run_all):
    from types import SimpleNamespace

    missed = {"goal": "g1", "measured": 1.5, "target": 1.3, "higher_is_better": False, "passed": False, "unit": "x"}
    met = dict(missed, goal="g2", measured=1.1, passed=True, note="never shown")
    record = {
        "name": "kan_layers",
        "command": "cmd",
        "seconds": 1.0,
        "returncode": 0,
        "load_before": {"load1": 0.1},
        "load_after": {"load1": 0.1},
        "goals": [dict(missed, note="explained in README"), met],
    }
    args = SimpleNamespace(quick=False, threads=1, clock="wall")
    text = run_all.table([record], args)
    assert "- g1: explained in README" in text and "never shown" not in text
