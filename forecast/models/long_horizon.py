"""Schedule-driven long-horizon draw forecaster: weeks to months ahead, where the sequence model's horizon ends.

For a forecast issued at t, site s and lead h (target hour t + h):

    phys(t, h)   the physics-expected facility power of the plan as known at t (``reference.schedule_at``:
                 each job's latest version with known_at <= t, GPUs × [idle + (train − idle)], design PUE,
                 host overhead, idle of free GPUs, base load), in capacity units
    point(t, h)  = phys(t, h) · (a + c · CDD(T̄(t + h))) + b

with T̄ the zone's temperature climatology (mean over past years of the same day of year ± 7 days and hour,
from data before t; the overall hourly mean where fewer than 300 days exist) and CDD(T) = max(0, T − 12 °C):
design PUE → actual PUE and utilisation, fitted by least squares on the site's history (lead 0, each hour
as planned at that hour). The plan-versus-meter gap by lead time is learned from pseudo-forecasts issued at
past origins (every ``origin_every_h`` hours before t, only targets before t): per lead day the quantiles of
the residual meter − point; the spreads (median to each outer quantile) are made non-decreasing in lead, so
bands widen with lead time. Quantiles are bounded to [0, capacity] (the sites table's physical ceiling), and
stay non-crossing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecast.data.features import PHYS, SiteMeta
from forecast.data.reference import schedule_at
from forecast.models.dependence import Dependence, fit_dependence, normal_scores

HOUR = pd.Timedelta(hours=1)
CDD_BASE_C = 12.0
MIN_RESIDUALS = 48  # residuals a lead day needs before its own quantiles are used (else the previous day's)


@dataclass(frozen=True)
class SiteFit:
    """One site's fitted long-horizon model (capacity units)."""

    coef: tuple[float, float, float]  # (a, c, b): point = phys · (a + c·CDD) + b
    offsets: np.ndarray  # (D, Q) residual quantiles per lead day (capacity units), spreads non-decreasing in lead
    n_residuals: np.ndarray  # (D,) residuals behind each lead day's quantiles


@dataclass
class LongHorizonModel:
    """Fitted at issue time ``issued_at`` from data strictly before it; forecasts leads 0 … horizon − 1."""

    issued_at: pd.Timestamp
    horizon: int
    levels: tuple[float, ...]
    metas: dict[str, SiteMeta]
    fits: dict[str, SiteFit]
    climatology: dict[str, np.ndarray]  # zone -> (366, 24) °C by local-free UTC day of year and hour
    dependence: Dependence | None = None  # Monte Carlo correlations of the forecast month (fit(window=...))

    def forecast(self, jobs: pd.DataFrame) -> tuple[list[str], pd.DatetimeIndex, np.ndarray]:
        """(site ids, target hours (H,), quantiles (S, H, Q) MW) issued at ``issued_at``."""
        ids = sorted(self.fits)
        ms = [self.metas[s] for s in ids]
        ts = pd.date_range(self.issued_at, periods=self.horizon, freq="h")
        _, fut = schedule_at(jobs, ms, self.issued_at, 1, self.horizon)  # (S, H, C)
        out = np.empty((len(ids), self.horizon, len(self.levels)))
        for s, m in enumerate(ms):
            cdd = _cdd(_clim_at(self.climatology.get(m.zone), ts))  # (H,)
            point = _point(self.fits[m.site_id].coef, fut[s, :, PHYS].astype(np.float64), cdd)  # (H,)
            off = _offsets_for_leads(self.fits[m.site_id].offsets, self.horizon)  # (H, Q)
            out[s] = np.clip(point[:, None] + off, 0.0, 1.0) * m.capacity_mw
        return ids, ts, out


def _cdd(temp_c: np.ndarray) -> np.ndarray:
    return np.maximum(0.0, np.asarray(temp_c, np.float64) - CDD_BASE_C)


def _point(coef: tuple[float, float, float], phys: np.ndarray, cdd: np.ndarray) -> np.ndarray:
    a, c, b = coef
    return phys * (a + c * cdd) + b


def climatology(temp: pd.Series, before: pd.Timestamp, window_days: int = 7) -> np.ndarray:
    """(366, 24) mean temperature by UTC day of year and hour from hours before ``before``; NaN-free.

    Each cell averages the same hour over days of year within ± ``window_days`` (circular) of all past
    years; with fewer than 300 days of history every day gets the overall mean of its hour."""
    t = temp[(temp.index < before) & temp.notna()]
    if t.empty:
        return np.full((366, 24), CDD_BASE_C)  # no temperature at all: no cooling-degree adjustment
    doy, hour = t.index.dayofyear.to_numpy() - 1, t.index.hour.to_numpy()
    total = np.zeros((366, 24))
    count = np.zeros((366, 24))
    np.add.at(total, (doy, hour), t.to_numpy(np.float64))
    np.add.at(count, (doy, hour), 1.0)
    if t.index.normalize().nunique() < 300:
        by_hour = total.sum(axis=0) / np.maximum(count.sum(axis=0), 1)  # (24,)
        return np.broadcast_to(by_hour, (366, 24)).copy()
    k = np.arange(-window_days, window_days + 1)
    idx = (np.arange(366)[:, None] + k[None, :]) % 366  # (366, 2w+1) circular window of days
    tot, cnt = total[idx].sum(axis=1), count[idx].sum(axis=1)  # (366, 24)
    fill = total.sum(axis=0) / np.maximum(count.sum(axis=0), 1)
    return np.where(cnt > 0, tot / np.maximum(cnt, 1), fill[None, :])


