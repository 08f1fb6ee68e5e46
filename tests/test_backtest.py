"""Rolling-origin backtest: refit plan per policy, pre-origin windows only, calibration, no look-ahead
on the scenario's meter, and the end-to-end command (outputs, report, MLflow)."""

import json

import numpy as np
import pandas as pd
import pytest

from forecast.config import OptimizerConfig, TrainerConfig, compose, to_object
from forecast.data.windows import WindowStore
from forecast.models.device import resolve
from forecast.evaluation.rolling import (Policy, apply_calibration, calibration_factors, refit_plan, rolling, windows_before)

H = 24
DAYS = pd.date_range("2024-03-01", periods=10, freq="D", tz="UTC")


@pytest.mark.parametrize("retrain,expected", [("never", [0]), ("every_k", [0, 3, 6, 9]), ("expanding", [0, 3, 6, 9])])
def test_refit_plan(retrain, expected):
    times = pd.DatetimeIndex(list(DAYS) * 2)  # two sites share the origin times
    assert refit_plan(times, Policy(retrain=retrain, k=3)) == [DAYS[i] for i in expected]


def test_policy_rejects_unknown_retrain():
    with pytest.raises(ValueError, match="backtest.retrain"):
        Policy(retrain="sometimes")
    with pytest.raises(ValueError, match="backtest.retrain"):
        to_object(compose(["backtest.retrain=sometimes"]))


def _store(days=60, seed=0):
    from forecast.data.features import calendar
    from forecast.data.windows import SeriesArrays

    rng = np.random.default_rng(seed)
    ts = pd.date_range("2024-01-01", periods=days * 24, freq="h", tz="UTC")
    y = (1 + 0.3 * np.sin(2 * np.pi * np.arange(len(ts)) / 24) + rng.normal(0, 0.05, len(ts))).astype(np.float32)
    cal = calendar(pd.date_range(ts[0], periods=len(ts) + H, freq="h"))
    hist = np.concatenate([y[:, None], cal[: len(ts)]], axis=1)
    sa = SeriesArrays("s", ts, y, hist.astype(np.float32), np.zeros((len(ts), H, 0), np.float32), cal, 2.0)
    return WindowStore([sa], 168, H)


@pytest.mark.parametrize("retrain", ["every_k", "expanding"])
def test_windows_end_before_the_refit(retrain):
    store = _store()
    t0 = store.series[0].ts[24 * 40]
    p = Policy(retrain=retrain, window_days=20, val_days=5)
    tr, va, start = windows_before(store, t0, p)
    ts = store.series[0].ts
    assert (ts[tr] + pd.Timedelta(hours=H) <= t0 - pd.Timedelta(days=5) - pd.Timedelta(hours=H) + pd.Timedelta(hours=1)).all()
    assert (ts[va] + pd.Timedelta(hours=H) <= t0).all() and ts[va].max() + pd.Timedelta(hours=H) == t0
    assert len(set(tr) & set(va)) == 0
    if retrain == "every_k":
        assert ts[tr].min() == t0 - pd.Timedelta(days=20) and start == t0 - pd.Timedelta(days=20)
    else:
        assert ts[tr].min() == ts[168]


def test_calibration_widens_narrow_quantiles_to_nominal():
    rng = np.random.default_rng(0)
    y = rng.normal(0, 1, (400, 24))
    q = np.stack([np.full_like(y, -0.3), np.zeros_like(y), np.full_like(y, 0.3)], axis=-1)  # far too narrow
    c_lo, c_hi = calibration_factors(q, y, 1)
    assert 3.5 < c_lo < 5 and 3.5 < c_hi < 5  # 1.28 σ / 0.3
    qc = apply_calibration(q, 1, c_lo, c_hi)
    cov = ((y >= qc[..., 0]) & (y <= qc[..., 2])).mean()
    assert 0.78 < cov < 0.82
    np.testing.assert_array_equal(qc[..., 1], q[..., 1])
    assert (np.diff(qc, axis=-1) >= 0).all()


def test_calibration_stays_inside_the_models_physical_range():
    """Power near 0 or near the ceiling: the stretched P10/P90 are clamped back to [0, 1], still sorted."""
    rng = np.random.default_rng(1)
    med = rng.uniform(0.0, 1.0, (200, 24))
    q = np.stack([med - 0.05, med, med + 0.05], axis=-1).clip(0.0, 1.0)
    qc = apply_calibration(q, 1, 6.0, 6.0, bounds=(0.0, 1.0))
    assert qc.min() >= 0.0 and qc.max() <= 1.0
    assert (np.diff(qc, axis=-1) >= 0).all()
    assert (qc[..., 0] == 0.0).any() and (qc[..., 2] == 1.0).any()  # the stretch did reach the bounds
    unbounded = apply_calibration(q, 1, 6.0, 6.0)
    assert unbounded.min() < 0.0  # without bounds the same stretch leaves the range


