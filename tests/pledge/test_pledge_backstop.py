"""The reliability backstop line: the operator's share of a 15-year capacity procurement, under its cost cap,
allocated to large loads, with its band."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecast.pledge import api, backstop
from forecast.pledge.accounting import compute
from forecast.pledge.config import load_config
from forecast.pledge.config_checks import PledgeConfigError
from forecast.pledge.inputs import build_inputs
from forecast.pledge.records import assumptions


@pytest.fixture(scope="module")
def bs():
    app, resolved = load_config(["pledge=pjm_backstop", "tracking=false", "report=false",
                                 "pledge.montecarlo.samples=100", "pledge.curtailment.enabled=false"])
    cfg = app.pledge
    return app, resolved, cfg, build_inputs(cfg), api.price_response(cfg)


def test_the_line_is_contract_times_plc_share_times_capped_net_price(bs):
    _, _, cfg, inp, curve = bs
    b = cfg.backstop
    ln = next(x for x in compute(cfg, inp, curve, samples=False).lines if x.item == "backstop")
    mw = Decimal("14900.0") * Decimal("950.0") / Decimal("30000.0")
    net = min(Decimal("520.0"), Decimal("555.0")) - Decimal("280.0")
    assert ln.amount == (mw * net * 31).quantize(Decimal("0.01")) and ln.price == net
    assert ln.category == "bill" and b.source in ln.formula and "15-year term from 2031-06" in ln.formula


def test_forecast_books_the_mean_inside_its_band_the_same_for_any_chunk(bs):
    _, _, cfg, inp, curve = bs
    lines = {}
    for chunk in (50, 100):
        c = dataclasses.replace(cfg, montecarlo=dataclasses.replace(cfg.montecarlo, chunk=chunk))
        lines[chunk] = next(x for x in compute(c, inp, curve, keep_paths=False).lines if x.item == "backstop")
    a, b = lines[50], lines[100]
    assert (a.amount, a.p10, a.p50, a.p90) == (b.amount, b.p10, b.p50, b.p90)
    assert a.p10 < a.amount < a.p90
    draws = backstop.sampled(cfg, inp.months, cfg.montecarlo.samples)["campus-1:2031-07"]
    assert a.amount == Decimal(float(draws.mean())).quantize(Decimal("0.01"))


def test_only_months_inside_the_term_carry_the_line(bs):
    b = dataclasses.replace(bs[2].backstop, start="2031-06", term_years=15)
    assert not backstop.in_term(b, "2031-05") and backstop.in_term(b, "2031-06")
    assert backstop.in_term(b, "2046-05") and not backstop.in_term(b, "2046-06")
    assert not backstop.in_term(dataclasses.replace(b, enabled=False), "2031-07")
    app, _ = load_config(["pledge=worked_example", "pledge.backstop.enabled=true"])  # July 2026: before the term
    acc = compute(app.pledge, build_inputs(app.pledge), api.price_response(app.pledge), samples=False)
    assert not any(ln.item == "backstop" for ln in acc.lines)


@settings(max_examples=60, deadline=None)
@given(price=st.floats(0, 2000), cap=st.floats(0, 2000), credit=st.floats(0, 600),
       plcs=st.lists(st.floats(0, 1000), min_size=1, max_size=4), extra=st.floats(0, 50000))
def test_cap_and_allocation_properties(bs, price, cap, credit, plcs, extra):
    b = dataclasses.replace(bs[2].backstop, price_usd_per_mw_day=price, cost_cap_usd_per_mw_day=cap,
                            market_credit_usd_per_mw_day=credit, pool_mw=sum(plcs) + extra + 1.0, price_low_usd_per_mw_day=None,
                            price_high_usd_per_mw_day=None, market_credit_low_usd_per_mw_day=None,
                            market_credit_high_usd_per_mw_day=None, pool_low_mw=None, pool_high_mw=None)
    caps = [1000.0] * len(plcs)
    parts = [backstop.amount(b, Decimal(repr(p)), c, sum(caps), 30) for p, c in zip(plcs, caps)]
    # above the cap the cap counts; a higher price never lowers the line
    assert backstop.net_price(dataclasses.replace(b, price_usd_per_mw_day=max(price, cap) + 1)) == \
        Decimal(repr(cap)) - Decimal(repr(credit))
    assert backstop.net_price(dataclasses.replace(b, price_usd_per_mw_day=price + 1)) >= backstop.net_price(b)
    # the sites' allocations add up to the operator's share of the pool; a pool of the operator alone bears it all
    total_mw = float(sum(p[0] for p in parts))
    assert total_mw == pytest.approx(float(b.contract_mw) * sum(plcs) / b.pool_mw, rel=1e-12, abs=1e-9)
    if sum(plcs) > 0:
        alone = dataclasses.replace(b, pool_mw=sum(Decimal(repr(p)) for p in plcs))
        assert float(sum(backstop.amount(alone, Decimal(repr(p)), c, sum(caps), 30)[0] for p, c in zip(plcs, caps))) == \
            pytest.approx(float(b.contract_mw), rel=1e-12)
    fixed = dataclasses.replace(b, allocation="fixed_share", share=0.03)
    assert float(sum(backstop.amount(fixed, Decimal(repr(p)), c, sum(caps), 30)[0] for p, c in zip(plcs, caps))) == \
        pytest.approx(0.03 * float(b.contract_mw), rel=1e-12)


@pytest.mark.parametrize("override,key", [("pledge.backstop.pool_mw=500,pledge.backstop.pool_low_mw=null",
                                           "pledge.backstop.pool_mw"),
                                          ("pledge.backstop.price_low_usd_per_mw_day=600",
                                           "pledge.backstop.price_low_usd_per_mw_day"),
                                          ("pledge.backstop.allocation=per_capita", "pledge.backstop.allocation"),
                                          ("pledge.backstop.start=2031-13", "pledge.backstop.start")])
def test_bad_backstop_inputs_are_refused_naming_the_key(override, key):
    with pytest.raises(ValueError, match=rf"{key.replace('.', chr(92) + '.')}="):
        load_config(["pledge=pjm_backstop", *override.split(",")])


def test_the_backstop_is_an_assumption_of_the_bill(bs, tmp_path):
    app, resolved, cfg, inp, curve = bs
    a = assumptions(resolved)
    assert a["pledge.backstop.price_usd_per_mw_day"] == 520.0 and a["pledge.backstop.pool_mw"] == 30000.0
    app = dataclasses.replace(app, out_dir=str(tmp_path))
    api.forecast_run(app, resolved, curve, inp)
    api.bill_run(dataclasses.replace(app, version=1, approver="j.doe"), resolved)
    other = {**resolved, "pledge": {**resolved["pledge"], "backstop": {**resolved["pledge"]["backstop"],
                                                                       "pool_mw": 40000.0}}}
    api.settle_run(app, other)
    with pytest.raises(PledgeConfigError, match=r"pledge\.backstop\.pool_mw"):
        api.trueup_run(app, resolved)
