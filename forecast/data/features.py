"""Hourly covariates: the schedule as planned at issue time, calendar, weather and meter history.

For a forecast issued at hour t (hour-beginning index ``i`` of ``ts``), lead
h = 0 … H−1 targets hour ``ts[i+h]`` (``horizon_h = h + 1``). Its known-future
covariates come from the schedule *as known at t*: for each job, the latest
version with ``known_at <= t`` (the rule lives in ``forecast.data.asof``). History uses only hours before t.

Schedule channels (per site, normalised so that one model serves sites of any size):
    gpus_<TYPE>   GPUs scheduled to be busy, by type / GPUs installed at the site
    flop_rate     planned FLOP/s (budget / planned duration) / (GPUs installed × dense peak of the job's
                  GPU type at its precision): the planned MFU times the job's share of the site's GPUs
    phys_power    physics-expected facility power / capacity_mw:
                  pue_design · (1 + host_ratio) · Σ n·[P_idle + (P_train − P_idle)] + idle of free GPUs + base
    starts, ends  GPUs whose job starts / ends in the hour / GPUs installed
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecast.data.asof import HOUR_NS, VersionIntervals, version_intervals
from forecast.data.contracts import DEFAULT_HOST_RATIO
from forecast.data.flops import peak_flops
from forecast.data.gpus import GPU_TYPES, gpu_spec
from forecast.data.plan_events import KnownFuture

SCHEDULE_CHANNELS: tuple[str, ...] = (*(f"gpus_{g}" for g in GPU_TYPES), "flop_rate", "phys_power", "starts", "ends")
PHYS = SCHEDULE_CHANNELS.index("phys_power")
CALENDAR_CHANNELS: tuple[str, ...] = ("hod_sin", "hod_cos", "dow_sin", "dow_cos", "doy_sin", "doy_cos")


@dataclass(frozen=True)
class SiteMeta:
    """Static facts about one site, from the sites table."""

    site_id: str
    zone: str
    capacity_mw: float
    pue_design: float
    base_load_mw: float
    host_ratio: float
    fleet: dict[str, int]

    @property
    def n_gpus(self) -> int:
        return int(sum(self.fleet.values()))

    @property
    def idle_mw(self) -> float:
        """Facility power with every GPU idle, at design PUE (MW)."""
        gpu_w = sum(n * gpu_spec(g).idle_w for g, n in self.fleet.items())
        return self.pue_design * (1 + self.host_ratio) * gpu_w / 1e6 + self.base_load_mw

    @property
    def peak_flops(self) -> float:
        return float(sum(n * gpu_spec(g).peak_flops("bf16") for g, n in self.fleet.items()))


def site_metas(sites: pd.DataFrame) -> dict[str, SiteMeta]:
    """One SiteMeta per site id (sorted); static facts from the site's first row, the fleet from all its rows.

    A single pass over plain lists: per-group pandas indexing costs ~1 ms a site, too much for 10,000 sites.
    """
    n = len(sites)
    col = lambda name: sites[name].tolist() if name in sites.columns else [None] * n  # noqa: E731
    sid, zone, cap, pue, base, hr = (col(c) for c in ("site_id", "zone", "capacity_mw", "pue_design", "base_load_mw",
                                                       "host_ratio"))
    gpu, n_gpus = col("gpu_type"), col("n_gpus")
    first: dict[str, int] = {}
    fleets: dict[str, dict[str, int]] = {}
    for i, s in enumerate(sid):
        s = str(s)
        if s not in first:
            first[s], fleets[s] = i, {}
        fleets[s][str(gpu[i])] = int(n_gpus[i])
    out = {}
    for s in sorted(first):
        i = first[s]
        h = float(hr[i]) if hr[i] is not None and pd.notna(hr[i]) else DEFAULT_HOST_RATIO
        out[s] = SiteMeta(s, str(zone[i]), float(cap[i]), float(pue[i]), float(base[i]), h, fleets[s])
    return out


def calendar(ts: pd.DatetimeIndex) -> np.ndarray:
    """(T, 6) float32: hour of day, day of week, day of year as sin/cos pairs (UTC)."""
    h = ts.hour.to_numpy() / 24.0
    d = (ts.dayofweek.to_numpy() + h) / 7.0
    y = (ts.dayofyear.to_numpy() - 1 + h) / 365.25
    ang = 2 * np.pi * np.stack([h, d, y], axis=1)  # (T, 3)
    return np.stack([np.sin(ang[:, 0]), np.cos(ang[:, 0]), np.sin(ang[:, 1]), np.cos(ang[:, 1]),
                     np.sin(ang[:, 2]), np.cos(ang[:, 2])], axis=1).astype(np.float32)


def _hours_since(times: pd.Series | pd.DatetimeIndex, origin: pd.Timestamp) -> np.ndarray:
    """Whole hours from ``origin`` (floor: plans and issue times are on the hour)."""
    v = pd.DatetimeIndex(times).as_unit("ns").asi8
    return np.floor_divide(v - origin.as_unit("ns").value, HOUR_NS)


def _site_versions(jobs: pd.DataFrame, meta: SiteMeta, origin: pd.Timestamp) -> tuple[pd.DataFrame, VersionIntervals]:
    """The versions planned at this site, ordered, with their issue-hour intervals. Every version of those
    jobs takes part in superseding: a revision that moves a job to another site ends it here."""
    here = jobs["site_id"] == meta.site_id
    unknown = sorted(set(jobs.loc[here, "gpu_type"]) - set(meta.fleet))
    if unknown:
        raise ValueError(f"jobs for site {meta.site_id} use GPU types {unknown} not installed there (sites table)")
    mine = jobs[jobs["job_id"].isin(jobs.loc[here, "job_id"].unique())]
    iv = version_intervals(mine, origin)
    keep = mine["site_id"].to_numpy()[iv.order] == meta.site_id
    iv = VersionIntervals(iv.order[keep], iv.job[keep], iv.k[keep], iv.k_end[keep])
    return mine.iloc[iv.order], iv


def _version_weights(j: pd.DataFrame, meta: SiteMeta, ps: np.ndarray, pe: np.ndarray) -> tuple[np.ndarray, ...]:
    """(V, C) weights per version: while it runs (GPUs by type, FLOP rate, dynamic power), in its start hour,
    in its end hour."""
    V, C = len(j), len(SCHEDULE_CHANNELS)
    n = j["n_gpus"].to_numpy(np.float64)
    dur_s = np.maximum(pe - ps, 1) * 3600.0
    w_active = np.zeros((V, C))
    types = j["gpu_type"].to_numpy()
    for g in GPU_TYPES:
        w_active[:, SCHEDULE_CHANNELS.index(f"gpus_{g}")] = np.where(types == g, n / meta.n_gpus, 0.0)
    fb = j["flop_budget"].to_numpy(np.float64)
    # the job's planned FLOP/s over the site's GPUs at the job's own GPU type and precision (FP8 peak for FP8)
    w_active[:, SCHEDULE_CHANNELS.index("flop_rate")] = np.nan_to_num(fb / dur_s) / (meta.n_gpus * peak_flops(j))
    dyn_w = np.array([gpu_spec(t).train_w - gpu_spec(t).idle_w for t in types]) * n
    w_active[:, PHYS] = meta.pue_design * (1 + meta.host_ratio) * dyn_w / 1e6 / meta.capacity_mw
    w_start = np.zeros((V, C))
    w_start[:, SCHEDULE_CHANNELS.index("starts")] = n / meta.n_gpus
    w_end = np.zeros((V, C))
    w_end[:, SCHEDULE_CHANNELS.index("ends")] = n / meta.n_gpus
    return w_active, w_start, w_end


@dataclass(frozen=True)
class Rectangles:
    """The schedule of one site as rectangles on (issue hour, target hour), hours from an origin: row r adds
    ``w[r]`` to every target hour a[r] <= j < b[r] as planned at every issue hour k[r] <= i < k_end[r]."""

    a: np.ndarray  # (R,) int64 first target hour
    b: np.ndarray  # (R,) int64 end target hour (exclusive)
    k: np.ndarray  # (R,) int64 first issue hour at which the version is in force
    k_end: np.ndarray  # (R,) int64 first issue hour at which it is superseded (asof.NEVER: it is not)
    w: np.ndarray  # (R, C) float64 weights per schedule channel


def schedule_rectangles(jobs: pd.DataFrame, meta: SiteMeta, origin: pd.Timestamp) -> Rectangles:
    """Per version planned at this site, three rectangles: while it runs [ps, pe) (GPUs by type, FLOP rate,
    dynamic power), its start hour [ps, ps+1) and its end hour [pe, pe+1); in force for the version's
    issue hours from ``asof.version_intervals``. The idle power offset is not part of them."""
    j, iv = _site_versions(jobs, meta, origin)
    if not len(j):
        e = np.zeros(0, np.int64)
        return Rectangles(e, e, e, e, np.zeros((0, len(SCHEDULE_CHANNELS))))
    ps, pe = _hours_since(j["planned_start"], origin), _hours_since(j["planned_end"], origin)
    return Rectangles(np.concatenate([ps, ps, pe]), np.concatenate([pe, ps + 1, pe + 1]), np.tile(iv.k, 3),
                      np.tile(iv.k_end, 3), np.concatenate(_version_weights(j, meta, ps, pe)))


def _hourly_grid(issue_times: pd.DatetimeIndex) -> np.ndarray:
    """(N,) issue hours from issue_times[0]; raises unless strictly increasing whole hours."""
    issue = _hours_since(issue_times, issue_times[0])
    if np.any(np.diff(issue) <= 0):
        raise ValueError("issue_times must be strictly increasing hours")
    return issue


def schedule_covariates(jobs: pd.DataFrame, meta: SiteMeta, issue_times: pd.DatetimeIndex, horizon: int) -> np.ndarray:
    """Known-future schedule channels, (N, H, C) float32, for N hourly issue times and leads 0 … H−1.

    Cell [n, h] describes hour issue_times[n] + h as planned at issue_times[n] (``asof``: the versions in
    force then). Built with a difference array along the issue axis, so the cost is
    O(versions × H + N × H × C), never a loop over issue times. ``schedule_plan`` holds the same values
    in O(N × C + versions) memory.
    """
    N, H, C = len(issue_times), horizon, len(SCHEDULE_CHANNELS)
    if not N:
        return np.zeros((0, H, C), np.float32)
    issue = _hourly_grid(issue_times)  # (N,) sorted ints
    r = schedule_rectangles(jobs, meta, issue_times[0])
    diff = np.zeros((N + 1, H, C), np.float64)
    if len(r.a):
        hs = np.arange(H)
        # issue t sees target t+h in [a, b)  <=>  t in [a-h, b-h); and t in [k, ke)
        lo = np.searchsorted(issue, np.maximum(r.k[:, None], r.a[:, None] - hs[None, :]), side="left")  # (3V, H)
        hi = np.searchsorted(issue, np.minimum(r.k_end[:, None], r.b[:, None] - hs[None, :]), side="left")
        rows, cols = np.nonzero(hi > lo)
        for c in range(C):
            wc = r.w[rows, c]
            m = wc != 0
            if m.any():
                np.add.at(diff[:, :, c], (lo[rows[m], cols[m]], cols[m]), wc[m])
                np.add.at(diff[:, :, c], (hi[rows[m], cols[m]], cols[m]), -wc[m])
    out = np.cumsum(diff, axis=0)[:N]
    out[:, :, PHYS] += meta.idle_mw / meta.capacity_mw
    return out.astype(np.float32)


def schedule_plan(jobs: pd.DataFrame, meta: SiteMeta, ts: pd.DatetimeIndex, horizon: int) -> KnownFuture:
    """The values of ``schedule_covariates(jobs, meta, ts, horizon)`` in compact form (``plan_events``):
    lead 0 for T + H hours and the revision events, O(T × C + versions). ``ts``: T consecutive hours."""
    if not np.array_equal(_hours_since(ts, ts[0]), np.arange(len(ts))):
        raise ValueError("the compact schedule needs consecutive hourly issue times (no gaps)")
    idle = np.zeros(len(SCHEDULE_CHANNELS))
    idle[PHYS] = meta.idle_mw / meta.capacity_mw
    r = schedule_rectangles(jobs, meta, ts[0])
    return KnownFuture.from_rectangles(r.a, r.b, r.k, r.k_end, r.w, len(ts), horizon, idle)


def physics_power_mw(cov: np.ndarray, meta: SiteMeta) -> np.ndarray:
    """The physics-only forecast (MW) from schedule channels: expected power at design PUE."""
    return cov[..., PHYS].astype(np.float64) * meta.capacity_mw
