"""Readers for the epftoolbox layout and PJM Data Miner exports: quirks on tiny fixtures, then the real files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecast.errors import ContractError
from forecast.price.readers import read_epf, read_pjm_dataminer, read_pjm_rto

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "price"
DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def _lines(name: str) -> list[str]:
    return (FIX / name).read_text().splitlines()


def _write(tmp_path: Path, name: str, lines: list[str]) -> Path:
    p = tmp_path / name
    p.write_text("\n".join(lines) + "\n")
    return p


# ---------------------------------------------------------------------------- epftoolbox layout
def test_epf_reads_days_by_hours():
    d = read_epf(FIX / "epf_small.csv")
    assert d.n_days == 3 and d.price.shape == (3, 24) and d.exog.shape == (3, 24, 2)
    assert d.dates[0] == pd.Timestamp("2013-01-01") and d.dates[2] == pd.Timestamp("2013-01-03")
    first = _lines("epf_small.csv")[1].split(",")
    hour_25 = _lines("epf_small.csv")[26].split(",")  # day 2, hour 1
    assert d.price[0, 0] == pytest.approx(float(first[1]))
    assert d.exog[0, 0, 1] == pytest.approx(float(first[3]))
    assert d.price[1, 1] == pytest.approx(float(hour_25[1]))
    assert d.timestamps()[25] == pd.Timestamp("2013-01-02 01:00")


def test_epf_gap_is_named(tmp_path):
    lines = _lines("epf_small.csv")
    del lines[30]  # 2013-01-02 05:00
    with pytest.raises(ContractError, match=r"gaps in the hourly series.*2013-01-02 06:00"):
        read_epf(_write(tmp_path, "gap.csv", lines))


def test_epf_duplicate_hour_and_bad_number(tmp_path):
    lines = _lines("epf_small.csv")
    dup = lines[:10] + [lines[9]] + lines[10:]
    with pytest.raises(ContractError, match="duplicated timestamps"):
        read_epf(_write(tmp_path, "dup.csv", dup))
    bad = list(lines)
    parts = bad[5].split(",")
    parts[2] = "12x"
    bad[5] = ",".join(parts)
    with pytest.raises(ContractError, match=r"column 'System load forecast': not a number.*row 4"):
        read_epf(_write(tmp_path, "bad.csv", bad))


def test_epf_partial_day_rejected(tmp_path):
    with pytest.raises(ContractError, match="whole days"):
        read_epf(_write(tmp_path, "part.csv", _lines("epf_small.csv")[:-3]))


# ---------------------------------------------------------------------------- PJM Data Miner
def test_pjm_fall_back_day_has_25_hours_and_pm_times():
    load = read_pjm_dataminer(FIX / "pjm" / "hrl_load_metered.csv")
    assert load["ts"].dt.tz is not None
    assert (load["ts"].diff().dropna() == pd.Timedelta(hours=1)).all()
    # the file starts '11/1/2025 11:00:00 PM' UTC: PM must mean 23:00, and 12:00:00 AM midnight
    assert load["ts"].iloc[0] == pd.Timestamp("2025-11-01 23:00", tz="UTC")
    assert load["ts"].iloc[1] == pd.Timestamp("2025-11-02 00:00", tz="UTC")
    # the repeated local 1 AM maps to two UTC hours, 05:00 and 06:00
    ept = pd.read_csv(FIX / "pjm" / "hrl_load_metered.csv")["datetime_beginning_ept"]
    rep = load["ts"][(ept == "11/2/2025 1:00:00 AM").to_numpy()]
    assert list(rep) == [pd.Timestamp("2025-11-02 05:00", tz="UTC"), pd.Timestamp("2025-11-02 06:00", tz="UTC")]


def test_pjm_spring_forward_skips_local_2am():
    load = read_pjm_dataminer(FIX / "load_spring_forward.csv", value_column="mw")
    assert (load["ts"].diff().dropna() == pd.Timedelta(hours=1)).all()
    local = load["ts"].dt.tz_convert("America/New_York")
    on_day = local[local.dt.date == pd.Timestamp("2025-03-09").date()]
    assert 2 not in set(on_day.dt.hour)
    assert {1, 3} <= set(on_day.dt.hour)


def test_pjm_ept_mismatch_is_named(tmp_path):
    lines = _lines("pjm/hrl_load_metered.csv")
    lines[4] = lines[4].replace("11/1/2025 10:00:00 PM", "11/1/2025 11:00:00 PM", 1)
    with pytest.raises(ContractError, match=r"datetime_beginning_ept.*does not match.*row 3"):
        read_pjm_dataminer(_write(tmp_path, "hrl_load_metered.csv", lines))


def test_pjm_bad_time_format(tmp_path):
    lines = _lines("pjm/wind_gen.csv")
    lines[4] = "2025-11-02 02:00," + lines[4].split(",", 1)[1]
    with pytest.raises(ContractError, match=r"datetime_beginning_utc.*m/d/Y h:MM:SS AM/PM.*row 3"):
        read_pjm_dataminer(_write(tmp_path, "wind_gen.csv", lines))


def test_pjm_join_reports_gaps_and_never_fills(tmp_path):
    r = read_pjm_rto(FIX / "pjm")
    # the LMP fixture lacks 15:00 and 16:00 UTC on 2025-11-02 (hand-removed)
    assert list(r.missing["da_hrl_lmps"]) == [pd.Timestamp("2025-11-02 15:00", tz="UTC"),
                                              pd.Timestamp("2025-11-02 16:00", tz="UTC")]
    assert len(r.missing["hrl_load_metered"]) == 0
    assert len(r.frame) == 28 - 2
    assert not r.frame["ts"].isin(r.missing["da_hrl_lmps"]).any()
    assert "da_hrl_lmps: 2 missing hours" in r.report()
    assert set(r.frame.columns) >= {"zone", "ts", "price", "load_mw", "load_forecast_mw", "solar_mw", "wind_mw"}
    assert (r.frame["zone"] == "PJM-RTO").all()
    # night solar is slightly negative in the file; clipped to 0 in the frame only
    raw = read_pjm_dataminer(FIX / "pjm" / "solar_gen.csv")
    assert (raw["value"] < 0).any() and (r.frame["solar_mw"] >= 0).all()
    assert r.load_forecast_is_actual and np.array_equal(r.frame["load_forecast_mw"], r.frame["load_mw"])
    # a price in the frame is the file's total_lmp_da for that UTC hour
    lmp = pd.read_csv(FIX / "pjm" / "da_hrl_lmps.csv")
    assert r.frame["price"].iloc[0] == pytest.approx(lmp["total_lmp_da"].iloc[0])


def test_pjm_join_missing_file(tmp_path):
    for f in ("da_hrl_lmps", "hrl_load_metered", "solar_gen"):
        shutil.copy(FIX / "pjm" / f"{f}.csv", tmp_path)
    with pytest.raises(FileNotFoundError, match="wind_gen.csv"):
        read_pjm_rto(tmp_path)


# ---------------------------------------------------------------------------- real files
@pytest.mark.skipif(not (DATA / "pjm_rto_2025").exists(), reason="real PJM data not present")
def test_real_pjm_2025_gap_is_the_last_23_hours():
    r = read_pjm_rto(DATA / "pjm_rto_2025")
    miss = r.missing["da_hrl_lmps"].tz_convert("America/New_York")
    assert len(miss) == 23
    assert miss[0] == pd.Timestamp("2025-12-31 01:00", tz="America/New_York")
    assert miss[-1] == pd.Timestamp("2025-12-31 23:00", tz="America/New_York")
    assert len(r.frame) == 8737
    local = r.frame["ts"].dt.tz_convert("America/New_York")
    per_day = local.dt.date.value_counts()
    assert per_day[pd.Timestamp("2025-03-09").date()] == 23
    assert per_day[pd.Timestamp("2025-11-02").date()] == 25


@pytest.mark.skipif(not (DATA / "epf" / "PJM.csv").exists(), reason="real epftoolbox data not present")
def test_real_epf_pjm():
    d = read_epf(DATA / "epf" / "PJM.csv")
    assert d.n_days == 2184 and d.exog.shape[2] == 2
    assert d.dates[-728] == pd.Timestamp("2016-12-27")
