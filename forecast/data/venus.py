"""Helios Venus (SenseTime) 10-minute GPU-job throughput → hourly event counts and a running-GPU proxy.

Measured: submitted / started / ended jobs and their GPUs per 10 minutes. Derived: the running-GPU level,
whose initial value is unknown and estimated (a lower bound, see :func:`read_venus`). Output timestamps
are UTC hour-beginning; hours without complete data are NaN rows, never filled.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from forecast.data.trace_io import ReadReport, check_regular, naive_times, numeric, read_csv

VENUS_TZ = "Asia/Shanghai"
"""Venus timestamps are naive wall-clock times of a cluster in China (UTC+8, no DST): an assumption, overridable."""

VENUS_COLUMNS = ["submit_gpu_job", "start_gpu_job", "end_gpu_job", "submit_gpu_num", "start_gpu_num", "end_gpu_num"]
COUNTS = ["submit_jobs", "start_jobs", "end_jobs", "submit_gpus", "start_gpus", "end_gpus"]  # hourly output columns


def _running_level(df: pd.DataFrame, rep: ReadReport) -> np.ndarray:
    """(N,) running GPUs at the end of each 10-min row: L0 + Σ (started − ended), L0 the least value keeping
    it ≥ 0 (recorded in ``rep``)."""
    net = (df["start_gpu_num"] - df["end_gpu_num"]).to_numpy()
    level = np.cumsum(net)  # (N,) running GPUs minus the unknown initial level
    l0 = float(max(0.0, -level.min()))
    rep.values["initial_running_gpus"] = l0
    rep.notes.append("running_gpus = L0 + cumulative (started − ended) GPUs; L0 estimated as the least value keeping "
                     "the series ≥ 0, so it is a lower bound")
    return level + l0


def _hourly(df: pd.DataFrame, t: pd.Series, level: np.ndarray, gap_after: np.ndarray) -> pd.DataFrame:
    """10-min rows → hours (UTC index ``ts``): summed counts, mean level, ``after_gap``, ``n_intervals``;
    hours with fewer than 6 intervals (or none) keep only ``n_intervals`` and ``after_gap``, the rest NaN."""
    x = pd.DataFrame({
        "ts": t.dt.floor("h"),
        "submit_jobs": df["submit_gpu_job"], "start_jobs": df["start_gpu_job"], "end_jobs": df["end_gpu_job"],
        "submit_gpus": df["submit_gpu_num"], "start_gpus": df["start_gpu_num"], "end_gpus": df["end_gpu_num"],
        "running_gpus": level, "after_gap": np.cumsum(gap_after) > 0,
    })
    g = x.groupby("ts")
    h = g[COUNTS].sum()
    h["running_gpus"] = g["running_gpus"].mean()
    h["after_gap"] = g["after_gap"].any()
    h["n_intervals"] = g.size()
    grid = pd.date_range(h.index.min(), h.index.max(), freq="h", tz="UTC", name="ts")
    h = h.reindex(grid)
    h["n_intervals"] = h["n_intervals"].fillna(0).astype(int)
    h["after_gap"] = h["after_gap"].astype("boolean").fillna(True).astype(bool)
    incomplete = h["n_intervals"] < 6
    h.loc[incomplete, h.columns.difference(["n_intervals", "after_gap"])] = np.nan
    return h


def _capacity(h: pd.DataFrame, capacity_gpus: float | None, rep: ReadReport) -> float:
    """GPUs the occupancy is divided by: ``capacity_gpus`` (> 0; hours above it flagged) or the series' peak."""
    if capacity_gpus is None:
        cap = float(np.nanmax(h["running_gpus"]))
        rep.notes.append(f"no capacity given: occupancy = running_gpus / peak of the series ({cap:g} GPUs)")
    else:
        if not capacity_gpus > 0:
            raise ValueError(f"capacity_gpus must be positive, got {capacity_gpus}")
        cap = float(capacity_gpus)
        over = int((h["running_gpus"] > cap).sum())
        if over:
            rep.flagged["hours_running_above_capacity"] = over
    rep.values["capacity_gpus"] = cap
    return cap


def read_venus(path: str | os.PathLike, tz: str = VENUS_TZ,
               capacity_gpus: float | None = None) -> tuple[pd.DataFrame, ReadReport]:
    """Helios Venus 10-minute throughput → hourly GPU-job series.

    Returns one row per hour (``ts``, UTC, hour-beginning) with:
    ``submit_jobs``, ``start_jobs``, ``end_jobs`` (GPU jobs per hour),
    ``submit_gpus``, ``start_gpus``, ``end_gpus`` (GPUs requested by those jobs),
    ``running_gpus`` (hourly mean of the running level), ``occupancy`` and
    ``n_intervals`` (10-min rows seen in the hour, 6 when complete).

    Running level: L(t) = L0 + Σ_{s≤t} (started − ended GPUs), evaluated at the
    end of each 10-minute interval. L0 (GPUs already running when the trace
    starts) is unknown; it is estimated as the smallest value that keeps L ≥ 0,
    so the series is a *lower bound* on running GPUs (reported as
    ``initial_running_gpus``). ``occupancy`` = running_gpus / ``capacity_gpus``,
    or / the series' peak when no capacity is given (reported).

    Gaps: an hour with fewer than 6 intervals gets NaN counts and NaN running
    level (events in the missing intervals are unknown, so the level after a gap
    is still reported but flagged ``after_gap``); hours with no rows are NaN rows.
    """
    src = str(path)
    df = read_csv(path, ["time", *VENUS_COLUMNS])
    rep = ReadReport(src, len(df))
    df = numeric(df, VENUS_COLUMNS, src)
    t = naive_times(df, "time", src, tz)
    gap_after = check_regular(t, pd.Timedelta(minutes=10), src, "time", df)
    level = _running_level(df, rep)
    h = _hourly(df, t, level, gap_after)
    # first and last hour may be cut by the trace window, not by missing data
    n_bad = int((h["n_intervals"] < 6).sum())
    if n_bad:
        rep.excluded["incomplete_hours_set_nan"] = n_bad
    if gap_after.any():
        rep.flagged["rows_after_10min_gap"] = int(gap_after.sum())
    h["occupancy"] = h["running_gpus"] / _capacity(h, capacity_gpus, rep)
    h = h.reset_index()
    h[COUNTS] = h[COUNTS].astype("float64")
    rep.n_rows_out = len(h)
    return h, rep


def venus_events(hourly: pd.DataFrame) -> pd.DataFrame:
    """Long-format job-event schedule from :func:`read_venus` output.

    Columns: ``ts`` (UTC hour), ``event`` ∈ {submit, start, end}, ``n_jobs``,
    ``n_gpus``. Hours with NaN counts stay NaN (not zero events).
    """
    parts = []
    for ev in ("submit", "start", "end"):
        parts.append(pd.DataFrame({"ts": hourly["ts"], "event": ev,
                                   "n_jobs": hourly[f"{ev}_jobs"], "n_gpus": hourly[f"{ev}_gpus"]}))
    return pd.concat(parts, ignore_index=True).sort_values(["ts", "event"], kind="stable").reset_index(drop=True)
