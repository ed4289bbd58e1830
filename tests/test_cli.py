"""The mlpzoo command end to end: catalog, claims at the quick budget, training from YAML, errors."""

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from mlpzoo.claims.catalog import load_catalog
from mlpzoo.cli import main


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(autouse=True)
def empty_ledger(tmp_path, monkeypatch):
    """The commands see an empty verdict ledger, so the committed entries never change what a test expects."""
    monkeypatch.setenv("MLPZOO_RESULTS", str(tmp_path / "ledger"))


def test_papers_lists_all_43(tmp_path):
    result = invoke("papers", "--format", "markdown", "--runs-dir", tmp_path)
    assert result.exit_code == 0
    data_lines = [line for line in result.output.splitlines() if line.startswith("| ") and not line.startswith("| id")]
    assert len(data_lines) == len(load_catalog())
    assert any("finalmlp" in line for line in data_lines)


@pytest.mark.parametrize("fmt", ["markdown", "table"])
def test_papers_shows_the_latest_verdict(tmp_path, fmt):
    from mlpzoo.claims.base import ClaimResult

    for verdict, finished in (
        ("reproduced", "2026-01-01T00:00:00+00:00"),
        ("partly reproduced", "2026-02-01T00:00:00+00:00"),
    ):
        ClaimResult("kan-hea", "t", "c", "quick", [1], [], [], verdict, "r", finished_at=finished).save(tmp_path)
    result = invoke("papers", "--format", fmt, "--runs-dir", tmp_path)
    assert result.exit_code == 0
    row = next(line for line in result.output.splitlines() if "kan-hea" in line)
    assert "partly reproduced (quick)" in row  # the newer of the two runs
    assert sum("reproduced" in line for line in result.output.splitlines()) == 1


@pytest.mark.slow
@pytest.mark.parametrize(
    "paper_id, metric, datasets",
    [("finalmlp", "test_auc_mean", ("frappe", "movielens-100k")), ("din", "test_gauc_mean", ("movielens-100k",))],
)
def test_reproduce_quick_gives_evidence_and_verdict(need_data, tmp_path, paper_id, metric, datasets):
    for name in datasets:
        need_data(name)
    result = invoke("reproduce", paper_id, "--budget", "quick", "--runs-dir", tmp_path)
    assert result.exit_code == 0, result.output
    assert "verdict:" in result.output
    (saved,) = (tmp_path / "claims" / paper_id).glob("*/result.json")
    evidence = json.loads(saved.read_text())
    assert evidence["verdict"] in ("reproduced", "partly reproduced", "not reproduced")
    assert evidence["table"] and all(0.5 < row[metric] <= 1.0 for row in evidence["table"])
    assert (saved.parent / "report.md").read_text().startswith(f"# {paper_id}")
    # The catalog picks up the verdict just written.
    catalog = invoke("papers", "--format", "markdown", "--runs-dir", tmp_path).output
    assert evidence["verdict"] in next(line for line in catalog.splitlines() if line.startswith(f"| {paper_id} "))


