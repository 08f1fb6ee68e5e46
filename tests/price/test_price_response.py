"""Price responses the pledge can use: the gross/net adapter, the extrapolation past the fit range and the
cap, monotonicity in a uniform shift of the day's load (fitted curve and learned model on real PJM data),
the learned model as a response, and the parameter hashes the ledger records."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecast.price.configured import ConfiguredSupplyCurve, SupplyCurveParams
from forecast.price.response import (NetLoadResponse, PriceResponse, RenewablesProfile, delta_price, params_sha256,
                                     response_info)
from forecast.price.supply_curve import N_GROUPS, FittedSupplyCurve, group_of

TZ = "America/New_York"


def hand_curve(a=10.0, b=2.0, k=0.1, ref=100.0, xmax=130.0, cap=2000.0, renewables=None) -> FittedSupplyCurve:
    """Every group: a + b·exp(k·(x − ref)) up to min(xmax, the cap's load); one draw equal to the centre."""
    p = np.tile([a, b, k], (N_GROUPS, 1))
    return FittedSupplyCurve(p, p[None].copy(), np.full(N_GROUPS, ref), cap, TZ, (50.0, xmax),
                             np.full(N_GROUPS, xmax), renewables)


# ------------------------------------------------------------------------------------------ the gross/net adapter
def test_net_load_adapter_subtracts_the_hours_renewables():
    ts = pd.date_range("2026-07-01 16:00", periods=3, freq="h", tz="UTC")  # 12:00–14:00 EDT
    profile = np.zeros((12, 24))
    profile[6, 14] = 8000.0  # July, local hour 14: 8 GW of solar + wind on average
    curve = hand_curve(renewables=profile)
    exact = pd.Series([5000.0, 3000.0], index=ts[:2])  # the grid file has the first two hours
    resp = curve.gross(exact, source="grid.csv")
    assert isinstance(resp, PriceResponse) and resp.basis == "gross" and curve.basis == "net"
    np.testing.assert_array_equal(resp.renewables_mw(ts), [5000.0, 3000.0, 8000.0])
    gross = np.array([120_000.0, 120_000.0, 120_000.0])
    # net 115, 117 and 112 GW against ref 100: 10 + 2·e^{0.1·(net − 100)}
    want = [10 + 2 * np.exp(1.5), 10 + 2 * np.exp(1.7), 10 + 2 * np.exp(1.2)]
    np.testing.assert_allclose(resp.price(gross, ts), want, rtol=1e-12)
    # ΔP of a 1 GW draw: S(L − R) − S(L − D − R)
    dp = delta_price(resp, gross, np.full(3, 1000.0), ts)
    np.testing.assert_allclose(dp, [2 * (np.exp(1.5) - np.exp(1.4)), 2 * (np.exp(1.7) - np.exp(1.6)),
                                    2 * (np.exp(1.2) - np.exp(1.1))], rtol=1e-12)
    # with draws: the same conversion, shapes (N, T)
    np.testing.assert_allclose(resp.price(gross[None], ts, np.array([0])), [want], rtol=1e-12)
    assert "2 of 3 hours from grid.csv, 1 from the hourly-by-month mean" in resp.renewables.describe(ts)


def test_renewables_profile_is_the_hourly_by_month_mean():
    ts = pd.date_range("2025-01-01 05:00", periods=24 * 59, freq="h", tz="UTC")  # local Jan 1 … Feb 28
    loc = ts.tz_convert(TZ)
    solar = np.where(loc.month == 1, 100.0 * loc.hour, 7.0)
    frame = pd.DataFrame({"ts": ts, "solar_mw": solar, "wind_mw": 50.0})
    prof = RenewablesProfile.month_hour_mean(frame, TZ)
    np.testing.assert_allclose(prof[0], 100.0 * np.arange(24) + 50.0)  # January: by hour
    np.testing.assert_allclose(prof[1], 57.0)  # February: flat
    overall = float(np.mean(solar + 50.0))
    np.testing.assert_allclose(prof[2:], overall)  # months without data: the overall mean
    assert RenewablesProfile.grid_hours(frame.drop(columns=["solar_mw", "wind_mw"])) is None
    # no renewables columns at all: zero, so net load = gross load
    np.testing.assert_array_equal(RenewablesProfile.month_hour_mean(frame[["ts"]], TZ), 0.0)


def test_net_adapter_refuses_a_gross_curve_and_missing_hours():
    with pytest.raises(ValueError, match="takes gross load"):
        NetLoadResponse(ConfiguredSupplyCurve(SupplyCurveParams(n_draws=2)), pd.Series(dtype=float))
    resp = NetLoadResponse(hand_curve(), pd.Series([1.0], index=pd.DatetimeIndex(["2026-07-01"], tz="UTC")))
    with pytest.raises(ValueError, match="no renewables for 1 hours"):
        resp.price(np.full(2, 1e5), pd.date_range("2026-07-01", periods=2, freq="h", tz="UTC"))


# ------------------------------------------------------------------------------------------ extrapolation
def assert_convex_continuation(price_of, x0: float, step: float = 0.5):
    """Beyond x0 (GW): strictly increasing, second differences > 0; continuous with continuous slope at x0."""
    x = x0 + step * np.arange(1, 200)
    p = price_of(x)
    assert (np.diff(p) > 0).all()
    assert (np.diff(p, 2) > 0).all()
    h = 1e-4
    left, at, right = price_of(np.array([x0 - h, x0, x0 + h]))
    assert right - at == pytest.approx(at - left, rel=1e-3)  # same slope on both sides
    assert abs(right - left) < 1e-3 * max(1.0, abs(at))


def test_fitted_curve_continues_past_the_fit_range_as_an_increasing_convex_quadratic():
    curve = hand_curve(xmax=130.0)
    ts = pd.DatetimeIndex(["2026-07-01 20:00"], tz="UTC")

    def s(x_gw):
        return np.array([curve.price(np.array([v * 1000.0]), ts)[0] for v in x_gw])

    assert_convex_continuation(s, 130.0)
    # the quadratic with value, slope and curvature at x_max: f(130) = 10 + 2e^3, s = 0.2e^3, q = 0.02e^3
    e3 = np.exp(3.0)
    assert s([140.0])[0] == pytest.approx(10 + 2 * e3 + 0.2 * e3 * 10 + 0.5 * 0.02 * e3 * 100, rel=1e-12)
    assert s([140.0])[0] < 10 + 2 * np.exp(4.0)  # below the exponential it replaces
    assert s([120.0])[0] == pytest.approx(10 + 2 * np.exp(2.0), rel=1e-12)  # inside: unchanged
    np.testing.assert_allclose(curve.slope(np.array([140_000.0]), ts), 0.2 * e3 + 0.02 * e3 * 10, rtol=1e-12)


def test_fitted_curve_cap_hands_over_instead_of_flattening():
    curve = hand_curve(xmax=200.0, cap=300.0)  # reaches the cap at x = 100 + 10·ln(145) ≈ 149.8 GW < x_max
    ts = pd.DatetimeIndex(["2026-07-01 20:00"], tz="UTC")
    x_cap = 100 + 10 * np.log(145.0)
    assert curve.handover_load_gw(ts)[0] == pytest.approx(x_cap)

    def s(x_gw):
        return curve.price(np.asarray(x_gw) * 1000.0, ts.repeat(len(x_gw)))

    assert s([x_cap])[0] == pytest.approx(300.0)
    assert_convex_continuation(s, x_cap)
    assert (s(np.linspace(x_cap + 1, 400, 50)) > 300.0).all()


def test_flat_fitted_group_still_rises_past_the_fit_range():
    curve = hand_curve(b=0.0, xmax=130.0)  # a group fitted flat: the floors keep the continuation rising
    ts = pd.DatetimeIndex(["2026-07-01 20:00"], tz="UTC")
    p = curve.price(np.array([120e3, 130e3, 140e3, 150e3]), ts.repeat(4))
    assert p[0] == p[1] == 10.0 and p[3] - p[2] > p[2] - p[1] > 0


def test_configured_curve_continues_past_the_cap():
    c = ConfiguredSupplyCurve(SupplyCurveParams(base_usd_per_mwh=30.0, linear_usd_per_mwh_per_gw=0.1,
                                                exp_coef_usd_per_mwh=12.0, exp_rate_per_gw=0.05, cap_usd_per_mwh=300.0,
                                                n_draws=20, sigma_exp_rate=0.2, seed=1))
    ts = pd.DatetimeIndex(["2026-07-01 20:00"], tz="UTC")
    xs = c.handover_load_gw(ts)[0]  # level + a·x + c·e^{kx} = cap
    assert 30 + 0.1 * xs + 12 * np.exp(0.05 * xs) == pytest.approx(300.0, rel=1e-12)

    def s(x_gw):
        return c.price((100.0 + np.asarray(x_gw)) * 1000.0, ts.repeat(len(x_gw)))

    assert_convex_continuation(s, xs)
    assert s([xs - 5])[0] == pytest.approx(30 + 0.1 * (xs - 5) + 12 * np.exp(0.05 * (xs - 5)), rel=1e-12)
    for d in range(20):  # every draw hands over at its own load, never flat
        p = c.price(np.linspace(150e3, 400e3, 60)[None], ts.repeat(60), np.array([d]))[0]
        assert (np.diff(p) > 0).all() and p[-1] > 300.0


# ------------------------------------------------------------------------------------------ real PJM: fitted curve
@pytest.fixture(scope="module")
def pjm_2025(shared_data):
    from forecast.price.readers import read_pjm_rto

    folder = shared_data / "pjm_rto_2025"
    if not folder.is_dir():
        pytest.skip("PJM RTO 2025 exports not present")
    frame = read_pjm_rto(folder).frame
    return frame, FittedSupplyCurve.fit(frame, n_draws=3, seed=0, source=str(folder))


def day_blocks(frame: pd.DataFrame, months=(1, 4, 7, 10)) -> list[pd.DataFrame]:
    """Complete local days (24 h) of the given months, the 15th of each."""
    loc = pd.DatetimeIndex(frame["ts"]).tz_convert(TZ)
    out = []
    for m in months:
        sel = (loc.month == m) & (loc.day == 15)
        if sel.sum() == 24:
            out.append(frame[sel])
    return out


def test_fitted_pjm_curve_is_monotone_in_a_uniform_shift_of_the_days_load(pjm_2025):
    frame, curve = pjm_2025
    resp = curve.gross(RenewablesProfile.grid_hours(frame), source="pjm_rto_2025")
    steps = np.array([0.0, 250.0, 1000.0, 5000.0, 20000.0, 60000.0])  # MW added to every hour of the day
    for day in day_blocks(frame):
        ts = pd.DatetimeIndex(day["ts"])
        load = day["load_mw"].to_numpy()[None] + steps[:, None]  # (S, 24)
        central = resp.price(load, ts)
        assert (np.diff(central, axis=0) >= 0).all()
        assert (central[-1] > central[0]).all()
        for d in range(curve.n_draws):
            p = resp.price(load[None], ts, np.full(1, d))[0]  # (1, S, 24): draw d at every step
            assert (np.diff(p, axis=0) >= 0).all()


def test_fitted_pjm_curve_extrapolates_convexly_in_every_group(pjm_2025):
    frame, curve = pjm_2025
    ts_all = pd.DatetimeIndex(frame["ts"])
    g = group_of(ts_all)
    for i in range(N_GROUPS):
        ts = ts_all[np.flatnonzero(g == i)[:1]]
        x0 = curve.handover_load_gw(ts)[0]
        assert x0 <= curve.xmax_gw[i] + 1e-9 and curve.xmax_gw[i] <= curve.fit_range_gw[1] + 1e-9

        def s(x_gw, ts=ts):
            return curve.price(np.asarray(x_gw) * 1000.0, ts.repeat(len(x_gw)))

        assert_convex_continuation(s, x0)


# ------------------------------------------------------------------------------------------ the learned model
def synthetic_market(path, days: int = 140, seed: int = 0) -> None:
    """An epftoolbox-layout CSV: price rising with the system load forecast, a second (zonal) input."""
    rng = np.random.default_rng(seed)
    ts = pd.date_range("2020-01-01", periods=24 * days, freq="h")
    h = np.arange(len(ts)) % 24
    load = 90_000 + 15_000 * np.sin(2 * np.pi * (h - 9) / 24) + 4000 * rng.standard_normal(len(ts))
    zonal = load * 0.12 + 300 * rng.standard_normal(len(ts))
    price = 20 + 0.0004 * (load - 80_000) + 0.00000002 * (load - 80_000) ** 2 + 2 * rng.standard_normal(len(ts))
    pd.DataFrame({"timestamp": ts, "price": price, "system load": load, "zonal load": zonal}).to_csv(path, index=False)


@pytest.fixture(scope="module")
def market(tmp_path_factory):
    p = tmp_path_factory.mktemp("epf") / "market.csv"
    synthetic_market(p)
    return p


def local_day(date: str, days: int = 1) -> pd.DatetimeIndex:
    start = pd.Timestamp(date).tz_localize(TZ)
    end = (pd.Timestamp(date) + pd.Timedelta(days=days)).tz_localize(TZ)
    return pd.date_range(start, end, freq="h", inclusive="left").tz_convert("UTC")


def test_model_response_over_the_day_ahead_is_the_models_forecast(market):
    from forecast.price import lear
    from forecast.price.model import DayAheadModel, PriceModelConfig
    from forecast.price.model_response import fit_model_response
    from forecast.price.readers import read_epf

    resp = fit_model_response(str(market), "2020-05-01T00:00-04:00", windows=(56, 84), transforms=("npit",))
    data = read_epf(market)
    d0 = int(np.flatnonzero(data.dates == pd.Timestamp("2020-05-01"))[0])
    assert resp.horizon_day == pd.Timestamp("2020-05-01") and resp.n_draws == 2 and resp.basis == "gross"
    model = DayAheadModel(data.price, data.exog, data.dates.day_of_week.to_numpy(),
                          PriceModelConfig(windows=(56, 84), transforms=("npit",), net=False, combine="equal"))
    want = model.forecast_day(d0)  # the LEAR members' equal-weight mean, fitted on days < d0
    ts = local_day("2020-05-01")
    got = resp.price(data.exog[d0, :, 0], ts)
    np.testing.assert_allclose(got, want, rtol=1e-10)
    for i, fit in enumerate(resp.members.values()):  # each draw is one member
        X = lear.design(data.price, data.exog, data.dates.day_of_week.to_numpy(), np.array([d0]), fit.scaler)
        np.testing.assert_allclose(resp.price(data.exog[d0, :, 0], ts, np.array([i]))[0],
                                   fit.scaler.inverse_price(fit.predict_z(X))[0], rtol=1e-10)


def test_model_response_beyond_the_day_ahead_says_what_to_use(market):
    from forecast.price.model_response import fit_model_response

    resp = fit_model_response(str(market), None, windows=(56,), transforms=("npit",), where="pledge.price_curve")
    assert resp.horizon_day == pd.Timestamp("2020-05-20")  # the day after the file's last day
    with pytest.raises(ValueError, match=r"day ahead only, 2020-05-20.*beyond_day_ahead=hold_last_days.*"
                                         r"pledge.price_curve.kind=fitted"):
        resp.price(np.full(48, 9e4), local_day("2020-05-20", 2))
    assert resp.price(np.full(24, 9e4), local_day("2020-05-20")).shape == (24,)


def test_model_response_applied_day_by_day_handles_dst_days(market):
    from forecast.price.model_response import fit_model_response

    resp = fit_model_response(str(market), None, windows=(56,), transforms=("asinh", "npit"),
                              beyond="hold_last_days")
    # a 25-hour and a 23-hour local day (2026)
    for date, n in (("2026-11-01", 25), ("2026-03-08", 23)):
        ts = local_day(date)
        assert len(ts) == n
        load = 80_000 + 1000.0 * np.arange(n)
        p = resp.price(load, ts)
        assert p.shape == (n,)
        loc = ts.tz_convert(TZ)
        if n == 25:  # the repeated 01:00 hour: one model input (the mean of its loads), one price
            rep = np.flatnonzero(loc.hour == 1)
            assert p[rep[0]] == p[rep[1]]
        assert (resp.price(load + 5000.0, ts) >= p).all()
    # same load and weekday -> same prices on any day: the held context does not move
    a = resp.price(np.full(24, 9e4), local_day("2026-07-06"))
    b = resp.price(np.full(24, 9e4), local_day("2026-07-13"))
    np.testing.assert_array_equal(a, b)


def test_model_response_is_monotone_in_a_uniform_shift_on_real_pjm(shared_data):
    """LEAR members fitted on PJM.csv before 2018-07-01 (short windows: a few seconds), applied day by day
    to July 2025 with the RTO metered load; every hour's price, every member, never falls."""
    from forecast.price.model_response import fit_model_response

    epf = shared_data / "epf" / "PJM.csv"
    if not epf.is_file():
        pytest.skip("epf/PJM.csv not present")
    resp = fit_model_response(str(epf), "2018-07-01T00:00-04:00", windows=(56, 364), transforms=("asinh", "npit"),
                              beyond="hold_last_days")
    assert resp.n_draws == 3
    days = pd.date_range("2025-07-07", periods=7, freq="D")
    rto = shared_data / "pjm_rto_2025" / "hrl_load_metered.csv"
    steps = np.array([0.0, 250.0, 1000.0, 5000.0, 20000.0])
    rise = []
    for day in days:
        ts = local_day(str(day.date()))
        if rto.is_file():
            from forecast.price.readers import read_pjm_dataminer
            m = read_pjm_dataminer(rto).set_index("ts")["value"]
            base = m.reindex(ts).to_numpy()
        else:
            base = 100_000 + 20_000 * np.sin(np.arange(24) / 24 * 2 * np.pi)
        load = base[None] + steps[:, None]
        central = resp.price(load, ts)
        assert (np.diff(central, axis=0) >= -1e-9).all()
        for d in range(resp.n_draws):
            assert (np.diff(resp.price(load[None], ts, np.full(1, d))[0], axis=0) >= -1e-9).all()
        rise.append(central[3].mean() - central[0].mean())
    assert np.mean(rise) > 0  # +5 GW raises the day's mean price
    # the default asinh members keep rising in the day's peak hour; N-PIT members go flat beyond their window
    asinh = fit_model_response(str(epf), "2018-07-01T00:00-04:00", windows=(364,), beyond="hold_last_days")
    top = int(np.argmax(base))
    p = asinh.price(base[None] + np.array([[0.0], [5000.0], [20000.0]]), ts)[:, top]
    assert p[0] < p[1] < p[2]


# ------------------------------------------------------------------------------------------ hashes
def test_params_hashes_follow_the_parameters(market):
    from forecast.price.model_response import fit_model_response

    a, b = hand_curve(), hand_curve()
    assert a.params_sha256() == b.params_sha256() and len(a.params_sha256()) == 64
    assert hand_curve(k=0.1000001).params_sha256() != a.params_sha256()
    assert FittedSupplyCurve.from_dict(a.to_dict()).params_sha256() == a.params_sha256()
    ga, gb = a.gross(pd.Series([1.0], index=pd.DatetimeIndex(["2026-07-01"], tz="UTC"))), a.gross(None)
    assert ga.params_sha256() != gb.params_sha256()
    info = response_info(ga)
    assert info["kind"] == "fitted" and info["basis"] == "net"
    m1 = fit_model_response(str(market), "2020-05-01T00:00-04:00", windows=(56,), transforms=("npit",))
    m2 = fit_model_response(str(market), "2020-05-01T00:00-04:00", windows=(56,), transforms=("npit",))
    m3 = fit_model_response(str(market), "2020-05-02T00:00-04:00", windows=(56,), transforms=("npit",))
    assert m1.params_sha256() == m2.params_sha256() != m3.params_sha256()
    assert params_sha256(np.array([1.0])) != params_sha256(np.array([1.0], dtype=np.float32))
