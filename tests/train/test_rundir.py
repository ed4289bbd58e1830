"""RunDir: confined names, the writer's lock, the fingerprint check before any write, atomic writes, readers."""

import errno
import json
import os
import subprocess
import sys
from unittest import mock

import pytest

from mlpzoo.errors import ConfigError, MlpzooError
from mlpzoo.train.rundir import RunDir, atomic_write_text, confined_name, file_digest

FINGERPRINT = {"configuration": "c1", "training data": "d1"}


@pytest.mark.parametrize("name", ["..", ".", "../victim", "/tmp/victim", "a/b", "a\\b", "", "  ", "x\x00y", None, 3])
def test_names_that_leave_their_root_are_refused(name):
    with pytest.raises(ConfigError, match="train.run_name"):
        confined_name(name, "train.run_name")


@pytest.mark.parametrize("name", ["run", "trial-0001", "my run 2", "finalmlp.frappe", "..hidden-but-inside"])
def test_plain_names_pass(name):
    assert confined_name(name, "train.run_name") == name


def test_start_writes_config_fingerprint_and_schema_then_resumes_only_on_a_match(tmp_path):
    run = RunDir.under(tmp_path, "r")
    assert run.start(FINGERPRINT, {}, True, {"train": {"lr": 0.1}}, {"categorical": []}) is False
    run.release()
    assert run.read_config() == {"train": {"lr": 0.1}} and run.read_schema() == {"categorical": []}
    assert run.read_fingerprint() == FINGERPRINT
    run.last.write_bytes(b"checkpoint")
    assert run.start(FINGERPRINT, {}, True, {}, None) is True
    run.release()
    with pytest.raises(ConfigError, match=r"the training file data/t.csv changed .*\(and with it: training data\)"):
        run.start(
            {"configuration": "c1", "training data": "d2", "training file": "f2"},
            {"training file": "data/t.csv"},
            True,
            {},
            None,
        )
    assert run.last.read_bytes() == b"checkpoint"


def test_refused_start_writes_nothing_and_releases_the_lock(tmp_path):
    run = RunDir.under(tmp_path, "r")
    run.start(FINGERPRINT, {}, True, {"a": 1}, {"s": 1})
    run.last.write_bytes(b"x")
    run.release()
    before = {p.name: p.read_bytes() for p in run.path.iterdir()}
    with pytest.raises(ConfigError, match="configuration"):
        run.start({**FINGERPRINT, "configuration": "c2"}, {}, True, {"a": 2}, {"s": 2})
    assert {p.name: p.read_bytes() for p in run.path.iterdir()} == before
    run.lock()  # not held any more
    run.release()


def test_resume_false_starts_over(tmp_path):
    run = RunDir.under(tmp_path, "r")
    run.start(FINGERPRINT, {}, True, {}, None)
    for name in (RunDir.LAST, RunDir.BEST, RunDir.RESULT, RunDir.METRICS):
        run.file(name).write_text("old")
    run.release()
    assert run.start({"configuration": "other"}, {}, False, {}, None) is False
    run.release()
    assert sorted(p.name for p in run.path.iterdir()) == [RunDir.CONFIG, RunDir.FINGERPRINT]


def test_a_run_without_fingerprint_is_not_resumed_blindly(tmp_path):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / RunDir.LAST).write_bytes(b"x")
    with pytest.raises(ConfigError, match="without fingerprint.json.*resume: false"):
        RunDir.under(tmp_path, "r").start(FINGERPRINT, {}, True, {}, None)


def test_second_process_gets_the_holders_pid(tmp_path):
    run = RunDir.under(tmp_path, "r")
    run.lock()
    try:
        code = (
            "import sys; from mlpzoo.train.rundir import RunDir\n"
            "try:\n    RunDir.under(sys.argv[1], 'r').lock()\nexcept Exception as e:\n    print(e)\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True
        ).stdout
        assert f"in use by process {os.getpid()}" in out
    finally:
        run.release()
    assert not (tmp_path / "r").exists()  # the lock lies beside the run directory
    assert list(tmp_path.iterdir()) == []  # and is removed with the release


def test_failed_write_is_one_line_and_leaves_no_temporary_file(tmp_path):
    with mock.patch("os.fsync", side_effect=OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))):
        with pytest.raises(MlpzooError, match="No space left on device.*train.run_dir"):
            atomic_write_text(tmp_path / "a.json", "{}")
    assert list(tmp_path.iterdir()) == []


def test_torn_files_are_one_line_errors(tmp_path):
    run = RunDir(tmp_path)
    (tmp_path / RunDir.METRICS).write_text('{"epoch": 1}\n{"epo')
    (tmp_path / RunDir.SCHEMA).write_text('{"categorical": [')
    (tmp_path / RunDir.CONFIG).write_text("model: {name: mlp, in_f")
    with pytest.raises(ConfigError, match="metrics.jsonl:2"):
        run.read_metrics()
    with pytest.raises(ConfigError, match="schema.json is not valid JSON"):
        run.read_schema()
    with pytest.raises(ConfigError, match="config.yaml is not valid YAML"):
        run.read_config()


def test_file_digest_is_on_content_not_path(tmp_path):
    (tmp_path / "a.csv").write_text("x\n1\n")
    (tmp_path / "b.csv").write_text("x\n1\n")
    assert file_digest(tmp_path / "a.csv") == file_digest(tmp_path / "b.csv")
    (tmp_path / "b.csv").write_text("x\n1\n2\n")
    assert file_digest(tmp_path / "a.csv") != file_digest(tmp_path / "b.csv")
    assert json.dumps(file_digest(tmp_path / "a.csv"))
