"""The CTR benchmark runs end to end (its numbers are reported by `mlpzoo bench ctr`, never asserted here)."""

import json

from click.testing import CliRunner

from mlpzoo.cli import main


def test_bench_ctr_smoke(need_data, tmp_path):
    need_data("frappe")
    out = tmp_path / "ctr.json"
    result = CliRunner().invoke(
        main, ["bench", "ctr", "--epochs", "1", "--no-converge", "--out", str(out)], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    ours, limit, baseline, reference = report["rows"]
    assert ours["train_samples_per_s"] > 0 and baseline["train_samples_per_s"] > 0
    assert abs(ours["ratio_vs_dataloader"] - ours["train_samples_per_s"] / baseline["train_samples_per_s"]) < 1e-9
    # The Trainer's speed as a fraction of the compute limit measured in the same run (never a set figure).
    measured = report["compute_limit"]
    assert limit["train_samples_per_s"] == measured["compute_limit_samples_per_s"] > 0
    assert measured["fraction"] == measured["trainer_samples_per_s"] / measured["compute_limit_samples_per_s"]
