"""ETT (Electricity Transformer Temperature) hourly series: reader, standard split, windows.

Zhou et al., "Informer: Beyond Efficient Transformer for Long Sequence Time-Series
Forecasting", AAAI 2021 (arXiv:2012.07436); files ``ett/ETTh1.csv`` and ``ett/ETTh2.csv``
(17,420 hourly rows each, CC BY-ND 4.0), found with :func:`~mlpzoo.data.paths.require_file`.

Columns: ``date`` (the index) and seven loads/temperatures, ``HUFL HULL MUFL MULL LUFL LULL
OT`` (OT, the oil temperature, is the usual univariate target).

Split (:func:`ett_splits`): the Informer 12/4/4-month split, train = hours [0, 8640),
validation = [8640, 11520), test = [11520, 14400); the last 3,020 hours are unused, as in the
papers. Each channel is standardised with mean and deviation fitted on train only. The three
segments are returned disjoint; Informer's loaders start the validation and test segments
``seq_len`` hours earlier so the first target hour of each segment has a full history. Pass
``history=seq_len`` to get exactly that (the extra leading hours are inputs only: a window whose
targets begin at segment offset ``history`` or later never forecasts a training hour).

Gaps: the published files have none. A missing or non-numeric value raises a one-line
:class:`DataError` naming the column and row, unless ``fill="interpolate"`` is passed, which
fills interior gaps linearly in time and edge gaps with the nearest value.
"""

from __future__ import annotations

import os
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.preprocessing import StandardScaler

from mlpzoo.data.paths import require_file
from mlpzoo.errors import DataError

__all__ = ["ETT_COLUMNS", "ETT_NAMES", "SPLIT_HOURS", "daily_ett", "ett_splits", "load_ett", "make_windows"]

ETT_NAMES = ("ETTh1", "ETTh2")
ETT_COLUMNS = ("HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT")
# 12 / 4 / 4 months of 30 days, 24 hours a day.
SPLIT_HOURS = (12 * 30 * 24, 4 * 30 * 24, 4 * 30 * 24)
_DAILY_HOW = ("mean", "sum", "min", "max", "median")


def _check_values(frame: pd.DataFrame, name: str, fill: str) -> pd.DataFrame:
    """Numeric float64 columns; a bad cell raises DataError naming column and row, or is filled."""
    out = {}
    for column in ETT_COLUMNS:
        raw = frame[column]
        values = pd.to_numeric(raw, errors="coerce")
        bad = values.isna() & raw.notna()
        if bad.any():
            where = frame.index[bad.to_numpy().argmax()]
            raise DataError(
                f"{name} column {column!r} has a non-numeric value {raw[bad].iloc[0]!r} at {where}; "
                "fix the file or re-download it"
            )
        out[column] = values.astype(np.float64)
    values = pd.DataFrame(out, index=frame.index)
    missing = values.isna()
    if missing.to_numpy().any():
        column = missing.any().idxmax()
        if fill == "error":
            where = values.index[missing[column].to_numpy().argmax()]
            raise DataError(
                f"{name} column {column!r} has {int(missing[column].sum())} missing value(s), first at "
                f"{where}; pass fill='interpolate' to fill gaps linearly in time"
            )
        values = values.interpolate(method="time", limit_direction="both")
        if values.isna().to_numpy().any():
            empty = values.columns[values.isna().any()][0]
            raise DataError(f"{name} column {empty!r} has no values; nothing to interpolate from")
    return values


def load_ett(
    name: str, data_dir: str | os.PathLike[str] | None = None, *, fill: Literal["error", "interpolate"] = "error"
) -> pd.DataFrame:
    """The ETT file ``name`` ("ETTh1" or "ETTh2") as a float64 frame with a DatetimeIndex.

    Columns are exactly :data:`ETT_COLUMNS` in that order. ``fill`` ("error", the default, or
    "interpolate") says what a missing value does; see the module docstring.
    """
    if name not in ETT_NAMES:
        raise DataError(f"unknown ETT series {name!r}; choose one of {', '.join(ETT_NAMES)}")
    if fill not in ("error", "interpolate"):
        raise DataError(f"fill={fill!r} is not supported; use 'error' or 'interpolate'")
    path = require_file("ett", f"{name}.csv", data_dir)
    try:
        frame = pd.read_csv(path, encoding="utf-8")
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as error:
        reason = str(error).splitlines()[0][:120]
        raise DataError(
            f"{path} is not a readable UTF-8 CSV ({type(error).__name__}: {reason}); re-download it from the "
            "ETDataset repository"
        ) from None
    missing = [c for c in ("date", *ETT_COLUMNS) if c not in frame.columns]
    if missing:
        raise DataError(
            f"{path} lacks column(s) {', '.join(missing)}; expected date,{','.join(ETT_COLUMNS)}; re-download the file"
        )
    dates = pd.to_datetime(frame["date"], errors="coerce")
    if dates.isna().any():
        row = int(dates.isna().to_numpy().argmax())
        raise DataError(
            f"{name} column 'date' has an unreadable value {frame['date'].iloc[row]!r} at row {row}; "
            "expected e.g. '2016-07-01 00:00:00'"
        )
    if not dates.is_monotonic_increasing or dates.duplicated().any():
        raise DataError(f"{name} column 'date' is not strictly increasing; sort the file and drop duplicate hours")
    frame.index = pd.DatetimeIndex(dates, name="date")
    return _check_values(frame, name, fill)


