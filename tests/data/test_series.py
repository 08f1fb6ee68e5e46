"""Hourly series loader: any regular step ≤ 1 h, explicit gaps, clear errors."""

import numpy as np
import pandas as pd
import pytest

from forecast.data.series import load_hourly_series
from forecast.errors import ContractError


def _write(tmp_path, ts, **cols):
    f = tmp_path / "m.csv"
    pd.DataFrame({"time": ts, **cols}).to_csv(f, index=False)
    return f


def test_quarter_hours_to_hourly_means_with_gap_and_partial_hour(tmp_path):
    t = pd.date_range("2024-01-01", periods=4 * 6, freq="15min")
    kw = np.arange(t.size, dtype=float)
    keep = np.ones(t.size, bool)
    keep[8:12] = False  # 02:00 hour absent
    kw[5] = np.nan  # one reading missing in 01:00
    f = _write(tmp_path, t[keep].strftime("%Y-%m-%d %H:%M"), kw=kw[keep], temp=np.ones(keep.sum()))
    out, rep = load_hourly_series(f, "time", "kw", ["temp"], assume_tz="UTC")
    assert rep.step == pd.Timedelta(minutes=15) and rep.naive_as_utc
    assert out.index[0] == pd.Timestamp("2024-01-01T00:00Z") and len(out) == 6
    assert out["kw"].iloc[0] == pytest.approx(1.5) and out["kw"].iloc[1] == pytest.approx((4 + 6 + 7) / 3)
    assert np.isnan(out["kw"].iloc[2]) and np.isnan(out["temp"].iloc[2])
    assert rep.partial_hours["kw"] == 1 and rep.partial_hours["temp"] == 0
    g = rep.gaps[rep.gaps["column"] == "kw"]
    assert len(g) == 1 and g["start"].item() == pd.Timestamp("2024-01-01T02:00Z") and g["n_hours"].item() == 1


def test_offsets_are_converted_to_utc(tmp_path):
    f = _write(tmp_path, ["2024-03-01T00:00+01:00", "2024-03-01T01:00+01:00", "2024-03-01T02:00+01:00"], y=[1, 2, 3])
    out, rep = load_hourly_series(f, "time", "y")
    assert out.index[0] == pd.Timestamp("2024-02-29T23:00Z") and not rep.naive_as_utc


@pytest.mark.parametrize("ts, problem", [
    (["2024-01-01 00:00", "2024-01-01 01:00", "2024-01-01 01:00"], "duplicated timestamps"),
    (["2024-01-01 00:00", "2024-01-01 00:15", "2024-01-01 00:30", "2024-01-01 00:50"], "irregular spacing"),
    (["2024-01-01 00:00", "2024-01-01 02:00", "2024-01-01 04:00"], "step .* is not a regular step ≤ 1 h"),
    (["2024-01-01 00:00Z", "2024-01-01 01:00", "2024-01-01 02:00"], "some timestamps carry a UTC offset"),
])
def test_bad_time_index_is_an_error(tmp_path, ts, problem):
    f = _write(tmp_path, ts, y=np.arange(len(ts)))
    with pytest.raises(ContractError, match=f"m.csv: column 'time': {problem}"):
        load_hourly_series(f, "time", "y", assume_tz="UTC")


def test_bad_values_and_missing_columns(tmp_path):
    f = _write(tmp_path, ["2024-01-01 00:00", "2024-01-01 01:00", "2024-01-01 02:00"], y=["1", "x", "3"])
    with pytest.raises(ContractError, match=r"column 'y': not a number \(1 rows\); first offending rows: row 1"):
        load_hourly_series(f, "time", "y", assume_tz="UTC")
    with pytest.raises(ContractError, match="column 'load': not in the file"):
        load_hourly_series(f, "time", "load")


def test_times_without_offset_are_refused_unless_their_zone_is_given(tmp_path):
    f = _write(tmp_path, ["2024-03-10 00:00", "2024-03-10 01:00", "2024-03-10 03:00", "2024-03-10 04:00"],
               y=[1.0, 2.0, 3.0, 4.0])
    with pytest.raises(ContractError, match=r"m.csv: column 'time': timestamps without a UTC offset; .*--assume-tz UTC"):
        load_hourly_series(f, "time", "y")
    # US Eastern: 02:00 does not exist on 2024-03-10, so 01:00 -> 03:00 local is one hour
    out, rep = load_hourly_series(f, "time", "y", assume_tz="America/New_York")
    assert out.index[0] == pd.Timestamp("2024-03-10T05:00Z") and len(out) == 4 and rep.naive_as_utc
    gap = _write(tmp_path, ["2024-03-10 01:00", "2024-03-10 02:00"], y=[1.0, 2.0])
    with pytest.raises(ContractError, match=r"cannot read the times in zone 'America/New_York'"):
        load_hourly_series(gap, "time", "y", assume_tz="America/New_York")
    with pytest.raises(ContractError, match=r"cannot read the times in zone 'Mars/Olympus'"):
        load_hourly_series(f, "time", "y", assume_tz="Mars/Olympus")