def test_reproduce_without_any_data_says_nothing_was_checked(tmp_path, monkeypatch):
    monkeypatch.delenv("MLPZOO_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("MLPZOO_OFFLINE", "1")
    result = invoke("reproduce", "finalmlp", "--budget", "quick", "--runs-dir", tmp_path)
    assert result.exit_code == 2, result.output
    out = result.output
    assert "not checked" in out and "no verdict" in out and "mlpzoo tour" in out
    for path in ("frappe/frappe.validation.libfm", "frappe/frappe.test.libfm", "movielens-100k/ml-100k.inter"):
        assert path in out
    assert "https://raw.githubusercontent.com/hexiangnan/neural_factorization_machine" in out
    assert "Downloads are off" in out and "could not be fetched" not in out
    assert "logistic regression" not in out and not (tmp_path / "claims").exists()  # no tour, no run folder
    # Short lines, except those carrying a download address or the data directory.
    plain = [line for line in out.splitlines() if "https://" not in line and str(tmp_path) not in line]
    assert all(len(line) <= 100 for line in plain), out


def test_reproduce_with_a_data_directory_lacking_files_fails(tmp_path, monkeypatch):
    monkeypatch.setenv("MLPZOO_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("MLPZOO_OFFLINE", "1")
    result = invoke("reproduce", "finalmlp", "--budget", "quick", "--runs-dir", tmp_path)
    assert result.exit_code == 2
    assert "frappe/frappe.validation.libfm" in result.output and "MLPZOO_DATA" in result.output
    assert str(tmp_path / "empty") in result.output


def _ledger(tmp_path, monkeypatch, paper_id="finalmlp", **entry):
    monkeypatch.setenv("MLPZOO_RESULTS", str(tmp_path / "results"))
    path = tmp_path / "results" / "claims" / f"{paper_id}.json"
    path.parent.mkdir(parents=True)
    path.write_text(entry.pop("text", None) or json.dumps(entry))
    return path


def _stop(*args, **kwargs):
    raise RuntimeError("the claim started")


def test_estimate_comes_from_the_ledger_scaled_by_seeds(tmp_path, monkeypatch):
    from mlpzoo.cli.reproduce import estimate_seconds

    _ledger(
        tmp_path, monkeypatch, budget="full", seconds=1800.0, seeds=[0, 1, 2], environment={"threads": 2, "cpu": "Xeon"}
    )
    seconds, source = estimate_seconds("finalmlp", "full", 6, tmp_path / "runs")
    assert seconds == 3600.0 and "evidence ledger" in source and "2 thread(s)" in source
    assert estimate_seconds("finalmlp", "quick", 1, tmp_path / "runs")[0] is None  # the ledger holds another budget


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '{"budget": "full"}', '{"budget": "full", "seconds": "long"}'])
def test_a_malformed_ledger_entry_falls_back_to_local_runs(tmp_path, monkeypatch, text):
    from mlpzoo.claims.base import ClaimResult
    from mlpzoo.cli.reproduce import estimate_seconds

    _ledger(tmp_path, monkeypatch, text=text)
    assert estimate_seconds("finalmlp", "full", 3, tmp_path / "runs") == (None, "no recorded full run of finalmlp yet")
    for seconds, finished in ((100.0, "2026-01-01T00:00:00+00:00"), (240.0, "2026-02-01T00:00:00+00:00")):
        ClaimResult(
            "finalmlp", "t", "c", "full", [0, 1, 2], [], [], "reproduced", "r", finished_at=finished, seconds=seconds
        ).save(tmp_path / "runs")
    seconds, source = estimate_seconds("finalmlp", "full", 3, tmp_path / "runs")
    assert seconds == 240.0 and "last full run" in source  # the newest run


def test_reproduce_prints_the_estimate_and_asks_beyond_ten_minutes(tmp_path, monkeypatch):
    import mlpzoo.claims
    import mlpzoo.cli.reproduce as command

    _ledger(tmp_path, monkeypatch, budget="quick", seconds=1200.0, seeds=[2021])
    monkeypatch.setattr(command, "_stdin_is_terminal", lambda: True)
    monkeypatch.setattr(mlpzoo.claims, "run", _stop)
    args = ["reproduce", "finalmlp", "--budget", "quick", "--runs-dir", str(tmp_path)]
    result = CliRunner().invoke(main, args, input="n\n")
    assert "estimated wall time: about 20 min (from the evidence ledger" in result.output
    assert "longer than 10 minutes" in result.output and result.exit_code == 1
    assert not isinstance(result.exception, RuntimeError)  # declined: the claim never started


def test_reproduce_yes_skips_the_question(tmp_path, monkeypatch):
    import mlpzoo.claims
    import mlpzoo.cli.reproduce as command
    from mlpzoo.claims.base import ClaimResult

    _ledger(tmp_path, monkeypatch, budget="quick", seconds=1200.0, seeds=[2021])
    monkeypatch.setattr(command, "_stdin_is_terminal", lambda: True)
    table = [{"model": "finalmlp", "n": 1, "epochs": 2.0, "test_auc_std": float("nan")}]
    fake = ClaimResult("finalmlp", "t", "c", "quick", [2021], [], table, "not reproduced", "r")
    monkeypatch.setattr(mlpzoo.claims, "run", lambda *a, **k: fake)
    result = invoke("reproduce", "finalmlp", "--budget", "quick", "--yes", "--runs-dir", tmp_path)
    assert result.exit_code == 0, result.output
    assert "longer than 10 minutes" not in result.output and "verdict: not reproduced" in result.output
    row = next(line for line in result.output.splitlines() if "finalmlp" in line and "│" in line)
    # Integers as integers, no standard deviation of one seed.
    assert " 2 " in row and "2.0000" not in row and " - " in row and "nan" not in row


