"""predict(cfg): the batch forecast for an explicit reference time.

Loads the model by registry alias (``tracking.model_name@tracking.alias``) or
from a checkpoint path, reads the inputs in ``data.dir``, forecasts every site
from what was known at the reference time only, and writes one tidy parquet
(and CSV on request) atomically. The same reference time and inputs give the
same file, byte for byte.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from forecast import tracking
from forecast.config import Config
from forecast.data.inputs import load_inputs
from forecast.data.reference import reference_windows
from forecast.errors import ContractError
from forecast.io import atomic_write
from forecast.models import registry
from forecast.models.device import resolve
from forecast.models.inference import predict_arrays
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
    frame: pd.DataFrame


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
    t = pd.Timestamp(ref)
    if t.tzinfo is None:
        raise ValueError(f"reference time {ref!r} has no timezone; write e.g. 2025-12-01T00:00Z")
    t = t.tz_convert("UTC")
    if t != t.floor("h"):
        raise ValueError(f"reference time {t} is not on the hour")
    return t


def predict(cfg: Config, model_ref: str | None = None, reference_time: str | pd.Timestamp | None = None) -> PredictOutput:
    pc = cfg.predict
    lm = load_model(cfg, model_ref)
    L, H = int(lm.meta["history_h"]), int(lm.meta["horizon_h"])
    quant = Quantiles(tuple(lm.meta["model"]["quantiles"]))
    dc = dataclasses.replace(cfg.data, source="files", history_h=L, horizon_h=H)
    inp = load_inputs(dc)
    t = issue_time(inp.meter, reference_time if reference_time is not None else pc.reference_time)
    # only what was known at t: meter and weather strictly before t (the schedule is cut at t by known_at)
    inp.meter = inp.meter[inp.meter["ts"] < t]
    if inp.grid is not None:
        inp.grid = inp.grid[inp.grid["ts"] < t]
    rw = reference_windows(inp.metas, inp.jobs, inp.meter, inp.grid, t, L, H, dc.use_temperature)
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
    rt = resolve(cfg.trainer.accelerator, cfg.trainer.precision)
    q = predict_arrays(lm.model, rw.x_hist, rw.x_fut, rt, batch_size=pc.batch_size)  # (S, H, Q) model units
    q = q * rw.scale[:, None, None]  # (S, H, Q) MW
    frame = tidy(q, rw.series_ids, t, quant, lm)
    out = Path(pc.out)
    stem = f"forecast_{t:%Y%m%dT%H%MZ}"
    path = atomic_write(out / f"{stem}.parquet", lambda tmp: frame.to_parquet(tmp, index=False))
    csv_path = None
    if pc.csv:
        csv_path = atomic_write(out / f"{stem}.csv", lambda tmp: frame.to_csv(tmp, index=False, date_format="%Y-%m-%dT%H:%M:%SZ"))
    return PredictOutput(path, csv_path, len(frame), t, lm.version, lm.run_id, frame)


def tidy(q: np.ndarray, series_ids: list[str], issued_at: pd.Timestamp, quant: Quantiles, lm: LoadedModel) -> pd.DataFrame:
    """(S, H, Q) -> long frame, one row per series and hour, one column per quantile (no Python row loops)."""
    return forecast_frame(q, series_ids, issued_at, quant.columns, lm.name, lm.version, lm.run_id)


def forecast_frame(q: np.ndarray, series_ids: list[str], issued_at: pd.Timestamp, columns: list[str], model: str,
                   version: str, run_id: str) -> pd.DataFrame:
    """The forecast contract from (S, H, Q) quantiles issued at ``issued_at`` for hours issued_at … + H − 1:
    series_id, issued_at, ts, horizon_h, one column per quantile, model, model_version, run_id."""
    S, H, Q = q.shape
    ts = pd.date_range(issued_at, periods=H, freq="h")
    issued = pd.DatetimeIndex([issued_at])
    frame = pd.DataFrame({
        "series_id": np.repeat(np.asarray(series_ids, dtype=object), H),
        "issued_at": issued[np.zeros(S * H, dtype=np.intp)],  # one timestamp, repeated by index
        "ts": ts[np.tile(np.arange(H), S)],
        "horizon_h": np.tile(np.arange(1, H + 1, dtype=np.int32), S),
    })
    flat = q.reshape(S * H, Q).astype(np.float64)  # (S·H, Q)
    for j, col in enumerate(columns):
        frame[col] = flat[:, j]
    frame["model"] = model
    frame["model_version"] = version
    frame["run_id"] = run_id
    return frame
