"""Loading the four input tables for the power model: read, validate, cross-check (sites ↔ meter ↔ jobs ↔
grid), and per-site hourly arrays for the window store."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.config import DataConfig
from forecast.data import contracts
from forecast.data.features import SiteMeta, site_metas
from forecast.data.simulate import simulate
from forecast.data.windows import SeriesArrays, WindowStore, build_series
from forecast.errors import ContractError

HOUR = pd.Timedelta(hours=1)
TABLES = ("sites", "jobs", "meter", "grid")


@dataclass
class Inputs:
    sites: pd.DataFrame
    jobs: pd.DataFrame
    meter: pd.DataFrame
    grid: pd.DataFrame | None
    paths: dict[str, Path]
    metas: dict[str, SiteMeta] = field(default_factory=dict)


def find_table(folder: Path, name: str, required: bool = True) -> Path | None:
    hits = [folder / f"{name}{ext}" for ext in (".parquet", ".csv") if (folder / f"{name}{ext}").exists()]
    if len(hits) > 1:
        raise ContractError(str(folder), None, f"both {hits[0].name} and {hits[1].name} exist: keep one")
    if not hits:
        if required:
            raise FileNotFoundError(f"{folder}: no {name}.parquet or {name}.csv")
        return None
    return hits[0]


def load_inputs(dc: DataConfig, need_grid: bool | None = None) -> Inputs:
    """Read and validate the four tables from ``dc.dir`` (writing the scenario there first when source=simulate)."""
    folder = Path(dc.dir)
    if dc.source == "simulate":
        simulate(dc.scenario).write(folder)
    need_grid = dc.use_temperature if need_grid is None else need_grid
    paths = {t: find_table(folder, t, required=(t != "grid" or need_grid)) for t in TABLES}
    sites = contracts.load_sites(paths["sites"])
    jobs = contracts.load_jobs(paths["jobs"], known_at=dc.known_at)
    meter = contracts.load_meter(paths["meter"])
    grid = contracts.load_grid(paths["grid"]) if paths["grid"] is not None else None
    known = set(sites["site_id"])
    for name, df in (("meter", meter), ("jobs", jobs)):
        bad = ~df["site_id"].isin(known)
        if bad.any():
            raise ContractError(str(paths[name]), "site_id", f"sites not in {paths['sites'].name}", df[bad])
    metas = site_metas(sites)
    pairs = [(s, g) for s, m in metas.items() for g in m.fleet]
    fleet = pd.MultiIndex.from_arrays([[s for s, _ in pairs], [g for _, g in pairs]])
    bad = pd.Series(~pd.MultiIndex.from_arrays([jobs["site_id"].astype(str), jobs["gpu_type"].astype(str)]).isin(fleet),
                    index=jobs.index)  # vectorised: one factorisation, no Python tuples per row
    if bad.any():
        raise ContractError(str(paths["jobs"]), "gpu_type", "GPU type not installed at that site (sites table)",
                            jobs.loc[bad, ["job_id", "site_id", "gpu_type"]])
    if grid is not None and dc.use_temperature:
        if "temperature_c" not in grid.columns:
            raise ContractError(str(paths["grid"]), "temperature_c",
                                "missing; it is needed with data.use_temperature=true (or set it false)")
        zones = {m.zone for m in metas.values()} - set(grid["zone"])
        if zones:
            raise ContractError(str(paths["grid"]), "zone", f"no rows for zones {sorted(zones)} used by the sites table")
    return Inputs(sites, jobs, meter, grid, paths, metas)


def site_series(inp: Inputs, dc: DataConfig, end: pd.Timestamp | None = None,
                start: pd.Timestamp | None = None) -> list[SeriesArrays]:
    """Arrays per site over the meter's hours (or [start, end) with NaN targets beyond the meter)."""
    out = []
    for sid, meta in sorted(inp.metas.items()):
        m = inp.meter[inp.meter["site_id"] == sid]
        if m.empty:
            raise ContractError(str(inp.paths["meter"]), "site_id", f"no meter history for site {sid!r}")
        power = pd.Series(m["power_mw"].to_numpy(), index=pd.DatetimeIndex(m["ts"]))
        temp = None
        if dc.use_temperature and inp.grid is not None:
            g = inp.grid[inp.grid["zone"] == meta.zone]
            temp = pd.Series(g["temperature_c"].to_numpy(), index=pd.DatetimeIndex(g["ts"]))
        ts = None
        if start is not None or end is not None:
            ts = pd.date_range(start if start is not None else power.index[0],
                               end if end is not None else power.index[-1] + HOUR, freq="h", inclusive="left")
            power = power[(power.index >= ts[0])]
            if temp is not None:
                temp = temp[temp.index < ts[-1] + HOUR]
        out.append(build_series(meta, inp.jobs, power, temp, dc.horizon_h, ts))
    return out


@dataclass
class Split:
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    val_start: pd.Timestamp
    test_start: pd.Timestamp
    end: pd.Timestamp


def split(store: WindowStore, dc: DataConfig) -> Split:
    """Time split: targets of training windows end before validation starts, which ends before the test."""
    end = min(s.ts[~np.isnan(s.y)][-1] for s in store.series) + HOUR
    H = pd.Timedelta(hours=dc.horizon_h)
    test_start = end - pd.Timedelta(weeks=dc.test_weeks)
    val_start = test_start - pd.Timedelta(weeks=dc.val_weeks)
    parts = {"train": [], "val": [], "test": []}
    for k in range(len(store.series)):
        parts["train"].append(store.origins(k, end=val_start - H + HOUR, every_h=dc.train_every_h))
        parts["val"].append(store.origins(k, start=val_start, end=test_start - H + HOUR, every_h=dc.val_every_h))
        parts["test"].append(store.origins(k, start=test_start, at_hour=dc.eval_hour))
    sp = Split(*(np.concatenate(parts[p]) for p in ("train", "val", "test")), val_start, test_start, end)
    for name in ("train", "val", "test"):
        if len(getattr(sp, name)) == 0:
            raise ValueError(f"no {name} windows: {len(store.series[0].ts)} h of data is too short for history "
                             f"{dc.history_h} h + horizon {dc.horizon_h} h + {dc.val_weeks}+{dc.test_weeks} weeks "
                             "of validation and test (lower data.test_weeks / data.history_h)")
    return sp
