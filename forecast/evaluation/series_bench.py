"""``forecast series-bench``: test the forecaster on any meter series in a CSV.

    forecast series-bench --data PATH.csv --timestamp COL --target COL
        [--known-future COL,...] [--horizon 24] --out DIR

Config: conf/series_bench.yaml (:class:`forecast.evaluation.bench_config.BenchConfig`); each flag is an alias of an
override (``--horizon 24`` is ``horizon=24``, ``--no-lightgbm`` is ``lightgbm=false``).

Protocol (fixed, so results compare across users):
- the CSV is read with :func:`forecast.data.series.load_hourly_series` (any regular
  step ≤ 1 h, resampled to hour-beginning hourly means; gaps stay NaN);
- test period = the last 20% of hours; origins daily at ``--at-hour`` UTC within it
  whose next ``horizon`` hours all have readings;
- the learned model (TiDE on history, calendar and the known-future columns) is
  refit every ``--refit-days`` origins on an expanding window of data before the
  refit origin (``--retrain`` to change); the most recent pre-origin windows are held
  out for early stopping and P10/P90 calibration: ``val_share`` (0.2) of the hours
  before the refit, at least ``val_min_days`` (2) days (``--val-days N`` fixes N days);
- target and covariate normalisation use hours before the test period only;
  missing history hours are forward-filled from earlier hours (never from later);
- contenders on the same origins and refits (forecast.evaluation.contenders): seasonal
  naive 24 h and 168 h (median = the lagged value, P10/P90 from training residuals),
  LightGBM quantile regression on the same features, and the optional peers
  (``--peers``: NeuralForecast nhits/tft with the learned model's training budget,
  statsforecast autoets/mstl; skipped with the reason when not installed); each is
  fitted on the same training windows and calibrated by the same split-conformal step
  on the same validation windows as the learned model;
- the headline forecast (``model``): per refit, the pointwise median of the quantiles of the
  ``select_top`` (3) contenders, the learned model among them, with the lowest validation MAE
  (forecast.evaluation.selection; ``select=false``: the learned model);
- a series whose pre-test readings are all ≥ 0 gets no negative quantile from any
  contender (clamped at 0 after calibration; ``clamp_nonnegative``);
- the learned model against each contender: a two-sided Diebold–Mariano test with the
  Harvey–Leybourne–Newbold correction on the per-origin MAE (h = horizon / origin
  spacing), "level" when not significant at 5%.

Writes DIR/metrics.json (``mae``, ``rmse``, ``smape``, ``pinball``,
``coverage_p10_p90``, ``n_origins`` … for the model, a ``baselines`` object with each
contender's ``dm_p_value`` and ``dm_vs_model``, ``significance``, ``skipped_peers``),
DIR/forecasts.csv (origin, ts, horizon_h, actual, p10, p50, p90, model) and
DIR/report.html with its PNGs. Metrics are in the target's units.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from forecast.config import OptimizerConfig, TrainerConfig
from forecast.evaluation.bench_config import BenchConfig
from forecast.config import load as load_config
from forecast.data.features import calendar
from forecast.data.plan_events import KnownFuture
from forecast.data.series import load_hourly_series
from forecast.data.windows import SeriesArrays, WindowStore
from forecast.models.device import resolve
from forecast.errors import ContractError
from forecast.io import atomic_write, atomic_write_text
from forecast.evaluation import contenders as ct
from forecast.evaluation.calibration import clamp
from forecast.evaluation.rolling import Policy, RollingResult, mase_scales, rolling, score, tidy
from forecast.evaluation.pretrained_start import Start, fine_tune_start, pretrained_start
from forecast.evaluation.selection import select, validation_table
from forecast.evaluation.significance import compare

log = logging.getLogger("forecast")
LEVELS = (0.1, 0.5, 0.9)
TEST_SHARE = 0.2
NAIVES = ("seasonal_naive_24h", "seasonal_naive_168h")


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


def budget(cfg: BenchConfig) -> Callable[[int], int]:
    """Training steps of a NeuralForecast peer at a refit with n training windows: ``peer_steps``, or the learned
    model's own budget, epochs × ceil(n / batch_size) × ensemble."""
    return lambda n: cfg.peer_steps or cfg.epochs * max(1, math.ceil(n / cfg.batch_size)) * cfg.ensemble


