"""series-bench contenders on the learned model's footing: the same training windows, the same
split-conformal calibration on the same validation windows, exact naive medians, no negative
quantiles for a non-negative series, Diebold–Mariano p-values in metrics.json, peers skipped with a
reason when their library is missing."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecast.evaluation import contenders as ct
from forecast.evaluation.calibration import conformalize
from forecast.evaluation.rolling import Policy, gather_targets, windows_before
from forecast.evaluation.series_bench import LEVELS, BenchConfig, budget, contenders_extra, prepare, run_bench

FAST = dict(epochs=2, hidden=16, history=168, refit_days=4, report=True,
            lightgbm_params={"n_estimators": 40, "num_leaves": 15})


def _occupancy(days: int = 30, seed: int = 0) -> pd.DataFrame:
    """Hourly GPU occupancy in [0, 1]: idle (exactly 0) most nights, busy blocks by day, noise."""
    rng = np.random.default_rng(seed)
    ts = pd.date_range("2025-03-01", periods=24 * days, freq="h", tz="UTC")
    hod = ts.hour.to_numpy()
    busy = (hod >= 8) & (hod < 20)
    y = np.where(busy, 0.5 + 0.3 * rng.random(len(ts)), 0.0) + np.where(rng.random(len(ts)) < 0.1, 0.2, 0.0)
    return pd.DataFrame({"occ": np.clip(y + rng.normal(0, 0.03, len(ts)) * busy, 0, 1)}, index=ts)


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    d = tmp_path_factory.mktemp("bench")
    df = _occupancy()
    csv = d / "occ.csv"
    df.assign(ts=df.index.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(csv, index=False)
    m = run_bench(BenchConfig(str(csv), "ts", "occ", out=str(d / "o"), **FAST))
    return df, m, d / "o"


def test_no_negative_quantiles_for_a_non_negative_series(bench):
    _, m, out = bench
    fc = pd.read_csv(out / "forecasts.csv")
    assert set(fc["model"]) == {"model", "learned", "seasonal_naive_24h", "seasonal_naive_168h", "lightgbm"}
    for name, f in fc.groupby("model"):
        assert (f[["p10", "p50", "p90"]] >= 0).all().all(), name
        assert (f["p10"] <= f["p50"]).all() and (f["p50"] <= f["p90"]).all(), name
    # the floor was reached (a calibrated P10 below 0 clamped to it): without the clamp these would be < 0
    assert (fc["p10"] == 0.0).sum() > 0
    assert m["protocol"]["quantile_floor"] == 0.0


def test_naive_median_is_the_value_one_period_before(bench):
    df, _, out = bench
    fc = pd.read_csv(out / "forecasts.csv", parse_dates=["ts"])
    for name, period in (("seasonal_naive_24h", 24), ("seasonal_naive_168h", 168)):
        f = fc[(fc["model"] == name) & (fc["horizon_h"] <= period)]
        lagged = df["occ"].reindex(f["ts"] - pd.Timedelta(hours=period)).to_numpy()
        # the window store keeps the series in float32: equal to its precision (the bit-exact check on the
        # baseline itself is tests/models/test_baselines.py)
        np.testing.assert_allclose(f["p50"].to_numpy(), lagged, rtol=3e-7, atol=1e-12, err_msg=name)


def test_dm_p_values_in_metrics_and_report(bench):
    _, m, out = bench
    saved = json.loads((out / "metrics.json").read_text())
    sig = saved["significance"]
    assert sig["h"] == 1 and set(sig["vs"]) == {"learned", "seasonal_naive_24h", "seasonal_naive_168h", "lightgbm"}
    for name, b in saved["baselines"].items():
        v = sig["vs"][name]
        assert b["dm_p_value"] == v["p_value"] and b["dm_vs_model"] == v["verdict"]
        assert v["n"] == saved["n_origins"]
        assert v["verdict"] in ("better", "worse", "level")
        if v["p_value"] is None or v["p_value"] >= 0.05:
            assert v["verdict"] == "level"
        # the loss difference is the contender's MAE minus the model's, on the same origins
        assert v["mae_diff"] == pytest.approx(b["mae"] - saved["mae"], rel=1e-4, abs=1e-9)
    html = (out / "report.html").read_text()
    assert "Diebold" in html and "seasonal_naive_168h: p = " in html


def test_every_contender_is_calibrated_on_the_validation_windows(bench):
    _, m, _ = bench
    calib = m["protocol"]["contender_calibration"]
    n_refits = len(m["protocol"]["refits"])
    for name in ("seasonal_naive_24h", "seasonal_naive_168h", "lightgbm"):
        assert sum(c["model"] == name for c in calib) == n_refits
    # validation windows scale with the history: 20% of the hours before each refit (>= 2 days)
    for r in m["protocol"]["refits"]:
        hours = (pd.Timestamp(r["at"]) - pd.Timestamp("2025-03-01", tz="UTC")) / pd.Timedelta(hours=1)
        assert r["val_h"] == round(max(48, 0.2 * hours))


def test_lightgbm_gets_split_conformal_calibration():
    """LightGBM's quantiles at the origins are its raw ones scaled by factors fitted on its forecasts of the
    validation windows; after that, 10% of the validation targets fall below P10 and 10% above P90."""
    df = _occupancy(days=28, seed=3)
    p = prepare(df, "occ", [], 24, 168)
    cfg = BenchConfig("x.csv", "ts", "occ", **{**FAST, "lightgbm_params": {"n_estimators": 60, "min_child_samples": 5}})
    policy = Policy(val_share=0.2, val_min_days=2)
    t0, g = p.test_start, p.origins[:3]
    y_raw = df["occ"].to_numpy(np.float64)
    raw_fp = ct.gbm_fit_predict(p.store, y_raw, None, p.scale, LEVELS, 0, cfg.lightgbm_params)
    tr, va, _ = windows_before(p.store, t0, policy)
    q_g, q_va, _ = raw_fp(t0, tr, va, g)["lightgbm"]
    y_va, _ = gather_targets(p.store, va)
    ledger = ct.Ledger()
    got = contenders_extra(cfg, p, policy, ledger)(t0, g)["lightgbm"]
    want, c = conformalize(q_g, q_va, y_va, 1)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert c != (1.0, 1.0) and not np.allclose(got, q_g)
    np.testing.assert_array_equal(got[..., 1], q_g[..., 1])  # the median is not moved
    cal_va, _ = conformalize(q_va, q_va, y_va, 1)
    assert np.mean(y_va < cal_va[..., 0]) == pytest.approx(0.1, abs=0.02)
    assert np.mean(y_va > cal_va[..., 2]) == pytest.approx(0.1, abs=0.02)
    assert {"model": "lightgbm", "calib_lo": round(c[0], 4), "calib_hi": round(c[1], 4), "n_val": len(va),
            "at": str(t0)} in ledger.calibration


def test_missing_peer_library_is_skipped_with_the_reason(monkeypatch):
    from forecast.evaluation import peers

    monkeypatch.setattr(peers, "available", lambda library="neuralforecast": False)
    p = prepare(_occupancy(days=20), "occ", [], 24, 168)
    cfg = BenchConfig("x.csv", "ts", "occ", **{**FAST, "lightgbm": False, "peers": ["autoets", "nhits"]})
    ledger = ct.Ledger()
    hook = contenders_extra(cfg, p, Policy(val_share=0.2), ledger)
    assert ledger.skipped == {"autoets": "statsforecast is not installed (pip install '.[peers]')",
                              "nhits": "neuralforecast is not installed (pip install '.[peers]')"}
    assert set(hook(p.test_start, p.origins[:2])) == {"seasonal_naive_24h", "seasonal_naive_168h"}


def test_neuralforecast_peers_get_the_learned_models_budget():
    cfg = BenchConfig("x.csv", "ts", "y", epochs=15, batch_size=256, ensemble=2)
    assert budget(cfg)(1000) == 15 * 4 * 2  # epochs × ceil(1000 / 256) batches × ensemble members
    assert budget(BenchConfig("x.csv", "ts", "y", peer_steps=50))(1000) == 50


def test_statsforecast_peers_on_the_same_origins(tmp_path):
    pytest.importorskip("statsforecast", reason="statsforecast not installed (optional extra: pip install '.[peers]')")
    df = _occupancy(days=24, seed=5)
    p = prepare(df, "occ", [], 24, 168)
    cfg = BenchConfig("x.csv", "ts", "occ", **{**FAST, "lightgbm": False, "peers": ["autoets"]})
    ledger = ct.Ledger()
    out = contenders_extra(cfg, p, Policy(val_share=0.2), ledger)(p.test_start, p.origins[:2])
    q = out["autoets"]
    assert q.shape == (2, 24, 3) and np.isfinite(q).all() and (np.diff(q, axis=-1) >= 0).all()
    assert any(c["model"] == "autoets" and c["n_val"] >= 2 for c in ledger.calibration)


def test_neuralforecast_peer_trains_with_the_budget_it_is_given():
    pytest.importorskip("neuralforecast", reason="NeuralForecast not installed (optional extra: pip install '.[peers]')")
    p = prepare(_occupancy(days=24, seed=6), "occ", [], 24, 168)
    cfg = BenchConfig("x.csv", "ts", "occ", **{**FAST, "epochs": 1, "batch_size": 512, "lightgbm": False,
                                               "peers": ["nhits"]})
    policy = Policy(val_share=0.2)
    ledger = ct.Ledger()
    q = contenders_extra(cfg, p, policy, ledger)(p.test_start, p.origins[:2])["nhits"]
    tr, _, _ = windows_before(p.store, p.test_start, policy)
    assert ledger.budget == [{"at": str(p.test_start), "max_steps": budget(cfg)(len(tr)), "windows_batch_size": 512,
                              "lr": cfg.lr, "input_size": 168}]
    assert q.shape == (2, 24, 3) and (np.diff(q, axis=-1) >= 0).all()
