"""LightGBM quantile baseline vs seasonal naive (24 h, 168 h) on real cluster occupancy.

Daily origins (at 00:00 UTC) over the last 20% of hours, horizon 24 h, training
only on origins whose targets end before each test origin (the model is refit
every ``--refit`` test origins on an expanding window). Prints a table.

    python scripts/bench_baselines.py [--data ../shared/data] [--refit 7]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.evaluation import metrics
from forecast.data.clusters import read_philly, read_venus
from forecast.models.gbm import GBMForecaster

Q = (0.1, 0.5, 0.9)


def seasonal_naive(y: np.ndarray, origins: np.ndarray, horizon: int, period: int) -> np.ndarray:
    """(N, H): y[i + h − 1 − period·ceil(h/period)], i.e. the last observed value of the same phase."""
    h = np.arange(1, horizon + 1)
    back = period * np.ceil(h / period).astype(int)
    return y[origins[:, None] + h[None, :] - 1 - back[None, :]]


def run(name: str, ts: pd.Series, y: np.ndarray, horizon: int, refit: int) -> list[dict]:
    T = y.size
    start = int(np.floor(0.8 * T))
    hours = ts.dt.hour.to_numpy()
    test = np.array([i for i in range(start, T - horizon + 1) if hours[i] == 0])
    valid = np.array([np.isfinite(y[i: i + horizon]).all() for i in test])
    test = test[valid]
    gbm = GBMForecaster(quantiles=Q, horizon=horizon, calendar_start=ts.iloc[0])
    preds = []
    t0 = time.perf_counter()
    for k in range(0, test.size, refit):
        block = test[k: k + refit]
        first = block[0]
        train = np.arange(gbm.min_history, first - horizon + 1)  # targets end before the origin
        gbm.fit(y[:first], None, train)
        preds.append(gbm.predict(y, None, block))  # predict slices y[:i] per origin
    fit_s = time.perf_counter() - t0
    fq = np.concatenate(preds)  # (N, H, Q)
    actual = np.stack([y[i: i + horizon] for i in test])  # (N, H)
    rows = []
    for label, f in (("seasonal_naive_24", seasonal_naive(y, test, horizon, 24)),
                     ("seasonal_naive_168", seasonal_naive(y, test, horizon, 168)),
                     ("lightgbm_p50", fq[..., 1])):
        ok = np.isfinite(f).all(axis=1)
        rows.append({"series": name, "model": label, "n_origins": int(ok.sum()),
                     "mae": metrics.mae(actual[ok], f[ok]), "rmse": metrics.rmse(actual[ok], f[ok]),
                     "smape": metrics.smape(actual[ok], f[ok])})
    rows[-1]["pinball"] = metrics.pinball(actual, fq, np.array(Q))
    rows[-1]["coverage_p10_p90"] = metrics.coverage(actual, fq[..., 0], fq[..., -1])
    rows[-1]["seconds"] = fit_s
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "data"))
    ap.add_argument("--horizon", type=int, default=24)
    ap.add_argument("--refit", type=int, default=7)
    a = ap.parse_args()
    d = Path(a.data) / "clusters"
    rows = []
    ph, _ = read_philly(d / "philly_node_sequence_hourly_mean.csv")
    # hours flagged as outages / off-nominal totals are not occupancy readings: mask them as missing
    y = ph["occupancy"].where(ph["quality"] == "ok").to_numpy()
    rows += run("philly_occupancy", ph["ts"], y, a.horizon, a.refit)
    ve, _ = read_venus(d / "venus_cluster_throughput_10min.csv")
    rows += run("venus_occupancy", ve["ts"], ve["occupancy"].to_numpy(), a.horizon, a.refit)
    df = pd.DataFrame(rows)
    pd.set_option("display.width", 200)
    print(df.to_string(index=False, float_format=lambda v: f"{v:.4f}"))


if __name__ == "__main__":
    main()
