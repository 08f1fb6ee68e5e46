"""End to end on a small scenario: simulate -> train -> register -> batch forecast (by alias and checkpoint)."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from forecast.config import compose, to_object
from forecast.errors import ContractError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    import os

    work = tmp_path_factory.mktemp("e2e")
    old = os.getcwd()
    os.chdir(work)
    try:
        from forecast.pipeline.train import train

        cfg = to_object(compose(["experiment=quick", f"data.dir={work / 'data'}", f"out_dir={work / 'out'}",
                                 f"tracking.uri=sqlite:///{work / 'mlflow.db'}", f"predict.out={work / 'fc'}",
                                 "data.scenario.days=90", "trainer.max_train_windows=1024",
                                 "tracking.force_promote=true"]))  # predict by alias below needs a champion
        res = train(cfg)
        yield cfg, res, work
    finally:
        os.chdir(old)


def test_train_logs_metrics_plots_and_registers(trained):
    cfg, res, work = trained
    assert res.model_version == "1"
    assert set(res.metrics) == {"model", "seasonal_naive_24h", "seasonal_naive_168h", "physics"}
    for m in res.metrics.values():
        assert m["mae"] > 0 and 0 <= m["coverage_p10_p90"] <= 1
    assert {p.name for p in res.plots} >= {"mae_by_horizon.png", "fan_site-a.png"}
    from forecast import tracking

    logged = tracking.run_metrics(res.run_id, cfg.tracking.uri)
    assert logged["test_model_mae"] == pytest.approx(res.metrics["model"]["mae"])
    assert "val_pinball" in logged and "train_windows_per_s" in logged
    assert tracking.resolve_alias("power-forecaster", "champion", cfg.tracking.uri).run_id == res.run_id
    assert res.promoted and ("beats" in res.promotion or "force_promote" in res.promotion)


def test_batch_forecast_by_alias_is_tidy_and_reproducible(trained):
    from forecast.pipeline.predict import predict

    cfg, res, work = trained
    t = "2024-03-20T00:00:00Z"
    a = predict(cfg, reference_time=t)
    f = a.frame
    assert list(f.columns) == ["series_id", "issued_at", "ts", "horizon_h", "p10", "p50", "p90", "model",
                               "model_version", "run_id"]
    assert len(f) == 4 * 168 and sorted(f.series_id.unique()) == ["site-a", "site-b", "site-c", "site-d"]
    assert (f.issued_at == pd.Timestamp(t)).all()
    assert (f.ts - f.issued_at == pd.to_timedelta(f.horizon_h - 1, unit="h")).all()
    # non-crossing, within [0, capacity] (the bounds can tie quantiles there), strictly ordered inside
    assert (f.p10 <= f.p50).all() and (f.p50 <= f.p90).all() and (f.p10 >= 0).all()
    inside = (f.p10 > 0) & (f.p90 < f.groupby("series_id")["p90"].transform("max"))
    assert inside.any() and (f.p10[inside] < f.p50[inside]).all() and (f.p50[inside] < f.p90[inside]).all()
    assert (f.model_version == "1").all() and (f.run_id == res.run_id).all()
    digest = hashlib.sha256(a.path.read_bytes()).hexdigest()
    b = predict(cfg, reference_time=t)
    assert b.path == a.path and hashlib.sha256(b.path.read_bytes()).hexdigest() == digest
    assert pd.read_parquet(a.path).equals(f)


def test_forecast_uses_only_data_known_at_the_reference_time(trained, tmp_path):
    """Poison every meter reading from the reference time on: the forecast does not move."""
    import dataclasses

    from forecast.pipeline.predict import predict

    cfg, res, work = trained
    t = pd.Timestamp("2024-03-20T00:00:00Z")
    base = predict(cfg, reference_time=t).frame
    src = work / "data"
    dst = tmp_path / "poisoned"
    dst.mkdir()
    for name in ("sites.csv", "jobs.parquet", "grid.parquet"):
        (dst / name).write_bytes((src / name).read_bytes())
    m = pd.read_parquet(src / "meter.parquet")
    m.loc[m.ts >= t, "power_mw"] *= 3.0
    m.to_parquet(dst / "meter.parquet", index=False)
    cfg2 = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, dir=str(dst)),
                               predict=dataclasses.replace(cfg.predict, out=str(tmp_path / "fc"), data_from="config"))
    res2 = predict(cfg2, reference_time=t)
    assert res2.data_from == "config" and res2.data_dir == str(dst)  # the poisoned folder was read
    poisoned = res2.frame
    pd.testing.assert_frame_equal(base, poisoned)


def test_checkpoint_path_and_csv(trained, tmp_path):
    import dataclasses

    from forecast.pipeline.predict import predict

    cfg, res, _ = trained
    cfg2 = dataclasses.replace(cfg, predict=dataclasses.replace(cfg.predict, out=str(tmp_path), csv=True))
    out = predict(cfg2, model_ref=str(res.checkpoint), reference_time="2024-03-01T06:00Z")
    assert out.model_version.startswith("checkpoint:") and out.csv_path is not None
    csv = pd.read_csv(out.csv_path)
    assert len(csv) == out.rows and csv["ts"].iloc[0] == "2024-03-01T06:00:00Z"
    np.testing.assert_allclose(csv["p50"].to_numpy(), out.frame["p50"].to_numpy())


def test_reference_time_errors(trained):
    from forecast.pipeline.predict import predict

    cfg, _, _ = trained
    with pytest.raises(ValueError, match="has no timezone"):
        predict(cfg, reference_time="2024-03-20 00:00")
    with pytest.raises(ValueError, match="not on the hour"):
        predict(cfg, reference_time="2024-03-20T00:30Z")
    with pytest.raises(ContractError, match=r"meter.parquet: column 'ts': site 'site-a' lacks 336 of the 336 meter hours"):
        predict(cfg, reference_time="2023-01-01T00:00Z")


def test_batch_script_from_the_command_line(trained, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    cfg, res, work = trained
    root = Path(__file__).resolve().parents[1]
    cmd = [sys.executable, str(root / "scripts" / "batch_forecast.py"), "--reference-time", "2024-03-20T00:00Z",
           "--out", str(tmp_path), "--csv", f"data.dir={cfg.data.dir}", f"tracking.uri={cfg.tracking.uri}"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=work)
    assert p.returncode == 0, p.stderr[-2000:]
    assert f"{tmp_path}/forecast_20240320T0000Z_power-forecaster-v1.parquet: 672 rows" in p.stdout
    assert f"data: {cfg.data.dir} (data.dir)" in p.stdout  # data.dir given on the command line: used
    assert (tmp_path / "forecast_20240320T0000Z_power-forecaster-v1.csv").exists()
    bad = subprocess.run(cmd[:3] + ["2024-03-20 00:00"] + cmd[4:], capture_output=True, text=True, timeout=300, cwd=work)
    assert bad.returncode != 0 and "has no timezone" in bad.stderr


def test_predict_reads_the_models_data_and_never_overwrites_a_forecast(trained, tmp_path):
    import dataclasses

    from forecast.errors import UsageError
    from forecast.pipeline.predict import predict

    cfg, res, work = trained
    t = "2024-03-20T00:00:00Z"
    elsewhere = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, dir=str(tmp_path / "no-such-folder")),
                                    predict=dataclasses.replace(cfg.predict, out=str(tmp_path / "fc")))
    a = predict(elsewhere, reference_time=t)  # the folder recorded with the model, not data.dir
    assert a.data_from == "model" and a.data_dir == str((work / "data").resolve()) and a.written
    assert a.path.name == "forecast_20240320T0000Z_power-forecaster-v1.parquet"
    again = predict(elsewhere, reference_time=t)
    assert again.path == a.path and not again.written  # same model, time and inputs: the same file, left alone
    ck = predict(elsewhere, model_ref=str(res.checkpoint), reference_time=t)  # another model: another file
    assert ck.path != a.path and ck.path.name.startswith("forecast_20240320T0000Z_forecaster-ckpt") and a.path.exists()
    a.path.write_bytes(a.path.read_bytes()[:-8] + b"00000000")  # the file no longer matches what it would write
    tampered = a.path.read_bytes()
    with pytest.raises(UsageError, match="never overwritten"):
        predict(elsewhere, reference_time=t)
    assert a.path.read_bytes() == tampered
    with pytest.raises(FileNotFoundError, match="no-such-folder"):
        predict(dataclasses.replace(elsewhere, predict=dataclasses.replace(elsewhere.predict, data_from="config")),
                reference_time=t)


def test_missing_temperature_is_refused_not_defaulted(trained, tmp_path):
    import dataclasses

    from forecast.pipeline.predict import predict

    cfg, _, work = trained
    src = work / "data"
    for name in ("sites.csv", "jobs.parquet", "meter.parquet"):
        (tmp_path / name).write_bytes((src / name).read_bytes())
    g = pd.read_parquet(src / "grid.parquet")
    g = g[g.ts < pd.Timestamp("2024-03-15T00:00Z")]  # weather stops 5 days before the reference time
    g.to_parquet(tmp_path / "grid.parquet", index=False)
    cfg2 = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, dir=str(tmp_path)),
                               predict=dataclasses.replace(cfg.predict, out=str(tmp_path / "fc"), data_from="config"))
    with pytest.raises(ContractError, match=r"grid.parquet: column 'temperature_c': zone 'DOM' \(site 'site-a'\) lacks 120 of the 336 hours"):
        predict(cfg2, reference_time="2024-03-20T00:00Z")


def test_draw_forecast_covers_the_next_billing_month_bounded_and_blended(trained):
    """Learned model for its horizon, long-horizon beyond, every hour to the end of the next local month."""
    from forecast.data.inputs import load_inputs
    from forecast.pipeline.draw import forecast_draw
    from forecast.pipeline.predict import predict
    from forecast.pledge.calendar import billing_months, hourly_index
    from forecast.pledge.inputs import read_draw_forecast

    cfg, res, work = trained
    t = pd.Timestamp("2024-03-20T00:00:00Z")
    d = forecast_draw(cfg, "America/New_York", reference_time=t, blend_h=48)
    assert d.end == pd.Timestamp("2024-05-01T04:00:00Z")  # local midnight May 1 (EDT)
    f = d.frame
    H = int((d.end - t) / pd.Timedelta(hours=1))
    assert len(f) == 4 * H and f.groupby("series_id")["horizon_h"].max().eq(H).all()
    assert f["ts"].min() == t and f["ts"].max() == d.end - pd.Timedelta(hours=1)
    q = f[["p10", "p50", "p90"]].to_numpy()
    cap = load_inputs(cfg.data).sites.groupby("site_id")["capacity_mw"].first()
    assert (q >= 0).all() and (q <= f["series_id"].map(cap).to_numpy()[:, None] + 1e-9).all()
    assert (np.diff(q, axis=1) >= 0).all()
    learned = predict(cfg, reference_time=t).frame.set_index(["series_id", "horizon_h"])
    g = f.set_index(["series_id", "horizon_h"])
    early = g.index.get_level_values(1) <= 120  # before the 48 h blend window: the learned model itself
    np.testing.assert_allclose(g.loc[early, "p50"], learned.loc[g.index[early], "p50"])
    assert not np.allclose(g.loc[~early & (g.index.get_level_values(1) <= 168), "p50"],
                           learned.loc[g.index[~early & (g.index.get_level_values(1) <= 168)], "p50"])
    # the pledge reads the file for the next billing month without complaint: every hour covered, P10 >= 0
    months = billing_months("2024-04", 1, "America/New_York")
    got = read_draw_forecast(str(d.path), sorted(cap.index), hourly_index(months), (0.1, 0.5, 0.9))
    assert got.shape == (4, 720, 3)


def test_a_retrained_model_that_does_not_beat_the_champion_is_a_challenger(trained):
    """The same data again: not better than the champion and every baseline, so the alias stays; the reason and
    the champion's score on the same windows are in the run."""
    import dataclasses
    import os

    from forecast import tracking
    from forecast.pipeline.train import train

    cfg, res, work = trained
    old = os.getcwd()
    os.chdir(work)
    try:
        again = train(dataclasses.replace(cfg, out_dir=str(work / "out2"),
                                          tracking=dataclasses.replace(cfg.tracking, force_promote=False)))
    finally:
        os.chdir(old)
    assert not again.promoted and again.model_version == "2"
    assert "registered as challenger" in again.promotion and "(champion version 1)" in again.promotion
    assert tracking.resolve_alias("power-forecaster", "champion", cfg.tracking.uri).run_id == res.run_id
    assert tracking.resolve_alias("power-forecaster", "challenger", cfg.tracking.uri).version == "2"
    import mlflow

    logged = mlflow.MlflowClient(cfg.tracking.uri).get_run(again.run_id).data
    assert logged.tags["promotion.alias"] == "challenger" and logged.tags["promotion.reason"] == again.promotion
    assert logged.metrics["promotion_mae_champion"] > 0  # the champion was scored on the same test windows
    assert logged.metrics["promotion_mae_new"] == pytest.approx(again.metrics["model"]["mae"])
