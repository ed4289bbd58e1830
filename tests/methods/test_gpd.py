"""GPD forecaster: zero-shot conditioning on a periodic signal, flexible lengths, bad input."""

import numpy as np
import pytest
import torch

from mlpzoo.errors import DataError
from mlpzoo.methods.gpd import GPDForecaster


@pytest.fixture(scope="module")
def sine_model():
    torch.set_num_threads(1)
    t = np.arange(3000, dtype=np.float32)
    rng = np.random.default_rng(0)
    # Two channels of a 12-step cycle with different phases, plus noise.
    series = np.stack([np.sin(2 * np.pi * t / 12), np.cos(2 * np.pi * t / 12)], 1) + 0.05 * rng.normal(size=(3000, 2))
    model = GPDForecaster(window=36, pretrain_horizon=12, hidden_dim=64, n_blocks=2, diffusion_steps=40, clip_x0=4.0)
    return model.fit(series.astype(np.float32), steps=400, batch_size=128, lr=3e-3), series


def test_forecast_continues_an_unseen_phase(sine_model):
    model, _ = sine_model
    # A phase-shifted sine the model never saw as such (zero-shot), shifted in level by +3.
    t = np.arange(200, dtype=np.float32)
    target = np.sin(2 * np.pi * (t + 2.5) / 12) + 3.0
    starts = np.arange(0, 150, 7)
    history = np.stack([target[s : s + 24] for s in starts])
    truth = np.stack([target[s + 24 : s + 36] for s in starts])
    forecast = model.forecast(history, 12, n_samples=4, seed=0)
    assert forecast.shape == (len(starts), 12)
    naive_mean = np.mean((history.mean(1, keepdims=True) - truth) ** 2)  # 0.5: the sine's variance
    assert np.mean((forecast - truth) ** 2) < 0.25 * naive_mean


def test_any_history_and_horizon_that_fit(sine_model):
    model, series = sine_model
    assert model.forecast(series[None, :10, 0], 26, n_samples=2).shape == (1, 26)  # 10 + 26 = 36
    multi = model.forecast(np.stack([series[:20], series[100:120]]), 5, n_samples=2)
    assert multi.shape == (2, 5, 2)  # channels forecast independently
    a = model.forecast(series[None, :24, 0], 12, n_samples=2, seed=3)
    assert np.array_equal(a, model.forecast(series[None, :24, 0], 12, n_samples=2, seed=3))


def test_bad_input(sine_model):
    model, series = sine_model
    with pytest.raises(DataError, match="does not fit the pretrained window of 36"):
        model.forecast(series[None, :30, 0], 12)
    with pytest.raises(DataError, match="does not fit"):
        model.forecast(series[None, :10, 0], 0)
    gap = series[None, :24, 0].copy()
    gap[0, 5] = np.nan
    with pytest.raises(DataError, match="NaN"):
        model.forecast(gap, 12)
    with pytest.raises(DataError, match="before fit"):
        GPDForecaster(window=36).forecast(series[None, :24, 0], 12)
    with pytest.raises(DataError, match="shorter than history \\+ horizon"):
        GPDForecaster(window=36).fit(series[:20], steps=1)
    with pytest.raises(DataError, match="NaN"):
        GPDForecaster(window=36).fit(np.where(np.arange(100) == 50, np.nan, 0.0), steps=1)
    with pytest.raises(DataError, match="pretrain_horizon"):
        GPDForecaster(window=36, pretrain_horizon=36)
    with pytest.raises(DataError, match="prediction='x0'"):
        GPDForecaster(window=36, prediction="x0")
