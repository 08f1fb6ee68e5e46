"""forecast_draw(cfg): every site's hourly draw forecast from issue time t to the end of the next billing month.

The learned sequence model covers its horizon (``predict``); beyond it the schedule-driven long-horizon model
(``models.long_horizon``) carries on. Over the last ``blend_h`` hours of the learned horizon the two are blended
quantile by quantile with a weight falling linearly from 1 (learned) to 0 (long-horizon); a convex combination
of two non-decreasing quantile vectors is non-decreasing, and both lie in [0, capacity], so the blend does too.
Output: the forecast contract (series_id, issued_at, ts, horizon_h, p10 …, model, model_version, run_id).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.config import Config
from forecast.data.inputs import load_inputs
from forecast.io import atomic_write
from forecast.models import long_horizon
from forecast.models.dependence import Dependence
from forecast.pipeline.predict import PredictOutput, forecast_frame, issue_time, predict
from forecast.pledge.calendar import next_billing_month
from forecast.types import Quantiles

log = logging.getLogger("forecast")
HOUR = pd.Timedelta(hours=1)


@dataclass
class DrawForecast:
    path: Path
    frame: pd.DataFrame
    issued_at: pd.Timestamp
    end: pd.Timestamp  # exclusive
    learned_version: str | None
    learned: PredictOutput | None = None  # the learned model's own forecast (its horizon), as written
    dependence: Dependence | None = None  # the month's Monte Carlo correlations, fitted on past pseudo-forecasts


def blend_weights(horizon: int, learned_h: int, blend_h: int) -> np.ndarray:
    """(H,) weight of the learned model per lead: 1 before the blend window, linear to 0 at its horizon, 0 after."""
    h = np.arange(horizon, dtype=np.float64)
    start = max(learned_h - blend_h, 0)
    w = np.clip((learned_h - h) / max(learned_h - start, 1), 0.0, 1.0)
    return np.where(h < start, 1.0, w)


def blend(q_learned: np.ndarray, q_long: np.ndarray, blend_h: int) -> np.ndarray:
    """(S, H, Q): learned quantiles (S, H_l, Q) over their horizon, long-horizon ones (S, H, Q) beyond."""
    S, H, Q = q_long.shape
    H_l = q_learned.shape[1]
    w = blend_weights(H, H_l, blend_h)[None, :, None]  # (1, H, 1)
    ql = np.zeros_like(q_long)
    ql[:, :H_l] = q_learned[:, :H]
    return w * ql + (1.0 - w) * q_long


def forecast_draw(cfg: Config, timezone: str, reference_time: str | pd.Timestamp | None = None,
                  model_ref: str | None = None, blend_h: int = 48, origin_every_h: int = 48) -> DrawForecast:
    """Draw quantiles (MW) for every site and hour from t to the end of the next local billing month."""
    dc = dataclasses.replace(cfg.data, source="files")
    inp = load_inputs(dc)
    t = issue_time(inp.meter, reference_time if reference_time is not None else cfg.predict.reference_time)
    month = next_billing_month(t, timezone)
    end = month.end_utc
    H = int((end - t) / HOUR)
    levels = tuple(cfg.model.quantiles)
    same_data = dataclasses.replace(cfg, predict=dataclasses.replace(cfg.predict, data_from="config"))
    learned = predict(same_data, model_ref, reference_time=t)  # the same tables as the long-horizon part
    lh = long_horizon.fit(inp.metas, inp.jobs, inp.meter, inp.grid, t, H, levels, origin_every_h=origin_every_h,
                          window=month_window(t, month.start_utc, end))
    ids, _, q_long = lh.forecast(inp.jobs)  # (S, H, Q) MW, hours t … end − 1
    cols = Quantiles(levels).columns
    f = learned.frame.set_index(["series_id", "horizon_h"])
    q_l = np.stack([f.loc[s, cols].sort_index().to_numpy(np.float64) for s in ids])  # (S, H_learned, Q)
    q = blend(q_l, q_long, blend_h)
    frame = forecast_frame(q, ids, t, cols, "blend:learned+long_horizon", f"{learned.model_version}+long_horizon",
                           learned.run_id)
    path = Path(cfg.predict.out) / f"draw_{t:%Y%m%dT%H%MZ}_to_{end:%Y%m%dT%H%MZ}.parquet"
    atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False))
    log.info("draw forecast %s: %d sites × %d h (learned model for %d h, blended over %d h)", path, len(ids), H,
             q_l.shape[1], blend_h)
    return DrawForecast(path, frame, t, end, learned.model_version, learned, lh.dependence)


def month_window(t: pd.Timestamp, start: pd.Timestamp, end: pd.Timestamp) -> tuple[int, int]:
    """(first lead, hours) of the billing month [start, end) in a forecast issued at t."""
    return int((start - t) / HOUR), int((end - start) / HOUR)
