"""GEMM sweep on tiny widths, candidates and recommendations."""

import pytest

from mlpzoo.errors import ConfigError
from mlpzoo.methods.sizing import (
    WidthTiming,
    candidate_widths,
    gemm_flops,
    plot_sweep,
    recommend,
    sweep,
)


def test_sweep_tiny_widths(tmp_path):
    timings = sweep([24, 16, 16, 32], dim=8, tokens=16, repeats=2)
    assert [t.width for t in timings] == [16, 24, 32]
    for t in timings:
        assert t.parameters == 2 * 8 * t.width + t.width + 8
        assert 0 < t.step_ms_min <= t.step_ms and t.gflops > 0
        assert t.gflops == pytest.approx(gemm_flops(t.width, 8, 16) / (t.step_ms / 1e3) / 1e9)
    plot_sweep(timings, tmp_path / "sweep.png")
    assert (tmp_path / "sweep.png").stat().st_size > 0


def test_candidates_and_recommendation():
    assert candidate_widths(1000) == [960, 1000, 1024, 1088]  # 900..1100: multiples of 64, 128 and 256
    timings = [WidthTiming(w, 0, 1.0, 1.0, g) for w, g in ((1000, 10.0), (1024, 13.0), (1088, 12.0), (3000, 5.0))]
    [row] = recommend(timings, [1000])
    assert row["recommended"] == 1024 and row["speedup_per_parameter"] == pytest.approx(1.3)
    with pytest.raises(ConfigError):
        recommend(timings, [2000])


def test_bad_sweep_arguments():
    with pytest.raises(ConfigError):
        sweep([], dim=4, tokens=4)
    with pytest.raises(ConfigError):
        sweep([4], dim=0, tokens=4)
