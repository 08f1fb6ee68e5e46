"""System (zone) load over a billing period, as quantiles and joint sample paths.

The model is a log-linear least-squares regression of hourly zone load on

- the local calendar (``timezone``, default America/New_York): hour of day ×
  day type (weekday, Saturday, Sunday, holiday — the six NERC holidays, observed,
  plus the Friday after Thanksgiving and Christmas Eve), the daily profile's
  seasonal change (hour of day × the first ``profile_harmonics`` day-of-year
  harmonics) and further day-of-year Fourier terms up to ``n_fourier``;
- outdoor temperature when given: piecewise-linear heating and cooling degree
  hinges ``max(0, k − T)`` at ``HEAT_KNOTS`` and ``max(0, T − k)`` at ``COOL_KNOTS``;
- a slowly varying trend: linear in years plus yearly hinges (ridge-penalised),
  the last year linear, continued at its slope.

A forecast issued at ``issued_at`` uses only the fit (data strictly before it).
Weather months ahead is unknown, so uncertainty comes from resampling the past:
the hours are cut into blocks of ``block_days`` days, and each block of each
sample takes the residual path (and the temperature anomaly) of the same
calendar window in one past year, shifted by up to ±``shift_days`` days
(weather-year block bootstrap; a sample keeps its year across blocks, so a hot
or mild month stays hot or mild). With fewer than 2 past years the blocks are
drawn from anywhere in the history, and temperature is its seasonal-hourly
climatology plus the resampled anomaly; fitted on less than one year, the model
has no annual harmonics and no trend (neither is identified), so its level is the
history's and its bands are wide. Samples are ``exp(log-load)``, so
non-negative; quantiles are the samples' empirical quantiles.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from dateutil.relativedelta import TH
from pandas.tseries.holiday import (AbstractHolidayCalendar, Holiday, USLaborDay, USMemorialDay, USThanksgivingDay,
                                    sunday_to_monday)
from pandas.tseries.offsets import DateOffset, Day
from scipy import linalg, sparse

from forecast.errors import ContractError

HOURS = 24
DAY_TYPES = ("weekday", "saturday", "sunday", "holiday")
HEAT_KNOTS = (18.0, 10.0, 0.0)  # °C
COOL_KNOTS = (18.0, 24.0, 30.0)  # °C
YEAR_DAYS = 365.2425
EPOCH = pd.Timestamp("2000-01-01")
HOUR = pd.Timedelta(hours=1)
N_BASE = 3 * HOURS  # weekday, Saturday, Sunday × hour: the intercepts, not penalised
N_ONE = N_BASE + HOURS  # … then the holiday deviation from Sunday, by hour


class LoadHolidays(AbstractHolidayCalendar):
    """NERC holidays (observed) and two holiday-like days."""

    rules = [Holiday("New Year", month=1, day=1, observance=sunday_to_monday), USMemorialDay,
             Holiday("Independence Day", month=7, day=4, observance=sunday_to_monday), USLaborDay,
             USThanksgivingDay, Holiday("Day after Thanksgiving", month=11, day=1,
                                        offset=[DateOffset(weekday=TH(4)), Day(1)]),
             Holiday("Christmas Eve", month=12, day=24), Holiday("Christmas", month=12, day=25,
                                                                 observance=sunday_to_monday)]


def day_types(local: pd.DatetimeIndex) -> np.ndarray:
    """(T,) index into DAY_TYPES of each local timestamp."""
    dates = local.tz_localize(None).normalize()
    hol = LoadHolidays().holidays(dates.min() - pd.Timedelta(days=7), dates.max() + pd.Timedelta(days=7))
    dow = local.dayofweek.to_numpy()
    out = np.where(dow == 5, 1, np.where(dow == 6, 2, 0))
    return np.where(dates.isin(hol), 3, out)


def hinges(temp: np.ndarray) -> np.ndarray:
    """(..., 6) heating then cooling degree hinges of temperatures (...) in °C."""
    heat = [np.maximum(0.0, k - temp) for k in HEAT_KNOTS]
    cool = [np.maximum(0.0, temp - k) for k in COOL_KNOTS]
    return np.stack(heat + cool, axis=-1)


@dataclass(frozen=True)
class SystemLoadForecast:
    """``ts`` (T,) UTC hour-beginning; ``quantiles`` (T, Q) MW at ``levels``; ``samples`` (N, T) MW joint paths."""

    ts: pd.DatetimeIndex
    quantiles: np.ndarray
    samples: np.ndarray
    levels: tuple[float, ...]
    source: dict = field(default_factory=dict)


class SystemLoadModel:
    """Calendar + temperature + trend regression of log zone load, with a weather-year block bootstrap."""

    def __init__(self, timezone: str = "America/New_York", n_fourier: int = 4, profile_harmonics: int = 2,
                 trend_knot_years: float | None = 1.0, ridge: float = 1e-6, trend_ridge: float = 1.0,
                 block_days: int = 7, shift_days: int = 28):
        if not 0 <= profile_harmonics <= n_fourier:
            raise ValueError(f"profile_harmonics must be in 0 … n_fourier, got {profile_harmonics}, {n_fourier}")
        self.timezone, self.n_fourier, self.profile_harmonics = timezone, n_fourier, profile_harmonics
        self.trend_knot_years, self.ridge, self.trend_ridge = trend_knot_years, ridge, trend_ridge
        self.block_days, self.shift_days = block_days, shift_days
        self.harmonics = (n_fourier, profile_harmonics)  # as fitted: (0, 0) on less than a year of data
        self.beta: np.ndarray | None = None

    # ------------------------------------------------------------------ design
    def calendar_design(self, ts: pd.DatetimeIndex) -> sparse.csr_matrix:
        """(T, 96 + 48·profile_harmonics + 2·(n_fourier − profile_harmonics)) calendar columns, sparse:
        day type × hour one-hot, hour one-hot × the first harmonics, then the other harmonics. Fitted on
        less than a year, the model has no annual harmonics (an annual cycle is not identified)."""
        local = ts.tz_convert(self.timezone)
        (n_k, kp), n, hour = self.harmonics, len(ts), local.hour.to_numpy()
        phase = 2 * np.pi * ((local.tz_localize(None) - EPOCH) / pd.Timedelta(days=YEAR_DAYS)).to_numpy()
        k = np.arange(1, n_k + 1)
        harm = np.concatenate([np.sin(phase[:, None] * k), np.cos(phase[:, None] * k)], axis=1)  # (T, 2K)
        prof_cols = np.r_[0:kp, n_k:n_k + kp]
        dt, rows = day_types(local), np.arange(n)
        hol = np.flatnonzero(dt == 3)
        rows = [rows, hol] + [rows] * (2 * kp)
        cols = [np.minimum(dt, 2) * HOURS + hour, N_BASE + hour[hol]]  # holidays: Sunday + a deviation
        cols += [N_ONE + hour * 2 * kp + j for j in range(2 * kp)]
        vals = [np.ones(n), np.ones(len(hol))] + [harm[:, c] for c in prof_cols]
        one = sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                                shape=(n, N_ONE + HOURS * 2 * kp))
        return sparse.hstack([one, sparse.csr_matrix(np.delete(harm, prof_cols, axis=1))], format="csr")

    def trend_design(self, ts: pd.DatetimeIndex) -> np.ndarray:
        """(T, 1 + n_knots) trend columns: years since the fit start, then hinges at the knots."""
        years = ((ts - self.t0) / pd.Timedelta(days=YEAR_DAYS)).to_numpy()
        return np.column_stack([years] + [np.maximum(0.0, years - k) for k in self.knots])

    def design(self, ts: pd.DatetimeIndex, temp: np.ndarray | None) -> sparse.csr_matrix:
        """(T, P) full design; temperature columns only when the model has them."""
        parts = [self.calendar_design(ts), sparse.csr_matrix(self.trend_design(ts))]
        if self.has_temperature:
            parts.append(sparse.csr_matrix(hinges(temp)))
        return sparse.hstack(parts, format="csr")

    # ------------------------------------------------------------------ fit
    def fit(self, load: pd.Series | pd.DataFrame, temperature: pd.Series | None = None,
            until: pd.Timestamp | str | None = None, source: str = "load") -> SystemLoadModel:
        """Fit on hourly load (MW; UTC hour-beginning index, or a frame with ts, load_mw) strictly before ``until``."""
        y = _as_series(load, "load_mw", source)
        self.data_source, self.until = source, None if until is None else _utc(until)
        if self.until is not None:
            y = y[y.index < self.until]
        if len(y) < 4 * 7 * HOURS:
            raise ContractError(source, "ts", f"only {len(y)} hours before {self.until}; need at least 4 weeks")
        grid = pd.date_range(y.index[0], y.index[-1], freq="h")
        self.t0, self.grid, self.has_temperature = grid[0], grid, temperature is not None
        span = (grid[-1] - grid[0]) / pd.Timedelta(days=YEAR_DAYS)
        step = self.trend_knot_years
        self.knots = () if step is None else tuple(np.arange(step, span - 1.0 + 1e-9, step))
        self.harmonics = (self.n_fourier, self.profile_harmonics) if span >= 1.0 else (0, 0)
        logy = np.log(y.reindex(grid).to_numpy())
        temp = None if temperature is None else _as_series(temperature, "temperature_c", "temperature").reindex(grid)
        temp = None if temp is None else temp.to_numpy()
        ok = np.isfinite(logy) & (np.isfinite(temp) if temp is not None else True)
        self.n_cal = self.calendar_design(grid[:1]).shape[1]
        pen = np.full(self.n_cal + 1 + len(self.knots) + (6 if self.has_temperature else 0), self.ridge)
        pen[:N_BASE] = 1e-10  # intercepts: only enough to keep X'X invertible
        pen[self.n_cal + 1:self.n_cal + 1 + len(self.knots)] = self.trend_ridge
        pen[self.n_cal] = self.ridge if span >= 1.0 else 1e6  # within a year a trend is the season: none
        x = self.design(grid, np.where(ok, temp, 0.0) if temp is not None else None)  # (G, P) sparse
        self.beta = _ridge(x, logy, ok, pen)
        self.resid = np.where(ok, logy - x @ self.beta, np.nan)
        self.n_obs = int(ok.sum())
        if temp is not None:  # seasonal-hourly temperature climatology on the calendar columns
            cal = x[:, :self.n_cal]
            self.temp_beta = _ridge(cal, np.nan_to_num(temp), np.isfinite(temp), pen[:self.n_cal])
            self.temp_anom = temp - cal @ self.temp_beta
        return self

    def coefficients(self) -> dict[str, np.ndarray]:
        """Named fitted coefficients (log-MW units): profile (4, 24) by DAY_TYPES × local hour, …"""
        b, (k, kp) = self.beta, self.harmonics
        n_prof = HOURS * 2 * kp
        base = b[:N_BASE].reshape(3, HOURS)  # (72,) -> (weekday/Saturday/Sunday, 24 hours)
        out = {"profile": np.vstack([base, base[2] + b[N_BASE:N_ONE]]),  # (4 DAY_TYPES, 24)
               "profile_harmonics": b[N_ONE:N_ONE + n_prof].reshape(HOURS, 2 * kp),  # -> (24, sin 1..kp, cos 1..kp)
               "fourier": b[N_ONE + n_prof:self.n_cal], "trend_per_year": b[self.n_cal:self.n_cal + 1],
               "trend_hinges": b[self.n_cal + 1:self.n_cal + 1 + len(self.knots)]}
        if self.has_temperature:
            out["heating"], out["cooling"] = b[-6:-3], b[-3:]
        assert out["fourier"].shape == (2 * (k - kp),)
        return out

    # ------------------------------------------------------------------ forecast
    def forecast(self, issued_at: pd.Timestamp | str, hours: pd.DatetimeIndex, n_samples: int = 200,
                 seed: int = 0, levels: tuple[float, ...] = (0.1, 0.5, 0.9)) -> SystemLoadForecast:
        """Quantiles (T, Q) and joint sample paths (N, T) of the load at ``hours``, from data before ``issued_at``."""
        if self.beta is None:
            raise RuntimeError("fit the model first")
        issued = _utc(issued_at)
        hours = pd.DatetimeIndex(hours).tz_convert("UTC")
        if self.grid[-1] >= issued or (self.until is not None and self.until > issued):
            raise ValueError(f"the model saw data up to {self.grid[-1]}; fit it with until={issued} first")
        if len(hours) == 0 or hours.min() < issued or not hours.is_unique or (hours.minute != 0).any():
            raise ValueError(f"hours must be unique, on the hour, and at or after issued_at {issued}")
        rng = np.random.default_rng(seed)
        pos = ((hours - self.grid[0]) // HOUR).to_numpy().astype(np.int64)  # (T,) grid positions
        src, pool, n_years = self._sources(pos, hours, n_samples, rng)  # (N, T) grid positions
        cal, n_trend = self.calendar_design(hours), 1 + len(self.knots)
        logl = cal @ self.beta[:self.n_cal] + self.trend_design(hours) @ self.beta[self.n_cal:self.n_cal + n_trend]
        logl = logl[None, :] + self.resid[src]  # (T,) -> (N, T)
        if self.has_temperature:  # the same past hours' temperature anomaly on this year's climatology
            temp = (cal @ self.temp_beta)[None, :] + self.temp_anom[src]  # (N, T)
            logl = logl + hinges(temp) @ self.beta[-6:]
        samples = np.exp(logl)
        q = np.quantile(samples, np.asarray(levels), axis=0).T  # (Q, T) -> (T, Q)
        return SystemLoadForecast(ts=hours, quantiles=q, samples=samples, levels=tuple(levels),
                                  source=self._provenance(issued, pool, n_years, n_samples, seed))

    def _candidates(self, pos: np.ndarray, blocks: np.ndarray, seasonal: bool) -> tuple[np.ndarray, np.ndarray]:
        """Offsets (G, D) in days and validity (B, G, D): the block's source hours all have residuals."""
        if seasonal:
            n_years = int((pos.max() // HOURS) / YEAR_DAYS) + 1
            years = np.round(np.arange(1, n_years + 1) * YEAR_DAYS).astype(np.int64)
            off = years[:, None] + np.arange(-self.shift_days, self.shift_days + 1)[None, :]  # (G, D)
        else:
            off = np.arange(1, pos.max() // HOURS + 2)[:, None]  # (G, 1): any day back
        good = np.isfinite(self.resid) & (np.isfinite(self.temp_anom) if self.has_temperature else True)
        valid = np.zeros((blocks.max() + 1,) + off.shape, bool)
        for b in range(blocks.max() + 1):
            s = pos[blocks == b][None, None, :] - off[:, :, None] * HOURS  # (G, D, L)
            inside = (s >= 0) & (s < len(self.grid))
            valid[b] = (inside & good[np.clip(s, 0, len(good) - 1)]).all(axis=2)
        return off, valid

    def _sources(self, pos, hours, n, rng) -> tuple[np.ndarray, str, int]:
        """(N, T) source grid positions: per block a past year (kept per sample) and a random shift."""
        blocks = ((hours - hours[0]) // pd.Timedelta(days=self.block_days)).to_numpy().astype(np.int64)
        blocks = np.unique(blocks, return_inverse=True)[1]  # (T,) dense block ids
        off, valid = self._candidates(pos, blocks, seasonal=True)
        pool = "weather-year"
        if valid.any(axis=2).sum(axis=1).min() < 2:
            off, valid = self._candidates(pos, blocks, seasonal=False)
            pool = "climatology"
        n_groups = valid.any(axis=2).sum(axis=1)  # (B,)
        if n_groups.min() == 0:
            raise ContractError("load", "ts", f"no gap-free {self.block_days}-day stretch of history to resample "
                                "for some forecast block; give a longer or more complete history")
        u = rng.random(n)
        src = np.empty((n, len(pos)), np.int64)
        for b in range(len(n_groups)):
            groups = np.flatnonzero(valid[b].any(axis=1))
            g = groups[(u * len(groups)).astype(np.int64)]  # (N,) year kept by rank across blocks
            keys = np.where(valid[b, g], rng.random((n, off.shape[1])), -1.0)  # (N, D)
            days = off[g, keys.argmax(axis=1)]  # (N,)
            src[:, blocks == b] = pos[blocks == b][None, :] - days[:, None] * HOURS
        return src, pool, int(n_groups.min())

    def _provenance(self, issued, pool, n_years, n_samples, seed) -> dict:
        h = hashlib.sha256(np.ascontiguousarray(self.beta, dtype=np.float64).tobytes())
        if self.has_temperature:
            h.update(np.ascontiguousarray(self.temp_beta, dtype=np.float64).tobytes())
        return {"kind": "system_load.log_linear_calendar_temperature_trend+weather_year_block_bootstrap",
                "data": self.data_source, "timezone": self.timezone,
                "fitted_span": [self.grid[0].isoformat(), self.grid[-1].isoformat()],
                "n_obs": self.n_obs, "n_params": int(len(self.beta)), "coef_sha256": h.hexdigest(),
                "temperature": self.has_temperature, "harmonics": list(self.harmonics),
                "trend_knots_years": [float(k) for k in self.knots],
                "scenario_pool": pool, "scenario_groups": n_years, "block_days": self.block_days,
                "shift_days": self.shift_days, "issued_at": issued.isoformat(), "n_samples": n_samples, "seed": seed}


def _utc(t) -> pd.Timestamp:
    t = pd.Timestamp(t)
    if t.tzinfo is None:
        raise ValueError(f"{t} has no time zone; give a UTC (or zone-aware) time")
    return t.tz_convert("UTC")


def _as_series(data, column: str, source: str) -> pd.Series:
    """A float Series on a sorted, unique, tz-aware UTC hourly index, NaN (missing) rows dropped;
    loads must be > 0 and finite, temperatures within ±60 °C."""
    if isinstance(data, pd.DataFrame):
        if "ts" not in data.columns or column not in data.columns:
            raise ContractError(source, column, f"a frame needs columns 'ts' and {column!r}; "
                                f"found {list(data.columns)}")
        data = pd.Series(data[column].to_numpy(), index=pd.DatetimeIndex(data["ts"]))
    idx = pd.DatetimeIndex(data.index)
    if idx.tz is None:
        raise ContractError(source, "ts", "timestamps have no time zone; give UTC hour-beginning (tz_localize('UTC'))")
    s = pd.Series(pd.to_numeric(data, errors="coerce").to_numpy(dtype=np.float64), index=idx.tz_convert("UTC"))
    s = s.sort_index()
    frame = pd.DataFrame({"ts": s.index, column: s.to_numpy()})
    checks = [(s.index.duplicated(keep=False), "ts", "duplicated hours"),
              ((s.index.minute != 0) | (s.index.second != 0), "ts", "timestamps not on the hour")]
    v = s.to_numpy()
    if column == "load_mw":
        checks.append((np.isinf(v) | (v <= 0), column, "loads must be finite and > 0 MW (leave missing hours out)"))
    else:
        checks.append((np.abs(v) > 60, column, "temperatures beyond ±60 °C (Fahrenheit?)"))
    for bad, col, problem in checks:
        if bad.any():
            raise ContractError(source, col, f"{problem} ({int(bad.sum())} rows)", frame[bad])
    return s[s.notna()]


def _ridge(x: sparse.csr_matrix, y: np.ndarray, ok: np.ndarray, pen: np.ndarray) -> np.ndarray:
    """Ridge least squares of y[ok] on the rows ok of x, penalty pen·n on each coefficient, through the
    (P, P) normal equations by Cholesky (x is sparse: X'X costs rows × nonzeros², not rows × P²)."""
    xo = x[np.flatnonzero(ok)]
    gram = (xo.T @ xo).toarray() + np.diag(pen * float(ok.sum()))
    return linalg.solve(gram, xo.T @ y[ok], assume_a="pos")
