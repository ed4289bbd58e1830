"""SIGKILL a training process at a random point, resume it: the result equals an uninterrupted run."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).with_name("kill_fit.py")
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def _fit(run_dir: Path, name: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), str(run_dir), name], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


@pytest.mark.slow
def test_sigkill_then_resume_equals_uninterrupted(tmp_path):
    reference = _fit(tmp_path, "reference")
    assert reference.wait(timeout=300) == 0, reference.stderr.read().decode()[-2000:]

    rng = random.Random(os.environ.get("PYTEST_SEED", "1"))
    kill_after = rng.randint(1, 6)  # epochs checkpointed before the kill
    victim = _fit(tmp_path, "killed")
    metrics = tmp_path / "killed" / "metrics.jsonl"
    deadline = time.monotonic() + 240
    while (
        victim.poll() is None
        and time.monotonic() < deadline
        and (not metrics.exists() or len(metrics.read_text().splitlines()) < kill_after)
    ):
        time.sleep(0.005)
    time.sleep(rng.uniform(0.0, 0.25))  # somewhere in the next epoch, possibly while a checkpoint is written
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=60)
    epochs_before = len((tmp_path / "killed" / "metrics.jsonl").read_text().splitlines())
    assert epochs_before < 8, "the process finished before it was killed; the test proves nothing"

    resumed = _fit(tmp_path, "killed")
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read().decode()[-2000:]
    a = torch.load(tmp_path / "reference-final.pt", weights_only=True)
    b = torch.load(tmp_path / "killed-final.pt", weights_only=True)
    assert a["metrics"] == b["metrics"]
    for key in a["state"]:
        assert torch.equal(a["state"][key], b["state"][key]), key
