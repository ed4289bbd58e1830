"""The cqmlp claim: verdicts on hand-made tables, and a quick run on the real CAN traces."""

import math

import pytest
import torch

from mlpzoo import claims
from mlpzoo.claims import cqmlp
from mlpzoo.claims.base import VERDICTS, get_budget


def _table(acc2, f12, acc_float=0.999, f1_float=0.95, majority=0.987, std=math.nan, n=1, recall2=0.95):
    rows = []
    for model, acc, f1, recall in (
        ("cqmlp_float", acc_float, f1_float, 0.97),
        ("cqmlp_4bit", acc_float, f1_float, 0.97),
        ("cqmlp_2bit", acc2, f12, recall2),
    ):
        rows.append(
            {
                "model": model,
                "n": n,
                "accuracy_mean": acc,
                "accuracy_std": std,
                "macro_f1_mean": f1,
                "macro_f1_std": std,
                "attack_recall_mean": recall,
                "attack_recall_std": std,
                "majority_accuracy": majority,
            }
        )
    return rows


def test_cqmlp_verdicts():
    assert cqmlp.verdict(_table(0.998, 0.93))[0] == "reproduced"
    # Detects attacks, but far worse than float on macro F1: partly.
    outcome, reason = cqmlp.verdict(_table(0.997, 0.60))
    assert outcome == "partly reproduced" and "not on par" in reason and "DAGA" in reason
    assert cqmlp.verdict(_table(0.95, 0.40))[0] == "not reproduced"
    # A gap inside one standard error over seeds is on par even beyond the fixed margin.
    assert cqmlp.verdict(_table(0.998, 0.85, std=0.2, n=3))[0] == "reproduced"


def test_cqmlp_below_the_always_normal_baseline_is_no_detection():
    outcome, reason = cqmlp.verdict(_table(0.9915, 0.93, majority=0.995, acc_float=0.9950))
    assert outcome == "not reproduced" and "not met" in reason


def test_cqmlp_high_accuracy_needs_attack_recall():
    # 99.2 % accuracy over a 98.7 % always-normal baseline while missing most attack frames: not "high".
    outcome, reason = cqmlp.verdict(_table(0.992, 0.93, acc_float=0.993, recall2=0.4))
    assert outcome == "not reproduced" and "attack-class recall 0.4000" in reason and "not met" in reason
    assert cqmlp.verdict(_table(0.992, 0.93, acc_float=0.993, recall2=0.9))[0] == "reproduced"


def test_cqmlp_on_par_alone_lifts_nothing():
    # Float and 2-bit both miss the attacks: "on par" by failing together is no partial reproduction.
    rows = _table(0.9990, 0.62, f1_float=0.63, recall2=0.5)
    outcome, reason = cqmlp.verdict(rows)
    assert outcome == "not reproduced" and "on par" in reason


@pytest.mark.slow
def test_cqmlp_quick(tmp_path, need_data):
    need_data("can")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = claims.run("cqmlp", get_budget("quick"), data_dir=None, runs_dir=tmp_path, log=lambda s: None)
    finally:
        torch.set_num_threads(before)
    assert result.verdict in VERDICTS
    rows = {row["model"]: row for row in result.table}
    assert set(rows) == set(cqmlp.MODELS)
    for row in rows.values():
        assert (
            0.9 < row["accuracy_mean"] <= 1 and 0 <= row["macro_f1_mean"] <= 1 and 0 <= row["attack_recall_mean"] <= 1
        )
        assert row["ms_per_message_b1"] > 0 and row["messages_per_s_b1024"] > 0
    assert rows["cqmlp_2bit"]["weight_bits"] * 16 == rows["cqmlp_float"]["weight_bits"]  # 2 vs 32 bits a weight
    assert rows["cqmlp_2bit"]["size_bits"] < rows["cqmlp_4bit"]["size_bits"] < rows["cqmlp_float"]["size_bits"]
    assert any("Car-Hacking" in note for note in result.notes)
    assert "0.11 ms" in result.to_markdown()
