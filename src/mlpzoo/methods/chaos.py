"""Chaos features for forecasting: delay (ACF), embedding dimension (Cao's method), delay embedding.

Vangala & Ravi, "ATM cash demand forecasting in an Indian bank with chaos and deep learning",
2020, arXiv:2008.10365 (catalog id ``atm-chaos``): reconstruct the state space of a daily series with a lag from the
autocorrelation function and an embedding dimension from Cao's method, and add the day of the
week as a one-hot exogenous input. Cao's method: L. Cao, "Practical method for determining the
minimum embedding dimension of a scalar time series", Physica D 110 (1997) 43-50.

- :func:`acf_lag`: the first lag at which the sample ACF (statsmodels ``acf``, FFT) drops to
  ``<= 0`` (``criterion="first_zero"``, default) or below ``1/e`` (``"1/e"``). ``difference=True``
  reads it off the ACF of the first differences: the level of a drifting series stays
  autocorrelated for months, which would give windows spanning most of the data. No crossing up
  to ``max_lag`` raises :class:`DataError`.
- :func:`cao_embedding`: ``E(d)`` = mean over points of the ratio of the max-norm distances to the
  nearest neighbour (found in dimension ``d``; exact duplicates skipped, as Cao prescribes) in
  dimensions ``d + 1`` and ``d``; ``E1(d) = E(d+1)/E(d)``. ``E*(d)`` = mean distance between the
  next values of a point and its neighbour; ``E2(d) = E*(d+1)/E*(d)``. The dimension is the first
  ``d`` where ``E1`` saturates (``|E1(d+1) - E1(d)| <= tol``); ``stochastic`` is true when every
  ``E2`` lies within ``0.1`` of 1 (Cao: ``E2 = 1`` for all ``d`` for random data).
- A constant series (or one with NaN/inf, or too short for the requested lags) raises a one-line
  :class:`DataError` (:func:`mlpzoo.data.series.check_series`); it never divides by zero.
- :func:`delay_embed` and :func:`calendar_one_hot` build the model inputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree
from statsmodels.tsa.stattools import acf

from mlpzoo.data.series import check_series
from mlpzoo.errors import ConfigError, DataError

__all__ = ["CaoResult", "Embedding", "acf_lag", "calendar_one_hot", "cao_embedding", "delay_embed", "embed_series"]

CRITERIA = ("first_zero", "1/e")


def acf_lag(values, criterion: str = "first_zero", difference: bool = False, max_lag: int | None = None) -> int:
    """Delay for the embedding from the autocorrelation function (see the module docstring)."""
    if criterion not in CRITERIA:
        raise ConfigError(f"acf_lag: criterion = {criterion!r}; use one of {', '.join(CRITERIA)}")
    x = check_series(values, 4, "acf_lag input")
    if difference:
        x = check_series(np.diff(x), 3, "acf_lag input after differencing")
    max_lag = min(max_lag or len(x) // 2, len(x) - 1)
    correlation = acf(x, nlags=max_lag, fft=True)
    threshold = 0.0 if criterion == "first_zero" else math.exp(-1)
    below = np.flatnonzero(correlation[1:] <= threshold if criterion == "first_zero" else correlation[1:] < threshold)
    if not below.size:
        raise DataError(
            f"acf_lag: the autocorrelation never drops {'to 0' if criterion == 'first_zero' else 'below 1/e'} "
            f"within {max_lag} lags; pass difference=True for a drifting series or a larger max_lag"
        )
    return int(below[0] + 1)


def _embed(x: np.ndarray, dim: int, lag: int, count: int) -> np.ndarray:
    """The first ``count`` delay vectors ``(x_i, x_{i+lag}, ..., x_{i+(dim-1)lag})``."""
    return np.stack([x[j * lag : j * lag + count] for j in range(dim)], axis=1)


def _nearest_distinct(points: np.ndarray) -> np.ndarray:
    """Index of each point's nearest neighbour (max norm) among points at a non-zero distance."""
    tree = cKDTree(points)
    neighbour = np.full(len(points), -1)
    pending = np.arange(len(points))
    k = 2
    while pending.size:
        k = min(k, len(points))
        dist, index = tree.query(points[pending], k=k, p=np.inf)
        found = dist > 0
        has = found.any(1)
        neighbour[pending[has]] = index[has, found[has].argmax(1)]
        pending = pending[~has]
        if pending.size and k == len(points):  # only exact copies of themselves: cannot happen after check_series
            raise DataError("cao_embedding: some points have no distinct neighbour; the series is (piecewise) constant")
        k *= 2
    return neighbour


