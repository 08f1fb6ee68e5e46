"""Windows for one reference time, every series at once: the batch forecast's input path.

For a forecast issued at ``t`` (on the hour) with history L and horizon H, series s gets
    x_hist[s] (L, F_hist): hours t−L … t−1 — meter / capacity, the schedule for each hour as
                           planned at that hour, standardised temperature, calendar
    x_fut[s]  (H, F_fut):  hours t … t+H−1 — the schedule as planned at t, calendar
exactly the values ``WindowStore.gather`` yields for issue time t (tests/data/test_reference.py),
but built with one pass over each table (group once, scatter by integer hour) instead of
per-site filtering and per-site (T, H, C) schedule arrays: cost O(rows + S·(L + H)·F). Keys are matched by
hashing in pyarrow; only the job versions that can reach the window take part in the schedule.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from forecast.data.asof import HOUR_NS, known_at_ns, version_intervals
from forecast.data.features import PHYS, SCHEDULE_CHANNELS, SiteMeta, calendar
from forecast.data.gpus import gpu_spec
from forecast.data.windows import TEMP_SCALE_C

SITE_CHUNK = 512  # sites per schedule difference array (float64, ~13 MB at L = 336)


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
    tcode, tnames = pd.factorize(jobs["gpu_type"].astype(str))
    pcode, pnames = pd.factorize(jobs["precision"].astype(str))
    peaks = np.array([[gpu_spec(g).peak_flops(p) for p in pnames] for g in tnames]).reshape(len(tnames), len(pnames))
    tcode = tcode[rows]
    peak = peaks[tcode, pcode[rows]]  # (V,) per GPU, the job's type at its precision
    phys_k = np.array([m.pue_design * (1 + m.host_ratio) / 1e6 / m.capacity_mw for m in metas])[si]
    share = n / n_gpus  # (V,) GPUs of the job / GPUs installed
    gpu_col = np.array([SCHEDULE_CHANNELS.index(f"gpus_{g}") for g in tnames])  # (types,)
    dyn = np.array([gpu_spec(g).train_w - gpu_spec(g).idle_w for g in tnames])  # (types,) W per GPU
    flop = np.nan_to_num(jobs["flop_budget"].to_numpy(np.float64)[rows] / dur_s) / (n_gpus * peak)
    one = lambda c: np.full(len(rows), SCHEDULE_CHANNELS.index(c))  # noqa: E731
    return [(ps, pe, [(gpu_col[tcode], share), (one("flop_rate"), flop), (one("phys_power"), phys_k * dyn[tcode] * n)]),
            (ps, ps + 1, [(one("starts"), share)]),
            (pe, pe + 1, [(one("ends"), share)])]


def schedule_at(jobs: pd.DataFrame, metas: list[SiteMeta], t: pd.Timestamp, history: int, horizon: int,
                out: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Schedule channels for all sites: (S, L, C) at lead 0 for the L hours before t, each as planned at that
    hour, and (S, H, C) for hours t … t+H−1 as planned at t. The versions in force come from
    ``asof.version_intervals`` (as in ``features.schedule_covariates``), vectorised over sites with difference
    arrays. ``out``: float32 arrays of those shapes (views allowed) to write into, else new ones."""
    S, L, H, C = len(metas), history, horizon, len(SCHEDULE_CHANNELS)
    origin = t - pd.Timedelta(hours=L)
    h_parts, f_parts = [], []
    if len(jobs):
        rows, si, k, k_end, ps, pe = _versions_in_window(jobs, metas, t, L, H)
        valid_t = (k <= L) & (L < k_end)  # versions in force at issue L (= t)
        for a, b, chans in _version_channels(jobs, metas, rows, si, ps, pe):
            # history: issue i sees its own hour (lead 0) iff i in [max(k, a), min(k_end, b))
            lo, hi = np.clip(np.maximum(k, a), 0, L), np.clip(np.minimum(k_end, b), 0, L)
            h_parts += [(si, lo, hi, c, w) for c, w in chans]
            # future at issue L: lead h counts iff k <= L < k_end and a <= L + h < b
            lo, hi = np.clip(a - L, 0, H), np.clip(b - L, 0, H)
            lo, hi = np.where(valid_t, lo, 0), np.where(valid_t, hi, 0)
            f_parts += [(si, lo, hi, c, w) for c, w in chans]
    idle = np.array([m.idle_mw / m.capacity_mw for m in metas])  # (S,)
    hist, fut = out if out is not None else (np.empty((S, L, C), np.float32), np.empty((S, H, C), np.float32))
    for dest, T, parts in ((hist, L, h_parts), (fut, H, f_parts)):
        site, pos, w = _entries(T + 1, C, parts)
        bounds = np.searchsorted(site, np.arange(0, S + SITE_CHUNK, SITE_CHUNK))
        for n, a in enumerate(range(0, S, SITE_CHUNK)):  # a chunk of sites at a time: a small array, reused
            b, (i, j) = min(a + SITE_CHUNK, S), bounds[n:n + 2]
            acc = np.bincount((site[i:j] - a) * ((T + 1) * C) + pos[i:j], weights=w[i:j], minlength=(b - a) * (T + 1) * C)
            acc = np.asarray(acc, np.float64).reshape(b - a, T + 1, C)  # float64 even when no interval falls here
            np.cumsum(acc, axis=1, out=acc)
            acc[:, :, PHYS] += idle[a:b, None]
            dest[a:b] = acc[:, :T]
    return hist, fut


