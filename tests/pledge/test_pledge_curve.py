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
