"""Benchmark the pledge accounting: one year hourly × N sites × M joint samples on the CPU.

    python scripts/bench_pledge.py                 # 10 sites, 1,000 samples, 2026 (8,760 local hours)
    python scripts/bench_pledge.py --sites 10 --samples 1000 --chunk 25 --report

Inputs go through the same readers users hit: a draw forecast parquet in the
forecast output format (diurnal p10/p50/p90 per site) and a grid-contract CSV of
system load (real PJM RTO 2025 metered load moved to 2026 when
../shared/data/pjm_rto_2025 is present, otherwise a synthetic diurnal/seasonal
load). Prints a table of stage timings (seconds, wall clock).
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.pledge import api
from forecast.pledge.accounting import central_lines, hourly_central, monte_carlo
from forecast.pledge.calendar import billing_months, hourly_index
from forecast.pledge.config import SiteCfg, load_config
from forecast.pledge.inputs import build_inputs

PJM = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "pjm_rto_2025" / "hrl_load_metered.csv"


def system_load(ts: pd.DatetimeIndex) -> tuple[np.ndarray, str]:
    if PJM.exists():
        df = pd.read_csv(PJM, usecols=["datetime_beginning_utc", "mw"])
        t = pd.to_datetime(df["datetime_beginning_utc"], format="%m/%d/%Y %I:%M:%S %p", utc=True) + pd.Timedelta(days=365)
        s = pd.Series(df["mw"].to_numpy(float), index=t).groupby(level=0).mean().reindex(ts).interpolate(limit_direction="both")
        return s.to_numpy(), f"PJM RTO 2025 metered load (+365 d) from {PJM}"
    h = ts.tz_convert("America/New_York")
    doy, hod = h.dayofyear.to_numpy(), h.hour.to_numpy()
    load = 95_000 + 25_000 * np.cos(2 * np.pi * (doy - 200) / 365) ** 2 + 12_000 * np.sin(np.pi * np.clip(hod - 6, 0, 16) / 16)
    return load, "synthetic diurnal/seasonal load"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sites", type=int, default=10)
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--chunk", type=int, default=25)
    ap.add_argument("--report", action="store_true", help="also render the HTML report")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-pledge-"))
    months = billing_months("2026-01", 12, "America/New_York")
    ts = hourly_index(months)
    rng = np.random.default_rng(0)
    hod = ts.tz_convert("America/New_York").hour.to_numpy()
    rows = []
    for s in range(a.sites):  # forecast output format, one series per site
        cap = float(rng.uniform(200, 1000))
        p50 = cap * (0.8 + 0.05 * np.sin(2 * np.pi * (hod + s) / 24))
        rows.append(pd.DataFrame({"series_id": f"site-{s:02d}", "issued_at": ts[0] - pd.Timedelta(days=1), "ts": ts,
                                  "horizon_h": np.arange(len(ts)) + 1, "p10": p50 * 0.92, "p50": p50,
                                  "p90": np.minimum(p50 * 1.05, cap), "model": "bench", "model_version": "0",
                                  "run_id": "bench"}))
    pd.concat(rows).to_parquet(tmp / "draw.parquet", index=False)
    load, load_src = system_load(ts)
    pd.DataFrame({"zone": "RTO", "ts": ts.strftime("%Y-%m-%dT%H:%M:%SZ"), "price": 40.0, "load_mw": load,
                  "load_forecast_mw": load}).to_csv(tmp / "grid.csv", index=False)
    app, resolved = load_config(["pledge=pjm_portfolio", "tracking=false", f"out_dir={tmp}",
                                 f"pledge.montecarlo.samples={a.samples}", f"pledge.montecarlo.chunk={a.chunk}",
                                 "pledge.draw.source=file", f"pledge.draw.path={tmp / 'draw.parquet'}",
                                 "pledge.system_load.source=file", f"pledge.system_load.path={tmp / 'grid.csv'}",
                                 "pledge.upgrades=[]"])
    cap = pd.read_parquet(tmp / "draw.parquet").groupby("series_id")["p90"].max() * 1.1
    sites = [SiteCfg(site_id=sid, capacity_mw=float(c), plc_mw=float(c) * 0.9) for sid, c in cap.items()]
    cfg = dataclasses.replace(app.pledge, sites=sites)
    times = {}
    t0 = time.perf_counter()
    inp = build_inputs(cfg)
    times["read + validate inputs (parquet draw, grid csv)"] = time.perf_counter() - t0
    curve = api.price_response(cfg)
    t0 = time.perf_counter()
    h = hourly_central(cfg, inp, curve)
    lines, _ = central_lines(cfg, inp, h)
    times["central line items (Decimal ledger)"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    monte_carlo(cfg, inp, curve, lines, keep_paths=False)
    times[f"Monte Carlo: {a.samples} joint samples"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    monte_carlo(cfg, inp, curve, lines, keep_paths=True)
    times[f"Monte Carlo + per-hour fan quantiles"] = time.perf_counter() - t0
    if a.report:
        t0 = time.perf_counter()
        app2 = dataclasses.replace(app, pledge=cfg, report=True)
        api.forecast_run(app2, resolved, curve=curve, inputs=inp)
        times["full forecast run (plan, MC, ledger, CSV, HTML report)"] = time.perf_counter() - t0
    S, T = inp.q.shape[:2]
    print(f"pledge benchmark: {S} sites × {T} hours ({months[0].label} … {months[-1].label}, local months) × "
          f"{a.samples} joint samples, chunk {a.chunk}; system load: {load_src}")
    print(f"{'stage':<58} {'seconds':>8}")
    for k, v in times.items():
        print(f"{k:<58} {v:8.2f}")


if __name__ == "__main__":
    main()
