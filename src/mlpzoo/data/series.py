"""Real univariate time series by name: daily ETT aggregates and data sets statsmodels ships.

Used by the ATM-cash chaos claim (catalog id ``atm-chaos``). Every series comes back as a float64
``pandas.Series`` with a ``DatetimeIndex`` whose frequency is set explicitly, named after the
registry key, so the frequency is never guessed downstream:

| name | source | frequency | length |
|---|---|---|---|
| ``etth1_ot_daily``, ``etth2_ot_daily`` | ETT oil temperature, daily mean of 24 hours | D | 725 |
| ``etth1_hufl_daily``, ``etth2_hufl_daily`` | ETT high useful load, daily mean | D | 725 |
| ``co2_weekly`` | statsmodels ``co2``: Mauna Loa CO2, weekly (Saturdays), 59 gaps | W-SAT | 2,284 |
| ``sunspots_yearly`` | statsmodels ``sunspots``: yearly sunspot activity 1700-2008 | YS | 309 |
| ``nile_yearly`` | statsmodels ``nile``: yearly Nile volume 1871-1970 | YS | 100 |

The ETT series need ``ett/ETTh1.csv`` / ``ETTh2.csv`` in the data directory (see
:mod:`mlpzoo.data.ett`); the statsmodels ones are read from the installed package.

Gaps: ``fill="error"`` (the default) raises a one-line :class:`DataError` naming the series and
the first missing date; ``fill="interpolate"`` fills interior gaps linearly in time and edge gaps
with the nearest value (:func:`fill_gaps`). Only ``co2_weekly`` has gaps.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Literal

import numpy as np
import pandas as pd

from mlpzoo.errors import DataError

__all__ = ["SERIES", "check_series", "fill_gaps", "list_series", "load_series"]


def _ett(name: str, column: str) -> Callable[[str | os.PathLike[str] | None], pd.Series]:
    def load(data_dir):
        from mlpzoo.data.ett import daily_ett

        return daily_ett(name, column, data_dir).asfreq("D")

    return load


def _statsmodels(dataset: str, column: str, index: Callable[[pd.DataFrame], pd.DatetimeIndex], freq: str):
    def load(data_dir):
        import statsmodels.api as sm

        frame = getattr(sm.datasets, dataset).load_pandas().data
        series = pd.Series(frame[column].to_numpy(np.float64), index=index(frame))
        return series.asfreq(freq)

    return load


def _years(column: str):
    return lambda frame: pd.to_datetime(frame[column].astype(int).astype(str), format="%Y")


SERIES: dict[str, Callable] = {  # name -> loader(data_dir); each loader sets the frequency
    "etth1_ot_daily": _ett("ETTh1", "OT"),
    "etth2_ot_daily": _ett("ETTh2", "OT"),
    "etth1_hufl_daily": _ett("ETTh1", "HUFL"),
    "etth2_hufl_daily": _ett("ETTh2", "HUFL"),
    "co2_weekly": _statsmodels("co2", "co2", lambda f: pd.DatetimeIndex(f.index), "W-SAT"),
    "sunspots_yearly": _statsmodels("sunspots", "SUNACTIVITY", _years("YEAR"), "YS"),
    "nile_yearly": _statsmodels("nile", "volume", _years("year"), "YS"),
}


def list_series() -> list[str]:
    return sorted(SERIES)


def fill_gaps(series: pd.Series) -> pd.Series:
    """Interior gaps filled linearly in time, edge gaps with the nearest value."""
    if series.isna().all():
        raise DataError(f"series {series.name!r} has no values; nothing to interpolate from")
    return series.interpolate(method="time", limit_direction="both")


def load_series(
    name: str, data_dir: str | os.PathLike[str] | None = None, fill: Literal["error", "interpolate"] = "error"
) -> pd.Series:
    """The named series (see the module table) with an explicit frequency; ``fill`` handles gaps."""
    if name not in SERIES:
        raise DataError(f"unknown series {name!r}; choose one of {', '.join(list_series())}")
    if fill not in ("error", "interpolate"):
        raise DataError(f"fill={fill!r} is not supported; use 'error' or 'interpolate'")
    series = SERIES[name](data_dir).astype(np.float64)
    series.name = name
    if series.isna().any():
        if fill == "error":
            first = series.index[series.isna().to_numpy().argmax()]
            raise DataError(
                f"series {name!r} has {int(series.isna().sum())} missing value(s), first at {first.date()}; "
                "pass fill='interpolate' to fill gaps linearly in time"
            )
        series = fill_gaps(series)
    return series


def check_series(values, min_length: int, what: str = "series") -> np.ndarray:
    """``values`` as a 1-D float64 array; DataError if it has NaN/inf, is shorter than
    ``min_length`` or is constant (every method here divides by its spread)."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise DataError(f"{what}: expected a 1-D series; got shape {array.shape}")
    bad = ~np.isfinite(array)
    if bad.any():
        raise DataError(
            f"{what} has {int(bad.sum())} NaN or infinite value(s), first at position {int(bad.argmax())}; "
            "fill gaps first (mlpzoo.data.series.fill_gaps or load_series(..., fill='interpolate'))"
        )
    if len(array) < min_length:
        raise DataError(
            f"{what} has {len(array)} values but needs at least {min_length} here; "
            "use a longer series or a smaller lag / embedding dimension"
        )
    if np.ptp(array) == 0:
        raise DataError(
            f"{what} is constant ({array[0]:g} everywhere); its autocorrelation and Cao's ratios are undefined "
            "(0/0), and there is nothing to forecast beyond the constant"
        )
    return array
