"""mlpzoo tune: search spaces from YAML, pruning from the Trainer's metric, two workers on one journal."""

import json
import os

import numpy as np
import optuna
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from mlpzoo.cli import main
from mlpzoo.errors import ConfigError
from mlpzoo.tune import apply_params, monitored_metric, parse_search_space, pruning_callback, tune


def tiny_ctr_config(tmp_path, rows=300, **tune_block):
    """A dnn on a generated CSV (the configs/dnn_csv_example.yaml layout), searched over lr and widths."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "user": rng.integers(0, 10, rows).astype(str),
            "item": rng.integers(0, 12, rows).astype(str),
            "price": rng.normal(size=rows),
        }
    )
    frame["clicked"] = ((frame["user"].astype(int) % 2) ^ (frame["item"].astype(int) % 3 == 0)).astype(int)
    cut = int(rows * 0.7)
    frame.iloc[:cut].to_csv(tmp_path / "train.csv", index=False)
    frame.iloc[cut:].to_csv(tmp_path / "valid.csv", index=False)
    spec = {
        "data": {
            "train": str(tmp_path / "train.csv"),
            "valid": str(tmp_path / "valid.csv"),
            "schema": {
                "label": "clicked",
                "categorical": [{"name": "user", "source": "user"}, {"name": "item", "source": "item"}],
                "numeric": ["price"],
            },
        },
        "model": {"name": "dnn", "hidden_units": [16], "embedding_dim": 4},
        "train": {"epochs": 2, "batch_size": 64, "patience": 5, "run_dir": str(tmp_path / "runs"), "progress": False},
        "tune": {
            "train.lr": {"type": "float", "low": 1e-3, "high": 3e-2, "log": True},
            "model.hidden_units": {"type": "categorical", "choices": [[8], [16, 8]]},
            **tune_block,
        },
    }
    path = tmp_path / "search.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path, spec


def test_two_worker_processes_share_one_journal_study(tmp_path):
    _, spec = tiny_ctr_config(tmp_path, pruner="none", sampler="random")
    journal = tmp_path / "shared" / "study.log"
    result = tune(
        spec,
        "search.yaml",
        trials=2,
        storage=f"journal://{journal}",
        study_name="shared",
        workers=2,
        start_method="fork",
        log=lambda line: None,
    )
    study = optuna.load_study(
        study_name="shared",
        storage=optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(journal))),
    )
    trials = study.get_trials()
    assert len(trials) == 4 and result.counts == {"complete": 4}
    workers = [t.user_attrs["worker"] for t in trials]
    assert len(set(workers)) == 2 and all(workers.count(w) == 2 for w in set(workers))  # both processes contributed
    assert len({t.number for t in trials}) == 4
    # Each trial is a complete run directory; the best one is written as YAML that `mlpzoo train` accepts.
    for t in trials:
        assert (
            json.loads((tmp_path / "runs" / "tune" / "shared" / f"trial-{t.number:04d}" / "result.json").read_text())[
                "epochs_run"
            ]
            == 2
        )
    best = max(trials, key=lambda t: t.value)
    saved = yaml.safe_load(result.best_params_path.read_text())
    assert saved["trial"] == best.number and saved["value"] == pytest.approx(best.value)
    assert saved["params"]["model.hidden_units"] == json.loads(best.params["model.hidden_units"])
    config = yaml.safe_load(result.best_config_path.read_text())
    assert "tune" not in config and config["train"]["lr"] == pytest.approx(best.params["train.lr"])


def test_cli_tune_with_default_sqlite_storage(tmp_path):
    path, _ = tiny_ctr_config(tmp_path, pruner="median", startup_trials=1, seed=0)
    result = CliRunner().invoke(main, ["tune", str(path), "--trials", "2"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "runs" / "tune" / "optuna.db").exists()
    assert "best config (for mlpzoo train)" in result.output and "valid_auc" in result.output
    study = optuna.load_study(study_name="search", storage=f"sqlite:///{tmp_path / 'runs' / 'tune' / 'optuna.db'}")
    assert study.direction == optuna.study.StudyDirection.MAXIMIZE  # AUC is maximised
    assert len(study.trials) == 2
    # The same command again adds trials to the same study.
    again = CliRunner().invoke(
        main, ["tune", str(path), "--trials", "1", "--set", "tune.pruner=none"], catch_exceptions=False
    )
    assert again.exit_code == 0, again.output
    assert (
        len(
            optuna.load_study(
                study_name="search", storage=f"sqlite:///{tmp_path / 'runs' / 'tune' / 'optuna.db'}"
            ).trials
        )
        == 3
    )


def test_direction_follows_the_monitored_metric():
    assert monitored_metric({"train": {"monitor": "logloss"}}) == ("logloss", "min")
    assert monitored_metric({}) == ("auc", "max")
    with pytest.raises(ConfigError, match="not a metric of task binary_ctr"):
        monitored_metric({"train": {"monitor": "rmse"}})


class FakeTrial:
    def __init__(self, prune_at):
        self.reports, self.prune_at = [], prune_at

    def report(self, value, step):
        self.reports.append((step, value))

    def should_prune(self):
        return len(self.reports) >= self.prune_at


def test_pruning_callback_reports_each_epoch_and_prunes():
    trial = FakeTrial(prune_at=2)
    callback = pruning_callback(trial, "auc")
    callback(1, {"valid_auc": 0.6, "train_loss": 0.5})
    with pytest.raises(optuna.TrialPruned, match="epoch 2"):
        callback(2, {"valid_auc": 0.55})
    assert trial.reports == [(1, 0.6), (2, 0.55)]


def test_search_space_parses_types_and_settings():
    space = parse_search_space(
        {
            "train.lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
            "train.batch_size": {"type": "int", "low": 32, "high": 256, "step": 32},
            "model.hidden_units": {"type": "categorical", "choices": [[64], [128, 64]]},
            "pruner": "hyperband",
            "seed": 3,
        },
        "dnn",
    )
    assert [d.kind for d in space.dimensions] == ["float", "int", "categorical"]
    assert space.pruner == "hyperband" and space.seed == 3
    assert isinstance(space.make_pruner(), optuna.pruners.HyperbandPruner)
    study = optuna.create_study(sampler=space.make_sampler())
    trial = study.ask()
    values = {d.key: d.suggest(trial) for d in space.dimensions}
    assert 1e-4 <= values["train.lr"] <= 1e-2 and values["train.batch_size"] % 32 == 0
    assert values["model.hidden_units"] in ([64], [128, 64])
    assert (
        apply_params({"model": {"name": "dnn"}, "tune": {}}, values)["model"]["hidden_units"]
        == values["model.hidden_units"]
    )


@pytest.mark.parametrize(
    "block, message",
    [
        (
            {"train.lr": {"type": "float", "low": 1e-2, "high": 1e-4}},
            r"tune\.train\.lr: low \(0\.01\) must be below high",
        ),
        (
            {"train.lr": {"type": "float", "low": 0.0, "high": 1e-2, "log": True}},
            r"tune\.train\.lr: a log scale needs low > 0",
        ),
        ({"train.lr": {"type": "floot", "low": 0.1, "high": 1}}, r"tune\.train\.lr\.type = 'floot'"),
        ({"train.lr": {"type": "float", "low": 0.1, "hi": 1}}, r"tune\.train\.lr: unknown key\(s\) hi"),
        ({"train.batch_size": {"type": "int", "low": 1.5, "high": 8}}, r"tune\.train\.batch_size\.low = 1\.5"),
        ({"train.lrr": {"type": "float", "low": 0.1, "high": 1}}, r"tune\.train\.lrr: TrainConfig has no field 'lrr'"),
        (
            {"train.run_dir": {"type": "categorical", "choices": ["a", "b"]}},
            r"tune\.train\.run_dir: .*set by the tuner",
        ),
        (
            {"model.hiden_units": {"type": "categorical", "choices": [[8]]}},
            r"tune\.model\.hiden_units: model 'dnn' has no argument",
        ),
        (
            {"model.hidden_units": {"type": "categorical", "choices": []}},
            r"tune\.model\.hidden_units\.choices: give a non-empty list",
        ),
        (
            {"data.train": {"type": "categorical", "choices": ["a"]}},
            r"tune\.data\.train: search model\.\* or train\.\*",
        ),
        ({"train.lr": [1e-3, 1e-2]}, r"tune\.train\.lr: expected a mapping"),
        ({"pruner": "median"}, r"tune: no search dimension"),
        (
            {"prunner": "median", "train.lr": {"type": "float", "low": 0.1, "high": 1}},
            r"tune: unknown setting\(s\) prunner",
        ),
        ({"pruner": "asha", "train.lr": {"type": "float", "low": 0.1, "high": 1}}, r"tune\.pruner = 'asha'"),
        (None, r"tune: add a mapping of search dimensions"),
    ],
)
def test_bad_search_space_is_one_line_error_naming_the_key(block, message):
    with pytest.raises(ConfigError, match=message) as caught:
        parse_search_space(block, "dnn")
    assert "\n" not in str(caught.value)


def test_cli_bad_space_and_bad_storage_are_one_line_errors(tmp_path):
    path, spec = tiny_ctr_config(tmp_path)
    spec["tune"]["train.lr"]["low"] = 1.0
    path.write_text(yaml.safe_dump(spec))
    result = CliRunner().invoke(main, ["tune", str(path), "--trials", "1"])
    assert (
        result.exit_code == 2
        and "tune.train.lr: low (1.0) must be below high" in result.output
        and "Traceback" not in result.output
    )
    spec["tune"]["train.lr"]["low"] = 1e-3
    path.write_text(yaml.safe_dump(spec))
    result = CliRunner().invoke(main, ["tune", str(path), "--trials", "1", "--storage", "study.db"])
    assert result.exit_code == 2 and "--storage 'study.db': use sqlite:///" in result.output


def test_plain_train_accepts_a_config_with_a_tune_block(tmp_path):
    path, _ = tiny_ctr_config(tmp_path)
    result = CliRunner().invoke(main, ["train", str(path), "--set", "train.epochs=1"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "runs" / "search" / "schema.json").exists()


def test_a_killed_workers_trial_is_marked_failed_and_the_study_goes_on(tmp_path):
    """A worker killed mid-trial leaves it RUNNING; the next tune marks it failed and adds new trials."""
    import socket
    import subprocess
    import sys

    from optuna.trial import TrialState

    from mlpzoo.tune import fail_orphaned_trials

    path, spec = tiny_ctr_config(tmp_path, pruner="none", sampler="random")
    storage = f"sqlite:///{tmp_path / 'runs' / 'tune' / 'optuna.db'}"
    (tmp_path / "runs" / "tune").mkdir(parents=True)
    study = optuna.create_study(study_name="search", storage=storage, direction="maximize")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    orphan, alive = study.ask(), study.ask()
    orphan.set_user_attr("worker", f"{socket.gethostname()}:{dead.pid}")
    alive.set_user_attr("worker", f"{socket.gethostname()}:{os.getppid()}")  # a live process: still running
    assert fail_orphaned_trials(study, optuna.storages.RDBStorage(storage)) == [orphan.number]
    states = {t.number: t.state for t in optuna.load_study(study_name="search", storage=storage).trials}
    assert states == {orphan.number: TrialState.FAIL, alive.number: TrialState.RUNNING}
    result = tune(spec, str(path), trials=1, log=lambda line: None)
    assert result.counts == {"running": 1, "complete": 1, "fail": 1}
