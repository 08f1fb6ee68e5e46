"""The contenders of ``forecast series-bench`` beside the learned model, on the same footing as it.

At each refit time t0 every contender, like the learned model (:func:`forecast.evaluation.rolling.rolling`):
- is fitted on the training windows of :func:`~forecast.evaluation.rolling.windows_before` (targets ending
  before the validation period), never on later hours;
- forecasts the validation windows (the most recent pre-origin windows, targets ending before t0) and the
  segment's origins;
- has its P10/P90 calibrated on those validation windows by the same split-conformal step
  (:func:`forecast.evaluation.calibration.conformalize`) when the policy calibrates.

Contenders: the seasonal naives (residual quantiles per lead, median = the lagged value exactly),
LightGBM quantile regression, and the optional peers (NeuralForecast nhits / tft with the learned model's
training budget, statsforecast autoets / mstl), skipped with the reason when their library is missing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from forecast.data.windows import WindowStore
from forecast.evaluation.calibration import conformalize
from forecast.evaluation.rolling import Policy, gather_targets, windows_before
from forecast.models.baselines import BASELINES, CENTER, ResidualQuantiles
from forecast.models.device import Runtime
from forecast.models.inference import predict_windows

log = logging.getLogger("forecast")
MAX_FIT_WINDOWS = 20000  # residual-quantile baselines: a seeded subsample of the training windows beyond this
STATS_VAL_STRIDE_H = 24  # local statistical peers forecast one validation window a day (each is its own fit)

# fit_predict(t0, train, val, origins) -> {name: (quantiles at the origins (n, H, Q), at the validation windows it
# forecast (m, H, Q), those windows (m,))}, model units
FitPredict = Callable[[pd.Timestamp, np.ndarray, np.ndarray, np.ndarray],
                      dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]]


@dataclass
class Ledger:
    """What each contender was given at each refit: calibration factors and training budget (for metrics.json)."""

    calibration: list[dict] = field(default_factory=list)
    budget: list[dict] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    validation: list[dict] = field(default_factory=list)  # {"at", "model", "val_mae", "n_val"} per refit


def calibrated(store: WindowStore, policy: Policy, levels: tuple[float, ...], fit_predict: FitPredict,
               ledger: Ledger) -> Callable[[pd.Timestamp, np.ndarray], dict[str, np.ndarray]]:
    """An ``extra(t0, g)`` hook for ``rolling``: ``fit_predict`` on the policy's windows before t0, each
    contender's quantiles at ``g`` calibrated on its validation forecasts (when ``policy.calibrate``)."""
    mi = list(levels).index(0.5)

    def extra(t0: pd.Timestamp, g: np.ndarray) -> dict[str, np.ndarray]:
        tr, va, _ = windows_before(store, t0, policy)
        out = {}
        for name, (qg, qv, v_idx) in fit_predict(t0, tr, va, g).items():
            y_va, _ = gather_targets(store, v_idx)
            ledger.validation.append({"at": str(t0), "model": name, "n_val": len(v_idx),
                                      "val_mae": float(np.nanmean(np.abs(qv[..., mi] - y_va)))})  # the median's
            if policy.calibrate:
                qg, c = conformalize(qg, qv, y_va, mi)
                ledger.calibration.append({"at": str(t0), "model": name, "calib_lo": round(c[0], 4),
                                           "calib_hi": round(c[1], 4), "n_val": len(qv)})
            out[name] = qg
        return out

    return extra


def pretrained_fit_predict(store: WindowStore, model: torch.nn.Module, name: str = "zero_shot") -> FitPredict:
    """A model used as it is (no fit: pretrained weights), on the origins and the validation windows."""
    cpu = Runtime("cpu", "32-true", torch.device("cpu"))

    def fit_predict(t0, tr, va, g):
        qg = predict_windows(model, store, g, cpu).astype(np.float64)
        return {name: (qg, predict_windows(model, store, va, cpu).astype(np.float64), va)}

    return fit_predict


