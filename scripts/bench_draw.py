#!/usr/bin/env python
"""Backtest of the billing-period draw forecast by lead-time band, on the built-in scenario.

    python scripts/bench_draw.py [--weeks 26] [--every-days 7] [--lead-days 62] [--out FILE.json]

Origins every ``--every-days`` days at 00:00 UTC over the ``--weeks`` weeks that end ``--lead-days`` days before
the meter does (so every origin has its full lead of readings). At each origin the forecast is what
``forecast.pipeline.draw`` issues: the learned model (trained once, on data before the first origin, P10/P90
calibrated on its validation windows) for 168 h, blended over its last 48 h into the long-horizon model fitted
at that origin from data before it. Contender: the physics-only forecast (the plan as known at the origin at
design PUE, no learned gap). Prints MAE (MW) per band, the ratio to physics-only, and the P10–P90 coverage.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd

from forecast.config import compose, to_object
from forecast.data.features import PHYS
from forecast.data.inputs import load_inputs, site_series
from forecast.data.reference import schedule_at
from forecast.data.windows import WindowStore
from forecast.evaluation.rolling import Policy, rolling
from forecast.models import long_horizon, registry
from forecast.models.device import resolve
from forecast.pipeline.draw import blend

BANDS = ((1, 7), (8, 31), (32, 62))
HOUR = pd.Timedelta(hours=1)


def learned_forecasts(cfg, inp, times: pd.DatetimeIndex) -> dict[pd.Timestamp, np.ndarray]:
    """origin -> (S, 168, Q) MW from one model trained before the first origin (rolling, retrain=never)."""
    dc = cfg.data
    store = WindowStore(site_series(inp, dc), dc.history_h, dc.horizon_h)
    g = np.concatenate([store.origins(k, start=t, end=t + HOUR) for t in times for k in range(len(store.series))])
    tc = cfg.trainer
    res = rolling(store, g, Policy(retrain="never", val_days=dc.val_weeks * 7), 
                  lambda: registry.build(cfg.model, dc.history_h, dc.horizon_h), tuple(cfg.model.quantiles),
                  cfg.model.optimizer, tc, resolve("cpu", "32-true"), baselines=(), seed=tc.seed)
    q = res.quantiles["model"] * res.scale[:, None, None]  # calibrated, and still in [0, 1] (the model's bounds)
    out = {}
    for t in times:
        sel = res.issued_at == t
        out[t] = q[sel][np.argsort(res.series[sel])]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weeks", type=int, default=26)
    ap.add_argument("--every-days", type=int, default=7)
    ap.add_argument("--lead-days", type=int, default=62)
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    cfg = to_object(compose(["data.dir=data/scenario"]))
    inp = load_inputs(cfg.data)
    end = inp.meter["ts"].max() + HOUR
    last = (end - pd.Timedelta(days=a.lead_days)).floor("D")
    times = pd.date_range(last - pd.Timedelta(weeks=a.weeks), last, freq=f"{a.every_days}D", inclusive="left")
    H = a.lead_days * 24
    learned = learned_forecasts(cfg, inp, times)
    ids = sorted(inp.metas)
    ms = [inp.metas[s] for s in ids]
    cap = np.array([m.capacity_mw for m in ms])
    meter = inp.meter.pivot(index="ts", columns="site_id", values="power_mw")[ids]
    err = {b: {"model": [], "physics": [], "inside": []} for b in BANDS}
    for t in times:
        lh = long_horizon.fit(inp.metas, inp.jobs, inp.meter, inp.grid, t, H, tuple(cfg.model.quantiles))
        _, ts, q_long = lh.forecast(inp.jobs)
        q = blend(learned[t], q_long, 48)  # (S, H, Q) MW
        _, fut = schedule_at(inp.jobs, ms, t, 1, H)
        phys = fut[..., PHYS].astype(np.float64) * cap[:, None]  # (S, H) MW
        y = meter.reindex(ts).to_numpy(np.float64).T  # (S, H)
        for lo, hi in BANDS:
            sl = slice((lo - 1) * 24, hi * 24)
            err[(lo, hi)]["model"].append(np.abs(q[:, sl, 1] - y[:, sl]).ravel())
            err[(lo, hi)]["physics"].append(np.abs(phys[:, sl] - y[:, sl]).ravel())
            err[(lo, hi)]["inside"].append(((y[:, sl] >= q[:, sl, 0]) & (y[:, sl] <= q[:, sl, -1])).ravel())
    rows = []
    for (lo, hi), e in err.items():
        m, p, c = (np.concatenate(e[k]) for k in ("model", "physics", "inside"))
        rows.append({"band": f"{lo}–{hi} d", "origins": len(times), "mae_mw": float(np.nanmean(m)),
                     "physics_mae_mw": float(np.nanmean(p)), "ratio": float(np.nanmean(m) / np.nanmean(p)),
                     "coverage_p10_p90": float(np.mean(c))})
    print(f"{len(times)} origins {times[0]:%Y-%m-%d} … {times[-1]:%Y-%m-%d}, {len(ids)} sites, "
          f"{time.perf_counter() - t0:.0f} s\n")
    print("| lead | MAE (MW) | physics-only MAE (MW) | ratio | P10–P90 coverage |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['band']} | {r['mae_mw']:.2f} | {r['physics_mae_mw']:.2f} | {r['ratio']:.3f} | "
              f"{r['coverage_p10_p90']:.3f} |")
    if a.out:
        with open(a.out, "w") as fh:
            json.dump(rows, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
