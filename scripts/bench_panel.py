"""series-bench with its defaults on a panel of public real series, in full and cut to their last 5 weeks.

    python scripts/bench_panel.py [--data ../shared/data] [--work /tmp/forecast-panel] [--cuts full,35]
                                  [--series philly,venus,...] [--shift DAYS] [--out FILE.json]
                                  [-- extra series-bench args]

``--shift DAYS`` ends every series DAYS days before its end: development cuts, for choosing settings on data
before the reported cuts (``--shift 35 --cuts 35`` is the 5 weeks before the reported last 5 weeks).

Series (CSV files written to --work, never into the repository; times in UTC with offsets):
- philly: Philly cluster occupancy (active / total nodes; hours whose quality is not ok left empty);
- venus: Venus cluster running GPUs / peak (``read_venus``);
- alibaba: Alibaba GPU cluster 2023 occupancy (``openb_occupancy``: GPUs in use / node-list GPUs);
- cornell_a100, cornell_h100: mean GPU power (W) of the Cornell BioHPC 1×A100 and 2×H100 servers;
- pjm_pjme, pjm_dom, pjm_comed: PJM zonal metered load (MW), the last 365 days of each file ("full" here: a
  year, since the files hold up to 16 years).

For each series and cut: MAE of the headline forecast (series-bench's validated choice) / MAE of the best
seasonal naive (24 h or 168 h, the lower), the Diebold–Mariano p-value (HLN) against that naive, what the
validated choice picked, and seconds. Then the median ratio and the worst.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.cli import main as forecast
from forecast.data.clusters import read_philly, read_venus
from forecast.data.gpu_power import read_cornell_usage
from forecast.data.openb import openb_occupancy, read_openb_nodes, read_openb_pods
from forecast.io import atomic_write_text
from forecast.price.zonal_load import read_pjm_zonal_load

SERIES = ("philly", "venus", "alibaba", "cornell_a100", "cornell_h100", "pjm_pjme", "pjm_dom", "pjm_comed")


def read_series(name: str, data: Path) -> pd.DataFrame:
    """(ts UTC, y) of one panel series."""
    if name == "philly":
        ph, _ = read_philly(data / "clusters" / "philly_node_sequence_hourly_mean.csv")
        return pd.DataFrame({"ts": ph["ts"], "y": ph["occupancy"].where(ph["quality"] == "ok")})
    if name == "venus":
        ve, _ = read_venus(data / "clusters" / "venus_cluster_throughput_10min.csv")
        return pd.DataFrame({"ts": ve["ts"], "y": ve["occupancy"]})
    if name == "alibaba":
        pods, _ = read_openb_pods(data / "clusters" / "openb_pod_list_default.csv")
        nodes, _ = read_openb_nodes(data / "clusters" / "openb_node_list_gpu_node.csv")
        occ, _ = openb_occupancy(pods, nodes)
        return pd.DataFrame({"ts": occ["ts"], "y": occ["occupancy"]})
    if name.startswith("cornell_"):
        f = {"cornell_a100": "cbsugpu07_usage_stats.txt", "cornell_h100": "cbsugpu08_usage_stats.txt"}[name]
        df, _ = read_cornell_usage(data / "gpu_power" / f)
        g = df.groupby("ts", as_index=False)["powerave"].mean()  # the server's GPUs, averaged per hour
        return pd.DataFrame({"ts": g["ts"], "y": g["powerave"]})
    zone = name.split("_", 1)[1].upper()
    z = read_pjm_zonal_load(data / "pjm_zonal_load" / f"{zone}_hourly.csv").frame
    z = z[z["ts"] > z["ts"].max() - pd.Timedelta(days=365)]
    return pd.DataFrame({"ts": z["ts"], "y": z["load_mw"]})


def cut_series(df: pd.DataFrame, last_days: int, shift_days: int = 0) -> pd.DataFrame:
    """The last ``last_days`` days (0: all) of the series as it stood ``shift_days`` days before its end."""
    if shift_days:  # a development cut
        df = df[df["ts"] <= df["ts"].max() - pd.Timedelta(days=shift_days)]
    if last_days:
        df = df[df["ts"] >= df["ts"].max() - pd.Timedelta(days=last_days) + pd.Timedelta(hours=1)]
    return df


def write_csv(df: pd.DataFrame, path: Path) -> Path:
    out = df.assign(ts=pd.DatetimeIndex(df["ts"]).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ"))
    atomic_write_text(path, out.to_csv(index=False))
    return path


def run_one(csv: Path, out: Path, extra: list[str]) -> dict:
    t0 = time.perf_counter()
    rc = forecast(["series-bench", "--data", str(csv), "--timestamp", "ts", "--target", "y", "--out", str(out),
                   "--no-report", *extra])
    if rc != 0:
        raise SystemExit(f"series-bench failed on {csv} (exit {rc})")
    m = json.loads((out / "metrics.json").read_text())
    b = m["baselines"]
    naive = min(("seasonal_naive_24h", "seasonal_naive_168h"), key=lambda k: b[k]["mae"])
    return {"origins": m["n_origins"], "mae": m["mae"], "best_naive": naive, "naive_mae": b[naive]["mae"],
            "ratio": m["mae"] / b[naive]["mae"], "dm_p": b[naive]["dm_p_value"], "dm": b[naive]["dm_vs_model"],
            "chosen": m.get("selection", {}).get("chosen", {}), "start": m["protocol"].get("start", {}).get("init"),
            "seconds": round(time.perf_counter() - t0, 1)}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "data"))
    ap.add_argument("--work", default="/tmp/forecast-panel")
    ap.add_argument("--cuts", default="full,35", help="full and/or a number of last days")
    ap.add_argument("--series", default=",".join(SERIES))
    ap.add_argument("--shift", type=int, default=0,
                    help="end every series this many days before its end (development cuts before the reported ones)")
    ap.add_argument("--out", default="")
    a = ap.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    data, work = Path(a.data), Path(a.work)
    rows = []
    for name in a.series.split(","):
        df = read_series(name, data)
        for cut in a.cuts.split(","):
            days = 0 if cut == "full" else int(cut)
            tag = f"{name}_{cut}" + (f"_shift{a.shift}" if a.shift else "")
            part = cut_series(df, days, a.shift)
            if len(part) < 24 * 21:
                print(f"{name:<13} {cut:>4}  skipped: under 21 days left after --shift {a.shift}", flush=True)
                continue
            csv = write_csv(part, work / f"{tag}.csv")
            r = {"series": name, "cut": cut, "shift_days": a.shift, "hours": len(part),
                 **run_one(csv, work / tag, extra)}
            rows.append(r)
            print(f"{name:<13} {cut:>4}  {r['origins']:>4} origins  MAE {r['mae']:.4g}  {r['best_naive']} "
                  f"{r['naive_mae']:.4g}  ratio {r['ratio']:.3f}  DM p {r['dm_p'] if r['dm_p'] is not None else 'n/a'} "
                  f"({r['dm']})  chosen {r['chosen']}  {r['seconds']} s", flush=True)
    ratios = [r["ratio"] for r in rows]
    print(f"\n| series | cut | origins | MAE / best seasonal naive | DM p (vs that naive) | verdict | chosen | s |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        chosen = ", ".join(f"{k} {v}" for k, v in r["chosen"].items())
        print(f"| {r['series']} | {r['cut']} | {r['origins']} | {r['ratio']:.3f} | "
              f"{r['dm_p'] if r['dm_p'] is not None else 'n/a'} | {r['dm']} | {chosen} | {r['seconds']} |")
    print(f"\nmedian ratio {np.median(ratios):.3f}, worst {max(ratios):.3f} ({len(rows)} runs)")
    if a.out:
        atomic_write_text(Path(a.out), json.dumps({"rows": rows, "median_ratio": float(np.median(ratios)),
                                                   "max_ratio": float(max(ratios)), "extra": extra}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
