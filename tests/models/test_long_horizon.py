"""The schedule-driven long-horizon draw model: lead-time bands, climatology, fit, no look-ahead, bounds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecast.data.features import site_metas
from forecast.models import long_horizon as lh
from forecast.pipeline.draw import blend, blend_weights


def test_lead_offsets_widen_with_lead_and_fall_back_when_thin():
    rng = np.random.default_rng(0)
    resid = [rng.normal(0, s, 500) for s in (0.02, 0.05, 0.03)] + [np.zeros(3)]  # day 2 narrower, day 3 thin
    off, n = lh.lead_offsets(resid, (0.1, 0.5, 0.9))
    assert off.shape == (4, 3) and n.tolist() == [500, 500, 500, 3]
    lo, hi = off[:, 1] - off[:, 0], off[:, 2] - off[:, 1]
    assert (np.diff(lo) >= 0).all() and (np.diff(hi) >= 0).all()  # never narrower at a longer lead
    assert hi[1] == pytest.approx(np.quantile(resid[1], 0.9) - np.quantile(resid[1], 0.5))
    np.testing.assert_array_equal(off[3], off[2])  # too few residuals: the previous day's


def test_fit_coef_recovers_a_temperature_dependent_pue():
    rng = np.random.default_rng(1)
    phys = rng.uniform(0.3, 0.9, 2000)
    cdd = np.maximum(0, rng.normal(15, 8, 2000) - 12)
    y = phys * (0.9 + 0.004 * cdd) + 0.03 + rng.normal(0, 0.002, 2000)
    a, c, b = lh.fit_coef(phys, cdd, y)
    assert a == pytest.approx(0.9, abs=0.005) and c == pytest.approx(0.004, abs=3e-4) and b == pytest.approx(0.03, abs=0.004)
    assert lh.fit_coef(phys[:10], cdd[:10], y[:10]) == (1.0, 0.0, 0.0)  # too little history: plan at design PUE


def test_climatology_uses_only_hours_before_the_cut():
    ts = pd.date_range("2022-01-01", "2024-01-01", freq="h", inclusive="left", tz="UTC")
    temp = pd.Series(10 - 10 * np.cos(2 * np.pi * ts.dayofyear / 365.25), index=ts)  # coldest 1 Jan
    cut = pd.Timestamp("2023-06-01", tz="UTC")
    c1 = lh.climatology(temp, cut)
    spoiled = temp.copy()
    spoiled[spoiled.index >= cut] = 99.0
    np.testing.assert_array_equal(c1, lh.climatology(spoiled, cut))
    assert c1.shape == (366, 24) and np.isfinite(c1).all()
    assert c1[170].mean() > c1[350].mean() + 10  # June warmer than December


def test_blend_weights_and_blend_keep_order_and_bounds():
    w = blend_weights(10, 6, 3)
    np.testing.assert_allclose(w, [1, 1, 1, 1, 2 / 3, 1 / 3, 0, 0, 0, 0])
    ql = np.sort(np.random.default_rng(2).uniform(0, 1, (2, 6, 3)), axis=-1)
    qh = np.sort(np.random.default_rng(3).uniform(0, 1, (2, 10, 3)), axis=-1)
    q = blend(ql, qh, 3)
    np.testing.assert_array_equal(q[:, :4], ql[:, :4])
    np.testing.assert_array_equal(q[:, 6:], qh[:, 6:])
    assert (np.diff(q, axis=-1) >= 0).all() and (q >= 0).all() and (q <= 1).all()


def test_long_horizon_forecast_is_bounded_and_ignores_the_future(small_scenario):
    _, sc = small_scenario
    metas = site_metas(sc.sites)
    t = pd.Timestamp(sc.meter["ts"].min()) + pd.Timedelta(days=40)
    H = 20 * 24
    m = lh.fit(metas, sc.jobs, sc.meter, sc.grid, t, H, origin_every_h=24)
    ids, ts, q = m.forecast(sc.jobs)
    assert ids == sorted(metas) and len(ts) == H and q.shape == (2, H, 3)
    cap = np.array([metas[s].capacity_mw for s in ids])
    assert (q >= 0).all() and (q <= cap[:, None, None]).all() and (np.diff(q, axis=-1) >= 0).all()
    # meter and weather at or after t, and plan versions known after t, change nothing
    meter = sc.meter.copy()
    meter.loc[meter["ts"] >= t, "power_mw"] *= 3.0
    grid = sc.grid.copy()
    grid.loc[grid["ts"] >= t, "temperature_c"] += 20.0
    jobs = sc.jobs.copy()
    late = jobs["known_at"] > t
    jobs.loc[late, "n_gpus"] = 1
    m2 = lh.fit(metas, jobs, meter, grid, t, H, origin_every_h=24)
    np.testing.assert_array_equal(q, m2.forecast(jobs)[2])
