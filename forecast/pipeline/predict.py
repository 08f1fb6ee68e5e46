"""predict(cfg): the batch forecast for an explicit reference time.

Loads the model by registry alias (``tracking.model_name@tracking.alias``) or
from a checkpoint path, reads the inputs in ``data.dir`` (of a parquet meter only
the model's history before the reference time; the schedule is built from the sites
and jobs while the meter and grid are read), forecasts every site from what
was known at the reference time only, a chunk of sites at a time, and writes one
tidy parquet straight from the arrays (and CSV on request) atomically. The same
reference time and inputs give the same file, byte for byte.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from forecast import tracking
from forecast.config import Config, DataConfig
from forecast.data.inputs import load_inputs
from forecast.data.reference import reference_inputs, reference_schedule
from forecast.errors import ContractError, UsageError
from forecast.io import write_once
from forecast.memory import keep_freed_memory
from forecast.models import registry
from forecast.models.device import resolve
from forecast.models.inference import CPU_CALL, predict_arrays
from forecast.types import Quantiles

log = logging.getLogger("forecast")
HOUR = pd.Timedelta(hours=1)


@dataclass
class PredictOutput:
    path: Path
    csv_path: Path | None
    rows: int
    issued_at: pd.Timestamp
    model_version: str
    run_id: str
    _frame: pd.DataFrame | Callable[[], pd.DataFrame]  # or a function that builds it on first use
    data_dir: str = ""  # the data folder read
    data_from: str = "config"  # model: the data settings recorded with the model | config: data.*
    written: bool = True  # False: the same file was already there (same model, time and inputs)

    @property
    def frame(self) -> pd.DataFrame:
        """The forecast as written (``pd.read_parquet(path)`` equals it); built on first access."""
        if callable(self._frame):
            self._frame = self._frame()
        return self._frame


@dataclass
class LoadedModel:
    model: torch.nn.Module
    meta: dict
    name: str
    version: str
    run_id: str


def load_model(cfg: Config, ref: str | None = None) -> LoadedModel:
    """``ref``: "registry" (default: cfg.predict.model) or a checkpoint path."""
    ref = cfg.predict.model if ref is None else ref
    if ref == "registry":
        mref = tracking.resolve_alias(cfg.tracking.model_name, cfg.tracking.alias, cfg.tracking.uri)
        path = tracking.download_artifact(mref.run_id, "checkpoint/forecaster.pt", cfg.tracking.uri)
        model, meta = registry.load(path)
        return LoadedModel(model, meta, cfg.tracking.model_name, mref.version, mref.run_id)
    p = Path(ref)
    if not p.exists():
        raise FileNotFoundError(f"predict.model={ref!r}: no such checkpoint (or use predict.model=registry)")
    model, meta = registry.load(p)
    digest = hashlib.sha256(p.read_bytes()).hexdigest()[:12]
    return LoadedModel(model, meta, p.name, f"checkpoint:{digest}", str(meta.get("run_id", "")))


def issue_time(meter: pd.DataFrame, ref: str | pd.Timestamp | None) -> pd.Timestamp:
    """The issue time in UTC: ``ref`` (zone required, on the hour), or the hour after the last meter reading
    common to every site."""
    if ref is None:
        t = meter.groupby("site_id")["ts"].max().min() + HOUR
        log.info("no reference time given: using the hour after the last meter reading, %s", t)
        return t
    return _reference_time(ref)


def _reference_time(ref: str | pd.Timestamp) -> pd.Timestamp:
    t = pd.Timestamp(ref)
    if t.tzinfo is None:
        raise ValueError(f"reference time {ref!r} has no timezone; write e.g. 2025-12-01T00:00Z")
    t = t.tz_convert("UTC")
    if t != t.floor("h"):
        raise ValueError(f"reference time {t} is not on the hour")
    return t


def predict(cfg: Config, model_ref: str | None = None, reference_time: str | pd.Timestamp | None = None) -> PredictOutput:
    """Forecast every site from what was known at the reference time; write the forecast parquet (and CSV)."""
    pc = cfg.predict
    if pc.keep_memory:
        keep_freed_memory()
    lm = load_model(cfg, model_ref)
    L, H = int(lm.meta["history_h"]), int(lm.meta["horizon_h"])
    quant = Quantiles(tuple(lm.meta["model"]["quantiles"]))
    dc, data_from = model_data(cfg, lm.meta)
    ref = reference_time if reference_time is not None else pc.reference_time
    t = _reference_time(ref) if ref is not None else None
    # the L meter hours before t; the schedule is built from sites and jobs while the hourly tables are read
    inp = load_inputs(dc, meter_window=None if t is None else (t - L * HOUR, t),
                      prepare=None if t is None else reference_schedule(t, L, H))
    t = issue_time(inp.meter, None) if t is None else t
    # only what was known at t: meter and weather strictly before t (the schedule is cut at t by known_at)
    meter = _before(inp.meter, t)
    site = inp.meter_site if meter is inp.meter else None  # the rows' sites, unless rows were left out
    inp.meter, inp.grid = meter, _before(inp.grid, t)
    ri = reference_inputs(inp.metas, inp.jobs, inp.meter, inp.grid, t, L, H, dc.use_temperature, inp.prepared, site)
    _refuse_missing_hours(ri, inp, t, L)
    rt = resolve(cfg.trainer.accelerator, cfg.trainer.precision)
    S, step = len(ri.series_ids), CPU_CALL if rt.device.type == "cpu" else pc.batch_size
    block = np.empty((len(quant), S * H), np.float64)  # (Q, S·H) MW, one row per quantile column
    for a in range(0, S, step):  # windows built a chunk of sites at a time, each used at once
        b = min(a + step, S)
        q = predict_arrays(lm.model, *ri.windows(a, b), rt, batch_size=pc.batch_size)  # (b − a, H, Q) model units
        block[:, a * H:b * H] = _quantile_block(q, ri.scale[a:b])
    out = Path(pc.out)
    stem = f"forecast_{t:%Y%m%dT%H%MZ}_{model_tag(lm)}"  # another model, another file
    parts = (H, ri.series_ids, t, quant.columns, (lm.name, lm.version, lm.run_id))
    path, written = _once(out / f"{stem}.parquet", lambda tmp: write_forecast(tmp, _table(block, *parts)))
    res = PredictOutput(path, None, block.shape[1], t, lm.version, lm.run_id, lambda: _frame(block, *parts),
                        str(dc.dir), data_from, written)
    if pc.csv:
        res.csv_path, _ = _once(out / f"{stem}.csv",
                                lambda tmp: res.frame.to_csv(tmp, index=False, date_format="%Y-%m-%dT%H:%M:%SZ"))
    return res


def model_data(cfg: Config, meta: dict) -> tuple[DataConfig, str]:
    """The data settings a forecast reads with (data config, "model" | "config"): with predict.data_from=model,
    the folder and table settings recorded with the model when it has them; history and horizon are always the
    model's."""
    rec = meta.get("data") or {}
    dc = dataclasses.replace(cfg.data, source="files")
    if cfg.predict.data_from != "model" or not rec.get("dir"):
        return dc, "config"
    keep = {k: rec[k] for k in ("dir", "use_temperature", "known_at") if k in rec}
    log.info("data: %s, as recorded with the model (predict.data_from=config reads data.dir instead)", rec["dir"])
    return dataclasses.replace(dc, **keep), "model"