def contenders_extra(cfg: BenchConfig, p: Prepared, policy: Policy, ledger: ct.Ledger, start: Start | None = None):
    """The seasonal naives, LightGBM (``lightgbm``) and the installed ``peers`` as one calibrated ``extra(t0, g)``
    hook for ``rolling``; peers whose library is missing are recorded in ``ledger.skipped`` and left out."""
    from forecast.evaluation.peers import LIBRARY, missing

    parts = [ct.baselines_fit_predict(p.store, LEVELS, NAIVES, cfg.seed)]
    if cfg.zero_shot and start is not None and start.model is not None:
        L = cfg.model_history or cfg.history
        parts.append(ct.pretrained_fit_predict(p.store, start.model if L == cfg.history else TailHistory(start.model, L)))
    if cfg.lightgbm:
        y_raw = p.frame[cfg.target].to_numpy(np.float64)
        parts.append(ct.gbm_fit_predict(p.store, y_raw, p.known_raw, p.scale, LEVELS, cfg.seed, cfg.lightgbm_params))
    ledger.skipped.update(missing(list(cfg.peers)))
    for name, why in ledger.skipped.items():
        log.warning("peer %s skipped: %s", name, why)
    nf = [n for n in cfg.peers if LIBRARY[n] == "neuralforecast" and n not in ledger.skipped]
    st = [n for n in cfg.peers if LIBRARY[n] == "statsforecast" and n not in ledger.skipped]
    if nf:
        parts.append(ct.nf_fit_predict(p.store, LEVELS, nf, budget(cfg), cfg.seed, cfg.lr, cfg.batch_size,
                                       cfg.model_history or cfg.history, ledger))
    if st:
        parts.append(ct.stats_fit_predict(p.store, LEVELS, st, cfg.seed))
    return ct.calibrated(p.store, policy, LEVELS, ct.combine(parts), ledger)


def floor(cfg: BenchConfig, p: Prepared) -> float | None:
    """0.0 when ``clamp_nonnegative`` and every reading before the test period is ≥ 0 (model units keep 0 at 0)."""
    pre = p.frame[cfg.target].to_numpy(np.float64)[p.frame.index < p.test_start]
    return 0.0 if cfg.clamp_nonnegative and np.nanmin(pre) >= 0 else None


def _model_factory(cfg: BenchConfig, n_known: int, hours: int, start: Start | None = None):
    """A zero-argument builder of TiDE on history, calendar and ``n_known`` known-future channels that reads
    the last ``hours`` of the history window; from the pretrained weights when ``start`` says so."""
    def make_model():
        from forecast.models.tide import TiDE

        if start is not None and start.init == "pretrained":
            m = fine_tune_start(start)
        else:
            m = TiDE(history=hours, horizon=cfg.horizon, n_hist=1 + n_known + 6, n_fut=n_known + 6, n_quantiles=3,
                     median_index=1, hidden=cfg.hidden, dropout=cfg.dropout, temporal_hidden=32)
        return m if hours == cfg.history else TailHistory(m, hours)

    return make_model


def _start(cfg: BenchConfig, hours: int) -> Start:
    st = pretrained_start(cfg.init, cfg.weights, cfg.zero_shot, hours, cfg.horizon, len(cfg.known_future), LEVELS,
                          cfg.hidden, cfg.dropout)
    if st.reason:
        log.warning("pretrained weights not used: %s; the learned model starts from scratch", st.reason)
    return st


def choose(cfg: BenchConfig, res: RollingResult, ledger: ct.Ledger) -> list[dict]:
    """The headline ``model``: with ``select``, per refit the pointwise median of the ``select_top`` contenders (the
    learned model ``learned`` among them) with the lowest validation MAE; else the learned model. ``model`` first
    in ``res.quantiles``."""
    res.quantiles = {"learned": res.quantiles.pop("model"), **res.quantiles}
    picked = []
    if cfg.select:
        picked = select(res, list(res.quantiles), validation_table(res, "learned", ledger.validation),
                        top=cfg.select_top)
    else:
        res.quantiles["model"] = res.quantiles["learned"]
    res.quantiles = {"model": res.quantiles.pop("model"), **res.quantiles}
    return picked


