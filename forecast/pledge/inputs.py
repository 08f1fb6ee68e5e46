"""Inputs of the accounting on one hourly UTC grid: draw quantiles per site, others' load, new generation.

Draw forecasts come in the forecast output format (series_id = site_id, ts UTC
hour-beginning, p10/p50/p90 … MW, optionally issued_at): for each (site, hour)
the latest issue at or before ``draw.as_of`` is used. System load comes from a
grid-contract file (``load_forecast_mw`` for the forecast ledger, ``load_mw``
for the settled one). Missing hours or crossing quantiles raise
:class:`forecast.errors.ContractError` naming the file, the column and the
first offending (series, hour) rows; nothing is filled in.

Internally the load is kept as *others'* load O = L − D (MW): ΔP = S(O + D) −
S(O + G) and Shift_E = Σ ΔP·O·φ (DOMAIN.md §2).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.errors import ContractError
from forecast.pledge.calendar import BillingMonth, billing_months, hourly_index, month_offsets
from forecast.pledge.config import PledgeConfig
from forecast.pledge.config_checks import P, PledgeConfigError
from forecast.pledge.leases import LeaseShare, lease_shares
from forecast.types import Quantiles


@dataclass
class Inputs:
    """Everything the formulas need, on the hourly grid ``ts`` (T hours, S sites, K quantiles)."""

    months: list[BillingMonth]
    ts: pd.DatetimeIndex  # (T,) UTC hour-beginning
    site_ids: list[str]
    levels: np.ndarray  # (K,) quantile levels
    q: np.ndarray  # (S, T, K) draw quantiles, MW
    capacity_mw: np.ndarray  # (S,)
    others_mw: np.ndarray  # (T,) others' load O = L − D, MW
    gen_mw: np.ndarray  # (T,) new generation G, MW
    sources: dict[str, str] = field(default_factory=dict)  # name -> description (file path or "stylised")
    others_paths: np.ndarray | None = None  # (K, T) joint sample paths of others' load, MW (system-load forecast)
    price_actual: np.ndarray | None = None  # (T,) actual price $/MWh (settled ledger, actuals.prices=grid)
    lease_shares: list[LeaseShare] = field(default_factory=list)  # leases' shares of their hosts (pledge.leases)

    @property
    def offsets(self) -> np.ndarray:
        return month_offsets(self.months)

    @property
    def median(self) -> np.ndarray:
        """(S, T) p50 draw, MW."""
        return self.q[..., Quantiles(tuple(self.levels)).median_index]

    def hashes(self) -> dict[str, str]:
        """sha256 of each input array (exact bytes), per month and site, for line-level traceability."""
        out = {}
        off = self.offsets
        for m, (a, b) in enumerate(zip(off[:-1], off[1:])):
            lab = self.months[m].label
            out[f"others_mw:{lab}"] = sha(self.others_mw[a:b])
            out[f"gen_mw:{lab}"] = sha(self.gen_mw[a:b])
            if self.price_actual is not None:
                out[f"price_actual:{lab}"] = sha(self.price_actual[a:b])
            for ls in self.lease_shares:
                out[f"lease:{ls.lease.lease_id}:{lab}"] = sha(ls.w[a:b])
            for s, sid in enumerate(self.site_ids):
                out[f"draw:{sid}:{lab}"] = sha(self.q[s, a:b])
        return out

    def with_draw(self, q: np.ndarray) -> Inputs:
        return Inputs(self.months, self.ts, self.site_ids, self.levels, np.asarray(q, dtype=np.float64),
                      self.capacity_mw, self.others_mw, self.gen_mw, dict(self.sources), self.others_paths,
                      self.price_actual, self.lease_shares)


def sha(obj) -> str:
    """16-hex sha256 of an array (C-order float64 bytes) or a JSON-able object."""
    h = hashlib.sha256()
    if isinstance(obj, np.ndarray):
        h.update(np.ascontiguousarray(obj, dtype=np.float64).tobytes())
    else:
        h.update(json.dumps(obj, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


def stylised_system_load_mw(months: list[BillingMonth], ts: pd.DatetimeIndex, base_gw: float, peak_gw: float,
                            peak_hours: int) -> np.ndarray:
    """Two-level system load (MW): per month, ``peak_hours`` hours at peak_gw, the rest at base_gw.

    Peak hours are chosen deterministically: weekdays before weekends, then local
    hour-beginning closest to 16:00 (HE17), then the earlier day.
    """
    loc = ts.tz_convert(months[0].timezone)
    weekend = (loc.dayofweek >= 5).astype(np.int64)
    dist = np.abs(loc.hour.to_numpy() - 16)
    out = np.full(len(ts), base_gw * 1000.0)
    off = month_offsets(months)
    for a, b in zip(off[:-1], off[1:]):  # one pass per month, not per hour
        order = np.lexsort((np.arange(b - a), dist[a:b], weekend[a:b]))  # last key sorts first
        out[a + order[: min(peak_hours, b - a)]] = peak_gw * 1000.0
    return out


def _read_any(path: str) -> pd.DataFrame:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file")
    if p.suffix.lower() == ".parquet":
        return pd.read_parquet(p)
    if p.suffix.lower() in (".csv", ".gz"):
        return pd.read_csv(p)
    raise ContractError(str(p), None, f"unsupported file type {p.suffix!r}; use .csv or .parquet")


def read_draw_forecast(path: str, site_ids: list[str], ts: pd.DatetimeIndex, levels: tuple[float, ...],
                       as_of: str | None = None) -> np.ndarray:
    """(S, T, K) quantiles from a forecast output file; the latest issue <= as_of per (site, hour)."""
    from forecast.data.contracts import parse_utc

    df = _read_any(path)
    cols = Quantiles(tuple(levels)).columns
    missing = [c for c in ("series_id", "ts", *cols) if c not in df.columns]
    if missing:
        raise ContractError(path, ", ".join(missing), f"missing from the draw forecast; found {list(df.columns)}")
    df = df.copy()
    df["series_id"] = df["series_id"].astype(str)
    df["ts"] = parse_utc(df["ts"], "ts", path)
    for c in cols:
        df[c] = pd.to_numeric(df[c], errors="coerce")
        bad = df[c].isna() | ~np.isfinite(df[c].to_numpy(dtype=np.float64, na_value=np.nan))
        if bad.any():
            raise ContractError(path, c, f"missing or non-numeric draw ({int(bad.sum())} rows)", df.loc[bad, ["series_id", "ts", c]])
        neg = df[c] < 0
        if neg.any():
            raise ContractError(path, c, f"negative draw ({int(neg.sum())} rows)", df.loc[neg, ["series_id", "ts", c]])
    if "issued_at" in df.columns:
        df["issued_at"] = parse_utc(df["issued_at"], "issued_at", path)
        if as_of is not None:
            cut = pd.Timestamp(as_of)
            if cut.tz is None:
                raise ContractError(path, "issued_at", f"draw.as_of={as_of!r} has no UTC offset; add one, e.g. +00:00")
            df = df[df["issued_at"] <= cut]
        dup = df.duplicated(["series_id", "ts", "issued_at"], keep=False)
        if dup.any():
            raise ContractError(path, "issued_at", f"{int(dup.sum())} rows repeat a (series_id, ts, issued_at): one "
                                "forecast per site, hour and issue; remove the repeats",
                                df.loc[dup, ["series_id", "ts", "issued_at", *cols]])
        df = df.sort_values(["series_id", "ts", "issued_at"], kind="stable").groupby(["series_id", "ts"]).tail(1)
    else:
        dup = df.duplicated(["series_id", "ts"], keep=False)
        if dup.any():
            raise ContractError(path, "ts", "duplicated (series_id, ts) and no issued_at to choose between them",
                                df.loc[dup, ["series_id", "ts"]])
    vals = df[cols].to_numpy(dtype=np.float64)
    cross = (np.diff(vals, axis=1) < 0).any(axis=1)
    if cross.any():
        raise ContractError(path, ", ".join(cols), "quantiles cross (need p10 <= p50 <= p90 …)",
                            df.loc[cross, ["series_id", "ts", *cols]])
    out = np.empty((len(site_ids), len(ts), len(cols)))  # (S, T, K)
    for s, sid in enumerate(site_ids):  # one pass per site
        sub = df[df["series_id"] == sid].set_index("ts")[cols].reindex(ts)
        gap = sub.isna().any(axis=1).to_numpy()
        if gap.any():
            rows = pd.DataFrame({"series_id": sid, "ts": ts[gap]})
            raise ContractError(path, "ts", f"no draw forecast for site {sid!r} in {int(gap.sum())} hours of the "
                                f"billing period {ts[0]} … {ts[-1]}", rows)
        out[s] = sub.to_numpy()
    return out


def read_grid_load(path: str, ts: pd.DatetimeIndex, column: str, zone: str | None) -> tuple[np.ndarray, np.ndarray]:
    """(load MW, price $/MWh) of the grid file on ``ts``; missing hours are an error naming them."""
    from forecast.data.contracts import load_grid

    g = load_grid(path)
    if zone is not None:
        g = g[g["zone"] == zone]
        if g.empty:
            raise ContractError(path, "zone", f"no rows for zone {zone!r} (system_load.zone / actuals.zone)")
    elif g["zone"].nunique() > 1:
        raise ContractError(path, "zone", f"several zones {sorted(g['zone'].unique())[:5]}; pick one with "
                            f"pledge.system_load.zone=<zone>")
    sub = g.set_index("ts")[[column, "price"]].reindex(ts)
    gap = sub[column].isna().to_numpy()
    if gap.any():
        raise ContractError(path, column, f"no system load in {int(gap.sum())} hours of the billing period",
                            pd.DataFrame({"ts": ts[gap]}))
    return sub[column].to_numpy(dtype=np.float64), sub["price"].to_numpy(dtype=np.float64)


def build_inputs(cfg: PledgeConfig, kind: str = "forecast", period: tuple[str, int] | None = None) -> Inputs:
    """Inputs for the forecast ledger (``kind='forecast'``: draw quantiles, load forecast) or the
    settled one (``'settled'``: metered draw as a degenerate quantile set, actual load); over ``period``
    (first month YYYY-MM, months) instead of the config's, e.g. a curtailment plan year."""
    if cfg.zones:
        raise PledgeConfigError(f"{P}.zones", [z.zone for z in cfg.zones], "a pledge of several zones is computed zone "
                                "by zone (forecast.pledge.zones.run, or `forecast pledge`), each on its own config "
                                "(PledgeConfig.zone_configs)", "[]")
    start, n_months = period if period is not None else (cfg.period.start, cfg.period.months)
    months = billing_months(start, n_months, cfg.market.timezone)
    ts = hourly_index(months)
    site_ids = cfg.site_ids()
    levels = tuple(cfg.draw.levels)
    sources: dict[str, str] = {}
    if kind == "forecast":
        if cfg.draw.source == "stylised":
            q = np.stack([np.broadcast_to(np.array([s.p10_mw, s.p50_mw, s.p90_mw], dtype=np.float64), (len(ts), 3))
                          for s in cfg.sites])  # (S, T, 3)
            sources["draw"] = "stylised: sites[].p10_mw/p50_mw/p90_mw"
        else:
            q = read_draw_forecast(cfg.draw.path, site_ids, ts, levels, cfg.draw.as_of)
            sources["draw"] = f"{cfg.draw.path} (as_of={cfg.draw.as_of})"
    elif kind == "settled":
        if cfg.actuals.source == "stylised":
            missing = [s.site_id for s in cfg.sites if s.actual_mw is None]
            if missing:
                raise ValueError(f"actuals.source=stylised needs pledge.sites.N.actual_mw for {missing}")
            d = np.stack([np.full(len(ts), s.actual_mw, dtype=np.float64) for s in cfg.sites])
            sources["draw"] = "stylised: sites[].actual_mw"
        else:
            d = read_meter(cfg.actuals.meter_path, site_ids, ts)
            sources["draw"] = cfg.actuals.meter_path
        q = np.repeat(d[..., None], len(levels), axis=-1)  # (S, T, K): no spread in actuals
    else:
        raise ValueError(f"kind must be 'forecast' or 'settled', got {kind!r}")
    cap = np.array([s.capacity_mw for s in cfg.sites], dtype=np.float64)
    if kind == "forecast" and cfg.draw.source == "file":
        check_capacity(cfg.draw.path, q, cap, site_ids, ts, Quantiles(levels).columns)
    d50 = q[..., Quantiles(levels).median_index].sum(axis=0)  # (T,)
    load, paths = system_load(cfg, kind, months, ts, sources)  # (T,), (K, T) or None
    sl = cfg.system_load
    others = load - d50 if sl.includes_campus else load.copy()
    if (others < 0).any():
        raise ContractError(sources["system_load"], "load_mw", "system load below the campus draw although "
                            "system_load.includes_campus=true", pd.DataFrame({"ts": ts[others < 0]}))
    gen = np.full(len(ts), float(cfg.shift.new_generation_mw))
    others_paths = None
    if paths is not None:
        others_paths = paths - d50[None, :] if sl.includes_campus else paths
        if (others_paths < 0).any():
            raise ContractError(sl.path, "load_mw", "a system-load path below the campus draw although "
                                "system_load.includes_campus=true")
    price = actual_prices(cfg, ts, sources) if kind == "settled" else None
    shares = lease_shares(cfg, kind, ts, q[..., Quantiles(levels).median_index], load) if cfg.leases else []
    return Inputs(months, ts, site_ids, np.asarray(levels), q, cap, others, gen, sources, others_paths, price, shares)