def ett_splits(
    frame: pd.DataFrame | np.ndarray, *, history: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, StandardScaler]:
    """(train, valid, test, scaler): the 12/4/4-month segments, standardised with train statistics.

    Arrays are float32 of shape (hours, channels) for every column of ``frame``. With
    ``history > 0`` the validation and test segments start ``history`` hours earlier (Informer's
    convention; see the module docstring). ``scaler.inverse_transform`` maps back to raw units.
    """
    values = np.asarray(frame, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    n_train, n_valid, n_test = SPLIT_HOURS
    end = n_train + n_valid + n_test
    if values.ndim != 2 or len(values) < end:
        raise DataError(f"ETT split needs a (hours, channels) series of at least {end} hours; got shape {values.shape}")
    if not np.isfinite(values[:end]).all():
        raise DataError("ETT split got NaN or infinite values; load with fill='interpolate' or clean the series")
    if not 0 <= history <= n_train:
        raise DataError(f"history={history} must lie in [0, {n_train}] (the training hours)")
    scaler = StandardScaler().fit(values[:n_train])
    scaled = scaler.transform(values[:end]).astype(np.float32)
    train = scaled[:n_train]
    valid = scaled[n_train - history : n_train + n_valid]
    test = scaled[n_train + n_valid - history : end]
    return train, valid, test, scaler


def daily_ett(
    name: str, column: str = "OT", data_dir: str | os.PathLike[str] | None = None, how: str = "mean"
) -> pd.Series:
    """Daily aggregate (``how``: mean, sum, min, max or median) of one ETT column.

    Only complete days (24 hourly values) are kept, so the partial last day of the file is
    dropped rather than aggregated over fewer hours.
    """
    if column not in ETT_COLUMNS:
        raise DataError(f"unknown ETT column {column!r}; choose one of {', '.join(ETT_COLUMNS)}")
    if how not in _DAILY_HOW:
        raise DataError(f"how={how!r} is not supported; choose one of {', '.join(_DAILY_HOW)}")
    hourly = load_ett(name, data_dir)[column]
    days = hourly.resample("D")
    daily = days.agg(how)[days.count() == 24]
    daily.name = f"{column}_daily_{how}"
    return daily


def make_windows(array: np.ndarray, history: int, horizon: int, stride: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Sliding (inputs, targets) windows over the first axis of ``array``, without copying.

    ``array`` of shape (T,) or (T, C) gives inputs (N, history[, C]) and targets
    (N, horizon[, C]) with N = (T - history - horizon) // stride + 1; window i starts at
    ``i * stride``. Both are read-only views (``np.array(x)`` for a writable copy).
    """
    array = np.asarray(array)
    for label, value in (("history", history), ("horizon", horizon), ("stride", stride)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise DataError(f"make_windows: {label} must be a positive integer; got {value!r}")
    if array.ndim not in (1, 2):
        raise DataError(f"make_windows: expected a (T,) or (T, channels) array; got shape {array.shape}")
    window = history + horizon
    if len(array) < window:
        raise DataError(
            f"make_windows: series of length {len(array)} is shorter than history + horizon = "
            f"{history} + {horizon} = {window}; use a longer series or a shorter window"
        )
    # sliding_window_view puts the window axis last: (N, [C,] window) -> (N, window[, C]).
    windows = np.lib.stride_tricks.sliding_window_view(array, window, axis=0)[::stride]
    if array.ndim == 2:
        windows = np.moveaxis(windows, -1, 1)
    return windows[:, :history], windows[:, history:]
