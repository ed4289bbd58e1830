"""Verdicts of the decision-making claims (mentor, ospo) on synthetic evidence tables, and their quick runs."""

import math

import pytest

from mlpzoo import claims
from mlpzoo.claims import mentor, ospo
from mlpzoo.claims.base import VERDICTS, get_budget


# ------------------------------------------------------------------ mentor
def _mentor_rows(auc=(150.0, 120.0), steps=(20_000.0, 30_000.0), sd=5.0, n=5, active=(35_459, 35_341)):
    rows = []
    for backbone, a, s, p in zip(("moe", "mlp"), auc, steps, active):
        rows.append(
            {
                "backbone": backbone,
                "n": n,
                "auc_mean": a,
                "auc_std": sd,
                "steps_to_threshold_mean": s,
                "steps_to_threshold_std": sd * 400,
                "reached_threshold_mean": 1.0,
                "active_parameters": p,
                "threshold": 195.0,
            }
        )
    return rows


def test_mentor_reproduced_when_moe_is_faster_on_both_measures():
    verdict, reason = mentor.verdict(_mentor_rows())
    assert verdict == "reproduced" and "0.3% apart" in reason


def test_mentor_not_reproduced_when_the_mlp_is_faster():
    assert mentor.verdict(_mentor_rows(auc=(120.0, 150.0), steps=(30_000.0, 20_000.0)))[0] == "not reproduced"


def test_mentor_tie_inside_one_se_is_no_win():
    # Margins of 2 (area) and 500 steps against SEs of about 3.2 and 1,265: both ties.
    verdict, reason = mentor.verdict(_mentor_rows(auc=(122.0, 120.0), steps=(29_500.0, 30_000.0)))
    assert verdict == "not reproduced" and "1 SE" in reason
    assert mentor.verdict(_mentor_rows(auc=(150.0, 120.0), steps=(29_500.0, 30_000.0)))[0] == "partly reproduced"


def test_mentor_unmatched_backbones_are_not_checkable():
    verdict, reason = mentor.verdict(_mentor_rows(active=(40_000, 35_000)))
    assert verdict == "not checkable here" and "beyond the 3% match" in reason


# ------------------------------------------------------------------ ospo
def _ospo_rows(served=(250.0, 255.0, 258.0), pickup=(2.5, 2.3, 2.2), seconds=(50.0, 40.0, 38.0), sd=1.0, n=5):
    rows = []
    for name, s, p, t in zip(("ppo", "grpo", "ospo"), served, pickup, seconds):
        rows.append(
            {
                "algorithm": name,
                "n": n,
                "served_mean": s,
                "served_std": sd * 2,
                "pickup_time_mean": p,
                "pickup_time_std": sd * 0.05,
                "train_seconds_mean": t * 3,  # wall time on a loaded machine
                "train_seconds_std": sd * 3,
                "train_cpu_seconds_mean": t,
                "train_cpu_seconds_std": sd,
            }
        )
    rows.append({"algorithm": ospo.REFERENCE, "n": 1, "served_mean": 260.0, "pickup_time_mean": 2.19})
    return rows


def test_ospo_reproduced_when_both_match_or_beat_ppo_and_ospo_is_faster():
    verdict, reason = ospo.verdict(_ospo_rows())
    assert verdict == "reproduced" and "5 of 5 checks hold" in reason and "nearest-order heuristic" in reason


def test_ospo_not_reproduced_when_ppo_is_better_and_ospo_slower():
    rows = _ospo_rows(served=(260.0, 240.0, 235.0), pickup=(2.0, 2.6, 2.7), seconds=(40.0, 45.0, 50.0))
    assert ospo.verdict(rows)[0] == "not reproduced"


def test_ospo_ties_within_one_se_hold_but_do_not_reproduce_alone():
    # Every quality margin within one SE (served SE ~1.26, pickup SE ~0.03), OSPO faster: only partly.
    rows = _ospo_rows(served=(250.0, 250.5, 249.5), pickup=(2.50, 2.49, 2.51))
    verdict, reason = ospo.verdict(rows)
    assert verdict == "partly reproduced" and "tie within 1 SE" in reason
    # The same ties with OSPO not faster beyond one SE: the timing check fails, still partly.
    rows = _ospo_rows(served=(250.0, 250.5, 249.5), pickup=(2.50, 2.49, 2.51), seconds=(40.0, 40.0, 39.5))
    assert ospo.verdict(rows)[0] == "partly reproduced"


def test_ospo_speed_by_construction_does_not_lift_a_loss_without_any_quality_win():
    # GRPO serves fewer orders beyond one SE, every other quality margin a tie, OSPO faster (no critic): the
    # speed holds by construction and may not turn "no quality win, one loss" into "partly".
    rows = _ospo_rows(served=(250.0, 245.0, 249.5), pickup=(2.50, 2.49, 2.51))
    verdict, reason = ospo.verdict(rows)
    assert verdict == "not reproduced" and "speed not counted" in reason
    # One quality win beyond one SE brings the speed back into the count.
    rows = _ospo_rows(served=(250.0, 245.0, 255.0), pickup=(2.50, 2.49, 2.51))
    assert ospo.verdict(rows)[0] == "partly reproduced"


def test_ospo_reason_tells_a_slower_ospo_from_a_timing_tie():
    slower = _ospo_rows(seconds=(40.0, 45.0, 50.0))
    verdict, reason = ospo.verdict(slower)
    assert verdict == "partly reproduced"
    assert "slower than PPO beyond 1 SE" in reason and "not beyond 1 SE" not in reason
    tie = _ospo_rows(seconds=(40.0, 40.0, 39.5))
    assert "OSPO" in ospo.verdict(tie)[1] and "not beyond 1 SE" in ospo.verdict(tie)[1]


# ------------------------------------------------------------------ quick runs
@pytest.mark.slow
def test_mentor_quick(tmp_path):
    result = claims.run("mentor", get_budget("quick"), runs_dir=tmp_path, log=lambda s: None)
    assert result.verdict in VERDICTS
    rows = {row["backbone"]: row for row in result.table}
    assert set(rows) == {"moe", "mlp"} and all(math.isfinite(row["auc_mean"]) for row in rows.values())
    assert list((tmp_path / "claims" / "mentor").rglob("return_curves.png"))


@pytest.mark.slow
def test_ospo_quick(tmp_path):
    result = claims.run("ospo", get_budget("quick"), runs_dir=tmp_path, log=lambda s: None)
    assert result.verdict in VERDICTS
    rows = {row["algorithm"]: row for row in result.table}
    assert set(rows) == {"ppo", "grpo", "ospo", ospo.REFERENCE}
    assert all(
        row["served_mean"] > 0 and row["train_seconds_mean"] > 0 for name, row in rows.items() if name != ospo.REFERENCE
    )
    assert rows["ppo"]["trained_parameters"] > rows["ospo"]["trained_parameters"]  # the critic
