"""Rolling-origin forecasting with an explicit retraining policy, shared by ``forecast backtest``
and ``forecast series-bench``.

Given a :class:`~forecast.data.windows.WindowStore` and issue times (origins), the
origins are cut into refit segments by the policy:

- ``never``:     one fit before the first origin, used for every origin;
- ``every_k``:   a refit at every k-th origin time on a *sliding* window of the
                 last ``window_days`` days before it;
- ``expanding``: a refit at every k-th origin time on *all* data before it.

At a refit time T0 only hours < T0 are read: training windows have targets
ending at least ``val_h`` hours before T0 and validation windows (early
stopping, quantile calibration) have targets ending before T0. Every segment
is forecast with one batched call; every refit is recorded (``Refit``), none
is skipped: a segment whose training set is empty is an error.

Calibration (optional): the P10/P90 offsets from the median are scaled by
factors fitted on the validation windows (the most recent pre-origin
residuals) so that 10% of them fall below P10 and 10% above P90: a
split-conformal step, leakage-free because those windows end before T0.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import torch
from torch import nn

from forecast.config import OptimizerConfig, TrainerConfig
from forecast.evaluation.calibration import apply_calibration, calibration_factors
from forecast.data.windows import WindowStore, series_of
from forecast.models.device import Runtime
from forecast.models.baselines import BASELINES, CENTER, ResidualQuantiles

log = logging.getLogger("forecast")
HOUR = pd.Timedelta(hours=1)
POLICIES = ("never", "every_k", "expanding")


@dataclass
class Policy:
    """How often and on which window the learned model is refit."""

    retrain: str = "expanding"  # never | every_k | expanding
    k: int = 7  # refit every k origin times (every_k, expanding)
    window_days: int = 90  # training window for every_k (sliding)
    val_days: int = 14  # most recent pre-origin days held out for early stopping and calibration
    val_share: float = 0.0  # > 0: hold out this share of the hours before each refit instead (val_hours)
    val_min_days: float = 2.0  # ... but never fewer days than this
    train_every_h: int = 1  # stride between training issue times
    calibrate: bool = True
    warm_start: bool = False  # start each refit from the previous weights (still only past data)
    max_epochs: int = 0  # 0 = trainer.max_epochs
    ensemble: int = 1  # models per refit (seeds differ); their quantiles are averaged

    def __post_init__(self):
        if self.retrain not in POLICIES:
            raise ValueError(f"config: retrain {self.retrain!r} is not one of {', '.join(POLICIES)} "
                             "(set it with the override `backtest.retrain=...`)")
        if self.k < 1 or self.window_days < 1 or self.train_every_h < 1 or self.ensemble < 1 or (
                self.val_days < 1 and self.val_share <= 0):
            raise ValueError("config: backtest.k, backtest.val_days, backtest.window_days and "
                             "backtest.train_every_h, ensemble must be >= 1")
        if not 0 <= self.val_share < 0.9 or self.val_min_days < 1 / 24:
            raise ValueError(f"config: val_share must be in [0, 0.9) and val_min_days >= 1 h, got {self.val_share} "
                             f"and {self.val_min_days} (set them with val_share=0.2 val_min_days=2)")

    def val_hours(self, available_h: float) -> int:
        """Hours of validation windows before a refit that has ``available_h`` hours of data before it:
        ``val_days`` days, or with ``val_share`` > 0, max(``val_min_days`` days, val_share × available_h)."""
        if self.val_share > 0:
            return int(round(max(24 * self.val_min_days, self.val_share * available_h)))
        return 24 * self.val_days


@dataclass
class Refit:
    """One fit of the learned model: when, on what, how long (for the outputs and MLflow)."""

    refit_id: int
    at: str  # refit time T0 (ISO, UTC): only hours before it were read
    train_from: str
    train_to: str  # last training target hour + 1 h
    val_to: str  # = at
    n_train: int
    n_val: int
    n_origins: int  # origins forecast with this fit
    epochs: int
    seconds: float
    calib_lo: float = 1.0
    calib_hi: float = 1.0
    val_h: int = 0  # hours of validation windows (their issue times span val_h hours before at − horizon)
    val_mae: float = float("nan")  # the median's MAE on the validation windows, model units


@dataclass
class RollingResult:
    origins: np.ndarray  # (N,) global issue indices, in time order
    issued_at: pd.DatetimeIndex  # (N,)
    series: np.ndarray  # (N,) series index
    y: np.ndarray  # (N, H) targets, model units
    scale: np.ndarray  # (N,) model units -> output units
    quantiles: dict[str, np.ndarray]  # model name -> (N, H, Q) model units
    refit_of: np.ndarray  # (N,) refit id of the learned model used for each origin
    refits: list[Refit] = field(default_factory=list)

    def refit_table(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(r) for r in self.refits])


def issue_times(store: WindowStore, g: np.ndarray) -> pd.DatetimeIndex:
    k, i = series_of(store, g)
    return pd.DatetimeIndex([store.series[kk].ts[ii] for kk, ii in zip(k, i)])


def refit_plan(times: pd.DatetimeIndex, policy: Policy) -> list[pd.Timestamp]:
    """Refit times: the first origin time, then every k-th distinct origin time (none after for ``never``)."""
    uniq = pd.DatetimeIndex(sorted(set(times)))
    if policy.retrain == "never":
        return [uniq[0]]
    return list(uniq[:: policy.k])


def val_span(store: WindowStore, t0: pd.Timestamp, policy: Policy) -> int:
    """Hours of validation issue times before a refit at ``t0``: :meth:`Policy.val_hours` of the hours of data
    before ``t0`` (within the sliding window for every_k)."""
    first = min(s.ts[0] for s in store.series)
    if policy.retrain == "every_k":
        first = max(first, t0 - pd.Timedelta(days=policy.window_days))
    return policy.val_hours((t0 - first) / HOUR)


def windows_before(store: WindowStore, t0: pd.Timestamp, policy: Policy) -> tuple[np.ndarray, np.ndarray, pd.Timestamp]:
    """(train, val) global indices whose targets end before ``t0``; train targets end before the val period,
    which spans :meth:`Policy.val_hours` of the hours available before ``t0`` (the sliding window's for every_k)."""
    H = pd.Timedelta(hours=store.horizon)
    start = t0 - pd.Timedelta(days=policy.window_days) if policy.retrain == "every_k" else None
    val_start = t0 - H - val_span(store, t0, policy) * HOUR
    tr, va = [], []
    for k in range(len(store.series)):
        tr.append(store.origins(k, start=start, end=val_start - H + HOUR, every_h=policy.train_every_h))
        va.append(store.origins(k, start=val_start, end=t0 - H + HOUR, every_h=max(1, policy.train_every_h)))
    return np.concatenate(tr), np.concatenate(va), start if start is not None else min(s.ts[0] for s in store.series)


class _BestState:
    """Keeps the weights with the lowest validation pinball in memory (no checkpoint files per refit)."""

    def __new__(cls):
        import lightning as L

        class _B(L.Callback):
            def __init__(self):
                self.best, self.state = float("inf"), None

            def on_validation_epoch_end(self, trainer, pl_module):
                v = trainer.callback_metrics.get("val_pinball")
                if v is not None and float(v) < self.best:
                    self.best = float(v)
                    self.state = copy.deepcopy({k: t.detach().cpu() for k, t in pl_module.model.state_dict().items()})

        return _B()


def fit(model: nn.Module, store: WindowStore, train: np.ndarray, val: np.ndarray, levels: tuple[float, ...],
        opt: OptimizerConfig, tc: TrainerConfig, rt: Runtime, max_epochs: int, seed: int) -> tuple[nn.Module, int]:
    """Train ``model`` with the project's Lightning stack on the given windows; best validation weights."""
    import lightning as L

    from forecast.models.lit import LitForecaster, WindowData

    L.seed_everything(seed, workers=True, verbose=False)
    data = WindowData(store, train, val, tc.batch_size, seed=seed, max_train_windows=tc.max_train_windows)
    lit = LitForecaster(model, levels, opt, steps_per_epoch=data.train_set.n_batches(), max_epochs=max_epochs)
    best = _BestState()
    trainer = L.Trainer(accelerator=rt.accelerator, devices=1, precision=rt.precision, max_epochs=max_epochs,
                        gradient_clip_val=tc.gradient_clip_val, deterministic=tc.deterministic, logger=False,
                        enable_checkpointing=False, callbacks=[best], enable_progress_bar=False,
                        num_sanity_val_steps=0, enable_model_summary=False)
    trainer.fit(lit, datamodule=data)
    if best.state is not None:
        lit.model.load_state_dict(best.state)
    store.to("cpu")
    return lit.model.cpu().eval(), int(trainer.current_epoch)


def gather_targets(store: WindowStore, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    b = store.gather(torch.from_numpy(np.asarray(g, dtype=np.int64)))
    return b["y"].cpu().numpy().astype(np.float64), b["scale"].cpu().numpy().astype(np.float64)


def _segment(times: pd.DatetimeIndex, plan: list[pd.Timestamp], j: int) -> np.ndarray:
    """Positions of the origins forecast by refit j: issue times in [plan[j], plan[j + 1])."""
    t0 = plan[j]
    t_next = plan[j + 1] if j + 1 < len(plan) else None
    return np.flatnonzero((times >= t0) & ((times < t_next) if t_next is not None else True))


def _training_windows(store: WindowStore, t0: pd.Timestamp, policy: Policy) -> tuple[np.ndarray, np.ndarray, pd.Timestamp]:
    """:func:`windows_before`, with an error naming the settings when either set is empty."""
    tr, va, from_ = windows_before(store, t0, policy)
    if len(tr) == 0 or len(va) == 0:
        raise ValueError(f"refit at {t0}: {len(tr)} training and {len(va)} validation windows before it "
                         f"(history {store.history} h + horizon {store.horizon} h + {val_span(store, t0, policy)} h of validation); "
                         "start later or lower the validation (val_days / val_share) or the history")
    return tr, va, from_


def _fit_ensemble(j: int, make_model: Callable[[], nn.Module], previous: list[nn.Module], store: WindowStore,
                  tr: np.ndarray, va: np.ndarray, g: np.ndarray, levels: tuple[float, ...], opt: OptimizerConfig,
                  tc: TrainerConfig, rt: Runtime, epochs: int, policy: Policy, seed: int):
    """Fit ``policy.ensemble`` models for refit j (member m seeded ``seed + 1000·m + j``, warm-started from
    ``previous[m]`` when asked). Returns the models, their mean quantiles on origins ``g`` (n, H, Q) and
    on the validation windows, model units, and the last member's epochs."""
    from forecast.models.inference import predict_windows

    cpu = Runtime("cpu", "32-true", torch.device("cpu"))
    fitted, q, q_val = [], 0.0, 0.0
    for m in range(policy.ensemble):
        torch.manual_seed(seed + 1000 * m + j)  # weights at init depend on the refit only, not on what ran before
        init = make_model()
        if policy.warm_start and previous:
            init.load_state_dict(previous[m].state_dict())
        model, n_ep = fit(init, store, tr, va, levels, opt, tc, rt, epochs, seed + 1000 * m + j)
        fitted.append(model)
        q = q + predict_windows(model, store, g, cpu).astype(np.float64) / policy.ensemble  # (n, H, Q)
        q_val = q_val + predict_windows(model, store, va, cpu).astype(np.float64) / policy.ensemble
    return fitted, q, q_val, n_ep


def _baseline_quantiles(store: WindowStore, fit_idx: np.ndarray, g: np.ndarray, baselines: tuple[str, ...],
                        levels: tuple[float, ...], seed: int) -> dict[str, np.ndarray]:
    """Residual-quantile baselines fitted on windows ``fit_idx`` (at most 20,000, a seeded subsample), applied
    to origins ``g``: {name: (n, H, Q)} model units."""
    H = store.horizon
    if len(fit_idx) > 20000:
        fit_idx = np.sort(np.random.default_rng(seed).choice(fit_idx, 20000, replace=False))
    y_fit, _ = gather_targets(store, fit_idx)
    bf = store.gather(torch.from_numpy(fit_idx))
    bs = store.gather(torch.from_numpy(g))
    out = {}
    for name in baselines:
        p_fit = BASELINES[name](bf, H).double().numpy()
        p_seg = BASELINES[name](bs, H).double().numpy()
        out[name] = ResidualQuantiles(levels, CENTER.get(name, "exact")).fit(p_fit, y_fit).apply(p_seg)
    return out


def rolling(store: WindowStore, origins: np.ndarray, policy: Policy, make_model: Callable[[], nn.Module],
            levels: tuple[float, ...], opt: OptimizerConfig, tc: TrainerConfig, rt: Runtime,
            baselines: tuple[str, ...] = tuple(BASELINES),
            extra: Callable[[pd.Timestamp, np.ndarray], dict[str, np.ndarray]] | None = None,
            seed: int = 0) -> RollingResult:
    """Forecast every origin with the learned model (refit per ``policy``), residual-quantile baselines
    fitted on the same training windows, and ``extra(t0, segment_origins) -> {name: (n, H, Q)}`` models."""
    store.to("cpu")
    times = issue_times(store, origins)
    order = np.argsort(times.asi8, kind="stable")
    origins, times = np.asarray(origins)[order], times[order]
    plan = refit_plan(times, policy)
    mi = list(levels).index(0.5)
    N, H, Q = len(origins), store.horizon, len(levels)
    out = {"model": np.zeros((N, H, Q))}
    for b in baselines:
        out[b] = np.zeros((N, H, Q))
    refit_of = np.full(N, -1)
    refits: list[Refit] = []
    models: list[nn.Module] = []
    epochs = policy.max_epochs or tc.max_epochs
    for j, t0 in enumerate(plan):
        seg = _segment(times, plan, j)
        tr, va, from_ = _training_windows(store, t0, policy)
        t_fit = time.perf_counter()
        g = origins[seg]
        models, q, q_val, n_ep = _fit_ensemble(j, make_model, models, store, tr, va, g, levels, opt, tc, rt, epochs,
                                               policy, seed)
        c = (1.0, 1.0)
        y_val, _ = gather_targets(store, va)
        val_mae = float(np.nanmean(np.abs(q_val[..., mi] - y_val)))  # the median's, before any calibration
        if policy.calibrate:
            c = calibration_factors(q_val, y_val, mi)
            q = apply_calibration(q, mi, *c, bounds=getattr(models[-1], "bounds", None))
        out["model"][seg] = q
        refit_of[seg] = j
        # baselines: residual quantiles from the same training + validation windows (all before t0)
        if baselines:
            for name, qb in _baseline_quantiles(store, np.concatenate([tr, va]), g, baselines, levels, seed + j).items():
                out[name][seg] = qb
        if extra is not None:
            for name, qx in extra(t0, g).items():
                out.setdefault(name, np.zeros((N, H, Q)))[seg] = qx
        last_target = max(store.series[k].ts[i] for k, i in zip(*series_of(store, tr))) + pd.Timedelta(hours=H)
        refits.append(Refit(j, str(t0), str(from_), str(last_target), str(t0), len(tr), len(va), len(seg), n_ep,
                            round(time.perf_counter() - t_fit, 2), round(c[0], 4), round(c[1], 4),
                            val_span(store, t0, policy), round(val_mae, 6)))
        log.info("refit %d at %s: %d train / %d val windows, %d origins, %.1f s", j, t0, len(tr), len(va), len(seg),
                 refits[-1].seconds)
    if (refit_of < 0).any():  # cannot happen with the plan above; a silent skip would be worse than an error
        raise RuntimeError(f"{int((refit_of < 0).sum())} origins were not forecast by any refit")
    y, scale = gather_targets(store, origins)
    k, _ = series_of(store, origins)
    return RollingResult(origins, times, k, y, scale, out, refit_of, refits)


# ------------------------------------------------------------------------------------------ scoring
def mase_scales(store: WindowStore, before: pd.Timestamp, period: int = 24) -> np.ndarray:
    """Per series: in-sample MAE of the seasonal naive (``period`` h) on hours before ``before``, model units."""
    out = []
    for s in store.series:
        y = s.y[s.ts < before].astype(np.float64)
        d = np.abs(y[period:] - y[:-period])
        d = d[np.isfinite(d)]
        out.append(float(d.mean()) if d.size and d.mean() > 0 else np.nan)
    return np.asarray(out)


def score(res: RollingResult, levels: tuple[float, ...], mase_scale: np.ndarray,
          series_ids: list[str]) -> dict:
    """Metrics in output units (model units × scale): aggregate, per series and per horizon, for every model.

    Returns {"aggregate": {model: {metric: v}}, "per_series": {series: {model: {...}}},
    "per_horizon": {model: {metric: [H values]}}}.
    """
    from forecast.evaluation import metrics

    lv = np.asarray(levels)
    mi = list(levels).index(0.5)
    y = res.y * res.scale[:, None]  # (N, H)
    ms = mase_scale[res.series] * res.scale  # (N,) MASE denominators, output units
    agg, per_series, per_h = {}, {}, {}
    for name, q in res.quantiles.items():
        fq = q * res.scale[:, None, None]  # (N, H, Q)
        m = metrics.summary(y, fq, lv)
        m["mase"] = float(np.nanmean(np.abs(fq[..., mi] - y) / ms[:, None]))
        m["n_origins"] = int(len(y))
        agg[name] = m
        for k, sid in enumerate(series_ids):
            r = res.series == k
            if r.any():
                ps = metrics.summary(y[r], fq[r], lv)
                ps["mase"] = metrics.mase(y[r], fq[r][..., mi], float(ms[r][0])) if np.isfinite(ms[r][0]) else float("nan")
                ps["n_origins"] = int(r.sum())
                per_series.setdefault(sid, {})[name] = ps
        e = fq[..., mi] - y  # (N, H)
        diff = y[..., None] - fq
        pin = np.maximum(lv * diff, (lv - 1) * diff).mean(axis=(0, 2))
        per_h[name] = {"mae": np.abs(e).mean(axis=0).tolist(), "rmse": np.sqrt((e ** 2).mean(axis=0)).tolist(),
                       "pinball": pin.tolist(),
                       "coverage_p10_p90": ((y >= fq[..., 0]) & (y <= fq[..., -1])).mean(axis=0).tolist()}
    return {"aggregate": agg, "per_series": per_series, "per_horizon": per_h}


def tidy(res: RollingResult, series_ids: list[str], levels: tuple[float, ...]) -> pd.DataFrame:
    """Long frame: series_id, issued_at, ts, horizon_h, actual, one column per quantile, model, refit_id."""
    from forecast.types import quantile_column

    N, H = res.y.shape
    h = np.arange(1, H + 1)
    base = pd.DataFrame({
        "series_id": np.repeat(np.asarray(series_ids, dtype=object)[res.series], H),
        "issued_at": np.repeat(res.issued_at, H),
        "ts": (np.repeat(res.issued_at, H) + pd.to_timedelta(np.tile(h - 1, N), unit="h")),
        "horizon_h": np.tile(h, N),
        "actual": (res.y * res.scale[:, None]).ravel(),
    })
    parts = []
    for name, q in res.quantiles.items():
        fq = (q * res.scale[:, None, None]).reshape(N * H, -1)  # (N·H, Q)
        d = base.copy()
        for j, lvl in enumerate(levels):
            d[quantile_column(lvl)] = fq[:, j]
        d["model"] = name
        d["refit_id"] = np.repeat(res.refit_of, H) if name == "model" else -1
        parts.append(d)
    return pd.concat(parts, ignore_index=True)


def combine_extras(extras: list[Callable[[pd.Timestamp, np.ndarray], dict[str, np.ndarray]]]):
    """One ``extra(t0, g)`` for :func:`rolling` from several (their model dicts merged); None when there are none."""
    if not extras:
        return None

    def extra(t0: pd.Timestamp, g: np.ndarray) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for e in extras:
            out.update(e(t0, g))
        return out

    return extra
