"""Wall time of ``forecast series-bench`` on a year of hourly data (target: under 15 minutes on 2 CPU cores).

Writes a synthetic year (8,760 h: daily and weekly cycles, a planned on/off load known
ahead, noise) to --work and runs the benchmark with its defaults, with and without the
known-future column. Prints a table (seconds, origins, refits, MAE of model and baselines).

    OMP_NUM_THREADS=1 python scripts/bench_series_speed.py [--work /tmp/series-speed] [-- extra args]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.cli import main as forecast


def year_csv(path: Path, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    ts = pd.date_range("2025-01-01", periods=8760, freq="h", tz="UTC")
    h = np.arange(len(ts))
    plan = np.repeat(rng.random(len(ts) // 6 + 1) < 0.4, 6)[: len(ts)].astype(float)
    y = 100 + 15 * np.sin(2 * np.pi * h / 24) + 8 * np.sin(2 * np.pi * h / 168) + 40 * plan
    y = y + np.cumsum(rng.normal(0, 0.5, len(ts))) + rng.normal(0, 3, len(ts))
    pd.DataFrame({"ts": ts.strftime("%Y-%m-%dT%H:%M:%SZ"), "mw": y, "plan": plan}).to_csv(path, index=False)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", default="/tmp/forecast-series-speed")
    ap.add_argument("extra", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    extra = [x for x in a.extra if x != "--"]
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    csv = year_csv(work / "year.csv")
    rows = []
    for label, kf in (("history only", []), ("with known-future", ["--known-future", "plan"])):
        out = work / label.replace(" ", "_")
        t0 = time.perf_counter()
        rc = forecast(["series-bench", "--data", str(csv), "--timestamp", "ts", "--target", "mw", "--out", str(out),
                       *kf, *extra])
        if rc:
            raise SystemExit(rc)
        m = json.loads((out / "metrics.json").read_text())
        rows.append({"run": label, "seconds": time.perf_counter() - t0, "origins": m["n_origins"],
                     "refits": len(m["protocol"]["refits"]), "model_mae": m["mae"],
                     **{f"{k}_mae": v["mae"] for k, v in m["baselines"].items()}})
    pd.set_option("display.width", 200)
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
