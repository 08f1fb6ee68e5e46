"""Readers for real market-data formats, validated on read.

- :func:`read_epf` — the epftoolbox layout (``PJM.csv``, ``NP.csv`` …): a first
  column of timestamps, then the price ($/MWh or €/MWh) and two day-ahead
  exogenous forecasts. Times are the market's day-hour grid (24 rows a day, no
  DST days; the benchmark files were published that way), so they stay naive.
- :func:`read_pjm_dataminer` / :func:`read_pjm_rto` — PJM Data Miner 2 exports
  (``da_hrl_lmps``, ``hrl_load_metered``, ``solar_gen``, ``wind_gen``) with
  ``datetime_beginning_utc`` and ``datetime_beginning_ept`` written as
  ``m/d/Y h:MM:SS AM/PM``. UTC is the truth; the Eastern prevailing time is
  cross-checked against it (23- and 25-hour days included).

Missing hours are never filled: they are reported (``PJMRead.missing``) and
the grid frame is cut to the hours where every input is present.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.data.contracts import validate
from forecast.errors import ContractError

PJM_TIME_FORMAT = "%m/%d/%Y %I:%M:%S %p"
EASTERN = "America/New_York"
HOURS_PER_DAY = 24


# ---------------------------------------------------------------------------- epftoolbox
@dataclass(frozen=True)
class EPFData:
    """A market in the epftoolbox layout, as day × hour arrays.

    ``dates`` (D,) naive day starts; ``price`` (D, 24); ``exog`` (D, 24, K) with K >= 1.
    """

    dates: pd.DatetimeIndex
    price: np.ndarray
    exog: np.ndarray
    price_name: str
    exog_names: tuple[str, ...]
    source: str

    @property
    def n_days(self) -> int:
        return len(self.dates)

    def timestamps(self) -> pd.DatetimeIndex:
        """Hourly naive timestamps (D·24,) in row order."""
        return pd.DatetimeIndex((self.dates.values[:, None] + np.arange(24) * np.timedelta64(1, "h")).ravel())


def read_epf(path: str | os.PathLike) -> EPFData:
    """Read an epftoolbox CSV: timestamp, price, one or more exogenous forecasts, 24 rows per day.

    Raises ContractError for a missing/unparseable timestamp, non-hourly steps,
    gaps, duplicates, days not of 24 hours, non-numeric or missing values.
    """
    src = str(path)
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file")
    raw = pd.read_csv(p, dtype=str, keep_default_na=True, na_values=[""])
    if raw.shape[1] < 3:
        raise ContractError(src, None, f"expected timestamp, price and at least one exogenous column; found {list(raw.columns)}")
    tcol = raw.columns[0]
    tname = str(tcol).strip() or "<first column>"
    txt = raw[tcol].astype(str).str.strip()
    ts = pd.to_datetime(txt, errors="coerce", format="ISO8601")
    if ts.isna().any():
        bad = ts.isna()
        raise ContractError(src, tname, f"unparseable timestamps (expected 'YYYY-MM-DD HH:MM:SS') ({int(bad.sum())} rows)",
                            raw[[tcol]][bad])
    if getattr(ts.dt, "tz", None) is not None:
        ts = ts.dt.tz_localize(None)
    off = (ts.dt.minute != 0) | (ts.dt.second != 0)
    if off.any():
        raise ContractError(src, tname, f"timestamps not on the hour ({int(off.sum())} rows)", raw[[tcol]][off])
    step = ts.diff()
    dup = step == pd.Timedelta(0)
    if dup.any():
        raise ContractError(src, tname, f"duplicated timestamps ({int(dup.sum())} rows)", raw[[tcol]][dup])
    back = step < pd.Timedelta(0)
    if back.any():
        raise ContractError(src, tname, f"timestamps not in increasing order ({int(back.sum())} rows)", raw[[tcol]][back])
    gap = step > pd.Timedelta(hours=1)
    if gap.any():
        rows = raw[[tcol]].assign(previous=txt.shift(1))
        raise ContractError(src, tname, f"gaps in the hourly series (missing hours) ({int(gap.sum())} rows)", rows[gap])
    if ts.iloc[0].hour != 0 or len(ts) % HOURS_PER_DAY:
        raise ContractError(src, tname, f"the series must cover whole days 00:00-23:00; it starts at {ts.iloc[0]} "
                            f"and has {len(ts)} rows (not a multiple of 24)")
    values = {}
    for c in raw.columns[1:]:
        v = pd.to_numeric(raw[c], errors="coerce")
        bad = v.isna()
        if bad.any():
            problem = "missing values" if raw[c].isna()[bad].all() else "not a number"
            raise ContractError(src, str(c).strip(), f"{problem} ({int(bad.sum())} rows)", raw[[tcol, c]][bad])
        values[c] = v.to_numpy(np.float64)
    n_days = len(ts) // HOURS_PER_DAY
    cols = list(raw.columns[1:])
    price = values[cols[0]].reshape(n_days, HOURS_PER_DAY)  # (D, 24)
    exog = np.stack([values[c].reshape(n_days, HOURS_PER_DAY) for c in cols[1:]], axis=-1)  # (D, 24, K)
    dates = pd.DatetimeIndex(ts.to_numpy()[::HOURS_PER_DAY])
    return EPFData(dates, price, exog, str(cols[0]).strip(), tuple(str(c).strip() for c in cols[1:]), src)


# ---------------------------------------------------------------------------- PJM Data Miner
# file stem -> (value column, grid-contract column)
PJM_VALUE_COLUMNS = {
    "da_hrl_lmps": ("total_lmp_da", "price"),
    "hrl_load_metered": ("mw", "load_mw"),
    "solar_gen": ("solar_generation_mw", "solar_mw"),
    "wind_gen": ("wind_generation_mw", "wind_mw"),
}


def _parse_pjm_times(s: pd.Series, column: str, source: str) -> pd.Series:
    txt = s.astype(str).str.strip()
    out = pd.to_datetime(txt, format=PJM_TIME_FORMAT, errors="coerce")
    bad = out.isna()
    if bad.any():
        raise ContractError(source, column, f"unparseable timestamps (expected m/d/Y h:MM:SS AM/PM) ({int(bad.sum())} rows)",
                            s.to_frame()[bad])
    return out


def read_pjm_dataminer(path: str | os.PathLike, value_column: str | None = None) -> pd.DataFrame:
    """One Data Miner export -> frame (ts UTC hour-beginning, value) sorted, one row per hour.

    ``value_column`` defaults from the file name (see ``PJM_VALUE_COLUMNS``).
    Checks: both time columns parse; Eastern prevailing time equals the UTC time
    converted to America/New_York (so DST days have 23/25 rows); one row per UTC
    hour (a file with several nodes/areas or versions must be filtered first);
    values numeric and present. Gaps are allowed here and left as they are.
    """
    src = str(path)
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file")
    raw = pd.read_csv(p, dtype=str, keep_default_na=True, na_values=[""])
    raw.columns = [str(c).strip() for c in raw.columns]
    if value_column is None:
        stem = p.name.split(".")[0]
        if stem not in PJM_VALUE_COLUMNS:
            raise ContractError(src, None, f"cannot tell the value column from the file name {p.name!r}; "
                                f"pass value_column (known files: {', '.join(PJM_VALUE_COLUMNS)})")
        value_column = PJM_VALUE_COLUMNS[stem][0]
    need = ["datetime_beginning_utc", "datetime_beginning_ept", value_column]
    missing = [c for c in need if c not in raw.columns]
    if missing:
        raise ContractError(src, ", ".join(missing), f"missing from the PJM Data Miner export; found columns {list(raw.columns)}")
    if "row_is_current" in raw.columns:
        stale = raw["row_is_current"].astype(str).str.strip().str.lower() != "true"
        if stale.any():
            # superseded versions would duplicate hours; the export should hold current rows only
            raise ContractError(src, "row_is_current", f"superseded (not current) rows ({int(stale.sum())} rows); "
                                "export current rows only", raw[["datetime_beginning_utc", "row_is_current"]][stale])
    utc = _parse_pjm_times(raw["datetime_beginning_utc"], "datetime_beginning_utc", src).dt.tz_localize("UTC")
    ept = _parse_pjm_times(raw["datetime_beginning_ept"], "datetime_beginning_ept", src)
    expect = utc.dt.tz_convert(EASTERN).dt.tz_localize(None)
    mismatch = expect != ept
    if mismatch.any():
        rows = raw[["datetime_beginning_utc", "datetime_beginning_ept"]].assign(expected_ept=expect.astype(str))
        raise ContractError(src, "datetime_beginning_ept", f"does not match datetime_beginning_utc in Eastern prevailing "
                            f"time ({int(mismatch.sum())} rows)", rows[mismatch])
    off = (utc.dt.minute != 0) | (utc.dt.second != 0)
    if off.any():
        raise ContractError(src, "datetime_beginning_utc", f"timestamps not on the hour ({int(off.sum())} rows)",
                            raw[["datetime_beginning_utc"]][off])
    dup = utc.duplicated(keep=False)
    if dup.any():
        raise ContractError(src, "datetime_beginning_utc", f"duplicated hours ({int(dup.sum())} rows); filter the export "
                            "to one node/area", raw[["datetime_beginning_utc", "datetime_beginning_ept"]][dup])
    val = pd.to_numeric(raw[value_column], errors="coerce")
    bad = val.isna()
    if bad.any():
        raise ContractError(src, value_column, f"missing or non-numeric values ({int(bad.sum())} rows)",
                            raw[["datetime_beginning_utc", value_column]][bad])
    out = pd.DataFrame({"ts": utc, "value": val.astype("float64")}).sort_values("ts", kind="stable")
    return out.reset_index(drop=True)


def missing_hours(ts: pd.Series | pd.DatetimeIndex, start: pd.Timestamp, end: pd.Timestamp) -> pd.DatetimeIndex:
    """UTC hours in [start, end] (inclusive) absent from ``ts``."""
    full = pd.date_range(start, end, freq="h", tz="UTC")
    return full.difference(pd.DatetimeIndex(ts))


@dataclass
class PJMRead:
    """The joined PJM RTO frame (grid contract) and what was missing from each file.

    ``frame``: zone, ts, price, load_mw, load_forecast_mw, solar_mw, wind_mw on the
    hours where every file has a value (cut, never filled). ``missing``: file
    stem -> UTC hours absent within the common span of all files.
    ``load_forecast_is_actual``: True because Data Miner's metered-load export
    carries no forecast; ``load_forecast_mw`` is then the metered load.
    """

    frame: pd.DataFrame
    missing: dict[str, pd.DatetimeIndex] = field(default_factory=dict)
    span: tuple[pd.Timestamp, pd.Timestamp] | None = None
    load_forecast_is_actual: bool = True

    def report(self) -> str:
        """A human-readable account of the hours each file lacks (Eastern prevailing time)."""
        lines = []
        for name, miss in self.missing.items():
            if len(miss) == 0:
                lines.append(f"{name}: complete")
                continue
            local = miss.tz_convert(EASTERN)
            lines.append(f"{name}: {len(miss)} missing hours, {local[0]:%Y-%m-%d %H:%M %Z} … {local[-1]:%Y-%m-%d %H:%M %Z}")
        return "\n".join(lines)


def read_pjm_rto(folder: str | os.PathLike, zone: str = "PJM-RTO", clip_solar: bool = True) -> PJMRead:
    """Join the four Data Miner exports in ``folder`` into a grid-contract frame.

    Solar: Data Miner reports night-time station consumption as small negative
    generation (≈ −20…0 MW). With ``clip_solar`` (default) these are set to 0
    so that net load L − solar − wind never exceeds the metered load; the
    negative values stay visible in ``read_pjm_dataminer``.
    """
    folder = Path(folder)
    series = {}
    for stem, (_, name) in PJM_VALUE_COLUMNS.items():
        f = folder / f"{stem}.csv"
        series[stem] = read_pjm_dataminer(f).rename(columns={"value": name})
    start = max(s["ts"].min() for s in series.values())
    end = min(s["ts"].max() for s in series.values())
    first = min(s["ts"].min() for s in series.values())
    last = max(s["ts"].max() for s in series.values())
    missing = {stem: missing_hours(s["ts"], first, last) for stem, s in series.items()}
    df = None
    for s in series.values():
        df = s if df is None else df.merge(s, on="ts", how="inner")
    df = df[(df["ts"] >= start) & (df["ts"] <= end)]
    if clip_solar:
        df["solar_mw"] = df["solar_mw"].clip(lower=0.0)
    df.insert(0, "zone", zone)
    df["load_forecast_mw"] = df["load_mw"]
    df = df[["zone", "ts", "price", "load_mw", "load_forecast_mw", "solar_mw", "wind_mw"]]
    # the grid contract forbids gaps; contiguous runs are validated piece by piece
    gaps = df["ts"].diff() > pd.Timedelta(hours=1)
    pieces = [validate(part, "grid", source=str(folder)) for _, part in df.groupby(gaps.cumsum())]
    frame = pd.concat(pieces, ignore_index=True) if pieces else df
    return PJMRead(frame=frame, missing=missing, span=(first, last))
