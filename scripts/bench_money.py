#!/usr/bin/env python
"""Backtest of the money: pre-computed P10/P50/P90 of each pledge line against the amount settled afterwards.

    python scripts/bench_money.py [--months 6] [--samples 300] [--out FILE.json]

On the built-in scenario, for each of the last ``--months`` full local billing months of the data: issued at
00:00 UTC two days before the month starts, the chain ``forecast run`` takes (draw forecast: the learned model
trained once before the first issue time, blended into the long-horizon model fitted at each issue time;
per zone the system-load paths, the price curve fitted on the zone's grid hours before the issue time, the
PLC) gives the forecast ledger with its bands; the settled ledger of the same config then books the metered
draw and the actual system load through the same formulas and the same fitted curve. Reported: per line
kind, how often the settled amount lies inside the forecast P10–P90 (lines with a band), and the mean error
of the P50 (forecast − settled) in USD and relative to the settled amount.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.config import compose, to_object
from forecast.data.inputs import load_inputs
from forecast.io import atomic_write
from forecast.models import long_horizon
from forecast.pipeline.draw import DrawForecast, blend, month_window
from forecast.pipeline.predict import forecast_frame
from forecast.pipeline.run import RunConfig, zone_app
from forecast.pledge import api
from forecast.pledge.calendar import billing_months

HOUR = pd.Timedelta(hours=1)
TZ = "America/New_York"


def draw_file(cfg, inp, t, month, learned: np.ndarray, folder: Path) -> DrawForecast:
    """The month's draw forecast issued at t (learned 168 h blended into the long-horizon model), as a file."""
    end = month.end_utc
    H = int((end - t) / HOUR)
    lh = long_horizon.fit(inp.metas, inp.jobs, inp.meter, inp.grid, t, H, tuple(cfg.model.quantiles),
                          origin_every_h=cfg.run.origin_every_h, window=month_window(t, month.start_utc, end))
    ids, _, q_long = lh.forecast(inp.jobs)
    q = blend(learned, q_long, cfg.run.blend_h)  # (S, H, Q) MW
    frame = forecast_frame(q, ids, t, ["p10", "p50", "p90"], "blend:learned+long_horizon", "backtest", "")
    path = folder / f"draw_{t:%Y%m%d}.parquet"
    atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False))
    return DrawForecast(path, frame, t, end, "backtest", dependence=lh.dependence)


def line_rows(fc, st, month: str, zone: str) -> list[dict]:
    """Per line of the forecast ledger: its band and P50 against the settled amount of the same line."""
    settled = {ln.line_id: float(ln.amount) for ln in st.accounting.lines}
    rows = []
    for ln in fc.accounting.lines:
        if ln.category == "memo" or ln.line_id not in settled:
            continue
        rows.append({"month": month, "zone": zone, "line": ln.item, "category": ln.category,
                     "p10": float(ln.p10), "p50": float(ln.p50), "p90": float(ln.p90),
                     "settled": settled[ln.line_id]})
    lo, mid, hi = fc.accounting.bands[(month, "total")]
    rows.append({"month": month, "zone": zone, "line": "TOTAL", "category": "total", "p10": float(lo),
                 "p50": float(mid), "p90": float(hi), "settled": float(st.accounting.total(month))})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--months", type=int, default=6)
    ap.add_argument("--samples", type=int, default=300)
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="bench-money-"))
    cfg = to_object(compose([f"run.out_dir={work / 'run'}", f"tracking.uri=sqlite:///{work / 'mlflow.db'}",
                             f"run.pledge_overrides=['pledge.montecarlo.samples={a.samples}',"
                             "'pledge.price_curve.n_draws=10']"], "run"), RunConfig)
    inp = load_inputs(cfg.data)
    first = (inp.meter["ts"].max() + HOUR).tz_convert(TZ)
    labels = [str(pd.Period(first, "M") - k) for k in range(a.months, 0, -1)]
    months = [billing_months(lab, 1, TZ)[0] for lab in labels]
    issues = [(m.start_utc - pd.Timedelta(days=2)).floor("D") for m in months]
    from bench_draw import learned_forecasts  # the same one-off training before the first issue time

    learned = learned_forecasts(cfg, inp, pd.DatetimeIndex(issues))
    rows = []
    for m, t in zip(months, issues):
        draw = draw_file(cfg, inp, t, m, learned[t], work)
        for zone in sorted({x.zone for x in inp.metas.values()}):
            z = zone_app(cfg, inp, zone, draw, m)
            z.app.out_dir = str(work / "run" / "pledge" / zone / m.label)
            fc = api.forecast_run(z.app, z.resolved)
            st = api.settle_run(dataclasses.replace(z.app, action="settle"), z.resolved)
            rows += line_rows(fc, st, m.label, zone)
    df = pd.DataFrame(rows)
    banded = df[df["p90"] > df["p10"]]
    out = []
    for line, g in banded.groupby("line", sort=False):
        inside = ((g["settled"] >= g["p10"]) & (g["settled"] <= g["p90"])).mean()
        err = (g["p50"] - g["settled"])
        out.append({"line": line, "n": len(g), "coverage_p10_p90": float(inside), "mean_error_usd": float(err.mean()),
                    "mean_error_pct": float(100 * (err / g["settled"].abs().clip(lower=1)).mean())})
    print(f"{len(months)} months {labels[0]} … {labels[-1]}, {df['zone'].nunique()} zones, "
          f"{time.perf_counter() - t0:.0f} s\n")
    print("| line | months × zones | settled inside P10–P90 | mean P50 − settled (USD) | mean error % |")
    print("|---|---|---|---|---|")
    for r in out:
        print(f"| {r['line']} | {r['n']} | {r['coverage_p10_p90']:.2f} | {r['mean_error_usd']:,.0f} | "
              f"{r['mean_error_pct']:.1f} |")
    if a.out:
        Path(a.out).write_text(json.dumps({"summary": out, "rows": rows}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
