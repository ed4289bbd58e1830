"""ETT: reader, bad-input errors, the 12/4/4 split, daily aggregates and sliding windows."""

import numpy as np
import pandas as pd
import pytest

from mlpzoo.data.ett import (
    ETT_COLUMNS,
    SPLIT_HOURS,
    daily_ett,
    ett_splits,
    load_ett,
    make_windows,
)
from mlpzoo.errors import DataError


def _write(tmp_path, frame, name="ETTh1"):
    (tmp_path / "ett").mkdir(exist_ok=True)
    frame.to_csv(tmp_path / "ett" / f"{name}.csv", index=False)
    return tmp_path


def _frame(hours=48, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(hours, 7)), columns=list(ETT_COLUMNS))
    frame.insert(0, "date", pd.date_range("2016-07-01", periods=hours, freq="h").astype(str))
    return frame


def test_load_small_file(tmp_path):
    frame = _frame()
    got = load_ett("ETTh1", _write(tmp_path, frame))
    assert isinstance(got.index, pd.DatetimeIndex) and list(got.columns) == list(ETT_COLUMNS)
    assert np.allclose(got.to_numpy(), frame[list(ETT_COLUMNS)].to_numpy())


def test_missing_column_and_bad_name(tmp_path):
    root = _write(tmp_path, _frame().drop(columns=["LULL"]))
    with pytest.raises(DataError, match="LULL"):
        load_ett("ETTh1", root)
    with pytest.raises(DataError, match="ETTm1"):
        load_ett("ETTm1", root)


def test_non_numeric_value_names_column(tmp_path):
    frame = _frame()
    frame["MUFL"] = frame["MUFL"].astype(object)
    frame.loc[5, "MUFL"] = "n/a?"
    with pytest.raises(DataError, match="'MUFL'.*non-numeric") as err:
        load_ett("ETTh1", _write(tmp_path, frame))
    assert "\n" not in str(err.value)


def test_nan_gap_errors_or_interpolates(tmp_path):
    frame = _frame()
    frame.loc[[0, 10, 11], "OT"] = np.nan
    root = _write(tmp_path, frame)
    with pytest.raises(DataError, match="'OT' has 3 missing.*fill='interpolate'"):
        load_ett("ETTh1", root)
    got = load_ett("ETTh1", root, fill="interpolate")["OT"].to_numpy()
    ot = frame["OT"].to_numpy()
    assert got[0] == ot[1]  # edge gap: nearest value
    assert np.allclose(got[10:12], ot[9] + (ot[12] - ot[9]) * np.array([1, 2]) / 3)  # linear in time


def test_unsorted_dates(tmp_path):
    frame = _frame().iloc[::-1]
    with pytest.raises(DataError, match="date"):
        load_ett("ETTh1", _write(tmp_path, frame))


def test_split_sizes_and_train_only_scaling():
    rng = np.random.default_rng(1)
    values = rng.normal(3.0, 2.0, size=(sum(SPLIT_HOURS) + 100, 2))
    values[SPLIT_HOURS[0] :] += 10.0  # a shift after train must not leak into the scaler
    train, valid, test, scaler = ett_splits(values)
    assert [len(train), len(valid), len(test)] == list(SPLIT_HOURS) and train.dtype == np.float32
    assert np.allclose(train.mean(0), 0, atol=1e-5) and np.allclose(train.std(0), 1, atol=1e-4)
    assert valid.mean() > 3  # shifted by ~10 / 2 deviations
    assert np.allclose(scaler.inverse_transform(test), values[sum(SPLIT_HOURS[:2]) : sum(SPLIT_HOURS)], atol=1e-4)
    _, valid_h, test_h, _ = ett_splits(values, history=96)
    assert len(valid_h) == SPLIT_HOURS[1] + 96 and np.array_equal(valid_h[96:], valid)
    assert np.array_equal(test_h[:96], valid[-96:])


def test_split_rejects_short_and_nan():
    with pytest.raises(DataError, match="at least 14400"):
        ett_splits(np.zeros((1000, 7)))
    bad = np.zeros((sum(SPLIT_HOURS), 1))
    bad[5] = np.nan
    with pytest.raises(DataError, match="NaN"):
        ett_splits(bad)


def _slow_windows(array, history, horizon, stride):
    starts = range(0, len(array) - history - horizon + 1, stride)
    return (
        np.stack([array[s : s + history] for s in starts]),
        np.stack([array[s + history : s + history + horizon] for s in starts]),
    )


@pytest.mark.parametrize("shape,stride", [((50,), 1), ((50, 3), 1), ((53, 2), 4)])
def test_windows_match_loop(shape, stride):
    array = np.arange(np.prod(shape), dtype=float).reshape(shape)
    x, y = make_windows(array, 7, 3, stride)
    rx, ry = _slow_windows(array, 7, 3, stride)
    assert np.array_equal(x, rx) and np.array_equal(y, ry)
    assert not x.flags.writeable  # views, not copies


def test_windows_bad_input():
    with pytest.raises(DataError, match="shorter than history \\+ horizon"):
        make_windows(np.zeros(10), 8, 4)
    with pytest.raises(DataError, match="horizon"):
        make_windows(np.zeros(10), 4, 0)
    with pytest.raises(DataError, match="shape"):
        make_windows(np.zeros((4, 4, 4)), 1, 1)


def test_real_files(need_data):
    root = need_data("ett")
    for name in ("ETTh1", "ETTh2"):
        frame = load_ett(name, root)
        assert frame.shape == (17420, 7) and frame.index[0] == pd.Timestamp("2016-07-01")
        assert np.isfinite(frame.to_numpy()).all()
    train, valid, test, _ = ett_splits(frame)
    assert train.shape == (8640, 7) and valid.shape == test.shape == (2880, 7)
    daily = daily_ett("ETTh1", data_dir=root)
    assert len(daily) == 17420 // 24 and daily.index.freqstr == "D"
    assert daily.iloc[0] == pytest.approx(load_ett("ETTh1", root)["OT"].iloc[:24].mean())
    with pytest.raises(DataError, match="'XX'"):
        daily_ett("ETTh1", column="XX", data_dir=root)
