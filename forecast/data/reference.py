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

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from forecast.data.asof import HOUR_NS, job_codes, known_at_ns, version_intervals
from forecast.data.features import PHYS, SCHEDULE_CHANNELS, SiteMeta, calendar
from forecast.data.gpus import gpu_spec
from forecast.data.keys import positions
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


@dataclass
class Schedule:
    """The schedule channels of S sites as difference-array entries (site, position hour·C + channel, weight),
    stably sorted by site: ``hist`` for lead 0 of the L hours before t (each as planned at that hour), ``fut``
    for hours t … t+H−1 as planned at t. ``fill`` writes the dense channels of a range of sites."""

    hist: list[tuple[np.ndarray, ...]]  # parts (site, lo, hi, channel, weight), sorted by site
    fut: list[tuple[np.ndarray, ...]]
    idle: np.ndarray  # (S,) power with every GPU idle / capacity: added to phys_power
    history: int
    horizon: int

    def fill(self, hist: np.ndarray, fut: np.ndarray, a: int, b: int) -> None:
        """hist (b − a, L, C) and fut (b − a, H, C), views allowed: the channels of sites a … b − 1."""
        C, S = len(SCHEDULE_CHANNELS), b - a
        for dest, T, parts in ((hist, self.history, self.hist), (fut, self.horizon, self.fut)):
            cells, weights = [np.zeros(0, np.int64)], [np.zeros(0)]
            for site, lo, hi, c, w in parts:  # a cell sums its entries in part order, lo before hi, by version
                i, j = np.searchsorted(site, [a, b])
                base = (site[i:j] - a) * C + c[i:j]
                cells += [base + lo[i:j] * (S * C), base + hi[i:j] * (S * C)]
                weights += [w[i:j], -w[i:j]]
            acc = np.bincount(np.concatenate(cells), weights=np.concatenate(weights), minlength=(T + 1) * S * C)
            acc = np.asarray(acc, np.float64).reshape(T + 1, S, C)  # hour-major; float64 even when nothing falls here
            for h in range(1, T):  # the running sum over hours, one vector add per hour (the order of np.cumsum)
                np.add(acc[h], acc[h - 1], out=acc[h])
            acc[:T, :, PHYS] += self.idle[None, a:b]
            dest[...] = acc[:T].transpose(1, 0, 2)


def schedule_entries(jobs: pd.DataFrame, metas: list[SiteMeta], t: pd.Timestamp, history: int,
                     horizon: int) -> Schedule:
    """The :class:`Schedule` of ``metas`` issued at t. The versions in force come from ``asof.version_intervals``
    (as in ``features.schedule_covariates``), vectorised over sites."""
    L, H = history, horizon
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
    return Schedule(_entries(h_parts), _entries(f_parts), idle, L, H)