def model_tag(lm: LoadedModel) -> str:
    """The model in a file name: <name>-v<version> (registry), <file stem>-ckpt<digest> (a checkpoint path)."""
    if lm.version.startswith("checkpoint:"):
        tag = f"{Path(lm.name).stem}-ckpt{lm.version.split(':', 1)[1]}"
    else:
        tag = f"{lm.name}-v{lm.version}"
    return re.sub(r"[^A-Za-z0-9._-]+", "-", tag)


def _once(path: Path, write: Callable[[str], object]) -> tuple[Path, bool]:
    """Write a forecast file that never replaces another: the same bytes are left as they are."""
    try:
        return write_once(path, write)
    except FileExistsError:
        raise UsageError("predict.out", f"{path} already exists with other values (the inputs changed since it was "
                         "written?); a forecast is never overwritten", "predict.out=<another folder>, or remove "
                         "the file") from None


def _before(df: pd.DataFrame | None, t: pd.Timestamp) -> pd.DataFrame | None:
    """The rows of ``df`` with ts before t (``df`` itself when there are no others)."""
    if df is None:
        return None
    late = (df["ts"] >= t).to_numpy()
    return df[~late] if late.any() else df


def _refuse_missing_hours(rw, inp, t: pd.Timestamp, L: int) -> None:  # rw: ReferenceInputs or ReferenceWindows
    """Every site needs its L meter hours (and its zone's temperatures, when used) before t: none is filled in."""
    lacking = np.flatnonzero(~rw.meter_hours.all(axis=1))
    if len(lacking):
        s0 = lacking[0]
        missing = (t - L * HOUR) + pd.to_timedelta(np.flatnonzero(~rw.meter_hours[s0]), unit="h")
        raise ContractError(str(inp.paths["meter"]), "ts",
                            f"site {rw.series_ids[s0]!r} lacks {len(missing)} of the {L} meter hours before the reference "
                            f"time {t} (first missing: {', '.join(str(m) for m in missing[:5])})")
    if rw.temperature_hours is not None and not rw.temperature_hours.all():
        s0 = int(np.flatnonzero(~rw.temperature_hours.all(axis=1))[0])
        missing = (t - L * HOUR) + pd.to_timedelta(np.flatnonzero(~rw.temperature_hours[s0]), unit="h")
        raise ContractError(str(inp.paths["grid"]), "temperature_c",
                            f"zone {inp.metas[rw.series_ids[s0]].zone!r} (site {rw.series_ids[s0]!r}) lacks {len(missing)} "
                            f"of the {L} hours before the reference time {t} (first missing: "
                            f"{', '.join(str(m) for m in missing[:5])}); or set data.use_temperature=false")


