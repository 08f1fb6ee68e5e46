"""Invariants of the formulas: zero draw ⇒ zero shift; monotone in φ and in draw; money adds up; DST months."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecast.pledge import api
from forecast.pledge.accounting import compute
from forecast.pledge.calendar import billing_months, delivery_year, hourly_index, month_offsets
from forecast.pledge.inputs import build_inputs

SETTINGS = settings(max_examples=25, deadline=None)


@pytest.fixture(scope="module")
def base(worked):
    app, _ = worked
    cfg = app.pledge
    return cfg, build_inputs(cfg), api.price_response(cfg)


def _shift(cfg, inp, curve, q=None, phi=None):
    if phi is not None:
        cfg = dataclasses.replace(cfg, shift=dataclasses.replace(cfg.shift, phi=phi))
    if q is not None:
        inp = inp.with_draw(q)
    return compute(cfg, inp, curve, samples=False).amount("shift_energy")


def test_zero_draw_means_zero_shift(base):
    cfg, inp, curve = base
    assert _shift(cfg, inp, curve, q=np.zeros_like(inp.q)) == 0


@SETTINGS
@given(phi_a=st.floats(0, 1), phi_b=st.floats(0, 1))
def test_shift_non_decreasing_in_phi(base, phi_a, phi_b):
    cfg, inp, curve = base
    lo, hi = sorted((phi_a, phi_b))
    assert _shift(cfg, inp, curve, phi=lo) <= _shift(cfg, inp, curve, phi=hi)


@SETTINGS
@given(level=st.floats(0, 1000), extra=st.floats(0, 500), seed=st.integers(0, 2**16))
def test_shift_non_decreasing_in_draw(base, level, extra, seed):
    cfg, inp, curve = base
    rng = np.random.default_rng(seed)
    d = np.full(inp.q.shape[:2], level) * rng.uniform(0.5, 1.0, inp.q.shape[:2])  # (S, T) any hourly profile
    more = d + extra * rng.uniform(0, 1, d.shape)
    q1, q2 = (np.repeat(x[..., None], 3, axis=-1) for x in (d, more))
    assert _shift(cfg, inp, curve, q=q1) <= _shift(cfg, inp, curve, q=q2)


def test_money_adds_up_across_hours_sites_and_months(portfolio):
    app, _ = portfolio
    cfg = app.pledge
    inp = build_inputs(cfg)
    acc = compute(cfg, inp, api.price_response(cfg), samples=False)
    lines = acc.lines_frame()
    tr = acc.hourly
    # hours -> line: each site-month shift line is the exact sum of its hourly cents
    for (m, sid), g in tr.groupby(["month", "site_id"]):
        line = next(ln for ln in acc.lines if ln.month == m and ln.line_id == f"shift_energy:{sid}")
        assert line.amount == Decimal(int(g["shift_energy_cents"].sum())) / 100
        assert line.hours == len(g)
    # sites and months -> total: exact sums, and item subtotals partition the total
    per_month = [acc.total(m.label) for m in acc.months]
    assert acc.total() == sum(per_month, Decimal("0.00"))
    items = lines[lines["category"] != "memo"]["item"].unique()
    assert acc.total() == sum((acc.amount(i) for i in items), Decimal("0.00"))
    assert all(Decimal(a).as_tuple().exponent == -2 for a in lines["amount_usd"])
    # three sites each billed every month
    assert set(lines["site_id"]) == {"ohio-1", "virginia-1", "virginia-2"}
    assert len(lines[lines["item"] == "shift_energy"]) == 3 * 12


def test_dst_months_are_local_time_months():
    ny = billing_months("2026-01", 12, "America/New_York")
    hours = {m.label: m.hours for m in ny}
    assert hours["2026-03"] == 743  # spring forward
    assert hours["2026-11"] == 721  # 30 days + the repeated hour
    assert hours["2026-07"] == 744
    assert sum(hours.values()) == 8760
    ts = hourly_index(ny)
    assert len(ts) == 8760 and ts.tz is not None
    assert ny[6].start_utc == pd.Timestamp("2026-07-01 04:00", tz="UTC")  # local midnight EDT
    assert ny[0].start_utc == pd.Timestamp("2026-01-01 05:00", tz="UTC")  # local midnight EST
    assert month_offsets(ny)[-1] == 8760
    uk = billing_months("2026-10", 1, "Europe/London")
    assert uk[0].hours == 745  # a 31-day month with the clocks going back


def test_dst_month_is_billed_on_its_743_hours(portfolio):
    app, _ = portfolio
    cfg = app.pledge
    acc = compute(cfg, build_inputs(cfg), api.price_response(cfg), samples=False)
    march = [ln for ln in acc.lines if ln.month == "2026-03" and ln.item == "energy"]
    assert all(ln.hours == 743 for ln in march)
    assert len(acc.hourly[(acc.hourly["month"] == "2026-03") & (acc.hourly["site_id"] == "ohio-1")]) == 743
    cap = next(ln for ln in acc.lines if ln.month == "2026-03" and ln.line_id == "capacity:ohio-1")
    assert cap.amount == Decimal("520") * Decimal("269.92") * 31  # local calendar days, DY 2025/26
    assert delivery_year("2026-05") == "2025/26" and delivery_year("2026-06") == "2026/27"


def test_sampled_bands_bracket_the_central_amount(portfolio):
    app, _ = portfolio
    cfg = app.pledge
    acc = compute(cfg, build_inputs(cfg), api.price_response(cfg), keep_paths=False)
    for m in acc.months:
        lo, mid, hi = acc.bands[(m.label, "total")]
        assert lo <= mid <= hi
    for ln in acc.lines:
        assert ln.p10 <= ln.p50 <= ln.p90
