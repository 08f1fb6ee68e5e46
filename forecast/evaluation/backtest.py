"""backtest(cfg): the power model issued at many past origins with only what was known then.

Origins: every ``backtest.every_days`` days at ``backtest.at_hour`` UTC from
``backtest.start`` (default: ``data.test_weeks`` before the meter ends), for every
site, each with a full horizon of readings. The learned model is refit per
``backtest.retrain`` (never | every_k | expanding, see :mod:`forecast.evaluation.rolling`);
baselines on the same origins: seasonal naive 24 h / 168 h and physics-only
(residual quantiles from the same pre-origin windows), LightGBM on the same
features (schedule as planned at each origin, calendar, lags), refit on the same
schedule, and peers (NeuralForecast) when installed and asked for.

Outputs under ``out_dir/backtest``: forecasts.parquet (tidy, MW), metrics.json
(aggregate, per site, per horizon), refits.csv, report.html + PNGs; all logged to
MLflow (experiment ``<tracking.experiment>-backtest``).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from forecast import tracking
from forecast.config import Config, compose, to_dict, to_object
from forecast.data.inputs import load_inputs, site_series
from forecast.data.windows import WindowStore, series_of
from forecast.models.lit import seed_everything
from forecast.models.device import resolve
from forecast.io import atomic_write, atomic_write_text
from forecast.models import registry
from forecast.evaluation.rolling import Policy, RollingResult, combine_extras, mase_scales, rolling, score, tidy
from forecast.types import Quantiles

log = logging.getLogger("forecast")
HOUR = pd.Timedelta(hours=1)


@dataclass
class BacktestResult:
    run_id: str
    metrics: dict  # {"aggregate": {model: {metric: v}}, "per_series": ..., "per_horizon": ...} in MW
    refits: pd.DataFrame
    folder: Path
    report: Path | None
    seconds: float
    result: RollingResult


def policy_of(cfg: Config) -> Policy:
    bc, dc = cfg.backtest, cfg.data
    return Policy(retrain=bc.retrain, k=bc.k, window_days=bc.window_days, val_days=bc.val_days or 7 * dc.val_weeks,
                  train_every_h=bc.train_every_h or dc.train_every_h, calibrate=bc.calibrate,
                  warm_start=bc.warm_start, max_epochs=bc.max_epochs, ensemble=bc.ensemble)


def backtest_origins(store: WindowStore, cfg: Config) -> tuple[np.ndarray, pd.Timestamp]:
    """Global issue indices of the backtest origins (all sites) and the first origin time."""
    bc = cfg.backtest
    end = min(s.ts[~np.isnan(s.y)][-1] for s in store.series) + HOUR
    start = pd.Timestamp(bc.start) if bc.start else end - pd.Timedelta(weeks=cfg.data.test_weeks)
    stop = pd.Timestamp(bc.end) if bc.end else None
    parts = []
    for k, s in enumerate(store.series):
        g = store.origins(k, start=start, end=stop, at_hour=bc.at_hour)
        day = ((s.ts[g - store.offsets[k]] - start.floor("D")) // pd.Timedelta(days=1)).to_numpy()
        parts.append(g[day % bc.every_days == 0])
    g = np.concatenate(parts)
    if not len(g):
        raise ValueError(f"no backtest origins from {start} (at {bc.at_hour:02d}:00 UTC with {store.horizon} h of "
                         "meter readings after them): move backtest.start earlier")
    return g, start


def gbm_extra(store: WindowStore, levels: tuple[float, ...], policy: Policy, every_h: int, max_rows: int, seed: int):
    """LightGBM per site, refit at each refit time on origins whose targets end before it."""
    from forecast.models.gbm import GBMForecaster

    dense: dict[int, np.ndarray] = {}  # per site (T, H, C): fut[i] is the schedule as planned at i, built once

    def extra(t0: pd.Timestamp, g: np.ndarray) -> dict[str, np.ndarray]:
        k_of, i_of = series_of(store, g)
        out = np.zeros((len(g), store.horizon, len(levels)))
        for k in np.unique(k_of):
            s = store.series[k]
            i0 = int(np.searchsorted(s.ts, t0))
            m = GBMForecaster(quantiles=levels, horizon=store.horizon, calendar_start=s.ts[0],
                              max_train_rows=max_rows, seed=seed)
            lo = m.min_history
            if policy.retrain == "every_k":
                lo = max(lo, i0 - 24 * policy.window_days)
            train = np.arange(lo, i0 - store.horizon + 1, every_h)  # targets end before t0
            y = s.y.astype(np.float64)
            if k not in dense:
                dense[k] = s.fut.dense()
            fut = dense[k]
            m.fit(y[:i0], fut[:i0], train)
            r = k_of == k
            out[r] = m.predict(y, fut, i_of[r])
        return {"lightgbm": out}

    return extra


def peer_extra(cfg: Config, store: WindowStore, levels: tuple[float, ...]):
    """NeuralForecast peers, only when installed (``pip install .[peers]``); None when not asked for."""
    if not cfg.backtest.peers:
        return None
    try:
        import neuralforecast  # noqa: F401
    except ImportError as e:
        raise ImportError("backtest.peers needs NeuralForecast: pip install '.[peers]' (or set backtest.peers=[])") from e
    from forecast.evaluation.peers import neuralforecast_extra

    return neuralforecast_extra(store, levels, cfg.backtest.peers, cfg.data.val_weeks * 7)


def extra_models(cfg: Config, store: WindowStore, levels: tuple[float, ...], policy: Policy):
    """LightGBM (when ``backtest.lightgbm``) and NeuralForecast peers as one ``extra(t0, g)`` for
    :func:`forecast.evaluation.rolling.rolling`; None when there are none."""
    bc = cfg.backtest
    extras = [e for e in (gbm_extra(store, levels, policy, bc.lightgbm_every_h, bc.lightgbm_max_rows, cfg.trainer.seed)
                          if bc.lightgbm else None, peer_extra(cfg, store, levels)) if e is not None]
    return combine_extras(extras)


def write_outputs(folder: Path, frame: pd.DataFrame, refits: pd.DataFrame, sc: dict) -> None:
    """forecasts.parquet (tidy, MW), refits.csv and metrics.json under ``folder`` (created), each written atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(folder / "forecasts.parquet", lambda tmp: frame.to_parquet(tmp, index=False))
    atomic_write(folder / "refits.csv", lambda tmp: refits.to_csv(tmp, index=False))
    atomic_write_text(folder / "metrics.json", json.dumps(sc, indent=1))


