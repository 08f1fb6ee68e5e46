"""Supply curve S_h(L) fitted on market data: price against net load, by hour group and season.

Per group g = (local hour group, season), with x = net load in GW
(load − solar − wind) and x_g the group's median net load:

    S_g(x) = min(cap, a_g + b_g · exp(k_g · (x − x_g))),   b_g >= 0, k_g >= 0

so S is non-decreasing and convex in load by construction (DOMAIN.md §2).
The slope dS/dL = b_g·k_g·exp(k_g·(x − x_g)) is in $/MWh per GW.

Uncertainty: ``n_draws`` joint parameter draws from a bootstrap over days
(all hours of a resampled day stay together, all groups refitted on the same
resample), seeded. Implements :class:`forecast.price.response.PriceResponse`;
``load_mw`` passed to :meth:`FittedSupplyCurve.price` is net load in MW.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd
from hydra.core.config_store import ConfigStore
from omegaconf import MISSING
from scipy.optimize import least_squares

from forecast.config import ConfigError
from forecast.config import load as load_config
from forecast.io import atomic_write_text
from forecast.price.response import delta_price

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


@dataclass
class FittedSupplyCurve:
    """Central parameters (G, 3) = (a $/MWh, b $/MWh, k per GW), draws (N, G, 3), reference loads (G,) GW."""

    params: np.ndarray
    draws: np.ndarray
    ref_gw: np.ndarray
    cap_usd_per_mwh: float = 2000.0
    timezone: str = TIMEZONE
    fit_range_gw: tuple[float, float] = (0.0, np.inf)

    @property
    def n_draws(self) -> int:
        return int(self.draws.shape[0])

    @classmethod
    def fit(cls, frame: pd.DataFrame, n_draws: int = 100, seed: int = 0, cap_usd_per_mwh: float = 2000.0,
            timezone: str = TIMEZONE) -> FittedSupplyCurve:
        """Fit on a grid-contract frame (ts UTC, price, load_mw [, solar_mw, wind_mw])."""
        ts = pd.DatetimeIndex(frame["ts"])
        g = group_of(ts, timezone)
        x = net_load_mw(frame) / MW_PER_GW
        y = frame["price"].to_numpy(np.float64)
        ref = np.array([np.median(x[g == i]) if np.any(g == i) else np.nan for i in range(N_GROUPS)])
        missing = [group_names()[i] for i in range(N_GROUPS) if not np.sum(g == i) >= 20]
        if missing:
            raise ValueError(f"too few hours to fit groups {missing} (need >= 20 each); supply a full year")
        params = np.stack([_fit_group(x[g == i], y[g == i], ref[i]) for i in range(N_GROUPS)])
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
                m = gb == i
                draws[b, i] = _fit_group(x[idx][m], y[idx][m], ref[i], init=params[i]) if m.sum() >= 5 else params[i]
        return cls(params, draws, ref, cap_usd_per_mwh, timezone, (float(x.min()), float(x.max())))

    def _select(self, ts, draw, load):
        g = group_of(ts, self.timezone)  # (T,)
        if load.shape[-1] != g.shape[0]:
            raise ValueError(f"load has {load.shape[-1]} hours on its last axis but ts has {g.shape[0]}")
        if draw is None:
            p = self.params[g]  # (T, 3)
            return p[:, 0], p[:, 1], p[:, 2], self.ref_gw[g]
        idx = np.asarray(draw, dtype=np.int64)
        if idx.ndim != 1 or (idx.size and (idx.min() < 0 or idx.max() >= self.n_draws)):
            raise IndexError(f"draw indices must be 1-d in [0, {self.n_draws}), got {idx.shape}")
        p = self.draws[idx][:, g]  # (N, T, 3)
        shape = (idx.size,) + (1,) * max(load.ndim - 2, 0) + (g.size,)  # (N, 1, …, T)
        return (p[..., 0].reshape(shape), p[..., 1].reshape(shape), p[..., 2].reshape(shape), self.ref_gw[g])

    def price(self, load_mw: np.ndarray, ts: pd.DatetimeIndex, draw: np.ndarray | None = None) -> np.ndarray:
        """$/MWh at net load ``load_mw`` (..., T) MW for hours ``ts`` (T,); non-decreasing in load."""
        load = np.asarray(load_mw, dtype=np.float64)
        a, b, k, ref = self._select(ts, draw, load)
        z = load / MW_PER_GW - ref
        return np.minimum(a + b * np.exp(np.clip(k * z, -50, 50)), self.cap_usd_per_mwh)

    def slope(self, load_mw: np.ndarray, ts: pd.DatetimeIndex, draw: np.ndarray | None = None) -> np.ndarray:
        """dS/dL in $/MWh per GW (0 where the cap binds)."""
        load = np.asarray(load_mw, dtype=np.float64)
        a, b, k, ref = self._select(ts, draw, load)
        z = load / MW_PER_GW - ref
        val = a + b * np.exp(np.clip(k * z, -50, 50))
        return np.where(val < self.cap_usd_per_mwh, b * k * np.exp(np.clip(k * z, -50, 50)), 0.0)

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

    def to_dict(self) -> dict:
        return {"form": "a + b*exp(k*(netload_GW - ref_GW)), capped", "groups": group_names(),
                "params": self.params.tolist(), "draws": self.draws.tolist(), "ref_gw": self.ref_gw.tolist(),
                "cap_usd_per_mwh": self.cap_usd_per_mwh, "timezone": self.timezone,
                "fit_range_gw": list(self.fit_range_gw)}

    @classmethod
    def from_dict(cls, d: dict) -> FittedSupplyCurve:
        return cls(np.asarray(d["params"]), np.asarray(d["draws"]), np.asarray(d["ref_gw"]), d["cap_usd_per_mwh"],
                   d["timezone"], tuple(d["fit_range_gw"]))


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


@dataclass
class PriceCurveConfig:
    """``forecast price-curve`` (conf/price_curve.yaml)."""

    data: str = MISSING  # folder with da_hrl_lmps.csv, hrl_load_metered.csv, solar_gen.csv, wind_gen.csv
    out: str = "outputs/price-curve"
    draws: int = 100  # bootstrap draws over days
    seed: int = 0
    track: bool = True  # record the run in MLflow
    tracking_uri: Optional[str] = None

    def __post_init__(self):
        if self.draws < 1:
            raise ConfigError("draws", f"must be >= 1, got {self.draws}", "100")


ConfigStore.instance().store(name="price_curve_schema", node=PriceCurveConfig)


@dataclass
class CurveFit:
    curve: FittedSupplyCurve
    slopes: pd.DataFrame  # slope_table
    hours: int  # hours fitted
    read_report: str  # what the reader found (missing hours, DST days)
    out: Path
    run_id: Optional[str]


def load(overrides: list[str] | None = None) -> PriceCurveConfig:
    """conf/price_curve.yaml composed with ``overrides``, validated."""
    return load_config("price_curve", PriceCurveConfig, overrides)


def fit(cfg: PriceCurveConfig) -> CurveFit:
    """Fit on PJM Data Miner exports; write out/supply_curve.json and out/slopes.csv; track in MLflow."""
    from forecast.price.readers import read_pjm_rto

    read = read_pjm_rto(cfg.data)
    curve = FittedSupplyCurve.fit(read.frame, n_draws=cfg.draws, seed=cfg.seed)
    tab = slope_table(curve, read.frame)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "supply_curve.json", json.dumps(curve.to_dict()))
    atomic_write_text(out / "slopes.csv", tab.to_csv(index=False, float_format="%.4f"))
    run_id = None
    if cfg.track:
        from forecast import tracking

        with tracking.run({"data": cfg.data, "draws": cfg.draws, "seed": cfg.seed}, experiment="price-curve",
                          tracking_uri=cfg.tracking_uri, run_name="price-curve") as run:
            run.log_metrics({f"slope_{i}": v for i, v in enumerate(tab["slope"])})
            run.log_artifact(out / "supply_curve.json")
            run.log_artifact(out / "slopes.csv")
            run_id = run.run_id
    return CurveFit(curve, tab, len(read.frame), read.report(), out, run_id)


def main(overrides: list[str]) -> int:
    """``forecast price-curve --data DIR --out DIR``: the command over :func:`fit` (flags translated by
    forecast.cli)."""
    res = fit(load(overrides))
    print(res.read_report)
    pd.set_option("display.width", 160)
    print(f"{res.hours} hours fitted; slopes in $/MWh per GW (p10–p90 over {res.curve.n_draws} bootstrap draws):")
    print(res.slopes.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if res.run_id:
        print(f"MLflow run {res.run_id}")
    return 0


if __name__ == "__main__":
    import sys

    from forecast.cli import main as cli_main

    raise SystemExit(cli_main(["price-curve", *sys.argv[1:]]))
