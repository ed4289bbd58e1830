"""benchmarks/bench_claims.py: an entry re-judged from stored arms is timed by the run it re-judged."""

import importlib.util
import json
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_claims.py"


def _bench_claims():
    spec = importlib.util.spec_from_file_location("bench_claims", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _commit(repo: Path, entry: dict, message: str) -> None:
    path = repo / "results" / "claims" / "x.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(entry))
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", message], check=True)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_a_rejudged_entry_takes_the_wall_time_of_the_run_with_the_same_arms(tmp_path):
    bench = _bench_claims()
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    runs = [{"model": "a", "seed": 0, "acc": 0.9}]
    _commit(tmp_path, {"seconds": 700.0, "runs": [{"model": "a", "seed": 0, "acc": 0.8}]}, "older run, other arms")
    _commit(tmp_path, {"seconds": 1234.0, "runs": runs}, "the run")
    _commit(tmp_path, {"seconds": 0.1, "runs": runs, "resumed_arms": 1}, "re-judged")
    results = tmp_path / "results"
    current = json.loads((results / "claims" / "x.json").read_text())
    seconds, commit = bench.earlier_run(results, "x", current)
    assert seconds == 1234.0 and len(commit) == 7
    # Arms that no earlier full run produced: no wall time to borrow (the entry's own time stays a lower bound).
    assert bench.earlier_run(results, "x", {**current, "runs": [{"model": "b"}]}) is None