def log_run(cfg: Config, policy: Policy, sc: dict, n_refits: int, seconds: float, folder: Path) -> str:
    """One MLflow run (experiment ``<tracking.experiment>-backtest``): aggregate metrics ``bt_<model>_<metric>``,
    MAE by horizon (step = hour ahead), seconds, refits, and the files in ``folder``. Returns its run id."""
    with tracking.run(to_dict(cfg), experiment=f"{cfg.tracking.experiment}-backtest", tracking_uri=cfg.tracking.uri,
                      run_name=f"backtest-{policy.retrain}",
                      tags={"kind": "backtest", "retrain": policy.retrain,
                            "data.dir": str(Path(cfg.data.dir).resolve())}) as run:
        for name, m in sc["aggregate"].items():
            run.log_metrics({f"bt_{name}_{k}": float(v) for k, v in m.items() if np.isfinite(v)})
        for name, m in sc["per_horizon"].items():
            for h, v in enumerate(m["mae"], start=1):
                run.log_metrics({f"bt_{name}_mae_by_horizon": v}, step=h)
        run.log_metrics({"bt_seconds": seconds, "bt_refits": float(n_refits)})
        for p in sorted(folder.iterdir()):
            if p.is_file() and not p.name.startswith("."):
                run.log_artifact(p, artifact_path="backtest")
        return run.run_id


def backtest(cfg: Config) -> BacktestResult:
    """Run the rolling-origin backtest, write its outputs and log them to MLflow."""
    t_start = time.perf_counter()
    dc, tc, bc = cfg.data, cfg.trainer, cfg.backtest
    seed_everything(tc.seed)
    if tc.num_threads:
        import torch

        torch.set_num_threads(tc.num_threads)
    rt = resolve(tc.accelerator, tc.precision)
    quant = Quantiles(tuple(cfg.model.quantiles))
    inp = load_inputs(dc)
    store = WindowStore(site_series(inp, dc), dc.history_h, dc.horizon_h, device="cpu")
    origins, start = backtest_origins(store, cfg)
    policy = policy_of(cfg)
    res = rolling(store, origins, policy, lambda: registry.build(cfg.model, dc.history_h, dc.horizon_h),
                  quant.levels, cfg.model.optimizer, tc, rt, baselines=tuple(bc.baselines),
                  extra=extra_models(cfg, store, quant.levels, policy), seed=tc.seed)
    sc = score(res, quant.levels, mase_scales(store, start, 168), store.ids)
    folder = Path(cfg.out_dir) / "backtest"
    refits = res.refit_table()
    write_outputs(folder, tidy(res, store.ids, quant.levels), refits, sc)
    report = None
    if bc.report:
        from forecast.evaluation.report import write_report

        notes = [f"{len(origins)} origins ({len(np.unique(res.issued_at))} issue times × {len(store.ids)} sites) from "
                 f"{res.issued_at.min()} to {res.issued_at.max()}, every {bc.every_days} day(s) at {bc.at_hour:02d}:00 "
                 f"UTC; horizons 1–{dc.horizon_h} h; facility power in MW.",
                 f"Retrain policy: {policy.retrain} (refit every {policy.k} origin times"
                 + (f", sliding {policy.window_days}-day window" if policy.retrain == "every_k" else "")
                 + f"); {len(refits)} refits; the last {policy.val_days} days before each refit are held out for "
                 "early stopping" + (" and P10/P90 calibration." if policy.calibrate else "."),
                 "MASE: MAE over the in-sample MAE of the 168 h seasonal naive before the first origin, per site."]
        report = write_report(folder, "Power-model backtest", res, sc, store.ids, quant.levels, "MW", refits, notes)
    seconds = time.perf_counter() - t_start
    run_id = log_run(cfg, policy, sc, len(refits), seconds, folder)
    return BacktestResult(run_id, sc, refits, folder, report, seconds, res)


def format_table(agg: dict) -> str:
    cols = ["mae", "rmse", "smape", "mase", "pinball", "crps", "coverage_p10_p90", "top5_mae"]
    lines = [f"{'model':<22}" + "".join(f"{c:>17}" for c in cols)]
    for name, m in agg.items():
        lines.append(f"{name:<22}" + "".join(f"{m.get(c, float('nan')):>17.4f}" for c in cols))
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """forecast backtest [hydra overrides], e.g. backtest.retrain=never experiment=quick"""
    res = backtest(to_object(compose(argv)))
    print(format_table(res.metrics["aggregate"]))
    print(f"\n{len(res.refits)} refits, {res.seconds:.0f} s; MLflow run {res.run_id}; outputs in {res.folder}"
          + (f"; report {res.report}" if res.report else ""))
    return 0