def baselines_fit_predict(store: WindowStore, levels: tuple[float, ...], names: tuple[str, ...], seed: int) -> FitPredict:
    """Residual-quantile baselines fitted on the training windows (at most :data:`MAX_FIT_WINDOWS`)."""
    H = store.horizon

    def fp(t0, tr, va, g):
        fit_idx = tr
        if len(fit_idx) > MAX_FIT_WINDOWS:
            fit_idx = np.sort(np.random.default_rng(seed).choice(fit_idx, MAX_FIT_WINDOWS, replace=False))
        y_fit, _ = gather_targets(store, fit_idx)
        batches = {k: store.gather(torch.from_numpy(np.asarray(v, dtype=np.int64))) for k, v in
                   (("fit", fit_idx), ("g", g), ("va", va))}
        out = {}
        for name in names:
            point = {k: BASELINES[name](b, H).double().numpy() for k, b in batches.items()}  # (n, H) each
            rq = ResidualQuantiles(levels, CENTER.get(name, "exact")).fit(point["fit"], y_fit)
            out[name] = (rq.apply(point["g"]), rq.apply(point["va"]), va)
        return out

    return fp


def gbm_fit_predict(store: WindowStore, y_raw: np.ndarray, known_raw: np.ndarray | None, scale: float,
                    levels: tuple[float, ...], seed: int, params: dict | None = None) -> FitPredict:
    """LightGBM fitted on the training windows (origins with enough history for its lags), model units out."""
    from forecast.models.gbm import GBMForecaster

    H, ts0 = store.horizon, store.series[0].ts[0]

    def fp(t0, tr, va, g):
        m = GBMForecaster(quantiles=levels, horizon=H, calendar_start=ts0, seed=seed, params=dict(params or {}))
        train = tr[tr >= m.min_history]
        i0 = int((t0 - ts0) / pd.Timedelta(hours=1))
        m.fit(y_raw[:i0], None if known_raw is None else known_raw[:i0 + H], train)  # nothing from t0 on
        both = m.predict(y_raw, known_raw, np.concatenate([g, va])) / scale  # each origin reads y[:i] only
        return {"lightgbm": (both[:len(g)], both[len(g):], va)}

    return fp


def nf_fit_predict(store: WindowStore, levels: tuple[float, ...], names: list[str], steps: Callable[[int], int],
                   seed: int, lr: float, batch_size: int, input_size: int, ledger: Ledger) -> FitPredict:
    """NeuralForecast peers fitted on the hours before the validation period with ``steps(n_train_windows)``
    training steps (the learned model's budget), reading ``input_size`` hours like the learned model."""
    from forecast.evaluation import peers

    def fp(t0, tr, va, g):
        n_steps = steps(len(tr))
        ledger.budget.append({"at": str(t0), "max_steps": n_steps, "windows_batch_size": batch_size, "lr": lr,
                              "input_size": input_size})
        cut = store.series[0].ts[int(va.min())] if len(va) else t0  # one series: global index = local
        got = peers.nf_fit_predict(store, levels, names, cut, [g, va], n_steps, seed, lr=lr,
                                   windows_batch_size=batch_size, input_size=input_size)
        return {n: (v[0], v[1], va) for n, v in got.items()}

    return fp


def stats_fit_predict(store: WindowStore, levels: tuple[float, ...], names: list[str], seed: int) -> FitPredict:
    """statsforecast local peers: each origin (and one validation window a day) fitted on its own history."""
    from forecast.evaluation import peers

    def fp(t0, tr, va, g):
        va_daily = va[::-1][::STATS_VAL_STRIDE_H][::-1]  # ends at the last validation window
        both = peers.stats_predict(store, levels, names, np.concatenate([g, va_daily]), seed)
        return {n: (q[:len(g)], q[len(g):], va_daily) for n, q in both.items()}

    return fp


def combine(parts: list[FitPredict]) -> FitPredict:
    def fp(t0, tr, va, g):
        out = {}
        for p in parts:
            out.update(p(t0, tr, va, g))
        return out

    return fp
