"""The fused selective-scan kernel's build: cached across processes, a clean fallback without a compiler."""

import os
import subprocess
import sys

import pytest
import torch

from mlpzoo.errors import ConfigError
from mlpzoo.layers import native, ssm_kernel
from mlpzoo.layers.ssm import selective_scan

needs_kernel = pytest.mark.skipif(not ssm_kernel.kernel_available(), reason="no C compiler")


def inputs(b=3, length=50, d=5, n=16, dtype=torch.float32):
    gen = torch.Generator().manual_seed(0)
    kw = {"dtype": dtype, "generator": gen}
    return (
        torch.randn(b, length, d, **kw),
        torch.rand(b, length, d, **kw),
        -torch.rand(d, n, **kw) * 4,
        torch.randn(b, length, n, **kw),
        torch.randn(b, length, n, **kw),
        torch.randn(d, **kw),
    )


@pytest.fixture
def fresh_library(monkeypatch, tmp_path):
    """An empty kernel cache in tmp_path; the process's loaded kernel comes back afterwards."""
    monkeypatch.setenv("MLPZOO_KERNEL_CACHE", str(tmp_path))
    native.load.cache_clear()
    yield tmp_path
    monkeypatch.undo()
    native.load.cache_clear()


@needs_kernel
def test_built_once_and_reused(fresh_library):
    assert ssm_kernel.kernel_available()
    built = list(fresh_library.glob("ssm_kernel_*.so"))
    assert len(built) == 1
    stamp = built[0].stat().st_mtime_ns
    code = "from mlpzoo.layers import native, ssm_kernel; assert ssm_kernel.kernel_available()"
    env = {**os.environ, "MLPZOO_KERNEL_CACHE": str(fresh_library), "CC": "no-such-compiler"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)  # loads the cached file, compiles nothing
    assert built[0].stat().st_mtime_ns == stamp and len(list(fresh_library.glob("ssm_kernel_*.so"))) == 1


def test_falls_back_to_the_chunked_scan_without_a_compiler(fresh_library, monkeypatch):
    monkeypatch.setenv("CC", "no-such-compiler")
    with pytest.warns(RuntimeWarning, match="could not be built"):
        assert not ssm_kernel.kernel_available()
    args = inputs(dtype=torch.float64)
    assert torch.allclose(selective_scan(*args), selective_scan(*args, fused=False), atol=1e-12)
    with pytest.raises(ConfigError, match="fused=True"):
        selective_scan(*args, fused=True)


@needs_kernel
def test_unsupported_inputs_take_the_chunked_scan():
    args = [t.to(torch.bfloat16) for t in inputs(length=8)]
    assert not ssm_kernel.supports(*args)
    assert torch.allclose(selective_scan(*args).float(), selective_scan(*args, fused=False).float())
    with pytest.raises(ConfigError, match="fused=True"):
        selective_scan(*args, fused=True)
    with pytest.raises(ConfigError, match="fused = 'yes'"):
        selective_scan(*inputs(length=8), fused="yes")


@needs_kernel
@pytest.mark.parametrize("threads", [1, 2, 4])
def test_batch_rows_split_over_threads_give_the_same_result(threads):
    args = [t.requires_grad_() for t in inputs(dtype=torch.float64)]
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(threads)
        selective_scan(*args, chunk_size=16, fused=True).square().sum().backward()
    finally:
        torch.set_num_threads(previous)
    fused = [t.grad.clone() for t in args]
    for t in args:
        t.grad = None
    selective_scan(*args, chunk_size=16, fused=False).square().sum().backward()
    for mine, reference in zip(fused, (t.grad for t in args)):
        assert torch.allclose(mine, reference, atol=1e-10)


@needs_kernel
def test_float32_exp_is_accurate_over_the_whole_range():
    # The kernel's vectorised float32 exp against torch.exp, through a one-step scan: y = C * exp(dt A) * h0.
    log_a = torch.linspace(-87, 0, 4001)
    A = log_a[:, None]
    ones = torch.ones(1, 1, 4001)
    h0 = torch.ones(1, 4001, 1)
    y = selective_scan(ones * 0, ones, A, torch.zeros(1, 1, 1), torch.ones(1, 1, 1), initial_state=h0, fused=True)
    assert torch.allclose(y[0, 0], log_a.exp(), rtol=2e-7, atol=0)


@needs_kernel
def test_empty_sequence_keeps_the_initial_state():
    u, delta, A, B, C, D = inputs(length=0)
    h0 = torch.randn(3, 5, 16)
    y, final = selective_scan(u, delta, A, B, C, D, initial_state=h0, return_final_state=True, fused=True)
    assert y.shape == (3, 0, 5) and torch.equal(final, h0)
