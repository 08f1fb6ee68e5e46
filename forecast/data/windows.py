"""Device-resident windows: the hourly arrays live on the training device and
batches of (history, known-future, target) windows are gathered there by index
arithmetic — never built per sample in Python.

Layout: all series are concatenated along one time axis. For series s with T_s
hours starting at global offset o_s, global index g = o_s + i is the issue
time ts_s[i] (a forecast issued at the beginning of hour i):

    history   hours i−L … i−1      hist[g−L : g]          (L, F_hist)
    future    hours i … i+H−1      fut(g) ⊕ cal[g : g+H]   (H, F_sched + F_cal)
    target    hours i … i+H−1      y[g : g+H]              (H,)

The schedule as planned at g, fut(g), is expanded per batch from the compact form of ``plan_events``
(lead 0 per hour and the revision events: memory independent of H); ``compact=False`` keeps the
materialised (N, H, F_sched) tensor instead, for comparison.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from forecast.data.features import CALENDAR_CHANNELS, SCHEDULE_CHANNELS, SiteMeta, calendar, schedule_plan
from forecast.data.plan_events import KnownFuture, expand

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
    fut: KnownFuture  # schedule as planned at each issue time, compact; .dense() is the (T, H, F_sched) array
    cal: np.ndarray  # (T + H, F_cal) calendar, extended H hours past the end
    scale: float  # capacity_mw: y * scale = MW

    def __post_init__(self):
        if isinstance(self.fut, np.ndarray):  # a materialised (T, H, F_sched) array
            self.fut = KnownFuture.from_dense(self.fut)


def build_series(meta: SiteMeta, jobs: pd.DataFrame, power: pd.Series, temperature: pd.Series | None,
                 horizon: int, ts: pd.DatetimeIndex | None = None) -> SeriesArrays:
    """Arrays for one site. ``power`` and ``temperature`` are indexed by UTC hour; ``ts`` defaults to power's index.

    Hours of ``ts`` after the last meter reading get NaN targets (forecast-only issue times).
    """
    ts = pd.DatetimeIndex(power.index if ts is None else ts)
    y = power.reindex(ts).to_numpy(np.float64) / meta.capacity_mw
    fut = schedule_plan(jobs, meta, ts, horizon)  # lead 0 (T + H, C) and revision events
    if temperature is None:
        temp = np.zeros(len(ts))
    else:
        temp = (temperature.reindex(ts).to_numpy(np.float64) - TEMP_SCALE_C[0]) / TEMP_SCALE_C[1]
    cal_ts = pd.date_range(ts[0], periods=len(ts) + horizon, freq="h")
    cal = calendar(cal_ts)
    # history channels at hour s: meter, the schedule for hour s as planned at s, temperature, calendar
    hist = np.concatenate([np.nan_to_num(y)[:, None], fut.lead0[: len(ts)], np.nan_to_num(temp)[:, None],
                           cal[: len(ts)]], axis=1)
    return SeriesArrays(meta.site_id, ts, y.astype(np.float32), hist.astype(np.float32), fut, cal, meta.capacity_mw)


class WindowStore:
    """Concatenated series as tensors on one device; ``gather`` builds batches of windows there.

    ``compact`` (default): the schedule as lead 0 per hour (N, F_sched) plus the revision events (E,),
    O(N × F + E) memory whatever H; otherwise the materialised (N, H, F_sched) tensor.
    """

    def __init__(self, series: list[SeriesArrays], history: int, horizon: int, device: str | torch.device = "cpu",
                 compact: bool = True):
        self.history, self.horizon, self.compact = history, horizon, compact
        self.series = series
        self.ids = [s.series_id for s in series]
        short = [s.series_id for s in series if s.fut.horizon < horizon]
        if short:
            raise ValueError(f"series {short[:3]} carry a known future of fewer than horizon {horizon} hours")
        lens = [len(s.ts) for s in series]
        # pad H hours after each series so future gathers never cross into the next series
        self.offsets = np.concatenate([[0], np.cumsum([n + horizon for n in lens])[:-1]]).astype(np.int64)
        dev = torch.device(device)
        self.y = torch.from_numpy(np.concatenate([_pad(s.y, horizon, np.nan) for s in series])).to(dev)  # (N,)
        self.hist = torch.from_numpy(np.concatenate([_pad(s.hist, horizon) for s in series])).to(dev)  # (N, F_hist)
        self.cal = torch.from_numpy(np.concatenate([s.cal[: n + horizon] for n, s in zip(lens, series)])).to(dev)
        self.scale = torch.tensor(np.concatenate([np.full(n + horizon, s.scale) for n, s in zip(lens, series)]),
                                  dtype=torch.float32, device=dev)  # (N,)
        if compact:
            self._keys = _BASE_KEYS + _COMPACT_KEYS
            for k, v in _events(series, self.offsets, horizon).items():
                setattr(self, k, torch.from_numpy(v).to(dev))
        else:
            self._keys = _BASE_KEYS + ("fut",)
            self.fut = self.materialised_fut().to(dev)  # (N, H, F_sched)
        self._hist_off = torch.arange(-history, 0, device=dev)
        self._fut_off = torch.arange(0, horizon, device=dev)

    @property
    def device(self) -> torch.device:
        return self.y.device

    @property
    def nbytes(self) -> int:
        """Bytes held by the store's tensors."""
        return sum(t.nbytes for t in (getattr(self, k) for k in self._keys))

    def to(self, device) -> WindowStore:
        device = torch.device(device)
        if device != self.device:
            for k in self._keys:
                setattr(self, k, getattr(self, k).to(device))
        return self

    def materialised_fut(self) -> torch.Tensor:
        """(N, H, F_sched) float32 on the host: the schedule as planned at every issue index, zero in the padding."""
        H = self.horizon
        return torch.from_numpy(np.concatenate([_pad(s.fut.dense()[:, :H], H) for s in self.series]))

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
        if self.compact:
            sched = expand(self.lead0, self.ev_tau, self.ev_lo, self.ev_hi, self.ev_chan, self.ev_w, g, self.horizon)
        else:
            sched = self.fut[g]
        x_fut = torch.cat([sched, self.cal[fi]], dim=-1)  # (B, H, F_sched + F_cal)
        return {"x_hist": x_hist, "x_fut": x_fut, "y": self.y[fi], "scale": self.scale[g]}