def actual_prices(cfg: PledgeConfig, ts: pd.DatetimeIndex, sources: dict[str, str]) -> np.ndarray | None:
    """(T,) actual prices ($/MWh) of the settled ledger's spot energy (``actuals.prices=grid``, spot tariffs):
    the grid file's ``price`` column; an hour without one is an error naming it. None when not settled on them."""
    a = cfg.actuals
    if cfg.tariff.energy_pricing != "spot" or a.prices != "grid":
        return None
    if a.source != "file" or not a.grid_path:
        raise PledgeConfigError(f"{P}.actuals.prices", a.prices, "spot energy settles at the actual prices of a "
                                "grid file (pledge.actuals.source=file, pledge.actuals.grid_path); stylised actuals "
                                "carry none, so price them on the curve at the actual load", "curve")
    _, price = read_grid_load(a.grid_path, ts, "load_mw", a.zone or cfg.system_load.zone)
    gap = ~np.isfinite(price)
    if gap.any():
        raise ContractError(a.grid_path, "price", f"no actual price in {int(gap.sum())} hours of the billing period "
                            "(spot energy settles at the price of each hour; nothing is filled in)",
                            pd.DataFrame({"ts": ts[gap]}))
    sources["price"] = f"{a.grid_path}:price"
    return price


def check_capacity(path: str, q: np.ndarray, cap: np.ndarray, site_ids: list[str], ts: pd.DatetimeIndex,
                   cols: tuple[str, ...]) -> None:
    """Refuse draw quantiles (S, T, K) above the site's capacity (they would be clipped), naming the rows."""
    over = q > cap[:, None, None]
    if over.any():
        s, t, k = np.nonzero(over)
        rows = pd.DataFrame({"series_id": np.asarray(site_ids)[s], "ts": ts[t], "value": q[s, t, k],
                             "capacity_mw": cap[s]})
        raise ContractError(path, cols[int(k.max())], f"draw above the site's capacity_mw in {int(over.sum())} "
                            "cells (nothing is clipped; check the forecast or pledge.sites.N.capacity_mw)", rows)