def _metrics(cfg: BenchConfig, sc: dict, res: RollingResult, p: Prepared, rep, model_history: int,
             ledger: ct.Ledger, low: float | None) -> dict:
    """metrics.json content (target units): the model's aggregate metrics, ``baselines`` (each with the
    Diebold–Mariano p-value against the model), ``significance``, ``per_horizon`` and the ``protocol``."""
    agg = sc["aggregate"]
    out = dict(agg["model"])
    sig = significance(res, cfg.horizon)
    out["baselines"] = {k: {**v, "dm_p_value": sig["vs"][k]["p_value"], "dm_vs_model": sig["vs"][k]["verdict"]}
                        for k, v in agg.items() if k != "model"}
    out["significance"] = sig
    out["skipped_peers"] = dict(ledger.skipped)
    out["per_horizon"] = sc["per_horizon"]
    out["protocol"] = {
        "data": str(cfg.data), "target": cfg.target, "known_future": list(cfg.known_future),
        "horizon_h": cfg.horizon, "history_h": cfg.history, "hours": len(p.frame), "input_step": str(rep.step),
        "missing_target_hours": rep.n_missing_hours.get(cfg.target, 0), "test_start": str(p.test_start),
        "origins_at_hour_utc": cfg.at_hour, "retrain": cfg.retrain, "refit_every_origins": cfg.refit_days,
        "val_days": cfg.val_days, "val_share": cfg.val_share, "val_min_days": cfg.val_min_days,
        "calibrated": cfg.calibrate, "calibration": "split conformal on the same validation windows, every contender",
        "quantile_floor": low, "epochs": cfg.epochs, "hidden": cfg.hidden,
        "ensemble": cfg.ensemble, "model_history_h": model_history, "lr": cfg.lr, "batch_size": cfg.batch_size,
        "refits": res.refit_table().to_dict(orient="records"),
        "contender_calibration": ledger.calibration, "peer_budget": ledger.budget,
    }
    return out


def significance(res: RollingResult, horizon: int) -> dict:
    """The learned model against every contender on the same origins: HLN-corrected Diebold–Mariano on the
    per-origin MAE, h = the number of origin spacings a forecast spans (ceil(horizon / spacing))."""
    mi = LEVELS.index(0.5)
    y = res.y * res.scale[:, None]  # (N, H) target units
    med = {k: q[..., mi] * res.scale[:, None] for k, q in res.quantiles.items()}
    gaps = (res.issued_at[1:] - res.issued_at[:-1]) / pd.Timedelta(hours=1)  # hours between origins
    spacing = float(np.median(gaps)) if len(gaps) else 24.0
    h = max(1, math.ceil(horizon / spacing))
    return {"test": "Diebold-Mariano with the Harvey-Leybourne-Newbold correction, two-sided, Student t(n-1); "
                    "loss = MAE over the horizon per origin; verdict from the learned model's side",
            "alpha": 0.05, "h": h, "vs": compare(y, med, "model", h)}


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
                     units=cfg.target, refits=res.refit_table(), notes=_notes(cfg, p, out))