def schedule_at(jobs: pd.DataFrame, metas: list[SiteMeta], t: pd.Timestamp, history: int,
                horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Schedule channels for all sites: (S, L, C) float32 at lead 0 for the L hours before t, each as planned at
    that hour, and (S, H, C) for hours t … t+H−1 as planned at t (:func:`schedule_entries`)."""
    S, C = len(metas), len(SCHEDULE_CHANNELS)
    sch = schedule_entries(jobs, metas, t, history, horizon)
    hist, fut = np.empty((S, history, C), np.float32), np.empty((S, horizon, C), np.float32)
    for a in range(0, S, SITE_CHUNK):  # a chunk of sites at a time: a small difference array, reused
        b = min(a + SITE_CHUNK, S)
        sch.fill(hist[a:b], fut[a:b], a, b)
    return hist, fut


def _versions_in_window(jobs: pd.DataFrame, metas: list[SiteMeta], t: pd.Timestamp, L: int,
                        H: int) -> tuple[np.ndarray, ...]:
    """(rows, site index, k, k_end, planned start hour, planned end hour) of the versions planned at the sites
    in ``metas``, ordered as ``version_intervals`` orders them, hours from t − L. Only jobs with a version known
    by t that touches the hours t − L … t + H at one of these sites take part (every version of such a job
    known by t, at any site, since a version supersedes wherever it is planned); the others add nothing."""
    origin = t - pd.Timedelta(hours=L)
    si_all = positions(jobs["site_id"], [m.site_id for m in metas])  # (V,) -1: site not forecast
    ns = lambda c: pd.DatetimeIndex(jobs[c]).as_unit("ns").asi8  # noqa: E731
    ps_all, pe_all = _hours_from(ns("planned_start"), origin), _hours_from(ns("planned_end"), origin)
    known = known_at_ns(jobs)
    seen = np.flatnonzero(known <= t.value)  # a version known after t is in force at no issue hour up to t
    jid = pa.array(jobs["job_id"].astype(str))  # the column's own text, uncopied (large or not: the same order)
    jcode = job_codes(jobs["job_id"])[seen]  # per job
    touches = (si_all[seen] >= 0) & (ps_all[seen] < L + H) & (pe_all[seen] >= 0)
    job_in = np.zeros(int(jcode.max()) + 1 if len(jcode) else 0, bool)
    job_in[jcode[touches]] = True
    kept = job_in[jcode]
    rows = seen[kept]
    sub = pd.DataFrame({"job_id": jcode[kept], "known_at": known[rows].view("datetime64[ns]")})
    iv = version_intervals(sub, origin)
    rows, mine = rows[iv.order], si_all[rows[iv.order]] >= 0
    rows, k, k_end = rows[mine], iv.k[mine], iv.k_end[mine]
    # by site, then job id, known_at and row: every cell of a site sums its versions in job-id order
    key = pa.table({"s": si_all[rows], "j": jid.take(pa.array(rows)), "k": known[rows], "r": rows})
    o = pc.sort_indices(key, sort_keys=[(c, "ascending") for c in ("s", "j", "k", "r")]).to_numpy()
    rows, k, k_end = rows[o], k[o], k_end[o]
    return rows, si_all[rows], k, k_end, ps_all[rows], pe_all[rows]


def _entries(parts: list[tuple[np.ndarray, ...]]) -> list[tuple[np.ndarray, ...]]:
    """The parts (site, lo, hi, channel, weight), each (n,) and sorted by site, reduced to their rows with
    hi > lo and w != 0: each adds +w at hour lo and −w at hour hi of its site's difference array."""
    out = []
    for s, lo, hi, c, w in parts:
        ok = (hi > lo) & (w != 0)
        out.append((s[ok], lo[ok], hi[ok], c[ok], w[ok]))
    return out


def _hours_from(ns: np.ndarray, origin: pd.Timestamp) -> np.ndarray:
    """Whole hours from ``origin`` (floor) for int64 ns timestamps."""
    return np.floor_divide(ns - origin.as_unit("ns").value, HOUR_NS)


@dataclass
class ReferenceInputs:
    """What the windows of one reference time are made of, per site: ``windows(a, b)`` builds the dense arrays of
    sites a … b − 1, so that a forecast can build and consume them a chunk of sites at a time."""

    series_ids: list[str]  # (S,) sorted site ids
    scale: np.ndarray  # (S,) capacity_mw
    meter_hours: np.ndarray  # (S, L) bool
    temperature_hours: np.ndarray | None  # (S, L) bool, None: temperature unused
    y: np.ndarray  # (S, L) meter / capacity, 0 where missing
    temp: np.ndarray  # (S, L) standardised temperature, 0 where missing or unused
    cal: np.ndarray  # (L + H, F_cal)
    schedule: Schedule

    def windows(self, a: int = 0, b: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """x_hist (b − a, L, F_hist) and x_fut (b − a, H, F_fut) float32 of sites a … b − 1 (default: all)."""
        b = len(self.series_ids) if b is None else b
        L, H, C, F = self.schedule.history, self.schedule.horizon, len(SCHEDULE_CHANNELS), self.cal.shape[1]
        x_hist = np.empty((b - a, L, 2 + C + F), np.float32)  # power, schedule, temperature, calendar
        x_fut = np.empty((b - a, H, C + F), np.float32)  # schedule, calendar
        x_hist[:, :, 0] = self.y[a:b]
        for i in range(a, b, SITE_CHUNK):
            j = min(i + SITE_CHUNK, b)
            self.schedule.fill(x_hist[i - a:j - a, :, 1:1 + C], x_fut[i - a:j - a, :, :C], i, j)
        x_hist[:, :, 1 + C] = self.temp[a:b]
        x_hist[:, :, 2 + C:] = self.cal[None, :L]
        x_fut[:, :, C:] = self.cal[None, L:]
        return x_hist, x_fut


def reference_windows(metas: dict[str, SiteMeta], jobs: pd.DataFrame, meter: pd.DataFrame,
                      grid: pd.DataFrame | None, t: pd.Timestamp, history: int, horizon: int,
                      use_temperature: bool = True) -> ReferenceWindows:
    """Model inputs for every site in ``metas`` (sorted by id) issued at ``t``; uses rows before t only."""
    ri = reference_inputs(metas, jobs, meter, grid, t, history, horizon, use_temperature)
    x_hist, x_fut = ri.windows()
    return ReferenceWindows(ri.series_ids, x_hist, x_fut, ri.scale, ri.meter_hours, ri.temperature_hours)


def reference_inputs(metas: dict[str, SiteMeta], jobs: pd.DataFrame, meter: pd.DataFrame,
                     grid: pd.DataFrame | None, t: pd.Timestamp, history: int,
                     horizon: int, use_temperature: bool = True, schedule: Schedule | None = None,
                     meter_site: np.ndarray | None = None) -> ReferenceInputs:
    """:func:`reference_windows` before the dense arrays; uses rows before t only. Already computed, when given:
    ``schedule``, the :func:`reference_schedule` of these metas and jobs at t; ``meter_site``, each meter row's
    position among the sorted site ids (``Inputs.meter_site``)."""
    L, H = history, horizon
    ms = _by_id(metas)
    if schedule is not None and (schedule.history, schedule.horizon, len(schedule.idle)) != (L, H, len(ms)):
        raise ValueError(f"the schedule given is for {len(schedule.idle)} sites × L={schedule.history}, "
                         f"H={schedule.horizon}, not {len(ms)} × L={L}, H={H}")
    ids = [m.site_id for m in ms]
    S = len(ms)
    origin = t - pd.Timedelta(hours=L)
    cap = np.array([m.capacity_mw for m in ms])
    # rows at or after t fall at hour >= L and are not scattered
    if meter_site is not None and len(meter_site) != len(meter):
        raise ValueError(f"meter_site has {len(meter_site)} rows, the meter {len(meter)}")
    site = positions(meter["site_id"], ids) if meter_site is None else meter_site
    power = _scatter_hours(site, _hour_index(meter["ts"], origin),
                           meter["power_mw"].to_numpy(np.float64), S, L)  # (S, L) MW
    temp = np.zeros((S, L))
    temp_have = None
    if use_temperature and grid is not None:
        zones = sorted(pd.unique(grid["zone"].astype(str)))
        tz = _scatter_hours(positions(grid["zone"], zones), _hour_index(grid["ts"], origin),
                            grid["temperature_c"].to_numpy(np.float64), len(zones), L)  # (Z, L) °C
        tz = np.concatenate([tz, np.full((1, L), np.nan)])  # row Z: zones with no rows at all
        zi = pd.Index(zones).get_indexer([m_.zone for m_ in ms])
        temp = tz[np.where(zi >= 0, zi, len(zones))]  # (S, L)
        temp_have = ~np.isnan(temp)  # the caller refuses gaps: a missing reading is never a default value
        temp = np.nan_to_num((temp - TEMP_SCALE_C[0]) / TEMP_SCALE_C[1])
    cal = calendar(pd.date_range(origin, periods=L + H, freq="h"))  # (L + H, F_cal)
    schedule = schedule_entries(jobs, ms, t, L, H) if schedule is None else schedule
    return ReferenceInputs(ids, cap, ~np.isnan(power), temp_have, np.nan_to_num(power / cap[:, None]), temp, cal,
                           schedule)


def reference_schedule(t: pd.Timestamp, history: int, horizon: int) -> Callable[[pd.DataFrame, dict[str, SiteMeta]],
                                                                                  Schedule]:
    """``(jobs, metas) -> Schedule`` of every site at t, in the order :func:`reference_inputs` uses (sorted ids):
    for ``load_inputs(prepare=)``, which builds it while the hourly tables are read."""
    return lambda jobs, metas: schedule_entries(jobs, _by_id(metas), t, history, horizon)


def _by_id(metas: dict[str, SiteMeta]) -> list[SiteMeta]:
    """The sites in the order of every reference array: sorted by id."""
    return [metas[k] for k in sorted(metas)]
