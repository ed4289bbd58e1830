"""Named real series: frequencies, gaps (error or documented fill), ETT daily series, bad input."""

import numpy as np
import pandas as pd
import pytest

from mlpzoo.data.series import check_series, fill_gaps, list_series, load_series
from mlpzoo.errors import DataError


def test_statsmodels_series_have_explicit_frequencies():
    sunspots = load_series("sunspots_yearly")
    assert sunspots.index.freqstr.startswith("YS") and len(sunspots) == 309
    assert sunspots.index[0].year == 1700 and sunspots.name == "sunspots_yearly"
    assert load_series("nile_yearly").index[-1].year == 1970


def test_gaps_raise_or_are_filled():
    with pytest.raises(DataError, match="fill='interpolate'") as info:
        load_series("co2_weekly")
    assert "\n" not in str(info.value)
    co2 = load_series("co2_weekly", fill="interpolate")
    assert co2.index.freqstr == "W-SAT" and not co2.isna().any() and len(co2) == 2284


def test_fill_gaps_is_linear_in_time():
    index = pd.to_datetime(["2020-01-01", "2020-01-02", "2020-01-04", "2020-01-05"])
    series = pd.Series([1.0, np.nan, 4.0, np.nan], index=index)
    filled = fill_gaps(series)
    assert filled.tolist() == [1.0, 2.0, 4.0, 4.0]
    with pytest.raises(DataError, match="no values"):
        fill_gaps(pd.Series([np.nan, np.nan], index=index[:2]))


def test_ett_daily_series(need_data):
    need_data("ett")
    names = [n for n in list_series() if n.startswith("ett")]
    assert len(names) == 4
    series = load_series("etth1_ot_daily")
    assert series.index.freqstr == "D" and len(series) == 725 and np.isfinite(series).all()


def test_bad_input():
    with pytest.raises(DataError, match="unknown series"):
        load_series("atm_withdrawals")
    with pytest.raises(DataError, match="fill="):
        load_series("nile_yearly", fill="zeros")
    with pytest.raises(DataError, match="constant"):
        check_series(np.ones(10), 5)
    with pytest.raises(DataError, match="1-D"):
        check_series(np.ones((3, 3)), 2)
