"""The configured supply curve honours the PriceResponse protocol: monotone, draws, broadcasting."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecast.price.configured import ConfiguredSupplyCurve, SupplyCurveParams
from forecast.price.response import PriceResponse, delta_price

TS = pd.date_range("2026-07-01", periods=48, freq="h", tz="UTC")


def curve(**kw):
    p = dict(exp_coef_usd_per_mwh=11.96, exp_rate_per_gw=0.0492, linear_usd_per_mwh_per_gw=0.1, n_draws=50,
             sigma_exp_coef=0.2, sigma_exp_rate=0.1, sigma_linear=0.2, hour_adders_usd_per_mwh=tuple(range(24)))
    p.update(kw)
    return ConfiguredSupplyCurve(SupplyCurveParams(**p))


def test_is_a_price_response():
    assert isinstance(curve(), PriceResponse)


@settings(max_examples=50, deadline=None)
@given(lo=st.floats(0, 250_000), step=st.floats(0, 50_000), draw=st.integers(0, 49))
def test_non_decreasing_in_load_for_every_draw(lo, step, draw):
    c = curve(cap_usd_per_mwh=500.0)
    a = c.price(np.full(48, lo), TS, np.array([draw]))
    b = c.price(np.full(48, lo + step), TS, np.array([draw]))
    assert np.all(b >= a)


def test_draw_broadcasting_shapes():
    c = curve()
    load = np.full((3, 48), 100_000.0)
    assert c.price(load, TS).shape == (3, 48)
    assert c.price(np.full(48, 1e5), TS, np.arange(5)).shape == (5, 48)
    assert c.price(np.full((5, 2, 48), 1e5), TS, np.arange(5)).shape == (5, 2, 48)
    with pytest.raises(IndexError):
        c.price(np.full(48, 1e5), TS, np.array([50]))


def test_delta_price_matches_the_configured_anchors():
    c = curve(linear_usd_per_mwh_per_gw=0.0, exp_coef_usd_per_mwh=11.957879, exp_rate_per_gw=0.049223993,
              hour_adders_usd_per_mwh=())
    dp_off = delta_price(c, np.full(48, 100_000.0), np.full(48, 850.0), TS)
    dp_peak = delta_price(c, np.full(48, 149_850.0), np.full(48, 850.0), TS)
    assert dp_off == pytest.approx(np.full(48, 0.49), rel=1e-5)
    assert dp_peak == pytest.approx(np.full(48, 5.70), rel=1e-5)


def test_draws_are_seeded_and_spread_around_the_central_curve():
    a, b = curve(seed=3), curve(seed=3)
    load = np.full(48, 140_000.0)
    pa = a.price(load, TS, np.arange(50))
    np.testing.assert_array_equal(pa, b.price(load, TS, np.arange(50)))
    central = a.price(load, TS)
    assert np.median(pa[:, 0]) == pytest.approx(central[0], rel=0.1)
    assert pa[:, 0].std() > 0


def test_hour_adders_follow_local_time():
    c = curve(linear_usd_per_mwh_per_gw=0.0, exp_coef_usd_per_mwh=0.0, sigma_exp_coef=0.0)
    p = c.price(np.full(48, 1e5), TS)
    # 2026-07-01 00:00 UTC is 20:00 EDT: base 30 + adder[20] = 50
    assert p[0] == pytest.approx(30.0 + 20.0)


@pytest.mark.parametrize("field,value", [("exp_rate_per_gw", -0.01), ("linear_usd_per_mwh_per_gw", -1.0),
                                         ("cap_usd_per_mwh", 10.0), ("n_draws", 0)])
def test_bad_parameters_name_the_field(field, value):
    with pytest.raises(ValueError, match=field if field != "cap_usd_per_mwh" else "cap_usd_per_mwh"):
        SupplyCurveParams(**{field: value})


# ----------------------------------------------------------------------------- the kinds: fitted and model
def synthetic_grid(path, seed: int, year: int = 2025, slope: float = 0.06) -> None:
    """A grid-contract CSV, one year hourly: price = 15 + 20·exp(slope·(net GW − 95)) + noise, solar 2 GW,
    wind 1 GW (net = load − 3 GW)."""
    rng = np.random.default_rng(seed)
    ts = pd.date_range(f"{year}-01-01 05:00", periods=8760, freq="h", tz="UTC")
    t = np.arange(8760)
    x = 95 + 20 * np.sin(2 * np.pi * (t % 24 - 9) / 24) + 15 * np.cos(2 * np.pi * t / 8760) + 5 * rng.standard_normal(8760)
    price = 15 + 20 * np.exp(slope * (x - 95)) + 2 * rng.standard_normal(8760)
    pd.DataFrame({"zone": "T", "ts": ts.strftime("%Y-%m-%dT%H:%M:%SZ"), "price": price, "load_mw": x * 1000 + 3000,
                  "load_forecast_mw": x * 1000 + 3000, "solar_mw": 2000.0, "wind_mw": 1000.0}).to_csv(path, index=False)


@pytest.fixture(scope="module")
def grids(tmp_path_factory):
    d = tmp_path_factory.mktemp("grids")
    synthetic_grid(d / "a.csv", 0)
    synthetic_grid(d / "b.csv", 1, slope=0.07)
    return d


def fitted_run(tmp_path, grid, extra=()):
    from forecast.pledge import api
    from forecast.pledge.config import load_config

    app, resolved = load_config(["pledge=worked_example", "tracking=false", "report=false", f"out_dir={tmp_path}",
                                 "pledge.montecarlo.samples=20", "pledge.curtailment.enabled=false",
                                 "pledge.price_curve.kind=fitted", f"pledge.price_curve.fit_on={grid}",
                                 "pledge.price_curve.n_draws=2", *extra])
    res = api.forecast_run(app, resolved)
    settled = api.settle_run(app, resolved)
    return res, settled


def test_ledger_records_the_price_response_used(grids, tmp_path):
    res_a, set_a = fitted_run(tmp_path / "a1", grids / "a.csv")
    res_a2, _ = fitted_run(tmp_path / "a2", grids / "a.csv")
    res_b, _ = fitted_run(tmp_path / "b", grids / "b.csv")
    info = [r.versions[0].manifest()["input_sources"] for r in (res_a, res_a2, res_b, set_a)]
    pr = [i["price_response"] for i in info]
    assert {k: pr[0][k] for k in ("kind", "basis")} == {"kind": "fitted", "basis": "net"}
    assert len(pr[0]["params_sha256"]) == 64
    assert pr[0]["params_sha256"] == pr[1]["params_sha256"] == pr[3]["params_sha256"]  # same inputs, same hash
    assert pr[2]["params_sha256"] != pr[0]["params_sha256"]  # other data, other curve
    assert f"fitted at run time on grid file {grids / 'a.csv'}" in pr[0]["source"]
    assert "all 744 hours from the hourly-by-month mean of the fit data" in pr[0]["source"]
    assert {"draw", "system_load"} <= set(info[0])  # the existing keys stay
    # the money follows the curve: a steeper curve shifts more
    assert res_b.accounting.amount("shift_energy") > res_a.accounting.amount("shift_energy") > 0
    assert res_a.accounting.amount("shift_energy") == res_a2.accounting.amount("shift_energy")


def test_configured_response_is_recorded_too(worked, tmp_path):
    import dataclasses

    from forecast.pledge import api

    app, resolved = worked
    app = dataclasses.replace(app, out_dir=str(tmp_path), report=False, pledge=dataclasses.replace(
        app.pledge, montecarlo=dataclasses.replace(app.pledge.montecarlo, samples=20)))
    pr = api.forecast_run(app, resolved).versions[0].manifest()["input_sources"]["price_response"]
    assert pr["kind"] == "configured" and pr["basis"] == "gross" and len(pr["params_sha256"]) == 64
    assert pr["params_sha256"] == api.price_response(app.pledge).params_sha256()


def test_fitted_response_takes_the_grid_files_renewables_for_its_hours(grids, tmp_path):
    from forecast.pledge import api
    from forecast.pledge.calendar import billing_months, hourly_index
    from forecast.pledge.config import load_config

    ts = hourly_index(billing_months("2026-07", 1, "America/New_York"))
    solar = 5000.0 * (ts.hour % 3 == 0)
    grid = pd.DataFrame({"zone": "T", "ts": ts.strftime("%Y-%m-%dT%H:%M:%SZ"), "price": 40.0, "load_mw": 1e5,
                         "load_forecast_mw": 1e5, "solar_mw": solar, "wind_mw": 700.0})
    grid.to_csv(tmp_path / "period.csv", index=False)
    app, _ = load_config(["pledge=worked_example", "tracking=false", "pledge.price_curve.kind=fitted",
                          f"pledge.price_curve.fit_on={grids / 'a.csv'}", "pledge.price_curve.n_draws=1",
                          "pledge.system_load.source=file", f"pledge.system_load.path={tmp_path / 'period.csv'}"])
    resp = api.price_response(app.pledge)
    np.testing.assert_array_equal(resp.renewables_mw(ts), solar + 700.0)
    # the pledge's gross load 100 GW at an hour with 5.7 GW of renewables is the curve's net 94.3 GW
    h = np.flatnonzero(solar > 0)[:1]
    assert resp.price(np.array([1e5]), ts[h])[0] == resp.curve.price(np.array([94_300.0]), ts[h])[0]
    assert "744 of 744 hours from" in resp.source


def test_fitted_response_from_a_curve_file(grids, tmp_path):
    import json

    from forecast.pledge import api
    from forecast.pledge.config import load_config
    from forecast.price.curve_fit import read_fit_frame
    from forecast.price.supply_curve import FittedSupplyCurve

    frame, _ = read_fit_frame(grids / "a.csv")
    curve = FittedSupplyCurve.fit(frame, n_draws=2, seed=3)
    (tmp_path / "supply_curve.json").write_text(json.dumps(curve.to_dict()))
    app, _ = load_config(["pledge=worked_example", "tracking=false", "pledge.price_curve.kind=fitted",
                          f"pledge.price_curve.path={tmp_path / 'supply_curve.json'}"])
    resp = api.price_response(app.pledge)
    assert resp.curve.params_sha256() == curve.params_sha256() and resp.n_draws == 2
    assert resp.source.startswith(str(tmp_path / "supply_curve.json"))


@pytest.mark.parametrize("overrides,key", [
    (["pledge.price_curve.kind=learned"], "pledge.price_curve.kind"),
    (["pledge.price_curve.kind=fitted"], "pledge.price_curve.fit_on"),
    (["pledge.price_curve.kind=fitted", "pledge.price_curve.fit_on=/nonexistent/grid.csv"], "pledge.price_curve.fit_on"),
    (["pledge.price_curve.kind=fitted", "pledge.price_curve.path=/nonexistent/supply_curve.json"],
     "pledge.price_curve.path"),
    (["pledge.price_curve.path=PJM.csv"], "pledge.price_curve.path"),
    (["pledge.price_curve.kind=model"], "pledge.price_curve.path"),
    (["pledge.price_curve.kind=model", "pledge.price_curve.path=@GRID", "pledge.price_curve.beyond_day_ahead=always"],
     "pledge.price_curve.beyond_day_ahead"),
    (["pledge.price_curve.kind=model", "pledge.price_curve.path=@GRID", "pledge.price_curve.issue_time=2018-07-01"],
     "pledge.price_curve.issue_time"),
    (["pledge.price_curve.kind=model", "pledge.price_curve.path=@GRID", "pledge.price_curve.transforms=[asinh]",
      "pledge.price_curve.windows=[56]"], "pledge.price_curve.windows"),
])
def test_bad_price_curve_config_names_the_key(grids, overrides, key):
    from forecast.pledge.config import PledgeConfigError, load_config

    overrides = [o.replace("@GRID", str(grids / "a.csv")) for o in overrides]
    with pytest.raises(PledgeConfigError) as e:
        load_config(["pledge=worked_example", "tracking=false", *overrides])
    assert e.value.key == key and "fix with the override" in str(e.value)
    assert "\n" not in str(e.value)


def test_pjm_fitted_example_composes(shared_data):
    folder = shared_data / "pjm_rto_2025"
    if not folder.is_dir():
        pytest.skip("PJM RTO 2025 exports not present")
    from forecast.pledge.config import load_config

    app, _ = load_config(["pledge=pjm_fitted", "tracking=false", f"pledge.price_curve.fit_on={folder}"])
    pc = app.pledge.price_curve
    assert pc.kind == "fitted" and pc.path is None and pc.n_draws >= 10


def synthetic_market(path, days: int = 120) -> None:
    """An epftoolbox-layout CSV whose price rises with the system load forecast."""
    rng = np.random.default_rng(5)
    ts = pd.date_range("2020-01-01", periods=24 * days, freq="h")
    load = 90_000 + 15_000 * np.sin(2 * np.pi * (np.arange(len(ts)) % 24 - 9) / 24) + 4000 * rng.standard_normal(len(ts))
    price = 20 + 0.0005 * (load - 80_000) + 2 * rng.standard_normal(len(ts))
    pd.DataFrame({"timestamp": ts, "price": price, "system load": load, "zonal": load * 0.1}).to_csv(path, index=False)


def test_model_response_in_the_pledge(tmp_path):
    from forecast.pledge import api
    from forecast.pledge.config import PledgeConfigError, load_config

    synthetic_market(tmp_path / "market.csv")
    base = ["pledge=worked_example", "tracking=false", "report=false", f"out_dir={tmp_path}",
            "pledge.montecarlo.samples=20", "pledge.curtailment.enabled=false", "pledge.price_curve.kind=model",
            f"pledge.price_curve.path={tmp_path / 'market.csv'}", "pledge.price_curve.windows=[56,84]",
            "pledge.price_curve.transforms=[npit]"]
    app, _ = load_config(base)
    with pytest.raises(PledgeConfigError, match="beyond_day_ahead=hold_last_days") as e:
        api.price_response(app.pledge)  # a billing month lies beyond the day ahead of the file's end
    assert e.value.key == "pledge.price_curve.beyond_day_ahead"
    app, resolved = load_config([*base, "pledge.price_curve.beyond_day_ahead=hold_last_days"])
    res = api.forecast_run(app, resolved)
    pr = res.versions[0].manifest()["input_sources"]["price_response"]
    assert pr["kind"] == "model" and pr["basis"] == "gross" and "network excluded" in pr["source"]
    assert res.accounting.amount("shift_energy") > 0
