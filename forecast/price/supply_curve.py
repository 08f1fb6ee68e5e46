"""Supply curve S_h(L) fitted on market data: price against net load, by hour group and season.

Per group g = (local hour group, season), with x = net load in GW
(load − solar − wind) and x_g the group's median net load:

    f_g(x) = a_g + b_g · exp(k_g · (x − x_g)),   b_g >= 0, k_g >= 0

Extrapolation. The exponential holds up to the handover point x_h = min(x_max,g, x_cap,g):
x_max,g is the highest net load of the group's fit data, x_cap,g the load where f_g reaches
``cap_usd_per_mwh``. Beyond x_h the curve continues as the quadratic with f_g's value, slope
and curvature at x_h,

    S_g(x) = f_g(x_h) + s·(x − x_h) + ½·q·(x − x_h)²,   s = b·k·e^{k(x_h − x_g)},  q = s·k

(floored at ``MIN_SLOPE`` and ``MIN_CURVATURE``, which matter only for a group fitted flat), so
S is continuous with a continuous slope at x_h, strictly increasing and convex beyond it, and
grows quadratically, not exponentially, where no data constrains it. The cap is not a ceiling:
it is the price at which the exponential hands over to the quadratic when that comes before
x_max (prices beyond can exceed it, scarcity pricing adds to the offer cap), so it never makes
the curve flat. S is non-decreasing and convex in load everywhere by construction (DOMAIN.md §2).
The slope dS/dL is in $/MWh per GW.

Uncertainty: ``n_draws`` joint parameter draws from a bootstrap over days
(all hours of a resampled day stay together, all groups refitted on the same
resample), seeded; every draw hands over at its own x_cap and the group's x_max.
Implements :class:`forecast.price.response.PriceResponse` on net load (``basis = "net"``):
``load_mw`` passed to :meth:`FittedSupplyCurve.price` is net load in MW; :meth:`FittedSupplyCurve.gross`
wraps it for gross system load (:class:`forecast.price.response.NetLoadResponse`) with the hour's
renewables, falling back on the fit data's mean by local month and hour (``renewables_mw``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from forecast.price.response import NetLoadResponse, RenewablesProfile, delta_price, params_sha256

MW_PER_GW = 1000.0
TIMEZONE = "America/New_York"
# local hour-beginning -> group; seasons by local month
HOUR_GROUPS = {"night": range(0, 6), "morning": range(6, 11), "midday": range(11, 16), "evening": range(16, 21),
               "late": range(21, 24)}
SEASONS = {"winter": (12, 1, 2), "spring": (3, 4, 5), "summer": (6, 7, 8), "autumn": (9, 10, 11)}
_HOUR_TO_GROUP = np.zeros(24, dtype=np.int64)
for _i, _hours in enumerate(HOUR_GROUPS.values()):
    _HOUR_TO_GROUP[list(_hours)] = _i
_MONTH_TO_SEASON = np.zeros(13, dtype=np.int64)
for _i, _months in enumerate(SEASONS.values()):
    _MONTH_TO_SEASON[list(_months)] = _i
N_GROUPS = len(HOUR_GROUPS) * len(SEASONS)
# least slope ($/MWh per GW) and curvature ($/MWh per GW²) of the continuation beyond the handover point
MIN_SLOPE = 1e-3
MIN_CURVATURE = 1e-4


def group_names() -> list[str]:
    return [f"{s}/{h}" for s in SEASONS for h in HOUR_GROUPS]


def group_of(ts: pd.DatetimeIndex, timezone: str = TIMEZONE) -> np.ndarray:
    """Group index (T,) = season·5 + hour group, from local (prevailing) time."""
    ts = pd.DatetimeIndex(ts)
    if ts.tz is None:
        raise ValueError("ts must be timezone-aware (UTC)")
    local = ts.tz_convert(timezone)
    return _MONTH_TO_SEASON[local.month.to_numpy()] * len(HOUR_GROUPS) + _HOUR_TO_GROUP[local.hour.to_numpy()]


def net_load_mw(frame: pd.DataFrame) -> np.ndarray:
    """load_mw − solar_mw − wind_mw (MW); missing renewables columns count as zero."""
    x = frame["load_mw"].to_numpy(np.float64).copy()
    for c in ("solar_mw", "wind_mw"):
        if c in frame.columns:
            x -= frame[c].to_numpy(np.float64)
    return x


def _fit_group(x: np.ndarray, y: np.ndarray, x0: float, init=None) -> np.ndarray:
    """(a, b, k) for one group: robust (soft-L1) least squares with b, k >= 0."""
    z = x - x0
    if init is None:
        init = (float(np.percentile(y, 10)), max(float(np.median(y) - np.percentile(y, 10)), 1.0), 0.05)
    scale = max(float(np.median(np.abs(y - np.median(y)))), 1.0)

    def resid(p):
        return p[0] + p[1] * np.exp(np.clip(p[2] * z, -50, 50)) - y

    r = least_squares(resid, np.asarray(init, dtype=np.float64), bounds=([-np.inf, 0.0, 0.0], [np.inf, np.inf, 2.0]),
                      loss="soft_l1", f_scale=scale, max_nfev=200)
    return r.x


def handover_gw(a, b, k, ref, xmax, cap: float) -> np.ndarray:
    """x_h = min(x_max, x_cap) in GW net load, x_cap where a + b·e^{k(x − ref)} = cap (+inf when the
    exponential never gets there: b = 0 or k = 0; the reference load when a >= cap already)."""
    reach = (b > 0) & (k > 0)
    room = cap - a
    ratio = np.where(reach & (room > 0), room / np.where(reach, b, 1.0), 1.0)
    xcap = np.where(reach, ref + np.log(ratio) / np.where(reach, k, 1.0), np.inf)
    return np.minimum(xmax, np.where(room > 0, xcap, ref))


def continue_past_handover(x, a, b, k, ref, xh) -> tuple[np.ndarray, np.ndarray]:
    """(price, slope) at net load x GW: the exponential up to ``xh``, then its quadratic continuation."""
    below = x <= xh
    e = np.exp(np.clip(k * (np.minimum(x, xh) - ref), -50, 50))
    xh_f = np.where(np.isfinite(xh), xh, 0.0)
    eh = np.exp(np.clip(k * (xh_f - ref), -50, 50))
    s = np.maximum(b * k * eh, MIN_SLOPE)
    q = np.maximum(b * k * k * eh, MIN_CURVATURE)
    u = np.where(below, 0.0, x - xh_f)
    price = np.where(below, a + b * e, a + b * eh + s * u + 0.5 * q * u * u)
    return price, np.where(below, b * k * e, s + q * u)


def donor_groups(g: np.ndarray, min_hours: int = 20) -> tuple[np.ndarray, list[int]]:
    """(N_GROUPS,) the group whose hours fit each group, and the groups that borrow: a group with fewer than
    ``min_hours`` hours (history shorter than a year) takes the same hour group of the season with the most
    hours. Raises when an hour group has too few hours in every season."""
    from forecast.errors import ContractError

    n = np.bincount(g, minlength=N_GROUPS)  # (N_GROUPS,) hours per group
    H = len(HOUR_GROUPS)
    donor, borrowed = np.arange(N_GROUPS), []
    for i in np.flatnonzero(n < min_hours):
        same_hours = np.arange(i % H, N_GROUPS, H)  # this hour group in every season
        best = int(same_hours[np.argmax(n[same_hours])])
        if n[best] < min_hours:
            raise ContractError("supply-curve fit data", "ts", f"too few hours to fit the hour group "
                                f"{group_names()[i].split('/')[1]} in any season (need >= {min_hours}); supply more "
                                "history (a full year fits every season on its own)")
        donor[i] = best
        borrowed.append(int(i))
    return donor, borrowed


@dataclass
class FittedSupplyCurve:
    """Central parameters (G, 3) = (a $/MWh, b $/MWh, k per GW), draws (N, G, 3), reference loads (G,) GW,
    the highest fitted net load per group ``xmax_gw`` (G,) GW (None: ``fit_range_gw[1]`` for every group)
    and the fit data's solar + wind by local month and hour ``renewables_mw`` (12, 24) MW, or None."""

    params: np.ndarray
    draws: np.ndarray
    ref_gw: np.ndarray
    cap_usd_per_mwh: float = 2000.0
    timezone: str = TIMEZONE
    fit_range_gw: tuple[float, float] = (0.0, np.inf)
    xmax_gw: np.ndarray | None = None
    renewables_mw: np.ndarray | None = None
    source: str = ""  # where it came from (a file, or the data it was fitted on)

    kind: ClassVar[str] = "fitted"
    basis: ClassVar[str] = "net"

    def __post_init__(self):
        self.params, self.draws, self.ref_gw = (np.asarray(v, dtype=np.float64) for v in
                                                (self.params, self.draws, self.ref_gw))
        if self.xmax_gw is None:
            self.xmax_gw = np.full(len(self.ref_gw), float(self.fit_range_gw[1]))
        self.xmax_gw = np.asarray(self.xmax_gw, dtype=np.float64)
        if self.renewables_mw is not None:
            self.renewables_mw = np.asarray(self.renewables_mw, dtype=np.float64).reshape(12, 24)

    @property
    def n_draws(self) -> int:
        return int(self.draws.shape[0])

    @classmethod
    def fit(cls, frame: pd.DataFrame, n_draws: int = 100, seed: int = 0, cap_usd_per_mwh: float = 2000.0,
            timezone: str = TIMEZONE, source: str = "") -> FittedSupplyCurve:
        """Fit on a grid-contract frame (ts UTC, price, load_mw [, solar_mw, wind_mw])."""
        ts = pd.DatetimeIndex(frame["ts"])
        g = group_of(ts, timezone)
        x = net_load_mw(frame) / MW_PER_GW
        y = frame["price"].to_numpy(np.float64)
        donor, borrowed = donor_groups(g)
        g = donor[g]  # every hour counts for the group that fits it (its own, or the one it borrows from)
        if borrowed:
            source = (f"{source}; " if source else "") + "fitted on another season's hours (too few of their own): " \
                + ", ".join(f"{group_names()[i]} <- {group_names()[donor[i]]}" for i in borrowed)
        ref = np.array([np.median(x[g == donor[i]]) for i in range(N_GROUPS)])
        xmax = np.array([np.max(x[g == donor[i]]) for i in range(N_GROUPS)])
        params = np.stack([_fit_group(x[g == donor[i]], y[g == donor[i]], ref[i]) for i in range(N_GROUPS)])
        # bootstrap over local days: a day's hours stay together; every group refitted on the same resample
        day = ts.tz_convert(timezone).normalize()
        codes, uniq = pd.factorize(day)
        rows_of = [np.flatnonzero(codes == j) for j in range(len(uniq))]
        rng = np.random.default_rng(np.random.SeedSequence([seed, 0x5CF]))
        draws = np.empty((n_draws, N_GROUPS, 3))
        for b in range(n_draws):
            pick = rng.integers(0, len(uniq), len(uniq))
            idx = np.concatenate([rows_of[j] for j in pick])
            gb = g[idx]
            for i in range(N_GROUPS):
                m = gb == donor[i]
                draws[b, i] = _fit_group(x[idx][m], y[idx][m], ref[i], init=params[i]) if m.sum() >= 5 else params[i]
        return cls(params, draws, ref, cap_usd_per_mwh, timezone, (float(x.min()), float(x.max())), xmax,
                   RenewablesProfile.month_hour_mean(frame, timezone), source)

    def _select(self, ts, draw, load):
        """(a, b, k, ref, x_h) for hours ``ts``: (T,) each, or (N, 1, …, T) for draws."""
        g = group_of(ts, self.timezone)  # (T,)
        if load.shape[-1] != g.shape[0]:
            raise ValueError(f"load has {load.shape[-1]} hours on its last axis but ts has {g.shape[0]}")
        ref, xmax = self.ref_gw[g], self.xmax_gw[g]
        if draw is None:
            p = self.params[g]  # (T, 3)
            a, b, k = p[:, 0], p[:, 1], p[:, 2]
        else:
            idx = np.asarray(draw, dtype=np.int64)
            if idx.ndim != 1 or (idx.size and (idx.min() < 0 or idx.max() >= self.n_draws)):
                raise IndexError(f"draw indices must be 1-d in [0, {self.n_draws}), got {idx.shape}")
            p = self.draws[idx][:, g]  # (N, T, 3)
            shape = (idx.size,) + (1,) * max(load.ndim - 2, 0) + (g.size,)  # (N, 1, …, T)
            a, b, k = (p[..., j].reshape(shape) for j in range(3))
        return a, b, k, ref, handover_gw(a, b, k, ref, xmax, self.cap_usd_per_mwh)

    def price(self, load_mw: np.ndarray, ts: pd.DatetimeIndex, draw: np.ndarray | None = None) -> np.ndarray:
        """$/MWh at net load ``load_mw`` (..., T) MW for hours ``ts`` (T,); non-decreasing in load."""
        load = np.asarray(load_mw, dtype=np.float64)
        a, b, k, ref, xh = self._select(ts, draw, load)
        return continue_past_handover(load / MW_PER_GW, a, b, k, ref, xh)[0]

    def slope(self, load_mw: np.ndarray, ts: pd.DatetimeIndex, draw: np.ndarray | None = None) -> np.ndarray:
        """dS/dL in $/MWh per GW (the quadratic's slope beyond the handover point)."""
        load = np.asarray(load_mw, dtype=np.float64)
        a, b, k, ref, xh = self._select(ts, draw, load)
        return continue_past_handover(load / MW_PER_GW, a, b, k, ref, xh)[1]

    def handover_load_gw(self, ts: pd.DatetimeIndex) -> np.ndarray:
        """Central handover point x_h (GW net load) of each hour's group, (T,)."""
        return self._select(ts, None, np.zeros(len(ts)))[4]

    def gross(self, hours: pd.Series | None = None, source: str = "") -> NetLoadResponse:
        """This curve on gross system load: net = gross − renewables, the renewables of ``hours`` (MW by UTC
        hour, e.g. a grid file's solar_mw + wind_mw) where given, else the fit data's month-hour mean."""
        prof = RenewablesProfile(self.renewables_mw, self.timezone, hours, source)
        return NetLoadResponse(self, prof)

    def delta_price_bands(self, load_mw, draw_mw, ts: pd.DatetimeIndex, new_gen_mw=0.0,
                          levels: tuple[float, ...] = (0.1, 0.5, 0.9)) -> pd.DataFrame:
        """ΔP_h = S(L) − S(L − D + G) per hour: central value and quantiles over the parameter draws ($/MWh)."""
        from forecast.types import quantile_column

        central = delta_price(self, load_mw, draw_mw, ts, new_gen_mw)
        all_d = delta_price(self, np.asarray(load_mw, dtype=np.float64)[None], draw_mw, ts, new_gen_mw,
                            draw=np.arange(self.n_draws))  # (N, T)
        q = np.quantile(all_d, levels, axis=0)  # (Q, T)
        out = pd.DataFrame({"ts": pd.DatetimeIndex(ts), "delta_price": central})
        for lv, row in zip(levels, q):
            out[quantile_column(lv)] = row
        return out

    def params_sha256(self) -> str:
        """sha256 of the fitted parameters' exact bytes (central, draws, references, handover loads, cap,
        time zone, renewables profile)."""
        ren = "none" if self.renewables_mw is None else self.renewables_mw
        return params_sha256("fitted", self.params, self.draws, self.ref_gw, self.xmax_gw,
                             float(self.cap_usd_per_mwh), self.timezone, ren)

    def to_dict(self) -> dict:
        return {"form": "a + b*exp(k*(netload_GW - ref_GW)) up to min(xmax_GW, load at the cap), then the quadratic "
                        "with its value, slope and curvature there", "groups": group_names(),
                "params": self.params.tolist(), "draws": self.draws.tolist(), "ref_gw": self.ref_gw.tolist(),
                "xmax_gw": self.xmax_gw.tolist(), "cap_usd_per_mwh": self.cap_usd_per_mwh, "timezone": self.timezone,
                "fit_range_gw": list(self.fit_range_gw),
                "renewables_mw_by_month_hour": None if self.renewables_mw is None else self.renewables_mw.tolist()}

    @classmethod
    def from_dict(cls, d: dict, source: str = "") -> FittedSupplyCurve:
        return cls(np.asarray(d["params"]), np.asarray(d["draws"]), np.asarray(d["ref_gw"]), d["cap_usd_per_mwh"],
                   d["timezone"], tuple(d["fit_range_gw"]), d.get("xmax_gw"), d.get("renewables_mw_by_month_hour"),
                   source)

    @classmethod
    def load(cls, path: str | Path) -> FittedSupplyCurve:
        """Read a supply_curve.json written by ``forecast price-curve``."""
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"{p}: no such file (write one with `forecast price-curve --data DIR --out DIR`)")
        return cls.from_dict(json.loads(p.read_text()), source=str(p))


