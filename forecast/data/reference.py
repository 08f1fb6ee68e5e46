"""Windows for one reference time, every series at once: the batch forecast's input path.

For a forecast issued at ``t`` (on the hour) with history L and horizon H, series s gets
    x_hist[s] (L, F_hist): hours t−L … t−1 — meter / capacity, the schedule for each hour as
                           planned at that hour, standardised temperature, calendar
    x_fut[s]  (H, F_fut):  hours t … t+H−1 — the schedule as planned at t, calendar
exactly the values ``WindowStore.gather`` yields for issue time t (tests/data/test_reference.py),
but built with one pass over each table (group once, scatter by integer hour) instead of
per-site filtering and per-site (T, H, C) schedule arrays: cost O(rows + S·(L + H)·F).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecast.data.asof import HOUR_NS, version_intervals
from forecast.data.features import PHYS, SCHEDULE_CHANNELS, SiteMeta, calendar
from forecast.data.flops import peak_flops
from forecast.data.gpus import gpu_spec
from forecast.data.windows import TEMP_SCALE_C


@dataclass
class ReferenceWindows:
    series_ids: list[str]  # (S,) sorted site ids
    x_hist: np.ndarray  # (S, L, F_hist) float32
    x_fut: np.ndarray  # (S, H, F_fut) float32
    scale: np.ndarray  # (S,) capacity_mw: model units × scale = MW
    meter_hours: np.ndarray  # (S, L) bool: a meter reading exists for that hour
    temperature_hours: np.ndarray | None = None  # (S, L) bool: the site's zone has a temperature then (None: unused)


def _hour_index(ts: pd.Series | pd.DatetimeIndex, origin: pd.Timestamp) -> np.ndarray:
    """Whole hours from ``origin`` (floor), int64."""
    v = pd.DatetimeIndex(ts).as_unit("ns").asi8
    return np.floor_divide(v - origin.as_unit("ns").value, HOUR_NS)


def _scatter_hours(site_idx: np.ndarray, hour: np.ndarray, values: np.ndarray, S: int, L: int) -> np.ndarray:
    """(S, L) float64, NaN where no row falls; rows outside [0, L) are ignored."""
    out = np.full((S, L), np.nan)
    ok = (hour >= 0) & (hour < L) & (site_idx >= 0)
    out[site_idx[ok], hour[ok]] = values[ok]
    return out


def _version_channels(jobs: pd.DataFrame, metas: list[SiteMeta], rows: np.ndarray, si: np.ndarray,
                      ps: np.ndarray, pe: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, list]]:
    """Per version (jobs rows ``rows`` at site indices ``si``): intervals of target hours [a, b), each with
    (channel, weight) pairs: the job's GPUs, FLOP rate and physics power while it runs; its GPUs in the hour
    it starts / ends."""
    n = jobs["n_gpus"].to_numpy(np.float64)[rows]
    dur_s = np.maximum(pe - ps, 1) * 3600.0
    n_gpus = np.array([m.n_gpus for m in metas], np.float64)[si]
    peak = peak_flops(jobs)[rows]  # (V,) per GPU, the job's type at its precision
    phys_k = np.array([m.pue_design * (1 + m.host_ratio) / 1e6 / m.capacity_mw for m in metas])[si]
    tcode, tnames = pd.factorize(jobs["gpu_type"])
    tcode = tcode[rows]
    share = n / n_gpus  # (V,) GPUs of the job / GPUs installed
    gpu_col = np.array([SCHEDULE_CHANNELS.index(f"gpus_{g}") for g in tnames])  # (types,)
    dyn = np.array([gpu_spec(g).train_w - gpu_spec(g).idle_w for g in tnames])  # (types,) W per GPU
    flop = np.nan_to_num(jobs["flop_budget"].to_numpy(np.float64)[rows] / dur_s) / (n_gpus * peak)
    one = lambda c: np.full(len(rows), SCHEDULE_CHANNELS.index(c))  # noqa: E731
    return [(ps, pe, [(gpu_col[tcode], share), (one("flop_rate"), flop), (one("phys_power"), phys_k * dyn[tcode] * n)]),
            (ps, ps + 1, [(one("starts"), share)]),
            (pe, pe + 1, [(one("ends"), share)])]


def schedule_at(jobs: pd.DataFrame, metas: list[SiteMeta], t: pd.Timestamp, history: int,
                horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Schedule channels for all sites: (S, L, C) at lead 0 for the L hours before t, each as planned at that
    hour, and (S, H, C) for hours t … t+H−1 as planned at t. The versions in force come from
    ``asof.version_intervals`` (as in ``features.schedule_covariates``), vectorised over sites with difference
    arrays."""
    S, L, H, C = len(metas), history, horizon, len(SCHEDULE_CHANNELS)
    origin = t - pd.Timedelta(hours=L)
    hist, fut = np.zeros((S, L + 1, C)), np.zeros((S, H + 1, C))  # difference arrays along the hour axis
    if len(jobs):
        iv = version_intervals(jobs, origin)  # every version supersedes, also those at sites not forecast
        si_all = pd.Index([m.site_id for m in metas]).get_indexer(jobs["site_id"])  # (V,) -1: site not forecast
        mine = si_all[iv.order] >= 0
        rows, k, k_end = iv.order[mine], iv.k[mine], iv.k_end[mine]
        si = si_all[rows]
        ps = _hours_from(pd.DatetimeIndex(jobs["planned_start"]).as_unit("ns").asi8[rows], origin)
        pe = _hours_from(pd.DatetimeIndex(jobs["planned_end"]).as_unit("ns").asi8[rows], origin)
        valid_t = (k <= L) & (L < k_end)  # versions in force at issue L (= t)
        h_parts, f_parts = [], []
        for a, b, chans in _version_channels(jobs, metas, rows, si, ps, pe):
            # history: issue i sees its own hour (lead 0) iff i in [max(k, a), min(k_end, b))
            lo, hi = np.clip(np.maximum(k, a), 0, L), np.clip(np.minimum(k_end, b), 0, L)
            h_parts += [(si, lo, hi, c, w) for c, w in chans]
            # future at issue L: lead h counts iff k <= L < k_end and a <= L + h < b
            lo, hi = np.clip(a - L, 0, H), np.clip(b - L, 0, H)
            lo, hi = np.where(valid_t, lo, 0), np.where(valid_t, hi, 0)
            f_parts += [(si, lo, hi, c, w) for c, w in chans]
        hist = _intervals(S, L + 1, C, h_parts)
        fut = _intervals(S, H + 1, C, f_parts)
    idle = np.array([m.idle_mw / m.capacity_mw for m in metas])  # (S,)
    hist = np.cumsum(hist, axis=1)[:, :L]  # (S, L, C)
    fut = np.cumsum(fut, axis=1)[:, :H]  # (S, H, C)
    hist[:, :, PHYS] += idle[:, None]
    fut[:, :, PHYS] += idle[:, None]
    return hist.astype(np.float32), fut.astype(np.float32)