def tidy(q: np.ndarray, series_ids: list[str], issued_at: pd.Timestamp, quant: Quantiles, lm: LoadedModel) -> pd.DataFrame:
    """(S, H, Q) -> long frame, one row per series and hour, one column per quantile (no Python row loops)."""
    return forecast_frame(q, series_ids, issued_at, quant.columns, lm.name, lm.version, lm.run_id)


def forecast_frame(q: np.ndarray, series_ids: list[str], issued_at: pd.Timestamp, columns: list[str], model: str,
                   version: str, run_id: str) -> pd.DataFrame:
    """The forecast contract from (S, H, Q) quantiles issued at ``issued_at`` for hours issued_at … + H − 1:
    series_id, issued_at, ts, horizon_h, one column per quantile, model, model_version, run_id."""
    return _frame(_quantile_block(q), q.shape[1], series_ids, issued_at, columns, (model, version, run_id))


def forecast_table(q: np.ndarray, series_ids: list[str], issued_at: pd.Timestamp, columns: list[str], model: str,
                   version: str, run_id: str) -> pa.Table:
    """:func:`forecast_frame`'s rows as an arrow table for writing: series, times, leads and the constant
    columns as dictionaries over their few distinct values, one float64 column per quantile."""
    return _table(_quantile_block(q), q.shape[1], series_ids, issued_at, columns, (model, version, run_id))