def run_bench(cfg: BenchConfig) -> dict:
    """Run the benchmark and write DIR/metrics.json, DIR/forecasts.csv (and the report). Returns metrics."""
    t_start = time.perf_counter()
    df, rep = load_hourly_series(cfg.data, cfg.timestamp, cfg.target, cfg.known_future, cfg.assume_tz)
    p = prepare(df, cfg.target, list(cfg.known_future), cfg.horizon, cfg.history, cfg.at_hour, cfg.data)
    policy = Policy(retrain=cfg.retrain, k=cfg.refit_days, window_days=cfg.window_days, val_days=cfg.val_days,
                    val_share=0.0 if cfg.val_days else cfg.val_share, val_min_days=cfg.val_min_days,
                    calibrate=cfg.calibrate, max_epochs=cfg.epochs, ensemble=cfg.ensemble)
    L = cfg.model_history or cfg.history
    if not 24 <= L <= cfg.history:
        raise ValueError(f"--model-history must be in [24, --history={cfg.history}], got {L}")
    tc = TrainerConfig(accelerator="cpu", devices=1, precision="32-true", max_epochs=cfg.epochs,
                       batch_size=cfg.batch_size, seed=cfg.seed, progress=False)
    opt = OptimizerConfig(lr=cfg.lr)
    ledger = ct.Ledger()
    start = _start(cfg, L)
    res = rolling(p.store, p.origins, policy, _model_factory(cfg, len(cfg.known_future), L, start), LEVELS, opt,
                  tc, resolve("cpu", "32-true"), baselines=(), extra=contenders_extra(cfg, p, policy, ledger, start),
                  seed=cfg.seed)
    low = floor(cfg, p)
    res.quantiles = {k: clamp(q, low) for k, q in res.quantiles.items()}  # after calibration, every contender
    picked = choose(cfg, res, ledger)
    sc = score(res, LEVELS, mase_scales(p.store, p.test_start), [cfg.target])
    out = _metrics(cfg, sc, res, p, rep, L, ledger, low)
    out["selection"] = {"rule": f"per refit, the pointwise median of the {cfg.select_top} contender(s) with the lowest "
                                "MAE of their median on that refit's validation windows (targets before the refit "
                                "time)" if cfg.select else "off: the learned model", "top": cfg.select_top,
                        "per_refit": picked,
                        "chosen": {c: sum(r["n_origins"] for r in picked if r["chosen"] == c)
                                   for c in dict.fromkeys(r["chosen"] for r in picked)}}
    out["protocol"]["start"] = start.record()
    out["seconds"] = round(time.perf_counter() - t_start, 1)
    _write_outputs(cfg, out, res, sc, p)
    return out


def _notes(cfg: BenchConfig, p: Prepared, m: dict) -> list[str]:
    val = (f"{cfg.val_days} days" if cfg.val_days else
           f"{cfg.val_share:.0%} of the hours before each refit (at least {cfg.val_min_days:g} days)")
    sig = m["significance"]
    dm = "; ".join(f"{k}: p = {v['p_value'] if v['p_value'] is not None else 'n/a'} ({_verdict(v['verdict'])})"
                   for k, v in sig["vs"].items())
    notes = [f"Test period from {p.test_start} (last 20% of {len(p.frame)} hours); {len(p.origins)} daily origins "
             f"at {cfg.at_hour:02d}:00 UTC, horizon 1–{cfg.horizon} h.",
             f"Retrain policy: {cfg.retrain}, refit every {cfg.refit_days} origins; validation windows: {val}, held "
             "out for early stopping" + (" and the same split-conformal P10/P90 calibration of every contender."
                                         if cfg.calibrate else "."),
             "Known-future columns: " + (", ".join(cfg.known_future) if cfg.known_future else "none (history only)."),
             f"Learned model vs each contender, Diebold–Mariano with the HLN correction (two-sided, 5%, h = "
             f"{sig['h']}): {dm}."]
    if m["protocol"]["quantile_floor"] is not None:
        notes.append("Readings before the test period are all ≥ 0: every contender's quantiles are clamped at 0.")
    notes += [f"Peer {k} skipped: {why}." for k, why in m["skipped_peers"].items()]
    return notes


def _verdict(v: str) -> str:
    return {"better": "model better", "worse": "model worse", "level": "level"}[v]


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
    print(f"{'':<22}{'mae':>10}{'rmse':>10}{'smape':>9}{'pinball':>10}{'cov10-90':>10}{'DM p':>9}  vs model")
    for name, v in rows.items():
        p = v.get("dm_p_value")
        print(f"{name:<22}{v['mae']:>10.4g}{v['rmse']:>10.4g}{v['smape']:>9.2f}{v['pinball']:>10.4g}"
              f"{v['coverage_p10_p90']:>10.3f}{'' if name == 'model' else (f'{p:.3g}' if p is not None else 'n/a'):>9}"
              f"  {'' if name == 'model' else _verdict(v['dm_vs_model'])}")
    for name, why in m["skipped_peers"].items():
        print(f"peer {name} skipped: {why}")
    print(f"{m['n_origins']} origins, {m['seconds']:.0f} s; wrote {cfg.out}/metrics.json, forecasts.csv")
    return 0
