"""Month-ahead backtest of the system-load forecast on the public PJM zonal load files.

    python scripts/bench_system_load.py [--data ../shared/data/pjm_zonal_load] [--samples 200] [--out FILE.json]

For DOM, COMED and PJME: one forecast issued at local midnight (America/New_York)
on the first day of each of the last 12 calendar months that the file covers in
full, fitted on everything before it, covering that month. Scored on the hours
the file has: MAE (MW), MAPE %, P10–P90 coverage, the absolute error at the
month's actual peak hour (P50 there), and the absolute error of the month's peak
(median over sample paths of each path's maximum, against the actual maximum).
Baseline: seasonal naive by year, the same UTC hour 364 days earlier (weekday-aligned).
"""

from __future__ import annotations

import os

# Small dense systems (P ≈ 200): one BLAS thread is fastest, and a shared machine is not oversubscribed.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from forecast.price.system_load import SystemLoadModel  # noqa: E402
from forecast.price.zonal_load import read_pjm_zonal_load  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "pjm_zonal_load"
ZONES = ("DOM", "COMED", "PJME")
TZ = "America/New_York"
NAIVE_LAG = pd.Timedelta(days=364)


def issue_months(last_ts: pd.Timestamp, n: int = 12) -> list[pd.Timestamp]:
    """Local month starts of the last n months fully covered by data ending at last_ts (UTC hour-beginning)."""
    end_local = (last_ts + pd.Timedelta(hours=1)).tz_convert(TZ)
    last_start = end_local.tz_localize(None).to_period("M").to_timestamp()
    if pd.Timestamp(last_start + pd.offsets.MonthBegin(1)).tz_localize(TZ) > end_local:
        last_start -= pd.offsets.MonthBegin(1)
    starts = pd.date_range(end=last_start, periods=n, freq="MS")
    return [s.tz_localize(TZ) for s in starts]


def score_month(y: pd.Series, start: pd.Timestamp, n_samples: int) -> dict:
    """Fit before start, forecast the local month, score model and seasonal naive."""
    end = start + pd.offsets.MonthBegin(1)
    hours = pd.date_range(start.tz_convert("UTC"), end.tz_convert("UTC"), freq="h", inclusive="left")
    issued = start.tz_convert("UTC")
    f = SystemLoadModel().fit(y, until=issued).forecast(issued, hours, n_samples=n_samples, seed=0)
    act = y.reindex(hours).to_numpy()
    naive = y.reindex(hours - NAIVE_LAG).to_numpy()
    ok = np.isfinite(act) & np.isfinite(naive)  # both models scored on the same hours
    peak = int(np.nanargmax(np.where(ok, act, -np.inf)))
    lo, p50, hi = f.quantiles[:, 0], f.quantiles[:, 1], f.quantiles[:, 2]  # levels 0.1, 0.5, 0.9
    month_peak = float(np.median(np.nanmax(np.where(ok[None, :], f.samples, np.nan), axis=1)))

    def scores(pred: np.ndarray, peak_value: float) -> dict:
        err = pred[ok] - act[ok]
        return {"mae": float(np.mean(np.abs(err))), "mape": float(100 * np.mean(np.abs(err) / act[ok])),
                "peak_hour_abs_err": float(abs(pred[peak] - act[peak])),
                "month_peak_abs_err": float(abs(peak_value - act[peak]))}

    model = scores(p50, month_peak) | {"coverage": float(np.mean((act[ok] >= lo[ok]) & (act[ok] <= hi[ok])))}
    return {"month": f"{start:%Y-%m}", "issued_at": issued.isoformat(), "hours": int(ok.sum()),
            "peak_hour": hours[peak].isoformat(), "actual_peak_mw": float(act[peak]), "model": model,
            "naive": scores(naive, float(np.nanmax(np.where(ok, naive, np.nan)))), "source": f.source}


def bench_zone(path: Path, n_samples: int) -> dict:
    read = read_pjm_zonal_load(path)
    y = pd.Series(read.frame["load_mw"].to_numpy(), index=pd.DatetimeIndex(read.frame["ts"]))
    months = [score_month(y, s, n_samples) for s in issue_months(y.index[-1])]
    agg = {}
    for who in ("model", "naive"):
        keys = months[0][who].keys()
        w = np.array([m["hours"] for m in months], float)
        agg[who] = {k: float(np.average([m[who][k] for m in months], weights=w if k in ("mae", "mape", "coverage")
                                        else None)) for k in keys}
    return {"zone": read.report.zone, "file": str(path), "reader": read.report.text(), "months": months, "mean": agg}


def table(results: list[dict]) -> str:
    lines = ["| zone | model | MAE MW | MAPE % | P10–P90 coverage | peak-hour abs err MW | month-peak abs err MW |",
             "|---|---|---|---|---|---|---|"]
    for r in results:
        for who, name in (("model", "system-load model P50"), ("naive", "seasonal naive 364 d")):
            m = r["mean"][who]
            cov = f"{m['coverage']:.3f}" if "coverage" in m else "–"
            lines.append(f"| {r['zone']} | {name} | {m['mae']:.0f} | {m['mape']:.2f} | {cov} | "
                         f"{m['peak_hour_abs_err']:.0f} | {m['month_peak_abs_err']:.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--out", default=None, help="write the results as JSON here")
    a = ap.parse_args(argv)
    files = [Path(a.data) / f"{z}_hourly.csv" for z in ZONES]
    if not all(f.exists() for f in files):
        print(f"PJM zonal load files not found under {a.data}; nothing to benchmark", file=sys.stderr)
        return 1
    t0 = time.perf_counter()
    results = [bench_zone(f, a.samples) for f in files]
    wall = time.perf_counter() - t0
    print(table(results))
    print(f"\n12 month-ahead forecasts per zone, {a.samples} sample paths each; wall {wall:.0f} s, "
          f"load average {os.getloadavg()[0]:.1f}")
    if a.out:
        Path(a.out).write_text(json.dumps({"wall_s": wall, "n_samples": a.samples, "zones": results}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
