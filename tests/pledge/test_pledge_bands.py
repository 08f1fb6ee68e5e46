"""Booked amounts are the means of the joint samples their bands come from; bands do not depend on chunks."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from forecast.pledge import api
from forecast.pledge.accounting import compute
from forecast.pledge.inputs import build_inputs
from forecast.pledge.ranges import stratified_uniforms, two_piece_uniform


def _acc(app, chunk=None, samples=None):
    cfg = app.pledge
    mc = dataclasses.replace(cfg.montecarlo, chunk=chunk or cfg.montecarlo.chunk,
                             samples=samples or cfg.montecarlo.samples)
    cfg = dataclasses.replace(cfg, montecarlo=mc)
    return compute(cfg, build_inputs(cfg), api.price_response(cfg), keep_paths=False)


def _band_rows(acc):
    return [(ln.line_id, ln.month, ln.amount, ln.p10, ln.p50, ln.p90) for ln in acc.lines]


@pytest.mark.parametrize("which", ["worked", "portfolio"])
def test_every_booked_amount_lies_in_its_band(which, request):
    app, _ = request.getfixturevalue(which)
    acc = _acc(app, samples=200 if which == "worked" else None)
    inside = [ln.p10 <= ln.amount <= ln.p90 for ln in acc.lines if ln.category != "memo" and ln.p10 < ln.p90]
    assert inside and all(inside)
    for m in acc.months:
        lo, _, hi = acc.bands[(m.label, "total")]
        assert lo <= acc.total(m.label) <= hi


def test_demand_upgrades_and_capacity_shift_carry_bands(portfolio):
    acc = _acc(portfolio[0])
    demand = [ln for ln in acc.lines if ln.item == "demand"]
    assert demand and all(ln.p10 <= ln.amount <= ln.p90 for ln in demand)
    assert any(ln.p10 < ln.p90 for ln in demand)
    up = [ln for ln in acc.lines if ln.line_id == "upgrade:ohio-1:ohio-substation" and ln.amount > 0]
    assert up and all(ln.p10 < ln.amount < ln.p90 for ln in up)
    cs = [ln for ln in acc.lines if ln.item == "shift_capacity" and ln.amount > 0]
    assert cs and all(ln.p10 < ln.p90 for ln in cs)


@pytest.mark.parametrize("which,chunks", [("worked", (50, 100)), ("portfolio", (7, 50))])
def test_bands_and_amounts_do_not_depend_on_the_chunk_size(which, chunks, request):
    app, _ = request.getfixturevalue(which)
    a, b = (_acc(app, chunk=c, samples=200 if which == "worked" else None) for c in chunks)
    assert _band_rows(a) == _band_rows(b)
    assert a.bands == b.bands
    np.testing.assert_array_equal(a.sample_totals, b.sample_totals)


def test_a_range_is_sampled_with_its_mean_at_the_configured_value():
    u = stratified_uniforms(1, "capex:x", 1000)
    assert sorted(u) == pytest.approx((np.arange(1000) + 0.5) / 1000)
    x = two_piece_uniform(u, 250e6, 600e6, 1000e6)
    assert x.mean() == pytest.approx(600e6, rel=1e-5) and x.min() >= 250e6 and x.max() <= 1000e6
    assert np.quantile(x, 0.1) < 600e6 < np.quantile(x, 0.9)
