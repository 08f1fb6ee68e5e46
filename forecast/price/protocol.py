"""The rolling day-ahead protocol of the epftoolbox benchmark, shared by ``forecast epf-bench`` (test
period, forecast.price.epf) and the design procedure (validation days, forecast.price.design).

Each day d of the last ``test_days`` days (after ``warmup`` days whose errors only seed the weights and
the bands) is forecast from data before d only; the band of day d from the errors of earlier days only.
"""

from __future__ import annotations

import dataclasses
import sys
import time

import numpy as np
import pandas as pd

from forecast.errors import ContractError
from forecast.evaluation import metrics as M
from forecast.price.combine import conformal_quantiles
from forecast.price.readers import EPFData
from forecast.price.roles import resolve_roles

TEST_DAYS = 728
NAIVE_LAG_DAYS = 7


def naive_weekly(price: np.ndarray, days: np.ndarray) -> np.ndarray:
    """The naive forecast: same hour one week earlier. price (D, 24) -> (len(days), 24)."""
    return price[days - NAIVE_LAG_DAYS]


def point_metrics(y: np.ndarray, f: np.ndarray, naive: np.ndarray) -> dict[str, float]:
    """mae ($/MWh), rmae (MAE / naive MAE), smape (%) over all hours."""
    mae = M.mae(y, f)
    return {"mae": mae, "rmae": mae / M.mae(y, naive), "smape": M.smape(y, f)}


def rolling_points(model, days: np.ndarray, price: np.ndarray, warmup: int, log_every: int = 0,
                   threads: int = 1) -> np.ndarray:
    """Point forecasts (len(days), 24), one day at a time in order, with ``threads`` BLAS and torch threads
    (1 by default: on a shared 2-core machine extra threads contend, a LEAR day took 1.6 s on 2 BLAS
    threads and 0.65 s on 1, three network epochs 37.5 s on 2 torch threads and 2.2 s on 1)."""
    import torch
    from threadpoolctl import threadpool_limits

    point = np.zeros((len(days), 24))
    prev = torch.get_num_threads()
    torch.set_num_threads(threads)
    start = time.perf_counter()
    try:
        with threadpool_limits(threads):
            for i, d in enumerate(days):
                point[i] = model.forecast_day(int(d))
                if log_every and (i + 1) % log_every == 0:
                    msg = f"day {i + 1}/{len(days)}  {time.perf_counter() - start:.0f}s"
                    if i + 1 > warmup:
                        msg += f"  MAE so far {M.mae(price[days[warmup:i + 1]], point[warmup:i + 1]):.3f}"
                    print(msg, file=sys.stderr, flush=True)
    finally:
        torch.set_num_threads(prev)
    return point


def run_bench(data: EPFData, cfg=None, test_days: int = TEST_DAYS, warmup: int = 56, log_every: int = 0,
              model_factory=None, threads: int = 1) -> dict:
    """Rolling forecasts of the last ``test_days`` days. Returns arrays and metrics (no files)."""
    from forecast.price.model import DayAheadModel, PriceModelConfig

    cfg = cfg or PriceModelConfig()
    names = tuple(n.strip() for n in data.exog_names)
    cfg = dataclasses.replace(cfg, exog_roles=resolve_roles(names, cfg.exog_roles))
    D = data.n_days
    t0 = D - test_days
    if t0 - warmup < NAIVE_LAG_DAYS + 1:
        raise ContractError(data.source, None, f"{D} days: too short for a {test_days}-day test period with "
                            f"{warmup} warm-up days and a week of lags")
    dow = data.dates.day_of_week.to_numpy()
    factory = model_factory or DayAheadModel
    model = factory(data.price, data.exog, dow, cfg)
    days = np.arange(t0 - warmup, D)
    start = time.perf_counter()
    point = rolling_points(model, days, data.price, warmup, log_every, threads)
    elapsed = time.perf_counter() - start
    # quantiles of day d from the errors of the days before d only (conformal on recent errors)
    q_all = conformal_quantiles(data.price[days], point, cfg.levels, cfg.band_days)
    sel = slice(warmup, None)
    test = days[sel]
    y = data.price[test]
    f, q_last = point[sel], q_all[sel]
    naive = naive_weekly(data.price, test)
    out = point_metrics(y, f, naive)
    out.update({"pinball": M.pinball(y, q_last, cfg.levels), "crps": M.crps_from_quantiles(y, q_last, cfg.levels),
                "coverage_p10_p90": M.coverage(y, q_last[..., 0], q_last[..., -1]),
                "naive_mae": M.mae(y, naive), "n_hours": int(y.size), "runtime_s": elapsed})
    ts = data.timestamps().values.reshape(D, 24)[test]
    out["test_start"] = str(pd.Timestamp(ts[0, 0]))
    out["test_end"] = str(pd.Timestamp(ts[-1, -1]))
    out["exog_roles"] = dict(zip(names, cfg.exog_roles))
    points = getattr(model, "member_points", None)  # a custom model_factory may not record members
    members = points(test) if points else None
    if members:
        out["members_mae"] = {n: M.mae(y, v) for n, v in members.items()}
    return {"metrics": out, "days": test, "y": y, "point": f, "quantiles": q_last, "timestamps": ts,
            "members": members}