def _clim_at(clim: np.ndarray | None, ts: pd.DatetimeIndex) -> np.ndarray:
    if clim is None:
        return np.full(len(ts), CDD_BASE_C)
    return clim[ts.dayofyear.to_numpy() - 1, ts.hour.to_numpy()]


def fit_coef(phys: np.ndarray, cdd: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Least squares of y ≈ phys·(a + c·CDD) + b on finite rows (capacity units); c >= 0 (PUE rises with heat)."""
    ok = np.isfinite(y) & np.isfinite(phys) & np.isfinite(cdd)
    if ok.sum() < 24:
        return (1.0, 0.0, 0.0)  # too little history: the plan at design PUE
    X = np.stack([phys[ok], phys[ok] * cdd[ok], np.ones(int(ok.sum()))], axis=1)  # (n, 3)
    coef = np.linalg.lstsq(X, y[ok], rcond=None)[0]
    if coef[1] < 0:  # refit without the temperature term
        X2 = X[:, [0, 2]]
        a, b = np.linalg.lstsq(X2, y[ok], rcond=None)[0]
        return (float(a), 0.0, float(b))
    return (float(coef[0]), float(coef[1]), float(coef[2]))


def lead_offsets(resid: list[np.ndarray], levels: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Residual quantiles per lead day (D, Q) with spreads non-decreasing in lead, and counts (D,).

    ``resid[d]`` holds the residuals (capacity units) of lead day d. A day with fewer than MIN_RESIDUALS
    takes the previous day's quantiles (or zeros for the first)."""
    lv = np.asarray(levels)
    m = int(np.argmin(np.abs(lv - 0.5)))
    D, Q = len(resid), len(lv)
    q = np.zeros((D, Q))
    n = np.array([len(r) for r in resid])
    for d in range(D):
        if n[d] >= MIN_RESIDUALS:
            q[d] = np.quantile(resid[d], lv)
        elif d > 0:
            q[d] = q[d - 1]
    spread = q - q[:, m:m + 1]  # (D, Q): negative below the median, positive above
    lo = np.minimum.accumulate(spread[:, :m], axis=0)  # more negative (wider) with lead
    hi = np.maximum.accumulate(spread[:, m + 1:], axis=0)
    out = np.concatenate([lo, np.zeros((D, 1)), hi], axis=1) + q[:, m:m + 1]
    return out, n


def _offsets_for_leads(offsets: np.ndarray, horizon: int) -> np.ndarray:
    """(H, Q) per-hour offsets from per-lead-day ones (leads beyond the last fitted day use the last day)."""
    d = np.minimum(np.arange(horizon) // 24, len(offsets) - 1)
    return offsets[d]


def _zone_temperature(grid: pd.DataFrame | None, zone: str) -> pd.Series:
    if grid is None or "temperature_c" not in grid.columns:
        return pd.Series(dtype=np.float64, index=pd.DatetimeIndex([], tz="UTC"))
    g = grid[grid["zone"] == zone]
    return pd.Series(g["temperature_c"].to_numpy(np.float64), index=pd.DatetimeIndex(g["ts"]))


def _site_history(meter: pd.DataFrame, m: SiteMeta, hours: pd.DatetimeIndex) -> np.ndarray:
    """(T,) metered power / capacity on ``hours``, NaN where no reading."""
    sub = meter[meter["site_id"] == m.site_id]
    s = pd.Series(sub["power_mw"].to_numpy(np.float64), index=pd.DatetimeIndex(sub["ts"]))
    return s.reindex(hours).to_numpy(np.float64) / m.capacity_mw


def pseudo_origins(start: pd.Timestamp, t: pd.Timestamp, every_h: int) -> pd.DatetimeIndex:
    """Past issue times for the lead-time residuals: midnights UTC from ``start`` every ``every_h`` hours, < t − 24 h."""
    first = start.ceil("D")
    last = t - pd.Timedelta(hours=24)
    if first >= last:
        return pd.DatetimeIndex([], tz="UTC")
    return pd.date_range(first, last, freq=f"{every_h}h", inclusive="left")


def fit(metas: dict[str, SiteMeta], jobs: pd.DataFrame, meter: pd.DataFrame, grid: pd.DataFrame | None,
        t: pd.Timestamp, horizon: int, levels: tuple[float, ...] = (0.1, 0.5, 0.9), history_days: int = 730,
        origin_every_h: int = 48, window: tuple[int, int] | None = None) -> LongHorizonModel:
    """Fit every site's model at issue time ``t`` from meter, grid and plan versions before ``t`` only.

    ``window`` = (first lead, hours): also fit the Monte Carlo correlations of the month those leads cover
    (``LongHorizonModel.dependence``) from the pseudo-forecasts' residuals over the same leads."""
    meter = meter[meter["ts"] < t]
    grid = grid[grid["ts"] < t] if grid is not None else None
    start = max(meter["ts"].min(), t - pd.Timedelta(days=history_days))
    hours = pd.date_range(start, t, freq="h", inclusive="left")
    ids = sorted(metas)
    ms = [metas[s] for s in ids]
    hist, _ = schedule_at(jobs, ms, t, len(hours), 1)  # (S, T, C): each past hour as planned at that hour
    zones = sorted({m.zone for m in ms})
    temps = {z: _zone_temperature(grid, z) for z in zones}
    clim = {z: climatology(temps[z], t) for z in zones}
    ys = {m.site_id: _site_history(meter, m, hours) for m in ms}
    coefs = {}
    for s, m in enumerate(ms):
        cdd = _cdd(temps[m.zone].reindex(hours).to_numpy(np.float64))
        coefs[m.site_id] = fit_coef(hist[s, :, PHYS].astype(np.float64), cdd, ys[m.site_id])
    resid, paths = _lead_residuals(ms, jobs, hours, ys, coefs, clim, t, horizon, origin_every_h, window)
    fits = {}
    for m in ms:
        off, n = lead_offsets(resid[m.site_id], levels)
        fits[m.site_id] = SiteFit(coefs[m.site_id], off, n)
    dep = window_dependence(paths, [fits[m.site_id].offsets for m in ms], levels, window) if window else None
    return LongHorizonModel(t, horizon, tuple(levels), {m.site_id: m for m in ms}, fits, clim, dep)


def window_dependence(paths: np.ndarray, offsets: list[np.ndarray], levels: tuple[float, ...],
                      window: tuple[int, int]) -> Dependence:
    """Monte Carlo correlations from residual paths (O, S, W) over leads ``window``: each residual's normal score
    under the residual quantiles of its lead day, then ``dependence.fit_dependence``."""
    d = np.minimum((window[0] + np.arange(window[1])) // 24, len(offsets[0]) - 1)  # (W,) lead day
    q = np.stack([off[d] for off in offsets])  # (S, W, Q)
    z = normal_scores(paths, np.broadcast_to(q, (*paths.shape, q.shape[-1])), np.asarray(levels))
    return fit_dependence(np.where(np.isfinite(paths), z, np.nan))


def _lead_residuals(ms: list[SiteMeta], jobs: pd.DataFrame, hours: pd.DatetimeIndex, ys: dict[str, np.ndarray],
                    coefs: dict, clim: dict, t: pd.Timestamp, horizon: int, every_h: int,
                    window: tuple[int, int] | None = None) -> tuple[dict[str, list], np.ndarray]:
    """site -> per lead day, the residuals meter − point of pseudo-forecasts issued at past origins (targets < t);
    and (O_w, S, W) the residuals over leads ``window`` = (first lead, W) of the origins whose whole window lies
    before t (NaN where no reading), for the dependence fit."""
    D = (horizon + 23) // 24
    parts: dict[str, list[list[np.ndarray]]] = {m.site_id: [[] for _ in range(D)] for m in ms}
    paths = []
    pos0 = hours[0]
    lead_day = np.arange(horizon) // 24
    for o in pseudo_origins(hours[0], t, every_h):
        ts = pd.date_range(o, periods=horizon, freq="h")
        keep = ts < t
        _, fut = schedule_at(jobs, ms, o, 1, horizon)  # (S, H, C) as planned at o
        idx = ((ts[keep] - pos0) // HOUR).to_numpy(np.int64)
        r_all = np.full((len(ms), horizon), np.nan)  # (S, H) residuals of this origin
        for s, m in enumerate(ms):
            point = _point(coefs[m.site_id], fut[s, keep, PHYS].astype(np.float64),
                           _cdd(_clim_at(clim.get(m.zone), ts[keep])))
            r_all[s, keep] = ys[m.site_id][idx] - point
            ok = np.isfinite(r_all[s])
            for d in np.unique(lead_day[ok]):
                parts[m.site_id][d].append(r_all[s, ok & (lead_day == d)])
        if window is not None and window[0] + window[1] <= int(keep.sum()):
            paths.append(r_all[:, window[0]:window[0] + window[1]])
    W = window[1] if window is not None else 0
    out = {sid: [np.concatenate(p) if p else np.zeros(0) for p in days] for sid, days in parts.items()}
    return out, (np.stack(paths) if paths else np.zeros((0, len(ms), W)))
