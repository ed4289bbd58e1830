"""torchrun with 2 gloo processes gives the result of 1 process with the same global batch."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mlpzoo.train.distributed import shard_batch

SCRIPT = Path(__file__).with_name("ddp_fit.py")


def test_shards_cover_the_batch_once():
    batch = {"x": torch.arange(10).reshape(5, 2), "label": torch.arange(5), "sequences": {"s": torch.arange(5)}}
    shards = [shard_batch(batch, rank, 2) for rank in range(2)]
    assert torch.equal(torch.cat([s["label"] for s in shards]), batch["label"])
    assert torch.equal(torch.cat([s["sequences"]["s"] for s in shards]), batch["sequences"]["s"])
    assert [len(s["x"]) for s in shards] == [3, 2]


def _run(args, out: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, *args, str(out)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.slow
def test_two_processes_match_one(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir(), two.mkdir()
    _run([str(SCRIPT)], one)
    _run(["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(SCRIPT)], two)
    single = torch.load(one / "result-0.pt", weights_only=True)
    ranks = [torch.load(two / f"result-{r}.pt", weights_only=True) for r in range(2)]
    for key, value in single["state"].items():
        # Both ranks hold the same weights, equal to the one-process run's up to summation order.
        assert torch.equal(ranks[0]["state"][key], ranks[1]["state"][key]), key
        torch.testing.assert_close(ranks[0]["state"][key], value, rtol=1e-4, atol=1e-5)
    assert ranks[0]["metrics"]["valid"]["rmse"] == pytest.approx(single["metrics"]["valid"]["rmse"], rel=1e-4)
    # Train loss is reduced over ranks, so the epoch records agree too.
    for a, b in zip(ranks[0]["history"], single["history"]):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)
    # Only rank 0 wrote the run directory (one metrics file, no stray checkpoints elsewhere).
    assert (two / "ddp" / "result.json").exists()
