"""reuse_freed_memory: glibc malloc keeps freed tensor memory for the next step instead of re-faulting it."""

import os
import subprocess
import sys

import pytest

from mlpzoo.train import allocator

PROBE = """
import resource, sys, torch
torch.set_num_threads(1)
if sys.argv[1] == "on":
    from mlpzoo.train.allocator import reuse_freed_memory
    assert reuse_freed_memory()["applied"]


def step():  # like a training step: ten 6.4 MiB activations alive at once, all freed at its end
    return [torch.empty(4096, 400).fill_(1.0) for _ in range(10)]


step(), step()  # first touches, and glibc's dynamic thresholds learn from the first frees
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""

glibc = pytest.mark.skipif("glibc" not in (allocator._libc_version() or ""), reason="glibc's mallopt only")


def _faults(mode: str) -> int:
    env = {**os.environ, "MLPZOO_MALLOC_TUNING": "1"}
    result = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, env=env, check=True)
    return int(result.stdout.split()[-1])


@glibc
def test_freed_blocks_are_reused_instead_of_faulted_in_again():
    # 20 steps of 64 MiB (16,400 pages each): untuned, glibc hands some of the freed heap back each
    # step and faults it in again (measured 17-32k faults); with the tuning it all stays (measured 0).
    off, on = _faults("off"), _faults("on")
    assert off > 5000 and on * 10 < off, (on, off)


@glibc
def test_applies_once_and_reports(monkeypatch):
    monkeypatch.setattr(allocator, "_STATE", {})
    first = allocator.reuse_freed_memory()
    assert first["applied"] and "32 MiB" in first["reason"]
    assert allocator.reuse_freed_memory() == first


def test_environment_turns_it_off(monkeypatch):
    monkeypatch.setattr(allocator, "_STATE", {})
    monkeypatch.setenv("MLPZOO_MALLOC_TUNING", "0")
    assert allocator.reuse_freed_memory() == {"applied": False, "reason": "turned off by MLPZOO_MALLOC_TUNING=0"}