@dataclass(frozen=True)
class CaoResult:
    dimension: int
    e1: np.ndarray  # E1(d) for d = 1 .. max_dim
    e2: np.ndarray  # E2(d) for d = 1 .. max_dim (NaN where E*(d) = 0)
    saturated: bool  # False: E1 never saturated up to max_dim; dimension = max_dim
    stochastic: bool


def cao_embedding(values, lag: int, max_dim: int = 10, tol: float = 0.05) -> CaoResult:
    """Cao's E1/E2 for ``d = 1 .. max_dim`` and the minimum embedding dimension."""
    if lag < 1 or max_dim < 2:
        raise ConfigError(f"cao_embedding: need lag >= 1 and max_dim >= 2; got lag={lag}, max_dim={max_dim}")
    x = check_series(values, (max_dim + 1) * lag + 2, "cao_embedding input")
    e, e_star = [], []
    for d in range(1, max_dim + 2):
        count = len(x) - d * lag  # points that also have a (d+1)-dimensional vector
        low, high = _embed(x, d, lag, count), _embed(x, d + 1, lag, count)
        nn = _nearest_distinct(low)
        rows = np.arange(count)
        near = np.abs(low[rows] - low[nn]).max(1)
        far = np.abs(high[rows] - high[nn]).max(1)
        e.append(np.mean(far / near))
        e_star.append(np.mean(np.abs(x[rows + d * lag] - x[nn + d * lag])))
    e, e_star = np.array(e), np.array(e_star)
    e1 = e[1:] / e[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        e2 = np.where(e_star[:-1] > 0, e_star[1:] / np.where(e_star[:-1] > 0, e_star[:-1], 1.0), np.nan)
    flat = np.flatnonzero(np.abs(np.diff(e1)) <= tol)
    dimension = int(flat[0] + 1) if flat.size else max_dim
    stochastic = bool(np.all(np.abs(e2[np.isfinite(e2)] - 1) < 0.1))
    return CaoResult(dimension, e1, e2, bool(flat.size), stochastic)


def delay_embed(values, dim: int, lag: int, horizon: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Inputs ``(N, dim)`` = ``(x_{t-(dim-1)lag}, ..., x_{t-lag}, x_t)`` (oldest first) and the
    target positions ``t + horizon`` ``(N,)``, for every ``t`` with a full history and a target."""
    if dim < 1 or lag < 1 or horizon < 1:
        raise ConfigError(f"delay_embed: dim, lag and horizon must be >= 1; got {dim}, {lag}, {horizon}")
    span = (dim - 1) * lag
    x = check_series(values, span + horizon + 1, f"delay_embed input (dim {dim}, lag {lag}, horizon {horizon})")
    count = len(x) - span - horizon
    return _embed(x, dim, lag, count), np.arange(count) + span + horizon


def calendar_one_hot(index: pd.DatetimeIndex) -> np.ndarray:
    """Seasonal position one-hot: day of week (7) for daily data, month (12) for weekly or monthly
    data, nothing (0 columns) for yearly or other frequencies."""
    freq = (index.freqstr or pd.infer_freq(index) or "") if isinstance(index, pd.DatetimeIndex) else ""
    base = freq.split("-")[0].upper()
    if base in ("D", "B"):
        position, size = index.day_of_week, 7
    elif base in ("W", "M", "MS", "ME"):
        position, size = index.month - 1, 12
    else:
        return np.zeros((len(index), 0))
    return np.eye(size)[np.asarray(position)]


@dataclass(frozen=True)
class Embedding:
    """Model inputs for one series: delay vectors, calendar one-hot of the target date, targets."""

    lags: np.ndarray  # (N, dim), oldest first
    calendar: np.ndarray  # (N, k), k = 0 without calendar features
    target: np.ndarray  # (N,)
    position: np.ndarray  # (N,) index of each target in the series

    def flat(self) -> np.ndarray:
        """``(N, dim + k)``: for MLP, random forest and SVR."""
        return np.concatenate([self.lags, self.calendar], 1)

    def steps(self) -> np.ndarray:
        """``(N, dim, 1 + k)``: one step per delay value, the calendar repeated at every step (LSTM, 1D-CNN)."""
        calendar = np.repeat(self.calendar[:, None, :], self.lags.shape[1], axis=1)
        return np.concatenate([self.lags[..., None], calendar], 2)


def embed_series(series: pd.Series, dim: int, lag: int, calendar: bool = True, horizon: int = 1) -> Embedding:
    """Delay-embed ``series`` and attach the calendar one-hot of each target date."""
    lags, position = delay_embed(series.to_numpy(), dim, lag, horizon)
    target = series.to_numpy(np.float64)[position]
    dummies = calendar_one_hot(series.index)[position] if calendar else np.zeros((len(position), 0))
    return Embedding(lags, dummies, target, position)
