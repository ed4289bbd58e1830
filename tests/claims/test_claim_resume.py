"""A full claim run killed with SIGKILL at a random point and started again ends with the same evidence."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("tiny_resumable_claim.py")
ARMS = 9  # three widths x three seeds
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def _start(runs_dir: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), str(runs_dir), str(out)],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _stored_arms(runs_dir: Path) -> int:
    return len(list(runs_dir.glob("claims/hourglass/work/*/arms/*.json")))


@pytest.mark.slow
def test_sigkill_then_rerun_gives_the_same_evidence(tmp_path: Path) -> None:
    reference = _start(tmp_path / "reference", tmp_path / "reference.json")
    assert reference.wait(timeout=300) == 0, reference.stderr.read().decode()[-2000:]

    rng = random.Random(os.environ.get("PYTEST_SEED", "1"))
    kill_after = rng.randint(1, ARMS - 2)  # arms stored before the kill
    runs = tmp_path / "killed"
    victim = _start(runs, tmp_path / "killed.json")
    deadline = time.monotonic() + 240
    while victim.poll() is None and time.monotonic() < deadline and _stored_arms(runs) < kill_after:
        time.sleep(0.005)
    time.sleep(rng.uniform(0.0, 0.2))  # somewhere inside the next arm, possibly while it is written
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=60)
    done_before = _stored_arms(runs)
    assert not (tmp_path / "killed.json").exists() and done_before < ARMS, (
        "the run finished before the kill; the test proves nothing"
    )

    resumed = _start(runs, tmp_path / "killed.json")
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read().decode()[-2000:]
    a = json.loads((tmp_path / "reference.json").read_text())
    b = json.loads((tmp_path / "killed.json").read_text())
    assert b["reused"] == done_before >= kill_after  # the rerun skipped exactly the arms stored before the kill
    assert a["reused"] == 0
    assert b["table"] == a["table"] and b["runs"] == a["runs"] and b["verdict"] == a["verdict"]