def slope_table(curve: FittedSupplyCurve, frame: pd.DataFrame, peak_quantile: float = 0.99) -> pd.DataFrame:
    """Slopes ($/MWh per GW) with 10–90% draw bands: at every hour's own net load (averaged: 'average hour'),
    at each season's mean net load, and at the top ``1 − peak_quantile`` net-load hours ('peak')."""
    ts = pd.DatetimeIndex(frame["ts"])
    x = net_load_mw(frame)
    draws = np.arange(curve.n_draws)
    rows = []

    def add(name, mask):
        s_c = curve.slope(x[mask], ts[mask]).mean()
        s_d = curve.slope(x[mask][None], ts[mask], draws).mean(axis=1)  # (N,)
        rows.append({"hours": name, "n": int(mask.sum()), "net_load_gw": float(x[mask].mean() / MW_PER_GW),
                     "slope": float(s_c), "slope_p10": float(np.quantile(s_d, 0.1)),
                     "slope_p90": float(np.quantile(s_d, 0.9))})

    everything = np.ones(len(x), dtype=bool)
    add("all hours (average)", everything)
    thr = np.quantile(x, peak_quantile)
    add(f"peak (net load >= p{peak_quantile * 100:g}, {thr / MW_PER_GW:.0f} GW)", x >= thr)
    thr2 = np.quantile(x, 0.999)
    add(f"super-peak (net load >= p99.9, {thr2 / MW_PER_GW:.0f} GW)", x >= thr2)
    season = _MONTH_TO_SEASON[ts.tz_convert(curve.timezone).month.to_numpy()]
    for i, s in enumerate(SEASONS):
        add(f"{s} hours", season == i)
    return pd.DataFrame(rows)