_BASE_KEYS = ("y", "hist", "cal", "scale", "_hist_off", "_fut_off")
_COMPACT_KEYS = ("lead0", "ev_tau", "ev_lo", "ev_hi", "ev_chan", "ev_w")


def _pad(a: np.ndarray, horizon: int, fill: float = 0.0) -> np.ndarray:
    """``a`` (T, ...) followed by ``horizon`` rows of ``fill``."""
    return np.concatenate([a, np.full((horizon, *a.shape[1:]), fill, a.dtype)])


def _events(series: list[SeriesArrays], offsets: np.ndarray, horizon: int) -> dict[str, np.ndarray]:
    """The series' compact known futures on the store's index axis: lead0 (N, F_sched) and the events (E,)
    with hours shifted by each series' offset, sorted by τ. Only events a window of this horizon issued
    inside the series can see (τ <= T + H − 2) are kept, so none reaches into the next series' block."""
    lead0 = np.concatenate([s.fut.lead0[: len(s.ts) + horizon] for s in series])
    seen = [s.fut.tau <= len(s.ts) + horizon - 2 for s in series]
    cat = lambda name, shift: np.concatenate([getattr(s.fut, name)[m] + (o if shift else 0)  # noqa: E731
                                              for s, m, o in zip(series, seen, offsets)])
    out = {"ev_tau": cat("tau", True), "ev_lo": cat("lo", True), "ev_hi": cat("hi", True),
           "ev_chan": cat("chan", False), "ev_w": cat("w", False)}
    order = np.argsort(out["ev_tau"], kind="stable")
    return {"lead0": lead0, **{k: np.ascontiguousarray(v[order]) for k, v in out.items()}}


def series_of(store: WindowStore, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Global indices -> (series index, local hour index)."""
    k = np.searchsorted(store.offsets, g, side="right") - 1
    return k, g - store.offsets[k]