def test_reproduce_without_a_recorded_run_says_unknown(tmp_path, monkeypatch):
    import mlpzoo.claims

    monkeypatch.setenv("MLPZOO_RESULTS", str(tmp_path / "results"))
    monkeypatch.setattr(mlpzoo.claims, "run", _stop)
    result = CliRunner().invoke(main, ["reproduce", "din", "--budget", "quick", "--runs-dir", str(tmp_path)])
    assert isinstance(result.exception, RuntimeError)
    assert "estimated wall time: unknown (no recorded quick run of din yet)" in result.output


def test_reproduce_unknown_paper_is_one_line_error(tmp_path):
    result = invoke("reproduce", "finalmpl", "--runs-dir", tmp_path)
    assert result.exit_code == 2
    assert "finalmlp" in result.output and "Traceback" not in result.output


def test_reproduce_paper_without_claim_module(tmp_path, monkeypatch):
    import mlpzoo.claims as claims

    # Every catalogued paper has a claim module now: point mvp's at a module that does not exist.
    named = claims.module_name
    monkeypatch.setattr(
        claims, "module_name", lambda paper: "mlpzoo.claims.not_written" if paper == "mvp" else named(paper)
    )
    result = invoke("reproduce", "mvp", "--runs-dir", tmp_path)
    assert result.exit_code == 2 and "no claim module yet" in result.output


def _write(tmp_path, spec):
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_train_from_yaml_on_frappe(need_data, tmp_path):
    need_data("frappe")
    config = Path(__file__).parents[1] / "configs" / "finalmlp_frappe.yaml"
    result = invoke("train", config, "--set", "train.epochs=1", "--set", f"train.run_dir={tmp_path}")
    assert result.exit_code == 0, result.output
    run_dir = tmp_path / "finalmlp_frappe"
    assert json.loads((run_dir / "result.json").read_text())["metrics"]["test"]["auc"] > 0.8
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["model"]["name"] == "finalmlp"
    assert "continued the run" not in result.output
    # The same command again continues that run (here: one more epoch) and says so.
    again = invoke("train", config, "--set", "train.epochs=2", "--set", f"train.run_dir={tmp_path}")
    assert again.exit_code == 0 and "continued the run" in again.output and "from epoch 1" in again.output
    assert len((run_dir / "metrics.jsonl").read_text().splitlines()) == 2


def test_train_on_own_csv_files(tmp_path):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "user": rng.integers(0, 20, 600).astype(str),
            "item": rng.integers(0, 30, 600).astype(str),
            "price": rng.normal(size=600),
        }
    )
    frame["clicked"] = ((frame["user"].astype(int) % 2) ^ (frame["item"].astype(int) % 3 == 0)).astype(int)
    for part, rows in (("train", slice(0, 400)), ("valid", slice(400, 500)), ("test", slice(500, 600))):
        frame.iloc[rows].to_csv(tmp_path / f"{part}.csv", index=False)
    spec = {
        "data": {
            "train": str(tmp_path / "train.csv"),
            "valid": str(tmp_path / "valid.csv"),
            "test": str(tmp_path / "test.csv"),
            "schema": {
                "label": "clicked",
                "categorical": [{"name": "user", "source": "user"}, {"name": "item", "source": "item"}],
                "numeric": ["price"],
            },
        },
        "model": {"name": "dnn", "hidden_units": [32], "embedding_regularizer": 0.0},
        "train": {"epochs": 30, "batch_size": 64, "lr": 0.01, "patience": 5, "run_dir": str(tmp_path / "runs")},
    }
    result = invoke("train", _write(tmp_path, spec))
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "runs" / "run" / "result.json").read_text())["metrics"]
    assert metrics["test"]["auc"] > 0.9


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"data": {"name": "frappe"}, "model": {"name": "dnn"}, "trian": {}}, "unknown section"),
        ({"data": {"name": "frappe"}, "model": {"name": "dnn"}, "train": {"epoch": 3}}, "valid keys are .*epochs"),
        ({"data": {"name": "frappe"}, "model": {"name": "dnn"}, "train": {"batch_size": "big"}}, "wrong type"),
        ({"data": {"name": "frappe"}, "model": {"name": "dnn"}, "train": {"batch_size": -4}}, "at least 1"),
        ({"data": {"name": "frappe"}, "model": {}}, "model.name is missing"),
        ({"data": {"nme": "frappe"}, "model": {"name": "dnn"}}, "valid keys are"),
    ],
)
def test_train_bad_config_one_line_errors(tmp_path, spec, message):
    result = invoke("train", _write(tmp_path, spec))
    assert result.exit_code == 2
    import re

    assert re.search(message, result.output), result.output
    assert "Traceback" not in result.output


