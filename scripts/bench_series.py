"""series-bench on the real cluster series (Philly, Venus) at a 24 h horizon: learned model vs seasonal
naive (24 h, 168 h) and LightGBM, with run times. Prints a table.

Prepared CSVs (written to --work, never into the repository):
- philly.csv: hourly occupancy = active / total nodes from ``read_philly``; hours whose
  ``quality`` is not ``ok`` (outages, zero active, off-nominal totals) are left empty;
- venus.csv: hourly ``running_gpus`` / peak (``occupancy`` of ``read_venus``), the running
  GPU level rebuilt from the 10-minute start/end counts; incomplete hours left empty.

``--tune`` drops the last 20% of hours first, so that the benchmark's test period lies
entirely before the real one: hyper-parameters are chosen on that, never on the real test.

    python scripts/bench_series.py [--data ../shared/data] [--tune] [--last-days 35] [-- extra series-bench args]

Settings chosen with --tune (test period before the real one): ``-- --model-history 48 --ensemble 5``.

The table has each series' Diebold–Mariano p-value (HLN-corrected, two-sided) of the learned model
against the best seasonal naive and LightGBM, with the verdict from the model's side ("better",
"worse", "level" when not significant at 5%). Optional peers: ``-- --peers autoets,mstl,nhits``
(skipped, with the reason, when their library is not installed).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.data.clusters import read_philly, read_venus
from forecast.cli import main as forecast


def prepare(data: Path, work: Path, tune: bool, last_days: int = 0) -> dict[str, Path]:
    work.mkdir(parents=True, exist_ok=True)
    ph, _ = read_philly(data / "clusters" / "philly_node_sequence_hourly_mean.csv")
    ph = pd.DataFrame({"ts": ph["ts"], "occupancy": ph["occupancy"].where(ph["quality"] == "ok")})
    ve, _ = read_venus(data / "clusters" / "venus_cluster_throughput_10min.csv")
    ve = pd.DataFrame({"ts": ve["ts"], "occupancy": ve["occupancy"]})
    out = {}
    for name, df in (("philly", ph), ("venus", ve)):
        if tune:
            df = df.iloc[: int(np.floor(0.8 * len(df)))]
        if last_days:  # the series cut to its last N days (a new site's few weeks of history)
            df = df[df["ts"] >= df["ts"].max() - pd.Timedelta(days=last_days) + pd.Timedelta(hours=1)]
        df = df.assign(ts=df["ts"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
        p = work / f"{name}{'_tune' if tune else ''}{f'_last{last_days}d' if last_days else ''}.csv"
        df.to_csv(p, index=False)
        out[name] = p
    return out


def _p(b: dict) -> float:
    """The Diebold–Mariano p-value of the learned model against a contender (NaN when untestable or absent)."""
    p = b.get("dm_p_value")
    return float("nan") if p is None else float(p)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "data"))
    ap.add_argument("--work", default="/tmp/forecast-series-bench")
    ap.add_argument("--tune", action="store_true")
    ap.add_argument("--series", default="philly,venus")
    ap.add_argument("--last-days", type=int, default=0, help="cut each series to its last N days (0 = in full)")
    ap.add_argument("extra", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    extra = [x for x in a.extra if x != "--"]
    paths = prepare(Path(a.data), Path(a.work), a.tune, a.last_days)
    rows = []
    for name in a.series.split(","):
        out = Path(a.work) / f"out_{name}{'_tune' if a.tune else ''}{f'_last{a.last_days}d' if a.last_days else ''}"
        t0 = time.perf_counter()
        rc = forecast(["series-bench", "--data", str(paths[name]), "--timestamp", "ts", "--target", "occupancy",
                       "--horizon", "24", "--out", str(out), *extra])
        if rc:
            sys.exit(rc)
        m = json.loads((out / "metrics.json").read_text())
        naive = min(("seasonal_naive_24h", "seasonal_naive_168h"), key=lambda k: m["baselines"][k]["mae"])
        best = m["baselines"][naive]["mae"]
        gbm = m["baselines"].get("lightgbm", {})
        rows.append({"series": name, "n_origins": m["n_origins"], "model_mae": m["mae"],
                     "best_naive": naive, "naive_mae": best, "lightgbm_mae": gbm.get("mae", float("nan")),
                     "model_vs_naive_%": 100 * (m["mae"] / best - 1),
                     "dm_p_naive": _p(m["baselines"][naive]), "vs_naive": m["baselines"][naive]["dm_vs_model"],
                     "dm_p_lightgbm": _p(gbm), "vs_lightgbm": gbm.get("dm_vs_model", "-"),
                     "model_cov": m["coverage_p10_p90"], "lightgbm_cov": gbm.get("coverage_p10_p90", float("nan")),
                     "model_pinball": m["pinball"], "lightgbm_pinball": gbm.get("pinball", float("nan")),
                     "seconds": time.perf_counter() - t0})
    pd.set_option("display.width", 250)
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.4f}"))


if __name__ == "__main__":
    main()