def _versions_in_window(jobs: pd.DataFrame, metas: list[SiteMeta], t: pd.Timestamp, L: int,
                        H: int) -> tuple[np.ndarray, ...]:
    """(rows, site index, k, k_end, planned start hour, planned end hour) of the versions planned at the sites
    in ``metas``, ordered as ``version_intervals`` orders them, hours from t − L. Only jobs with a version known
    by t that touches the hours t − L … t + H at one of these sites take part (every version of such a job
    known by t, at any site, since a version supersedes wherever it is planned); the others add nothing."""
    origin = t - pd.Timedelta(hours=L)
    si_all = _index(jobs["site_id"], [m.site_id for m in metas])  # (V,) -1: site not forecast
    ns = lambda c: pd.DatetimeIndex(jobs[c]).as_unit("ns").asi8  # noqa: E731
    ps_all, pe_all = _hours_from(ns("planned_start"), origin), _hours_from(ns("planned_end"), origin)
    known = known_at_ns(jobs)
    seen = np.flatnonzero(known <= t.value)  # a version known after t is in force at no issue hour up to t
    jcode = pd.factorize(jobs["job_id"].iloc[seen], sort=True)[0]
    touches = (si_all[seen] >= 0) & (ps_all[seen] < L + H) & (pe_all[seen] >= 0)
    job_in = np.zeros(int(jcode.max()) + 1 if len(jcode) else 0, bool)
    job_in[jcode[touches]] = True
    kept = job_in[jcode]
    rows = seen[kept]
    sub = pd.DataFrame({"job_id": jcode[kept], "known_at": known[rows].view("datetime64[ns]")})
    iv = version_intervals(sub, origin)
    rows = rows[iv.order]
    mine = si_all[rows] >= 0
    rows = rows[mine]
    return rows, si_all[rows], iv.k[mine], iv.k_end[mine], ps_all[rows], pe_all[rows]


def _index(values: pd.Series, among: list[str]) -> np.ndarray:
    """(n,) int64 position of each value in ``among`` (-1: not there), hashed in pyarrow."""
    found = pc.index_in(pa.array(values.astype(str), pa.string()), value_set=pa.array(among, pa.string()))
    return found.fill_null(-1).to_numpy().astype(np.int64)


def _entries(T1: int, C: int, parts: list[tuple[np.ndarray, ...]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Difference-array entries from parts (site, lo, hi, channel, weight), each (n,): +w at lo, −w at hi for rows
    with hi > lo and w != 0, as (site, position lo·C + c within the site's (T1, C) array, weight), stably sorted
    by site (so every cell sums its entries in the order of ``parts``)."""
    site, pos, wt = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros(0)]
    for s, lo, hi, c, w in parts:
        ok = (hi > lo) & (w != 0)
        s, lo, hi, c, w = s[ok], lo[ok], hi[ok], c[ok], w[ok]
        site += [s, s]
        pos += [lo * C + c, hi * C + c]
        wt += [w, -w]
    site, pos, wt = np.concatenate(site), np.concatenate(pos), np.concatenate(wt)
    order = np.argsort(site, kind="stable")
    return site[order], pos[order], wt[order]


def _hours_from(ns: np.ndarray, origin: pd.Timestamp) -> np.ndarray:
    """Whole hours from ``origin`` (floor) for int64 ns timestamps."""
    return np.floor_divide(ns - origin.as_unit("ns").value, HOUR_NS)


def reference_windows(metas: dict[str, SiteMeta], jobs: pd.DataFrame, meter: pd.DataFrame,
                      grid: pd.DataFrame | None, t: pd.Timestamp, history: int, horizon: int,
                      use_temperature: bool = True) -> ReferenceWindows:
    """Model inputs for every site in ``metas`` (sorted by id) issued at ``t``; uses rows before t only."""
    L, H, C = history, horizon, len(SCHEDULE_CHANNELS)
    ms = [metas[k] for k in sorted(metas)]
    ids = [m.site_id for m in ms]
    S = len(ms)
    origin = t - pd.Timedelta(hours=L)
    cap = np.array([m.capacity_mw for m in ms])
    # rows at or after t fall at hour >= L and are not scattered
    power = _scatter_hours(_index(meter["site_id"], ids), _hour_index(meter["ts"], origin),
                           meter["power_mw"].to_numpy(np.float64), S, L)  # (S, L) MW
    have = ~np.isnan(power)
    temp = np.zeros((S, L))
    temp_have = None
    if use_temperature and grid is not None:
        zones = sorted(pd.unique(grid["zone"].astype(str)))
        tz = _scatter_hours(_index(grid["zone"], zones), _hour_index(grid["ts"], origin),
                            grid["temperature_c"].to_numpy(np.float64), len(zones), L)  # (Z, L) °C
        tz = np.concatenate([tz, np.full((1, L), np.nan)])  # row Z: zones with no rows at all
        zi = pd.Index(zones).get_indexer([m_.zone for m_ in ms])
        temp = tz[np.where(zi >= 0, zi, len(zones))]  # (S, L)
        temp_have = ~np.isnan(temp)  # the caller refuses gaps: a missing reading is never a default value
        temp = np.nan_to_num((temp - TEMP_SCALE_C[0]) / TEMP_SCALE_C[1])
    cal = calendar(pd.date_range(origin, periods=L + H, freq="h"))  # (L + H, F_cal)
    x_hist = np.empty((S, L, 2 + C + cal.shape[1]), np.float32)  # power, schedule, temperature, calendar
    x_fut = np.empty((S, H, C + cal.shape[1]), np.float32)  # schedule, calendar
    x_hist[:, :, 0] = np.nan_to_num(power / cap[:, None])
    schedule_at(jobs, ms, t, L, H, out=(x_hist[:, :, 1:1 + C], x_fut[:, :, :C]))
    x_hist[:, :, 1 + C] = temp
    x_hist[:, :, 2 + C:] = cal[None, :L]
    x_fut[:, :, C:] = cal[None, L:]
    return ReferenceWindows(ids, x_hist, x_fut, cap, have, temp_have)
