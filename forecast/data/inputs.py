"""Loading the four input tables for the power model: read, validate, cross-check (sites ↔ meter ↔ jobs ↔
grid), and per-site hourly arrays for the window store.

Hourly parquet tables (meter, grid) are read with pyarrow, series keys as dictionaries: every distinct key is
checked once, the rows are checked and sorted with integer arrays (``contracts.hourly_order``), never per site.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from forecast.config import DataConfig
from forecast.data import contracts
from forecast.data.features import SiteMeta, site_metas
from forecast.data.gpus import GPU_TYPES
from forecast.data.keys import positions
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
    prepared: Any = None  # what load_inputs(prepare=) returned
    meter_site: np.ndarray | None = None  # (rows of meter,) position of each row's site among the sorted site ids


def find_table(folder: Path, name: str, required: bool = True) -> Path | None:
    hits = [folder / f"{name}{ext}" for ext in (".parquet", ".csv") if (folder / f"{name}{ext}").exists()]
    if len(hits) > 1:
        raise ContractError(str(folder), None, f"both {hits[0].name} and {hits[1].name} exist: keep one")
    if not hits:
        if required:
            raise FileNotFoundError(f"{folder}: no {name}.parquet or {name}.csv")
        return None
    return hits[0]


def load_inputs(dc: DataConfig, need_grid: bool | None = None,
                meter_window: tuple[pd.Timestamp, pd.Timestamp] | None = None,
                prepare: Callable[[pd.DataFrame, dict[str, SiteMeta]], Any] | None = None) -> Inputs:
    """Read and validate the four tables from ``dc.dir`` (writing the scenario there first when source=simulate).

    ``meter_window=(start, end)``: of a parquet meter only the rows with start <= ts < end are read, validated
    and kept (a batch forecast needs no more); see :func:`read_series`.
    ``prepare(jobs, metas)``: work that needs only the validated sites and jobs (the batch forecast's schedule),
    run while the hourly tables are still being read; its result is ``Inputs.prepared``. The checks across tables
    come after it, so the errors are the same, in the same order, with or without it."""
    folder = Path(dc.dir)
    if dc.source == "simulate":
        simulate(dc.scenario).write(folder)
    need_grid = dc.use_temperature if need_grid is None else need_grid
    paths = {t: find_table(folder, t, required=(t != "grid" or need_grid)) for t in TABLES}
    tz = dc.assume_tz
    sites = contracts.load_sites(paths["sites"], tz)
    ids = pa.array(sorted(set(sites["site_id"])), pa.string())
    with ThreadPoolExecutor(1) as pool:  # the hourly tables (arrow, numpy) beside the jobs (pandas)
        hourly = pool.submit(_read_hourly, paths, meter_window, tz, ids)
        jobs = contracts.load_jobs(paths["jobs"], known_at=dc.known_at, assume_tz=tz)
        metas = site_metas(sites)
        prepared = None if prepare is None else prepare(jobs, metas)
        meter, grid, meter_site = hourly.result()  # a contract error of sites or jobs is raised first
    job_site = positions(jobs["site_id"], ids)
    for name, df, pos in (("meter", meter, meter_site), ("jobs", jobs, job_site)):
        bad = pos < 0
        if bad.any():
            raise ContractError(str(paths[name]), "site_id", f"sites not in {paths['sites'].name}", df[bad])
    _check_fleet(sites, jobs, ids, paths, job_site)
    if grid is not None and dc.use_temperature:
        if "temperature_c" not in grid.columns:
            raise ContractError(str(paths["grid"]), "temperature_c",
                                "missing; it is needed with data.use_temperature=true (or set it false)")
        zones = {m.zone for m in metas.values()} - set(grid["zone"])
        if zones:
            raise ContractError(str(paths["grid"]), "zone", f"no rows for zones {sorted(zones)} used by the sites table")
    return Inputs(sites, jobs, meter, grid, paths, metas, prepared, meter_site)


def _read_hourly(paths: dict[str, Path | None], meter_window, tz: str,
                 ids: pa.Array) -> tuple[pd.DataFrame, pd.DataFrame | None, np.ndarray]:
    """(meter, grid or None, each meter row's position in ``ids``, -1 where its site is not there)."""
    meter = read_series(paths["meter"], contracts.METER, meter_window, tz)
    grid = None if paths["grid"] is None else read_series(paths["grid"], contracts.GRID, None, tz)
    return meter, grid, positions(meter["site_id"], ids)


def _check_fleet(sites: pd.DataFrame, jobs: pd.DataFrame, ids: pa.Array, paths: dict[str, Path],
                 job_site: np.ndarray) -> None:
    """Every job asks for a GPU type its site has, and for no more GPUs of it than the site has."""
    types = pa.array(GPU_TYPES, pa.string())
    fleet = np.zeros((len(ids), len(GPU_TYPES)), np.int64)  # (site, GPU type) GPUs installed, sites table
    np.add.at(fleet, (positions(sites["site_id"], ids), positions(sites["gpu_type"], types)),
              sites["n_gpus"].to_numpy(np.int64))
    have = fleet[job_site, positions(jobs["gpu_type"], types)]  # job_site: each job's position in ids, all >= 0
    bad = have == 0
    if bad.any():
        raise ContractError(str(paths["jobs"]), "gpu_type", "GPU type not installed at that site (sites table)",
                            jobs.loc[bad, ["job_id", "site_id", "gpu_type"]])
    over = jobs["n_gpus"].to_numpy(np.int64) > have
    if over.any():
        shown = jobs.loc[over, ["job_id", "site_id", "gpu_type", "n_gpus"]].assign(site_has=have[over])
        raise ContractError(str(paths["jobs"]), "n_gpus", f"more GPUs than the site has of that type (sites table, "
                            f"{paths['sites'].name}); fix the job or the fleet", shown)


def read_series(path: Path, schema: contracts.Schema,
                window: tuple[pd.Timestamp, pd.Timestamp] | None = None, assume_tz: str = "") -> pd.DataFrame:
    """An hourly table (meter, grid) checked and typed as ``contracts.validate`` does, with the same errors.

    A parquet file whose keys are text and whose times carry a zone is read with pyarrow; with
    ``window=(start, end)`` only its rows with start <= time < end (and rows without a time, which are refused)
    are validated and returned, the others are not used. Any other file is read and validated whole, and
    ``window`` is not applied."""
    table = _arrow_series(Path(path), schema)
    if table is None:
        return contracts.load(path, schema, assume_tz)  # times without a zone are read in assume_tz, if given
    return _validate_arrow(table, schema, str(path), window)


def _arrow_series(path: Path, schema: contracts.Schema) -> pa.Table | None:
    """The parquet table with its key columns as dictionaries, column names stripped and pandas index columns
    dropped; None where the pandas path applies (not parquet, keys not text, times without a zone)."""
    if path.suffix.lower() != ".parquet" or not path.exists():
        return None
    fields = {f.name.strip(): f for f in pq.read_schema(path)}
    keys = [fields.get(k) for k in schema.series_keys]
    t = fields.get(schema.time_col)
    text = lambda ty: pa.types.is_string(ty) or pa.types.is_large_string(ty)  # noqa: E731
    if (len(fields) != len(pq.read_schema(path)) or t is None or not pa.types.is_timestamp(t.type) or t.type.tz is None
            or any(f is None or not (text(f.type) or pa.types.is_dictionary(f.type) and text(f.type.value_type))
                   for f in keys)):
        return None
    table = pq.read_table(path, read_dictionary=[f.name for f in keys if not pa.types.is_dictionary(f.type)])
    index = [c for c in (table.schema.pandas_metadata or {}).get("index_columns", []) if isinstance(c, str)]
    table = table.drop_columns([c for c in index if c in table.column_names])
    return table.rename_columns([c.strip() for c in table.column_names]).unify_dictionaries()


def _validate_arrow(table: pa.Table, schema: contracts.Schema, source: str,
                    window: tuple[pd.Timestamp, pd.Timestamp] | None) -> pd.DataFrame:
    """``contracts.validate`` for an hourly table in arrow; error rows carry the file's own row numbers."""
    contracts.check_columns(pd.DataFrame(columns=table.column_names), schema, source)
    tcol, keys = schema.time_col, list(schema.series_keys)
    times = table[tcol].combine_chunks().cast(pa.timestamp(table[tcol].type.unit, "UTC"))
    unit = times.type.unit
    null = times.is_null().to_numpy(zero_copy_only=False)
    ticks = times.cast(pa.int64()).fill_null(0).to_numpy()
    labels = pd.RangeIndex(len(ticks))  # data rows of the file, as errors name them
    if window is not None:
        lo, hi = (pd.Timestamp(w).as_unit(unit).asm8.astype(np.int64) for w in window)
        labels = np.flatnonzero(null | ((ticks >= lo) & (ticks < hi)))
        table, times, null, ticks = table.take(labels), times.take(labels), null[labels], ticks[labels]
    keyed, typed, codes = {}, {}, None
    for name, col in schema.columns.items():
        if name in keys:
            keyed[name] = kc, values = _key_codes(table[name].combine_chunks(), name, source, labels)
            codes = kc if codes is None else codes * len(values) + kc
        elif name == tcol and null.any():
            raise ContractError(source, name, f"missing values ({int(null.sum())} rows)",
                                pd.DataFrame({name: pd.DatetimeIndex([pd.NaT] * int(null.sum()), tz="UTC")},
                                             index=labels[null]))
        elif name in table.column_names and name != tcol:
            s = table[name].to_pandas()
            typed[name] = contracts.coerce(s.set_axis(labels), name, col, source)

    def rows(i: np.ndarray) -> pd.DataFrame:
        cols = {k: np.asarray(keyed[k][1], dtype=object)[keyed[k][0][i]] for k in keys}
        return pd.DataFrame({**cols, tcol: pd.to_datetime(ticks[i], unit=unit, utc=True)}, index=labels[i])

    per_h = int(np.timedelta64(1, "h") // np.timedelta64(1, unit))
    order = contracts.hourly_order(codes, ticks, per_h, rows, schema, source, None)
    sort = (lambda a: a) if order is None else (lambda a: a.take(order))  # noqa: E731
    out = {}
    for name in table.column_names:
        if name in keyed:
            out[name] = pa.array(keyed[name][1], pa.string()).take(sort(keyed[name][0])).to_pandas()
        elif name == tcol:
            out[name] = sort(times).to_pandas()
        elif name in typed:
            out[name] = sort(typed[name]).reset_index(drop=True)
        else:
            out[name] = sort(table[name]).to_pandas()
    return pd.DataFrame(out)


def _key_codes(d: pa.DictionaryArray, name: str, source: str, labels: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """(codes, values) of a text key column: values stripped and sorted, codes their rank per row; refuses
    missing and empty values as ``contracts.coerce`` does, each distinct value checked once."""
    idx = d.indices
    null = idx.is_null().to_numpy(zero_copy_only=False)
    if null.any():
        raise ContractError(source, name, f"missing values ({int(null.sum())} rows)",
                            pd.DataFrame({name: np.nan}, index=labels[null]))
    idx = idx.to_numpy(zero_copy_only=False).astype(np.int64)
    raw = d.dictionary.to_pylist()
    stripped = [str(v).strip() for v in raw]
    values = sorted(set(stripped))
    rank = {v: i for i, v in enumerate(values)}
    codes = np.array([rank[v] for v in stripped], np.int64)[idx]
    empty = codes == rank.get("", -1)
    if empty.any():
        raise ContractError(source, name, f"empty strings ({int(empty.sum())} rows)",
                            pd.DataFrame({name: np.asarray(raw, dtype=object)[idx[empty]]}, index=labels[empty]))
    return codes, values


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


def periods(end: pd.Timestamp, dc: DataConfig) -> tuple[pd.Timestamp, pd.Timestamp]:
    """(validation start, test start) of data observed until ``end``: the last data.test_weeks are the test, the
    data.val_weeks before them validation."""
    test_start = end - pd.Timedelta(weeks=dc.test_weeks)
    return test_start - pd.Timedelta(weeks=dc.val_weeks), test_start


def _observed_end(s: SeriesArrays) -> pd.Timestamp:
    have = np.flatnonzero(~np.isnan(s.y))
    return s.ts[have[-1]] + HOUR if len(have) else s.ts[0]


def train_origins(store: WindowStore, dc: DataConfig) -> np.ndarray:
    """Training windows of every series of ``store`` by its own periods (series of a corpus end at different
    times): targets end before that series' validation period starts, as in :func:`split`."""
    H = pd.Timedelta(hours=dc.horizon_h)
    parts = [store.origins(k, end=periods(_observed_end(s), dc)[0] - H + HOUR, every_h=dc.train_every_h)
             for k, s in enumerate(store.series)]
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)


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
    end = min(_observed_end(s) for s in store.series)
    H = pd.Timedelta(hours=dc.horizon_h)
    val_start, test_start = periods(end, dc)
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