def system_load(cfg: PledgeConfig, kind: str, months: list[BillingMonth], ts: pd.DatetimeIndex,
                sources: dict[str, str]) -> tuple[np.ndarray, np.ndarray | None]:
    """(T,) system load (MW) for the ledger ``kind`` and, from a system-load forecast, its (K, T) joint paths;
    records where it came from in ``sources``."""
    sl = cfg.system_load
    if kind == "settled" and cfg.actuals.source == "file" and cfg.actuals.grid_path:
        load, _ = read_grid_load(cfg.actuals.grid_path, ts, "load_mw", cfg.actuals.zone or sl.zone)
        sources["system_load"] = f"{cfg.actuals.grid_path}:load_mw"
        return load, None
    if sl.source == "forecast" and kind == "forecast":
        paths = read_load_paths(sl.path, ts)  # (K, T)
        sources["system_load"] = f"{sl.path}: {len(paths)} joint sample paths of a system-load forecast"
        return np.median(paths, axis=0), paths  # the central path: the hourly median of the joint paths
    if sl.source == "file":
        col = "load_forecast_mw" if kind == "forecast" else "load_mw"
        load, _ = read_grid_load(sl.path, ts, col, sl.zone)
        sources["system_load"] = f"{sl.path}:{col}"
        return load, None
    if sl.source == "forecast":
        raise ContractError(sl.path, "load_mw", "a settled ledger needs the actual system load: set "
                            "pledge.actuals.grid_path (and pledge.actuals.source=file)")
    sources["system_load"] = "stylised two-level"
    return stylised_system_load_mw(months, ts, sl.base_gw, sl.peak_gw, sl.peak_hours), None