def write_forecast(path: str | Path, table: pa.Table) -> None:
    """Write :func:`forecast_table`'s table: dictionary pages for the dictionary columns, byte-stream-split
    quantiles, no min/max statistics (they cost a third of the write, and one forecast has one issue time).
    Read back (``pd.read_parquet``) it is :func:`forecast_frame`'s frame
    (times coarser than milliseconds are stored in milliseconds, parquet's coarsest unit)."""
    keys = [f.name for f in table.schema if pa.types.is_dictionary(f.type)]
    pq.write_table(table, path, store_schema=False, use_dictionary=keys, write_statistics=False,
                   column_encoding={c: "BYTE_STREAM_SPLIT" for c in table.column_names if c not in keys})


def _quantile_block(q: np.ndarray, scale: np.ndarray | None = None) -> np.ndarray:
    """(Q, S·H) float64, one contiguous row per quantile column (the layout of a pandas block) of q (S, H, Q),
    times ``scale`` (S,) per series when given: one pass, one array."""
    S, H, Q = q.shape
    block = np.empty((Q, S, H), np.float64)
    if scale is None:
        block[...] = np.moveaxis(q, 2, 0)
    else:
        np.multiply(np.moveaxis(q, 2, 0), np.asarray(scale, np.float64)[None, :, None], out=block)
    return block.reshape(Q, S * H)


def _frame(block: np.ndarray, H: int, series_ids: list[str], issued_at: pd.Timestamp, columns: list[str],
           tail: tuple[str, str, str]) -> pd.DataFrame:
    """The contract frame over ``block`` (not copied); text columns built in arrow from their distinct values."""
    n = block.shape[1]
    S = n // H if H else len(series_ids)
    ts = pd.date_range(issued_at, periods=H, freq="h")
    one = np.zeros(n, dtype=np.intp)
    frame = pd.DataFrame(block.T, columns=list(columns), copy=False)
    lead = {"series_id": _text(series_ids, np.repeat(np.arange(S, dtype=np.intp), H)),
            "issued_at": pd.DatetimeIndex([issued_at])[one],  # one timestamp, repeated by index
            "ts": ts[np.tile(np.arange(H), S)],
            "horizon_h": np.tile(np.arange(1, H + 1, dtype=np.int32), S)}
    for i, (name, values) in enumerate(lead.items()):
        frame.insert(i, name, values)
    for name, value in zip(("model", "model_version", "run_id"), tail):
        frame[name] = _text([value], one)
    return frame


def _text(values: list[str], index: np.ndarray):
    """values[index] as a str column, built in arrow from the distinct values (no Python object per row)."""
    arr = pa.array(list(values))
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return np.asarray(values, dtype=object)[index]
    return pd.array(arr.cast(pa.large_string()).take(pa.array(index)), dtype="str")


def _table(block: np.ndarray, H: int, series_ids: list[str], issued_at: pd.Timestamp, columns: list[str],
           tail: tuple[str, str, str]) -> pa.Table:
    """The contract table over ``block`` (quantile columns not copied), dictionary columns from index arrays."""
    n = block.shape[1]
    S = n // H if H else len(series_ids)
    ts = pd.date_range(issued_at, periods=H, freq="h")
    ts = ts.as_unit("ms") if ts.unit == "s" else ts
    tt = pa.timestamp(ts.unit, "UTC")
    lead = pa.array(np.tile(np.arange(H, dtype=np.int32), S))
    one = pa.array(np.zeros(n, np.int32))
    text = lambda idx, v: pa.DictionaryArray.from_arrays(idx, pa.array(list(v), pa.string()))  # noqa: E731
    cols = {"series_id": text(pa.array(np.repeat(np.arange(S, dtype=np.int32), H)), series_ids),
            "issued_at": pa.DictionaryArray.from_arrays(one, pa.array(ts.asi8[:1], tt)),
            "ts": pa.DictionaryArray.from_arrays(lead, pa.array(ts.asi8, tt)),
            "horizon_h": pa.DictionaryArray.from_arrays(lead, pa.array(np.arange(1, H + 1, dtype=np.int32))),
            **{col: pa.array(block[j]) for j, col in enumerate(columns)},
            **{name: text(one, [v]) for name, v in zip(("model", "model_version", "run_id"), tail)}}
    return pa.table(cols)
