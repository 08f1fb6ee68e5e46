"""Input files: draw forecasts (forecast output format), grid and meter contracts, real PJM load."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecast.errors import ContractError
from forecast.pledge import api
from forecast.pledge.accounting import compute
from forecast.pledge.calendar import billing_months, hourly_index
from forecast.pledge.inputs import build_inputs

REAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "pjm_rto_2025" / "hrl_load_metered.csv"


def _cfg(worked, **draw):
    cfg = worked[0].pledge
    return dataclasses.replace(cfg, draw=dataclasses.replace(cfg.draw, **draw))


def _draw_file(path, ts, issued, p50=850.0, drop=None, cross=False):
    df = pd.DataFrame({"series_id": "campus-1", "issued_at": issued, "ts": ts, "horizon_h": 1,
                       "p10": p50 - 50, "p50": p50, "p90": p50 + 30, "model": "m", "model_version": "1", "run_id": "r"})
    if cross:
        df.loc[5, "p10"] = p50 + 100
    if drop is not None:
        df = df.drop(index=drop)
    df.to_parquet(path, index=False)


def test_draw_file_uses_the_latest_issue_as_of(worked, tmp_path):
    ts = hourly_index(billing_months("2026-07", 1, "America/New_York"))
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    _draw_file(a, ts, pd.Timestamp("2026-06-01", tz="UTC"), p50=800.0)
    _draw_file(b, ts, pd.Timestamp("2026-06-20", tz="UTC"), p50=900.0)
    both = tmp_path / "both.parquet"
    pd.concat([pd.read_parquet(a), pd.read_parquet(b)]).to_parquet(both)
    early = build_inputs(_cfg(worked, source="file", path=str(both), as_of="2026-06-10T00:00:00+00:00"))
    late = build_inputs(_cfg(worked, source="file", path=str(both), as_of=None))
    assert np.all(early.median == 800.0) and np.all(late.median == 900.0)


def test_draw_file_errors_name_site_and_hours(worked, tmp_path):
    ts = hourly_index(billing_months("2026-07", 1, "America/New_York"))
    gap = tmp_path / "gap.parquet"
    _draw_file(gap, ts, pd.Timestamp("2026-06-01", tz="UTC"), drop=[10, 11])
    with pytest.raises(ContractError, match=r"gap\.parquet: column 'ts': no draw forecast for site 'campus-1' in 2 hours"):
        build_inputs(_cfg(worked, source="file", path=str(gap)))
    cross = tmp_path / "cross.parquet"
    _draw_file(cross, ts, pd.Timestamp("2026-06-01", tz="UTC"), cross=True)
    with pytest.raises(ContractError, match="quantiles cross"):
        build_inputs(_cfg(worked, source="file", path=str(cross)))


def test_draw_file_repeats_and_draw_above_capacity_are_refused(worked, tmp_path):
    ts = hourly_index(billing_months("2026-07", 1, "America/New_York"))
    one = tmp_path / "one.parquet"
    _draw_file(one, ts, pd.Timestamp("2026-06-01", tz="UTC"))
    df = pd.read_parquet(one)
    rep = pd.concat([df, df.iloc[[3]].assign(p50=870.0)])  # the same (site, hour, issue) with another value
    rep.to_parquet(tmp_path / "rep.parquet")
    with pytest.raises(ContractError, match=r"rep\.parquet: column 'issued_at': 2 rows repeat"):
        build_inputs(_cfg(worked, source="file", path=str(tmp_path / "rep.parquet")))
    df.assign(p90=np.where(np.arange(len(df)) == 7, 1100.0, df["p90"])).to_parquet(tmp_path / "over.parquet")
    with pytest.raises(ContractError, match=r"over\.parquet: column 'p90': draw above the site's capacity_mw in 1 "):
        build_inputs(_cfg(worked, source="file", path=str(tmp_path / "over.parquet")))


def test_settle_from_meter_and_grid_files(worked, tmp_path):
    app, resolved = worked
    ts = hourly_index(billing_months("2026-07", 1, "America/New_York"))
    meter = pd.DataFrame({"site_id": "campus-1", "ts": ts.strftime("%Y-%m-%dT%H:%M:%SZ"), "power_mw": 840.0})
    meter.to_csv(tmp_path / "meter.csv", index=False)
    grid = pd.DataFrame({"zone": "RTO", "ts": ts.strftime("%Y-%m-%dT%H:%M:%SZ"), "price": 50.0,
                         "load_mw": 100_840.0, "load_forecast_mw": 100_000.0})
    grid.to_csv(tmp_path / "grid.csv", index=False)
    cfg = dataclasses.replace(app.pledge, actuals=dataclasses.replace(
        app.pledge.actuals, source="file", meter_path=str(tmp_path / "meter.csv"), grid_path=str(tmp_path / "grid.csv")))
    inp = build_inputs(cfg, "settled")
    assert np.all(inp.median == 840.0) and np.allclose(inp.others_mw, 100_000.0)
    acc = compute(cfg, inp, api.price_response(cfg), samples=False)
    assert acc.amount("energy") == 840 * 744 * 55
    meter.drop(index=[3]).to_csv(tmp_path / "meter.csv", index=False)
    with pytest.raises(ContractError, match="gaps in the hourly series|no meter reading"):
        build_inputs(cfg, "settled")


def test_real_pjm_load_through_a_dst_month(worked, tmp_path):
    if not REAL.exists():
        pytest.skip(f"real PJM data not found at {REAL}")
    raw = pd.read_csv(REAL, usecols=["datetime_beginning_utc", "mw"])
    ts = pd.to_datetime(raw["datetime_beginning_utc"], format="%m/%d/%Y %I:%M:%S %p", utc=True)
    grid = pd.DataFrame({"zone": "RTO", "ts": ts.dt.strftime("%Y-%m-%dT%H:%M:%SZ"), "price": 40.0,
                         "load_mw": raw["mw"], "load_forecast_mw": raw["mw"]})
    grid.to_csv(tmp_path / "grid.csv", index=False)
    cfg = worked[0].pledge
    cfg = dataclasses.replace(cfg, period=dataclasses.replace(cfg.period, start="2025-03"),
                              system_load=dataclasses.replace(cfg.system_load, source="file", path=str(tmp_path / "grid.csv")),
                              tariff=dataclasses.replace(cfg.tariff, capacity=[dataclasses.replace(
                                  cfg.tariff.capacity[0], delivery_year="2024/25", price_usd_per_mw_day=28.92,
                                  cap_usd_per_mw_day=None, uncapped_usd_per_mw_day=None)]))
    inp = build_inputs(cfg)
    assert len(inp.ts) == 743  # March 2025 in Eastern prevailing time
    acc = compute(cfg, inp, api.price_response(cfg), samples=False)
    dp = acc.hourly["delta_price_usd_per_mwh"]
    assert (dp > 0).all() and np.isfinite(dp).all()
    # a higher real load means a larger price effect per hour (monotone curve, convex)
    load = acc.hourly["others_load_mw"].to_numpy()
    assert dp.to_numpy()[np.argmax(load)] > dp.to_numpy()[np.argmin(load)]


def _paths_file(path, ts, base, k=20, seed=0):
    """k joint paths of system load (MW) around ``base``, long format (ts, sample, load_mw)."""
    rng = np.random.default_rng(seed)
    level = base * (1 + 0.05 * rng.standard_normal(k))  # (k,) a path's level
    vals = level[:, None] * (1 + 0.01 * rng.standard_normal((k, len(ts))))  # (k, T)
    pd.DataFrame({"ts": np.tile(ts, k), "sample": np.repeat(np.arange(k), len(ts)),
                  "load_mw": vals.ravel()}).to_parquet(path, index=False)
    return vals


def test_system_load_forecast_paths_drive_the_joint_samples(worked, tmp_path):
    """system_load.source=forecast: the central load is the paths' hourly median, the Monte Carlo draws whole
    paths with the campus draw, and the bands widen with the paths' spread."""
    from forecast.pledge.accounting import compute

    cfg = worked[0].pledge
    ts = hourly_index(billing_months(cfg.period.start, cfg.period.months, cfg.market.timezone))
    vals = _paths_file(tmp_path / "paths.parquet", ts, 120_000.0)
    sl = dataclasses.replace(cfg.system_load, source="forecast", path=str(tmp_path / "paths.parquet"))
    c1 = dataclasses.replace(cfg, system_load=sl)
    inp = build_inputs(c1, "forecast")
    d50 = inp.q[..., 1].sum(axis=0)
    np.testing.assert_allclose(inp.others_mw, np.median(vals, axis=0) - d50)
    np.testing.assert_allclose(inp.others_paths, vals - d50[None])
    assert "20 joint sample paths" in inp.sources["system_load"]
    curve = api.price_response(c1)
    a = compute(c1, inp, curve)
    narrow = _paths_file(tmp_path / "narrow.parquet", ts, 120_000.0, seed=0) * 0 + np.median(vals, axis=0)
    pd.DataFrame({"ts": np.tile(ts, 20), "sample": np.repeat(np.arange(20), len(ts)),
                  "load_mw": narrow.ravel()}).to_parquet(tmp_path / "narrow.parquet", index=False)
    c2 = dataclasses.replace(cfg, system_load=dataclasses.replace(sl, path=str(tmp_path / "narrow.parquet")))
    n = compute(c2, build_inputs(c2, "forecast"), curve)
    m = inp.months[0].label
    wide_band = a.bands[(m, "pledge")][2] - a.bands[(m, "pledge")][0]
    narrow_band = n.bands[(m, "pledge")][2] - n.bands[(m, "pledge")][0]
    assert wide_band > narrow_band  # the system load's uncertainty reaches the pledge's band


def test_system_load_paths_missing_hours_are_refused(worked, tmp_path):
    cfg = worked[0].pledge
    ts = hourly_index(billing_months(cfg.period.start, cfg.period.months, cfg.market.timezone))
    _paths_file(tmp_path / "short.parquet", ts[:-3], 120_000.0)
    sl = dataclasses.replace(cfg.system_load, source="forecast", path=str(tmp_path / "short.parquet"))
    with pytest.raises(ContractError, match=r"short.parquet: column 'ts': system-load paths miss 3 hours"):
        build_inputs(dataclasses.replace(cfg, system_load=sl), "forecast")