def read_load_paths(path: str, ts: pd.DatetimeIndex) -> np.ndarray:
    """(K, T) joint sample paths (MW) from a long file (ts, sample, load_mw); every hour of every path needed."""
    from forecast.data.contracts import parse_utc

    df = _read_any(path)
    missing = [c for c in ("ts", "sample", "load_mw") if c not in df.columns]
    if missing:
        raise ContractError(path, ", ".join(missing), f"missing from the system-load paths; found {list(df.columns)}")
    df = df.assign(ts=parse_utc(df["ts"], "ts", path))
    wide = df.pivot_table(index="sample", columns="ts", values="load_mw", aggfunc="first").reindex(columns=ts)
    gap = wide.isna().any(axis=0).to_numpy()
    if gap.any():
        raise ContractError(path, "ts", f"system-load paths miss {int(gap.sum())} hours of the billing period",
                            pd.DataFrame({"ts": ts[gap]}))
    vals = wide.to_numpy(np.float64)
    bad = ~np.isfinite(vals) | (vals < 0)
    if bad.any():
        raise ContractError(path, "load_mw", f"non-finite or negative load in {int(bad.sum())} cells")
    return vals


def read_meter(path: str, site_ids: list[str], ts: pd.DatetimeIndex) -> np.ndarray:
    """(S, T) metered power, MW, from a meter-contract file; missing (site, hour) is an error."""
    from forecast.data.contracts import load_meter

    m = load_meter(path)
    out = np.empty((len(site_ids), len(ts)))
    for s, sid in enumerate(site_ids):
        sub = m[m["site_id"] == sid].set_index("ts")["power_mw"].reindex(ts)
        gap = sub.isna().to_numpy()
        if gap.any():
            raise ContractError(path, "power_mw", f"no meter reading for site {sid!r} in {int(gap.sum())} hours "
                                "(a missing reading is never zero power)", pd.DataFrame({"site_id": sid, "ts": ts[gap]}))
        out[s] = sub.to_numpy()
    return out
