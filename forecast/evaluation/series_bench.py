"""``forecast series-bench``: test the forecaster on any meter series in a CSV.

    forecast series-bench --data PATH.csv --timestamp COL --target COL
        [--known-future COL,...] [--horizon 24] --out DIR

Config: conf/series_bench.yaml (:class:`forecast.config.BenchConfig`); each flag is an alias of an
override (``--horizon 24`` is ``horizon=24``, ``--no-lightgbm`` is ``lightgbm=false``).

Protocol (fixed, so results compare across users):
- the CSV is read with :func:`forecast.data.series.load_hourly_series` (any regular
  step ≤ 1 h, resampled to hour-beginning hourly means; gaps stay NaN);
- test period = the last 20% of hours; origins daily at ``--at-hour`` UTC within it
  whose next ``horizon`` hours all have readings;
- the learned model (TiDE on history, calendar and the known-future columns) is
  refit every ``--refit-days`` origins on an expanding window of data before the
  refit origin (``--retrain`` to change); its last ``--val-days`` days before the
  origin are held out for early stopping and P10/P90 calibration;
- target and covariate normalisation use hours before the test period only;
  missing history hours are forward-filled from earlier hours (never from later);
- baselines on the same origins: seasonal naive 24 h and 168 h (quantiles from
  their training residuals) and LightGBM quantile regression on the same features,
  refit on the same schedule.

Writes DIR/metrics.json (``mae``, ``rmse``, ``smape``, ``pinball``,
``coverage_p10_p90``, ``n_origins`` … for the model and a ``baselines`` object),
DIR/forecasts.csv (origin, ts, horizon_h, actual, p10, p50, p90, model) and
DIR/report.html with its PNGs. Metrics are in the target's units.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from forecast.config import BenchConfig, OptimizerConfig, TrainerConfig
from forecast.config import load as load_config
from forecast.data.features import calendar
from forecast.data.plan_events import KnownFuture
from forecast.data.series import load_hourly_series
from forecast.data.windows import SeriesArrays, WindowStore
from forecast.models.device import resolve
from forecast.errors import ContractError
from forecast.io import atomic_write, atomic_write_text
from forecast.evaluation.rolling import Policy, RollingResult, combine_extras, mase_scales, rolling, score, tidy

log = logging.getLogger("forecast")
LEVELS = (0.1, 0.5, 0.9)
TEST_SHARE = 0.2


class TailHistory(torch.nn.Module):
    """Feeds only the last ``hours`` of the history window to ``model`` (the store keeps a week for the baselines)."""

    def __init__(self, model: torch.nn.Module, hours: int):
        super().__init__()
        self.model, self.hours = model, hours

    def forward(self, x_hist: torch.Tensor, x_fut: torch.Tensor) -> torch.Tensor:
        return self.model(x_hist[:, -self.hours:], x_fut)  # (B, hours, F) -> (B, H, Q)


@dataclass
class Prepared:
    store: WindowStore
    frame: pd.DataFrame  # hourly input (target + known-future), UTC index
    origins: np.ndarray  # (N,) local = global issue indices (one series)
    test_start: pd.Timestamp
    scale: float
    known_raw: np.ndarray | None  # (T, K) raw known-future values (for LightGBM)


def prepare(df: pd.DataFrame, target: str, known_future: list[str], horizon: int, history: int,
            at_hour: int = 0, source: str = "series") -> Prepared:
    """Arrays for one hourly series: normalisation from the pre-test hours only; daily test origins."""
    T = len(df)
    t_test = int(np.floor((1 - TEST_SHARE) * T))
    test_start = df.index[t_test]
    y_raw = df[target].to_numpy(np.float64)
    pre = y_raw[:t_test]
    if np.isfinite(pre).sum() < history + horizon + 24:
        raise ContractError(source, target, f"only {int(np.isfinite(pre).sum())} readings before the test period "
                            f"({test_start}); need at least history {history} h + horizon {horizon} h + 24 h")
    scale = float(np.nanstd(pre)) or float(np.nanmean(np.abs(pre))) or 1.0
    y = y_raw / scale
    y_fill = pd.Series(y).ffill().fillna(0.0).to_numpy()  # past-only fill for the history channel
    K = len(known_future)
    known_raw = df[known_future].to_numpy(np.float64) if K else None
    if K:
        mu = np.nanmean(known_raw[:t_test], axis=0)
        sd = np.nanstd(known_raw[:t_test], axis=0)
        kn = (known_raw - mu) / np.where(sd > 0, sd, 1.0)
        kn = pd.DataFrame(kn).ffill().fillna(0.0).to_numpy()  # (T, K)
    else:
        kn = np.zeros((T, 0))
    kpad = np.concatenate([kn, np.repeat(kn[-1:], horizon, axis=0)])  # (T + H, K)
    fut = KnownFuture.from_lead0(kpad, T)  # known[i + h] at issue time i: a column that is never revised
    cal = calendar(pd.date_range(df.index[0], periods=T + horizon, freq="h"))  # (T + H, 6)
    hist = np.concatenate([y_fill[:, None], kn, cal[:T]], axis=1)  # (T, 1 + K + 6)
    sa = SeriesArrays(target, pd.DatetimeIndex(df.index), y.astype(np.float32), hist.astype(np.float32),
                      fut, cal, scale)
    store = WindowStore([sa], history, horizon)
    origins = store.origins(0, start=test_start, at_hour=at_hour)
    if len(origins) == 0:
        raise ContractError(source, target, f"no daily origins at {at_hour:02d}:00 UTC in the test period from "
                            f"{test_start} with {horizon} h of readings after them")
    return Prepared(store, df, origins, test_start, scale, known_raw)


def _gbm_extra(p: Prepared, y_raw: np.ndarray, horizon: int, policy: Policy, seed: int, params: dict | None = None):
    """LightGBM refit at each refit time on data before it (same window policy), model units out."""
    from forecast.models.gbm import GBMForecaster

    ts0 = p.frame.index[0]

    def extra(t0: pd.Timestamp, g: np.ndarray) -> dict[str, np.ndarray]:
        i0 = int((t0 - ts0) / pd.Timedelta(hours=1))
        m = GBMForecaster(quantiles=LEVELS, horizon=horizon, calendar_start=ts0, seed=seed, params=dict(params or {}))
        lo = m.min_history
        if policy.retrain == "every_k":
            lo = max(lo, i0 - 24 * policy.window_days)
        train = np.arange(lo, i0 - horizon + 1)  # targets end before t0
        m.fit(y_raw[:i0], None if p.known_raw is None else p.known_raw[:i0 + horizon], train)
        return {"lightgbm": m.predict(y_raw, p.known_raw, g) / p.scale}

    return extra


def _model_factory(cfg: BenchConfig, n_known: int, hours: int):
    """A zero-argument builder of TiDE on history, calendar and ``n_known`` known-future channels that reads
    the last ``hours`` of the history window."""
    def make_model():
        from forecast.models.tide import TiDE

        m = TiDE(history=hours, horizon=cfg.horizon, n_hist=1 + n_known + 6, n_fut=n_known + 6, n_quantiles=3,
                 median_index=1, hidden=cfg.hidden, dropout=cfg.dropout, temporal_hidden=32)
        return m if hours == cfg.history else TailHistory(m, hours)

    return make_model


def _extra_models(cfg: BenchConfig, p: Prepared, y_raw: np.ndarray, policy: Policy):
    """LightGBM (``lightgbm``) and NeuralForecast peers (``peers``) as one ``extra(t0, g)``; None when none."""
    extras = [_gbm_extra(p, y_raw, cfg.horizon, policy, cfg.seed, cfg.lightgbm_params)] if cfg.lightgbm else []
    if cfg.peers:
        from forecast.evaluation import peers

        if not peers.available():
            raise ImportError("--peers needs NeuralForecast: pip install '.[peers]'")
        extras.append(peers.neuralforecast_extra(p.store, LEVELS, list(cfg.peers), max_steps=cfg.peer_steps,
                                                    seed=cfg.seed))
    return combine_extras(extras)


def _metrics(cfg: BenchConfig, sc: dict, res: RollingResult, p: Prepared, rep, model_history: int) -> dict:
    """metrics.json content (target units): the model's aggregate metrics, ``baselines``, ``per_horizon`` and
    the ``protocol`` that produced them."""
    agg = sc["aggregate"]
    out = dict(agg["model"])
    out["baselines"] = {k: v for k, v in agg.items() if k != "model"}
    out["per_horizon"] = sc["per_horizon"]
    out["protocol"] = {
        "data": str(cfg.data), "target": cfg.target, "known_future": list(cfg.known_future),
        "horizon_h": cfg.horizon, "history_h": cfg.history, "hours": len(p.frame), "input_step": str(rep.step),
        "missing_target_hours": rep.n_missing_hours.get(cfg.target, 0), "test_start": str(p.test_start),
        "origins_at_hour_utc": cfg.at_hour, "retrain": cfg.retrain, "refit_every_origins": cfg.refit_days,
        "val_days": cfg.val_days, "calibrated": cfg.calibrate, "epochs": cfg.epochs, "hidden": cfg.hidden,
        "ensemble": cfg.ensemble, "model_history_h": model_history, "lr": cfg.lr, "batch_size": cfg.batch_size,
        "refits": res.refit_table().to_dict(orient="records"),
    }
    return out


def _write_outputs(cfg: BenchConfig, out: dict, res: RollingResult, sc: dict, p: Prepared) -> None:
    """DIR/metrics.json, DIR/forecasts.csv (origin, ts, horizon_h, actual, p10, p50, p90, model, refit_id) and,
    when ``report``, DIR/report.html; files written atomically."""
    folder = Path(cfg.out)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / "metrics.json", json.dumps(out, indent=1))
    fc = tidy(res, [cfg.target], LEVELS).rename(columns={"issued_at": "origin"}).drop(columns=["series_id"])
    fc = fc[["origin", "ts", "horizon_h", "actual", "p10", "p50", "p90", "model", "refit_id"]]
    atomic_write(folder / "forecasts.csv", lambda tmp: fc.to_csv(tmp, index=False))
    if cfg.report:
        from forecast.evaluation.report import write_report

        write_report(folder, f"series-bench: {Path(cfg.data).name} / {cfg.target}", res, sc, [cfg.target], LEVELS,
                     units=cfg.target, refits=res.refit_table(), notes=_notes(cfg, p))


def run_bench(cfg: BenchConfig) -> dict:
    """Run the benchmark and write DIR/metrics.json, DIR/forecasts.csv (and the report). Returns metrics."""
    t_start = time.perf_counter()
    df, rep = load_hourly_series(cfg.data, cfg.timestamp, cfg.target, cfg.known_future)
    p = prepare(df, cfg.target, list(cfg.known_future), cfg.horizon, cfg.history, cfg.at_hour, cfg.data)
    policy = Policy(retrain=cfg.retrain, k=cfg.refit_days, window_days=cfg.window_days, val_days=cfg.val_days,
                    calibrate=cfg.calibrate, max_epochs=cfg.epochs, ensemble=cfg.ensemble)
    L = cfg.model_history or cfg.history
    if not 24 <= L <= cfg.history:
        raise ValueError(f"--model-history must be in [24, --history={cfg.history}], got {L}")
    tc = TrainerConfig(accelerator="cpu", devices=1, precision="32-true", max_epochs=cfg.epochs,
                       batch_size=cfg.batch_size, seed=cfg.seed, progress=False)
    opt = OptimizerConfig(lr=cfg.lr)
    y_raw = df[cfg.target].to_numpy(np.float64)
    res = rolling(p.store, p.origins, policy, _model_factory(cfg, len(cfg.known_future), L), LEVELS, opt, tc,
                  resolve("cpu", "32-true"), baselines=("seasonal_naive_24h", "seasonal_naive_168h"),
                  extra=_extra_models(cfg, p, y_raw, policy), seed=cfg.seed)
    sc = score(res, LEVELS, mase_scales(p.store, p.test_start), [cfg.target])
    out = _metrics(cfg, sc, res, p, rep, L)
    out["seconds"] = round(time.perf_counter() - t_start, 1)
    _write_outputs(cfg, out, res, sc, p)
    return out


def _notes(cfg: BenchConfig, p: Prepared) -> list[str]:
    return [f"Test period from {p.test_start} (last 20% of {len(p.frame)} hours); {len(p.origins)} daily origins "
            f"at {cfg.at_hour:02d}:00 UTC, horizon 1–{cfg.horizon} h.",
            f"Retrain policy: {cfg.retrain}, refit every {cfg.refit_days} origins; {cfg.val_days} days before each "
            "refit held out for early stopping" + (" and P10/P90 calibration." if cfg.calibrate else "."),
            "Known-future columns: " + (", ".join(cfg.known_future) if cfg.known_future else "none (history only).")]


def load(overrides: list[str] | None = None) -> BenchConfig:
    """conf/series_bench.yaml composed with ``overrides`` (``data=PATH.csv timestamp=COL ...``), validated."""
    return load_config("series_bench", BenchConfig, overrides)


def main(overrides: list[str]) -> int:
    """``forecast series-bench --data PATH.csv --timestamp COL --target COL [...] --out DIR``: the command over
    :func:`run_bench` (flags translated by forecast.cli)."""
    cfg = load(overrides)
    torch.set_num_threads(max(1, min(torch.get_num_threads(), 2)))
    m = run_bench(cfg)
    rows = {"model": m, **m["baselines"]}
    print(f"{'':<22}{'mae':>10}{'rmse':>10}{'smape':>9}{'pinball':>10}{'cov10-90':>10}")
    for name, v in rows.items():
        print(f"{name:<22}{v['mae']:>10.4g}{v['rmse']:>10.4g}{v['smape']:>9.2f}{v['pinball']:>10.4g}"
              f"{v['coverage_p10_p90']:>10.3f}")
    print(f"{m['n_origins']} origins, {m['seconds']:.0f} s; wrote {cfg.out}/metrics.json, forecasts.csv")
    return 0