def test_train_unknown_model_argument_lists_valid_ones(need_data, tmp_path):
    need_data("frappe")
    spec = {
        "data": {"name": "frappe"},
        "model": {"name": "finalmlp", "num_haeds": 2},
        "train": {"run_dir": str(tmp_path)},
    }
    result = invoke("train", _write(tmp_path, spec))
    assert result.exit_code == 2 and "num_haeds" in result.output and "num_heads" in result.output


def test_train_invalid_yaml(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("data: [unclosed\n")
    result = invoke("train", path)
    assert result.exit_code == 2 and "not valid YAML" in result.output


def test_shipped_tune_example_runs_on_frappe(need_data, tmp_path):
    """configs/tune_finalmlp_frappe.yaml as shipped, with each epoch cut to a few batches to keep the test short."""
    import optuna

    need_data("frappe")
    config = Path(__file__).parents[1] / "configs" / "tune_finalmlp_frappe.yaml"
    result = invoke(
        "tune",
        config,
        "--trials",
        "4",
        "--threads",
        "1",
        "--set",
        f"train.run_dir={tmp_path}",
        "--set",
        "train.max_batches_per_epoch=2",
    )
    assert result.exit_code == 0, result.output
    study = optuna.load_study(study_name="tune_finalmlp_frappe", storage=f"sqlite:///{tmp_path / 'tune' / 'optuna.db'}")
    assert len(study.trials) == 4 and {"train.lr", "model.embedding_regularizer"} <= set(study.trials[0].params)
    best = yaml.safe_load((tmp_path / "tune" / "tune_finalmlp_frappe" / "best_config.yaml").read_text())
    assert best["model"]["name"] == "finalmlp" and best["train"]["num_threads"] == 1 and "tune" not in best


def test_train_prints_a_line_per_epoch_when_not_on_a_terminal(tmp_path):
    """CliRunner's output is not a terminal, like a log file under nohup or CI."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"user": rng.integers(0, 5, 200).astype(str), "price": rng.normal(size=200)})
    frame["clicked"] = (frame["user"].astype(int) % 2).astype(int)
    frame.iloc[:150].to_csv(tmp_path / "train.csv", index=False)
    frame.iloc[150:].to_csv(tmp_path / "valid.csv", index=False)
    spec = {
        "data": {
            "train": str(tmp_path / "train.csv"),
            "valid": str(tmp_path / "valid.csv"),
            "schema": {"label": "clicked", "categorical": [{"name": "user", "source": "user"}], "numeric": ["price"]},
        },
        "model": {"name": "dnn", "hidden_units": [8]},
        "train": {"epochs": 3, "batch_size": 32, "patience": 5, "run_dir": str(tmp_path / "runs")},
    }
    result = invoke("train", _write(tmp_path, spec), "--threads", "1")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("epoch ")]
    assert [line.split(":")[0] for line in lines] == ["epoch 1", "epoch 2", "epoch 3"]
    assert all("train_loss" in line and "valid_auc" in line and "samples/s" in line for line in lines)
    saved = yaml.safe_load((tmp_path / "runs" / "run" / "config.yaml").read_text())
    assert saved["train"]["num_threads"] == 1  # --threads reaches the Trainer


@pytest.mark.parametrize("command", ["reproduce", "train", "tune", "tour", "size", "bench ctr"])
def test_every_training_command_takes_threads(command):
    result = invoke(*command.split(), "--help")
    assert result.exit_code == 0 and "--threads" in result.output


def test_commands_ask_openmp_to_sleep_rather_than_spin_unless_the_user_chose(tmp_path, monkeypatch):
    import os

    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    assert invoke("papers", "--format", "markdown", "--runs-dir", tmp_path).exit_code == 0
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    assert invoke("papers", "--format", "markdown", "--runs-dir", tmp_path).exit_code == 0
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"
