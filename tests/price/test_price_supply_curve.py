"""Fitted supply curve: recovers a known curve, monotone in load for every draw, ΔP bands, real PJM slopes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecast.price.response import PriceResponse, delta_price
from forecast.price.supply_curve import FittedSupplyCurve, group_of, slope_table

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
B_TRUE, K_TRUE = 20.0, 0.06  # $/MWh, per GW: slope at the reference load = 1.2 $/MWh per GW


def synthetic_year(seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """One year hourly: net load between ~60 and ~140 GW, price = 15 + 20·exp(0.06·(x − ref_g)) + noise."""
    rng = np.random.default_rng(seed)
    ts = pd.date_range("2025-01-01 05:00", periods=8760, freq="h", tz="UTC")
    t = np.arange(8760)
    x = 95 + 20 * np.sin(2 * np.pi * (t % 24 - 9) / 24) + 15 * np.cos(2 * np.pi * t / 8760) + 5 * rng.standard_normal(8760)
    g = group_of(ts)
    ref = np.array([np.median(x[g == i]) for i in range(20)])
    price = 15 + B_TRUE * np.exp(K_TRUE * (x - ref[g])) + 2 * rng.standard_normal(8760)
    frame = pd.DataFrame({"zone": "T", "ts": ts, "price": price, "load_mw": x * 1000 + 3000, "solar_mw": 2000.0,
                          "wind_mw": 1000.0})
    return frame, ref


@pytest.fixture(scope="module")
def fitted():
    frame, ref = synthetic_year()
    return FittedSupplyCurve.fit(frame, n_draws=8, seed=1), frame, ref


def test_recovers_known_curve(fitted):
    curve, frame, ref = fitted
    assert isinstance(curve, PriceResponse) and curve.n_draws == 8
    np.testing.assert_allclose(curve.ref_gw, ref, rtol=1e-9)  # net load = load − solar − wind
    ts = pd.DatetimeIndex(frame["ts"][:24])
    at_ref = curve.slope(curve.ref_gw[group_of(ts)] * 1000, ts)
    np.testing.assert_allclose(at_ref, B_TRUE * K_TRUE, rtol=0.2)


def test_monotone_in_load_for_every_draw(fitted):
    curve, frame, _ = fitted
    ts = pd.DatetimeIndex(frame["ts"][::97])  # hours across the year, all groups
    loads = np.linspace(20_000, 200_000, 60)[:, None] * np.ones(len(ts))  # (L, T)
    central = curve.price(loads, ts)
    assert (np.diff(central, axis=0) >= 0).all()
    draws = curve.price(loads[None], ts, draw=np.arange(curve.n_draws))  # (N, L, T)
    assert draws.shape == (curve.n_draws, 60, len(ts))
    assert (np.diff(draws, axis=1) >= 0).all()
    # the cap hands over to a quadratic continuation: beyond it prices keep rising, never flat
    assert (curve.price(np.full(len(ts), 1e7), ts) > curve.cap_usd_per_mwh).all()


def test_delta_price_bands(fitted):
    curve, frame, _ = fitted
    ts = pd.DatetimeIndex(frame["ts"][4000:4048])
    load = np.full(48, 110_000.0)
    draw = np.where(np.arange(48) < 24, 1000.0, 0.0)  # 1 GW for a day, then nothing
    b = curve.delta_price_bands(load, draw, ts)
    assert list(b.columns) == ["ts", "delta_price", "p10", "p50", "p90"]
    assert (b["delta_price"][24:] == 0).all() and (b["p90"][24:] == 0).all()
    assert (b["delta_price"][:24] > 0).all()
    assert (b["p10"] <= b["p50"]).all() and (b["p50"] <= b["p90"]).all()
    np.testing.assert_allclose(b["delta_price"], delta_price(curve, load, draw, ts))
    # new generation equal to the draw cancels it
    assert np.allclose(curve.delta_price_bands(load, draw, ts, new_gen_mw=draw)["delta_price"], 0)


def test_round_trip_and_too_little_data(fitted):
    curve, frame, _ = fitted
    back = FittedSupplyCurve.from_dict(curve.to_dict())
    ts = pd.DatetimeIndex(frame["ts"][:100])
    x = np.full(100, 100_000.0)
    np.testing.assert_array_equal(back.price(x, ts), curve.price(x, ts))
    # under a year: seasons without their own hours take the same hour group of the best-covered season
    short = FittedSupplyCurve.fit(frame.iloc[:2000], n_draws=2)
    from forecast.price.supply_curve import HOUR_GROUPS, group_names

    names = group_names()
    assert "fitted on another season's hours" in short.source and "summer/evening <- winter/evening" in short.source
    H = len(HOUR_GROUPS)
    for h in range(H):
        np.testing.assert_array_equal(short.params[names.index("summer/" + names[h].split("/")[1])], short.params[h])
    with pytest.raises(ValueError, match="too few hours to fit the hour group"):
        FittedSupplyCurve.fit(frame.iloc[:50], n_draws=2)
    with pytest.raises(IndexError):
        curve.price(x, ts, draw=np.array([curve.n_draws]))


@pytest.mark.skipif(not (DATA / "pjm_rto_2025").exists(), reason="real PJM data not present")
def test_real_pjm_slopes_are_plausible():
    """DOMAIN.md §2: ≈ $0.6/MWh per GW in an average hour, $6–20 at super-peak (estimates).
    Accept a factor-of-a-few band around them; peak must be far steeper than average."""
    from forecast.price.readers import read_pjm_rto

    frame = read_pjm_rto(DATA / "pjm_rto_2025").frame
    curve = FittedSupplyCurve.fit(frame, n_draws=3, seed=0)
    tab = slope_table(curve, frame).set_index("hours")
    avg = tab["slope"].iloc[0]
    peak = tab["slope"].iloc[1]
    assert 0.2 <= avg <= 5.0
    assert 3.0 <= peak <= 60.0 and peak > 4 * avg
    x = frame["load_mw"] - frame["solar_mw"] - frame["wind_mw"]
    ts = pd.DatetimeIndex(frame["ts"])
    fit_mae = np.abs(curve.price(x.to_numpy(), ts) - frame["price"].to_numpy()).mean()
    assert fit_mae < 0.5 * np.abs(frame["price"] - frame["price"].median()).mean()
