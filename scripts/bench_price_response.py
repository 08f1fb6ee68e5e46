"""ΔP of the built-in scenario's campuses under each price response the pledge can use.

    python scripts/bench_price_response.py [--month 2025-07] [--draws 30] [--issue 2018-07-01T00:00-04:00]

For one local month: the campuses' hourly draw D from the scenario's meter
(``forecast.data.simulate.simulate(ScenarioConfig())``: its sites table and meter), the
others' load O = PJM RTO 2025 metered load (the campuses are added on top of it), and per
hour ΔP = S(O + D) − S(O) in $/MWh for

- configured: the worked example's parametric curve (conf/pledge/worked_example.yaml);
- fitted: the supply curve fitted on the PJM RTO 2025 exports (net load, ``--draws`` bootstrap
  draws), on gross load through NetLoadResponse with each hour's 2025 solar + wind;
- model: the LEAR members of the day-ahead price model fitted on epftoolbox PJM.csv before
  ``--issue`` (default 2018-07-01, so the held lagged prices are those of late June), applied day
  by day with those lagged prices held (``beyond_day_ahead=hold_last_days``; the network excluded):
  the asinh members (the pledge's default), and for all campuses also with the N-PIT members.

Prints a markdown table per kind and campus: mean draw, the hourly central ΔP's P10/P50/P90 over
the month's hours, the mean ΔP with its P10–P90 over the response's parameter draws (model: its
members), and ΔP in the month's peak-load hour with its P10–P90 over the draws. Needs
../shared/data/pjm_rto_2025 and ../shared/data/epf/PJM.csv.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
TZ = "America/New_York"


def month_hours(month: str) -> pd.DatetimeIndex:
    start = pd.Timestamp(f"{month}-01").tz_localize(TZ)
    return pd.date_range(start, start + pd.offsets.MonthBegin(1), freq="h", inclusive="left").tz_convert("UTC")


def campus_draw(ts: pd.DatetimeIndex) -> tuple[pd.DataFrame, list[str]]:
    """(hours × site) metered draw MW of the built-in scenario, and the site ids (from its sites table)."""
    from forecast.data.simulate import ScenarioConfig, simulate

    sc = simulate(ScenarioConfig())
    sites = list(dict.fromkeys(sc.sites["site_id"]))
    wide = sc.meter.pivot(index="ts", columns="site_id", values="power_mw").reindex(ts)
    if wide[sites].isna().any().any():
        raise SystemExit(f"the scenario's meter does not cover {ts[0]} … {ts[-1]}; pick a month in 2024–2025")
    return wide[sites], sites


def responses(draws: int, issue: str, grid: pd.DataFrame) -> dict:
    from forecast.pledge import api
    from forecast.pledge.config import load_config
    from forecast.price.model_response import fit_model_response
    from forecast.price.response import RenewablesProfile
    from forecast.price.supply_curve import FittedSupplyCurve

    out = {}
    app, _ = load_config(["pledge=worked_example", "tracking=false"])
    out["configured"] = api.price_response(app.pledge)
    t = time.perf_counter()
    curve = FittedSupplyCurve.fit(grid, n_draws=draws, seed=0)
    out["fitted"] = curve.gross(RenewablesProfile.grid_hours(grid), source="PJM RTO 2025 solar_gen + wind_gen")
    print(f"fitted curve: {len(grid)} h, {draws} draws, {time.perf_counter() - t:.0f} s")
    t = time.perf_counter()
    out["model"] = fit_model_response(str(DATA / "epf" / "PJM.csv"), issue, beyond="hold_last_days", timezone=TZ)
    out["model, asinh + N-PIT"] = fit_model_response(str(DATA / "epf" / "PJM.csv"), issue, transforms=("asinh", "npit"),
                                                     windows=(56, 84, 182, 364, 728, 1092, 1456),
                                                     beyond="hold_last_days", timezone=TZ)
    print(f"model: {out['model'].source}; with N-PIT: {out['model, asinh + N-PIT'].n_draws} members "
          f"({time.perf_counter() - t:.0f} s)")
    return out


def bands(resp, others: np.ndarray, d: np.ndarray, ts: pd.DatetimeIndex, peak: int) -> dict:
    from forecast.price.response import delta_price

    central = delta_price(resp, others + d, d, ts)  # S(O + D) − S(O)
    idx = np.arange(resp.n_draws)
    per = delta_price(resp, (others + d)[None], d, ts, draw=idx)  # (N, T)
    q = np.quantile
    return {"hourly": q(central, [0.1, 0.5, 0.9]), "mean": central.mean(), "mean_band": q(per.mean(axis=1), [0.1, 0.9]),
            "peak": central[peak], "peak_band": q(per[:, peak], [0.1, 0.9]), "n": resp.n_draws}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--month", default="2025-07", help="local month YYYY-MM within the scenario (2024–2025)")
    ap.add_argument("--draws", type=int, default=30, help="bootstrap draws of the fitted curve")
    ap.add_argument("--issue", default="2018-07-01T00:00-04:00", help="the model is fitted on PJM.csv before this")
    a = ap.parse_args()
    from forecast.price.readers import read_pjm_rto

    if not (DATA / "pjm_rto_2025").is_dir() or not (DATA / "epf" / "PJM.csv").is_file():
        raise SystemExit(f"needs {DATA / 'pjm_rto_2025'} and {DATA / 'epf' / 'PJM.csv'}")
    grid = read_pjm_rto(DATA / "pjm_rto_2025").frame
    ts = month_hours(a.month)
    load = grid.set_index("ts")["load_mw"].reindex(ts)
    if load.isna().any():
        print(f"PJM RTO load misses {int(load.isna().sum())} hours of {a.month}; filled by interpolation")
    others = load.interpolate(limit_direction="both").to_numpy()
    draw, sites = campus_draw(ts)
    peak = int(np.argmax(others))
    print(f"{a.month}: {len(ts)} h, PJM RTO load {others.mean() / 1000:.1f} GW mean, peak {others[peak] / 1000:.1f} GW "
          f"at {ts[peak].tz_convert(TZ):%Y-%m-%d %H:%M %Z}; campuses {', '.join(sites)}\n")
    rows = []
    for kind, resp in responses(a.draws, a.issue, grid).items():
        for who in ["all campuses", *([] if "N-PIT" in kind else sites)]:
            d = (draw.sum(axis=1) if who == "all campuses" else draw[who]).to_numpy()
            b = bands(resp, others, d, ts, peak)
            rows.append(f"| {kind} | {who} | {d.mean():.0f} | {b['hourly'][0]:.3f} / {b['hourly'][1]:.3f} / "
                        f"{b['hourly'][2]:.3f} | {b['mean']:.3f} ({b['mean_band'][0]:.3f}–{b['mean_band'][1]:.3f}) | "
                        f"{b['peak']:.3f} ({b['peak_band'][0]:.3f}–{b['peak_band'][1]:.3f}) | {b['n']} |")
    print("| kind | campus | mean draw MW | hourly ΔP P10 / P50 / P90 | mean ΔP (P10–P90 over draws) | "
          "peak-hour ΔP (P10–P90) | draws |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print("\nΔP in $/MWh. Hourly P10/P50/P90: over the month's hours, central curve. Draws: the response's parameter "
          "draws (fitted: bootstrap over days; configured: log-normal parameter draws; model: its LEAR members).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