def test_every_origin_gets_its_refit_and_one_batched_predict(monkeypatch):
    """Each refit segment is forecast by one batched call (plus one for calibration), never per origin."""
    import forecast.models.inference as tr_mod
    from forecast.models.tide import TiDE

    calls = []
    real = tr_mod.predict_windows

    def spy(model, store, g, rt, *a, **k):
        calls.append(len(g))
        return real(model, store, g, rt, *a, **k)

    monkeypatch.setattr(tr_mod, "predict_windows", spy)
    store = _store()
    origins = store.origins(0, start=store.series[0].ts[24 * 50], at_hour=0)
    tc = TrainerConfig(accelerator="cpu", devices=1, precision="32-true", max_epochs=1, batch_size=256, progress=False)
    res = rolling(store, origins, Policy(retrain="expanding", k=4, val_days=5, calibrate=False),
                  lambda: TiDE(168, H, n_hist=7, n_fut=6, hidden=16, temporal_hidden=8), (0.1, 0.5, 0.9),
                  OptimizerConfig(), tc, resolve("cpu", "32-true"), baselines=("seasonal_naive_24h",))
    n = len(origins)
    # per refit: its origins in one batched call, then its validation windows (scored for the validated choice)
    assert n == 10 and calls[0::2] == [4, 4, 2] and len(calls) == 6  # days 50 … 59 of 60
    assert res.refits[0].n_val == calls[1] and all(np.isfinite(r.val_mae) for r in res.refits)
    assert list(res.refit_of) == [0] * 4 + [1] * 4 + [2] * 2
    t = res.refit_table()
    assert list(t["n_origins"]) == [4, 4, 2]
    assert (pd.to_datetime(t["train_to"]) <= pd.to_datetime(t["at"])).all()
    assert res.quantiles["model"].shape == (n, H, 3)
    np.testing.assert_allclose(res.scale, 2.0)


def _scenario_cfg(tmp_path, *extra):
    return to_object(compose([
        "experiment=quick", "data.scenario.days=70", f"data.dir={tmp_path / 'scenario'}", f"out_dir={tmp_path / 'out'}",
        f"tracking.uri=sqlite:///{tmp_path / 'mlflow.db'}", "data.horizon_h=48", "data.history_h=168",
        "data.test_weeks=1", "data.val_weeks=1", "trainer.max_epochs=1", "model.hidden=16",
        "model.temporal_hidden=8", "backtest.lightgbm_max_rows=4000", "backtest.lightgbm_every_h=24", *extra]))


@pytest.mark.slow
def test_scenario_forecasts_ignore_meter_after_their_origin(tmp_path):
    """Plant a huge meter reading from one origin on: forecasts issued at or before it do not move
    (learned model, physics, seasonal naive, LightGBM); later ones do."""
    from forecast.evaluation.backtest import backtest_origins, gbm_extra, policy_of
    from forecast.models import registry
    from forecast.data.inputs import load_inputs, site_series

    cfg = _scenario_cfg(tmp_path, "backtest.k=3", "backtest.retrain=expanding")
    dc = cfg.data
    series = site_series(load_inputs(dc), dc)[:2]

    def run(ss):
        store = WindowStore(ss, dc.history_h, dc.horizon_h)
        g, _ = backtest_origins(store, cfg)
        p = policy_of(cfg)
        return rolling(store, g, p, lambda: registry.build(cfg.model, dc.history_h, dc.horizon_h), (0.1, 0.5, 0.9),
                       cfg.model.optimizer, cfg.trainer, resolve("cpu", "32-true"),
                       extra=gbm_extra(store, (0.1, 0.5, 0.9), p, 24, 4000, 0))

    base = run(series)
    cut = sorted(set(base.issued_at))[3]
    planted = []
    for s in series:
        y, hist = s.y.copy(), s.hist.copy()
        after = s.ts >= cut
        y[after] = 50.0
        hist[after, 0] = 50.0
        planted.append(type(s)(s.series_id, s.ts, y, hist, s.fut, s.cal, s.scale))
    alt = run(planted)
    before = base.issued_at <= cut
    assert before.sum() == 8 and (~before).sum() >= 4
    for name in ("model", "physics", "seasonal_naive_24h", "seasonal_naive_168h", "lightgbm"):
        np.testing.assert_array_equal(base.quantiles[name][before], alt.quantiles[name][before], err_msg=name)
    assert not np.allclose(base.quantiles["model"][~before], alt.quantiles["model"][~before])


@pytest.mark.slow
def test_backtest_end_to_end(tmp_path):
    from forecast import tracking
    from forecast.evaluation.backtest import backtest

    cfg = _scenario_cfg(tmp_path, "backtest.k=4", "backtest.retrain=every_k", "backtest.window_days=30")
    res = backtest(cfg)
    agg = res.metrics["aggregate"]
    models = {"model", "seasonal_naive_24h", "seasonal_naive_168h", "physics", "lightgbm"}
    assert set(agg) == models
    for m in agg.values():
        assert {"mae", "rmse", "smape", "mase", "pinball", "crps", "coverage_p10_p90", "top5_mae"} <= set(m)
    assert len(res.metrics["per_series"]) == 4 and all(set(v) == models for v in res.metrics["per_series"].values())
    assert len(res.metrics["per_horizon"]["model"]["mae"]) == 48
    n_times = len(set(res.result.issued_at))
    assert len(res.refits) == int(np.ceil(n_times / 4))
    assert (pd.to_datetime(res.refits["train_from"]) >= pd.to_datetime(res.refits["at"]) - pd.Timedelta(days=30)).all()
    fc = pd.read_parquet(res.folder / "forecasts.parquet")
    assert len(fc) == len(models) * len(res.result.origins) * 48
    assert json.loads((res.folder / "metrics.json").read_text())["aggregate"]["model"]["mae"] == agg["model"]["mae"]
    page = (res.folder / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 1 + 4 and "lightgbm" in page and "Refits" in page
    logged = tracking.run_metrics(res.run_id, cfg.tracking.uri)
    assert logged["bt_model_mae"] == pytest.approx(agg["model"]["mae"])
    assert logged["bt_refits"] == len(res.refits)
