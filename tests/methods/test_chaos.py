"""Chaos features: ACF lag, Cao's method against a slow reference, delay embedding, bad input."""

import math

import numpy as np
import pandas as pd
import pytest

from mlpzoo.errors import ConfigError, DataError
from mlpzoo.methods.chaos import (
    acf_lag,
    calendar_one_hot,
    cao_embedding,
    delay_embed,
    embed_series,
)


def logistic_map(n=600, r=3.9, x0=0.3):
    x = np.empty(n)
    x[0] = x0
    for i in range(1, n):
        x[i] = r * x[i - 1] * (1 - x[i - 1])
    return x


def reference_acf(x, k):
    x = x - x.mean()
    return np.dot(x[:-k], x[k:]) / np.dot(x, x)


def test_acf_lag_criteria_on_a_sine():
    x = np.sin(2 * np.pi * np.arange(400) / 42)  # ACF ~ cos(2 pi k / 42): first negative at k = 11
    assert acf_lag(x, "first_zero") == 11
    expected = next(k for k in range(1, 50) if reference_acf(x, k) < math.exp(-1))
    assert acf_lag(x, "1/e") == expected


def test_acf_lag_on_differences_and_no_crossing():
    trend = np.arange(300.0) + np.sin(np.arange(300))
    with pytest.raises(DataError, match="difference=True"):
        acf_lag(trend, max_lag=20)
    assert acf_lag(trend, difference=True) >= 1
    with pytest.raises(ConfigError, match="criterion"):
        acf_lag(trend, criterion="mutual_information")


def reference_cao_e(x, d, lag):
    """E(d) and E*(d) by brute force over all pairs (max norm, nearest distinct neighbour)."""
    count = len(x) - d * lag
    low = np.stack([x[j * lag : j * lag + count] for j in range(d)], 1)
    high = np.stack([x[j * lag : j * lag + count] for j in range(d + 1)], 1)
    ratios, nexts = [], []
    for i in range(count):
        dist = np.abs(low - low[i]).max(1)
        dist[dist == 0] = np.inf
        nn = int(dist.argmin())
        ratios.append(np.abs(high[i] - high[nn]).max() / dist[nn])
        nexts.append(abs(x[i + d * lag] - x[nn + d * lag]))
    return np.mean(ratios), np.mean(nexts)


def test_cao_matches_brute_force_reference():
    rng = np.random.default_rng(0)
    x = rng.normal(size=150)
    result = cao_embedding(x, lag=2, max_dim=4)
    e, e_star = zip(*(reference_cao_e(x, d, 2) for d in range(1, 6)))
    assert np.allclose(result.e1, np.array(e[1:]) / np.array(e[:-1]))
    assert np.allclose(result.e2, np.array(e_star[1:]) / np.array(e_star[:-1]))


def test_cao_skips_exact_duplicates():
    x = np.tile(np.random.default_rng(2).normal(size=40), 3)  # every point has exact copies
    result = cao_embedding(x, lag=1, max_dim=3)
    assert np.isfinite(result.e1).all() and np.isfinite(result.e2).all()


def test_cao_tells_deterministic_from_random():
    chaotic = cao_embedding(logistic_map(), lag=1, max_dim=6)
    assert chaotic.saturated and chaotic.dimension <= 3 and not chaotic.stochastic
    noise = cao_embedding(np.random.default_rng(1).normal(size=600), lag=1, max_dim=6)
    assert noise.stochastic


@pytest.mark.parametrize("fn", [lambda x: acf_lag(x), lambda x: cao_embedding(x, 1), lambda x: delay_embed(x, 3, 1)])
def test_constant_series_is_a_clear_error(fn):
    with pytest.raises(DataError, match="constant"):
        fn(np.full(100, 4.2))


@pytest.mark.parametrize("fn", [lambda x: acf_lag(x), lambda x: cao_embedding(x, 1), lambda x: delay_embed(x, 3, 1)])
def test_nan_gaps_are_a_clear_error(fn):
    x = np.sin(np.arange(100.0))
    x[17] = np.nan
    with pytest.raises(DataError, match="fill_gaps") as info:
        fn(x)
    assert "\n" not in str(info.value)


def test_too_short_for_the_window():
    with pytest.raises(DataError, match="needs at least 11"):
        delay_embed(np.arange(10.0), dim=4, lag=3)
    with pytest.raises(DataError, match="needs at least"):
        cao_embedding(np.arange(20.0) % 3, lag=2, max_dim=10)
    with pytest.raises(ConfigError):
        delay_embed(np.arange(10.0), dim=0, lag=1)


def test_delay_embed_layout():
    lags, position = delay_embed(np.arange(20.0), dim=3, lag=2, horizon=1)
    assert lags[0].tolist() == [0.0, 2.0, 4.0] and position[0] == 5
    assert len(lags) == 20 - 4 - 1 and position[-1] == 19
    assert np.all(lags[:, -1] == position - 1)


def test_calendar_and_embedding():
    index = pd.date_range("2024-01-01", periods=30, freq="D")  # a Monday
    one_hot = calendar_one_hot(index)
    assert one_hot.shape == (30, 7) and one_hot[0, 0] == 1 and one_hot[6, 6] == 1
    assert calendar_one_hot(pd.date_range("2000", periods=5, freq="YS")).shape == (5, 0)
    assert calendar_one_hot(pd.date_range("2000", periods=5, freq="W-SAT")).shape == (5, 12)
    series = pd.Series(np.sin(np.arange(30.0)), index=index)
    emb = embed_series(series, dim=4, lag=2)
    assert emb.flat().shape == (len(emb.target), 11) and emb.steps().shape == (len(emb.target), 4, 8)
    assert np.allclose(emb.target, series.to_numpy()[emb.position])
    assert np.array_equal(emb.calendar, one_hot[emb.position])