def _intervals(S: int, T1: int, C: int, parts: list[tuple[np.ndarray, ...]]) -> np.ndarray:
    """Difference array (S, T1, C) from parts (site, lo, hi, channel, weight), each (n,): +w at lo, −w at hi
    for rows with hi > lo and w != 0; one bincount over all parts."""
    idx, wt = [], []
    for s, lo, hi, c, w in parts:
        ok = (hi > lo) & (w != 0)
        s, lo, hi, c, w = s[ok], lo[ok], hi[ok], c[ok], w[ok]
        idx += [(s * T1 + lo) * C + c, (s * T1 + hi) * C + c]
        wt += [w, -w]
    if not idx:
        return np.zeros((S, T1, C))
    # float64 even when no interval survives (bincount of nothing would be int64)
    return np.bincount(np.concatenate(idx), weights=np.concatenate(wt), minlength=S * T1 * C).astype(np.float64).reshape(S, T1, C)


def _hours_from(ns: np.ndarray, origin: pd.Timestamp) -> np.ndarray:
    """Whole hours from ``origin`` (floor) for int64 ns timestamps."""
    return np.floor_divide(ns - origin.as_unit("ns").value, HOUR_NS)


def reference_windows(metas: dict[str, SiteMeta], jobs: pd.DataFrame, meter: pd.DataFrame,
                      grid: pd.DataFrame | None, t: pd.Timestamp, history: int, horizon: int,
                      use_temperature: bool = True) -> ReferenceWindows:
    """Model inputs for every site in ``metas`` (sorted by id) issued at ``t``; uses rows before t only."""
    L, H = history, horizon
    ms = [metas[k] for k in sorted(metas)]
    ids = [m.site_id for m in ms]
    S = len(ms)
    origin = t - pd.Timedelta(hours=L)
    site_index = pd.Index(ids)
    cap = np.array([m.capacity_mw for m in ms])
    m = meter[meter["ts"] < t]
    power = _scatter_hours(site_index.get_indexer(m["site_id"]), _hour_index(m["ts"], origin),
                           m["power_mw"].to_numpy(np.float64), S, L)  # (S, L) MW
    have = ~np.isnan(power)
    y = np.nan_to_num(power / cap[:, None])  # (S, L)
    temp = np.zeros((S, L))
    temp_have = None
    if use_temperature and grid is not None:
        g = grid[grid["ts"] < t]
        zones = pd.Index(sorted(set(g["zone"])))
        tz = _scatter_hours(zones.get_indexer(g["zone"]), _hour_index(g["ts"], origin),
                            g["temperature_c"].to_numpy(np.float64), len(zones), L)  # (Z, L) °C
        tz = np.concatenate([tz, np.full((1, L), np.nan)])  # row Z: zones with no rows at all
        zi = zones.get_indexer([m_.zone for m_ in ms])
        temp = tz[np.where(zi >= 0, zi, len(zones))]  # (S, L)
        temp_have = ~np.isnan(temp)  # the caller refuses gaps: a missing reading is never a default value
        temp = np.nan_to_num((temp - TEMP_SCALE_C[0]) / TEMP_SCALE_C[1])
    sched_hist, sched_fut = schedule_at(jobs, ms, t, L, H)  # (S, L, C), (S, H, C)
    cal = calendar(pd.date_range(origin, periods=L + H, freq="h"))  # (L + H, F_cal)
    F_cal = cal.shape[1]
    x_hist = np.concatenate([y[:, :, None].astype(np.float32), sched_hist, temp[:, :, None].astype(np.float32),
                             np.broadcast_to(cal[None, :L], (S, L, F_cal))], axis=2)  # (S, L, F_hist)
    x_fut = np.concatenate([sched_fut, np.broadcast_to(cal[None, L:], (S, H, F_cal))], axis=2)  # (S, H, F_fut)
    return ReferenceWindows(ids, x_hist, x_fut, cap, have, temp_have)
