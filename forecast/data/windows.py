"""Device-resident windows: the hourly arrays live on the training device and
batches of (history, known-future, target) windows are gathered there by index
arithmetic — never built per sample in Python.

Layout: all series are concatenated along one time axis. For series s with T_s
hours starting at global offset o_s, global index g = o_s + i is the issue
time ts_s[i] (a forecast issued at the beginning of hour i):

    history   hours i−L … i−1      hist[g−L : g]          (L, F_hist)
    future    hours i … i+H−1      fut[g] ⊕ cal[g : g+H]   (H, F_sched + F_cal)
    target    hours i … i+H−1      y[g : g+H]              (H,)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from forecast.data.features import CALENDAR_CHANNELS, SCHEDULE_CHANNELS, SiteMeta, calendar, schedule_covariates

HIST_CHANNELS: tuple[str, ...] = ("power", *SCHEDULE_CHANNELS, "temperature", *CALENDAR_CHANNELS)
FUT_CHANNELS: tuple[str, ...] = (*SCHEDULE_CHANNELS, *CALENDAR_CHANNELS)
TEMP_SCALE_C = (15.0, 10.0)  # (centre, scale) of the temperature channel


@dataclass
class SeriesArrays:
    """One series in model units: power / capacity_mw, schedule channels as features.py defines them."""

    series_id: str
    ts: pd.DatetimeIndex  # (T,) hourly UTC; issue times and target hours
    y: np.ndarray  # (T,) normalised target; NaN where unknown (after the last meter reading)
    hist: np.ndarray  # (T, F_hist) history channels at each hour (known once the hour has passed)
    fut: np.ndarray  # (T, H, F_sched) schedule as planned at each issue time
    cal: np.ndarray  # (T + H, F_cal) calendar, extended H hours past the end
    scale: float  # capacity_mw: y * scale = MW


def build_series(meta: SiteMeta, jobs: pd.DataFrame, power: pd.Series, temperature: pd.Series | None,
                 horizon: int, ts: pd.DatetimeIndex | None = None) -> SeriesArrays:
    """Arrays for one site. ``power`` and ``temperature`` are indexed by UTC hour; ``ts`` defaults to power's index.

    Hours of ``ts`` after the last meter reading get NaN targets (forecast-only issue times).
    """
    ts = pd.DatetimeIndex(power.index if ts is None else ts)
    y = power.reindex(ts).to_numpy(np.float64) / meta.capacity_mw
    fut = schedule_covariates(jobs, meta, ts, horizon)  # (T, H, C)
    if temperature is None:
        temp = np.zeros(len(ts))
    else:
        temp = (temperature.reindex(ts).to_numpy(np.float64) - TEMP_SCALE_C[0]) / TEMP_SCALE_C[1]
    cal_ts = pd.date_range(ts[0], periods=len(ts) + horizon, freq="h")
    cal = calendar(cal_ts)
    # history channels at hour s: meter, the schedule for hour s as planned at s, temperature, calendar
    hist = np.concatenate([np.nan_to_num(y)[:, None], fut[:, 0, :], np.nan_to_num(temp)[:, None], cal[: len(ts)]], axis=1)
    return SeriesArrays(meta.site_id, ts, y.astype(np.float32), hist.astype(np.float32), fut, cal, meta.capacity_mw)


class WindowStore:
    """Concatenated series as tensors on one device; ``gather`` builds batches of windows there."""

    def __init__(self, series: list[SeriesArrays], history: int, horizon: int, device: str | torch.device = "cpu"):
        self.history, self.horizon = history, horizon
        self.series = series
        self.ids = [s.series_id for s in series]
        lens = [len(s.ts) for s in series]
        # pad H hours after each series so future gathers never cross into the next series
        self.offsets = np.concatenate([[0], np.cumsum([n + horizon for n in lens])[:-1]]).astype(np.int64)
        pad = lambda a, fill=0.0: np.concatenate([a, np.full((horizon, *a.shape[1:]), fill, a.dtype)])  # noqa: E731
        dev = torch.device(device)
        self.y = torch.from_numpy(np.concatenate([pad(s.y, np.nan) for s in series])).to(dev)  # (N,)
        self.hist = torch.from_numpy(np.concatenate([pad(s.hist) for s in series])).to(dev)  # (N, F_hist)
        self.fut = torch.from_numpy(np.concatenate([pad(s.fut) for s in series])).to(dev)  # (N, H, F_sched)
        self.cal = torch.from_numpy(np.concatenate([s.cal for s in series])).to(dev)  # (N, F_cal)
        self.scale = torch.tensor(np.concatenate([np.full(n + horizon, s.scale) for n, s in zip(lens, series)]),
                                  dtype=torch.float32, device=dev)  # (N,)
        self._hist_off = torch.arange(-history, 0, device=dev)
        self._fut_off = torch.arange(0, horizon, device=dev)

    @property
    def device(self) -> torch.device:
        return self.y.device

    def to(self, device) -> WindowStore:
        device = torch.device(device)
        if device != self.device:
            for k in ("y", "hist", "fut", "cal", "scale", "_hist_off", "_fut_off"):
                setattr(self, k, getattr(self, k).to(device))
        return self

    def origins(self, series_index: int, start: pd.Timestamp | None = None, end: pd.Timestamp | None = None,
                every_h: int = 1, at_hour: int | None = None, need_target: bool = True) -> np.ndarray:
        """Global indices of issue times in [start, end) for one series with a full history (and target)."""
        s = self.series[series_index]
        i = np.arange(len(s.ts))
        ok = i >= self.history
        if start is not None:
            ok &= s.ts >= start
        if end is not None:
            ok &= s.ts < end
        if at_hour is not None:
            ok &= s.ts.hour == at_hour
        if need_target:
            known = np.r_[0, np.cumsum(~np.isnan(s.y))]
            end_i = np.minimum(i + self.horizon, len(s.ts))
            ok &= (i + self.horizon <= len(s.ts)) & (known[end_i] - known[i] == self.horizon)
        idx = i[ok]
        if every_h > 1:
            idx = idx[(idx - (idx[0] if len(idx) else 0)) % every_h == 0]
        return self.offsets[series_index] + idx

    def gather(self, g: torch.Tensor) -> dict[str, torch.Tensor]:
        """Windows for global issue indices ``g`` (B,), on the store's device."""
        g = g.to(self.device)
        hi = g[:, None] + self._hist_off  # (B, L)
        fi = g[:, None] + self._fut_off  # (B, H)
        x_hist = self.hist[hi]  # (B, L, F_hist)
        x_fut = torch.cat([self.fut[g], self.cal[fi]], dim=-1)  # (B, H, F_sched + F_cal)
        return {"x_hist": x_hist, "x_fut": x_fut, "y": self.y[fi], "scale": self.scale[g]}


def series_of(store: WindowStore, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Global indices -> (series index, local hour index)."""
    k = np.searchsorted(store.offsets, g, side="right") - 1
    return k, g - store.offsets[k]
