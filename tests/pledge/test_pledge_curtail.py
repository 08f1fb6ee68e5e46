"""Curtailment planner: the annual budget spent across the plan year, hour choice, depth, and savings each stated
for one period."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from forecast.pledge import api
from forecast.pledge.accounting import compute
from forecast.pledge.curtail import budget, hour_values, plan
from forecast.pledge.inputs import build_inputs


@pytest.fixture(scope="module")
def setup(worked):
    app, _ = worked
    cfg = app.pledge
    return cfg, build_inputs(cfg), api.price_response(cfg)


@pytest.mark.parametrize("frac,hours", [(0.0025, 22), (0.005, 44), (0.01, 88)])
def test_budget_in_hours_per_year(worked, frac, hours):
    cfg = worked[0].pledge
    cfg = dataclasses.replace(cfg, curtailment=dataclasses.replace(cfg.curtailment, budget_frac=frac))
    assert budget(cfg) == hours


def test_a_period_budget_cuts_the_peak_hours_first_and_saves_shift(setup):
    cfg, inp, curve = setup
    cfg = dataclasses.replace(cfg, curtailment=dataclasses.replace(cfg.curtailment, budget_hours=44))
    p = plan(cfg, inp, curve)
    peak = inp.others_mw > 140_000
    chosen = np.isin(inp.ts, p.hours["ts"])
    assert len(p.hours) == p.budget_hours == 44
    assert chosen[peak].all()  # every peak hour is cut before any off-peak hour
    assert p.hours["depth_mw"].max() <= 0.5 * 850 + 1e-9  # at most the curtailable share
    assert p.cut_mw.shape == inp.median.shape and (p.cut_mw >= 0).all()
    gross = compute(cfg, inp, curve, samples=False).amount("shift_energy")
    after = compute(cfg, inp, curve, cut_mw=p.cut_mw, samples=False).amount("shift_energy")
    assert float(gross - after) == pytest.approx(float(p.shift_saving_usd), rel=1e-6)
    assert float(after) == pytest.approx(50e6, rel=0.03)  # DOMAIN §4: ≈ 50M with peak curtailment
    # coincident-peak chances sum to the number of peaks; the PLC falls by the cut at those hours
    assert p.p_cp.sum() == pytest.approx(cfg.curtailment.cp_hours)
    assert p.plc_reduction_mw == pytest.approx(425.0, rel=1e-6)
    assert float(p.capacity_saving_usd) == pytest.approx(425.0 * 329.17 * 365, rel=1e-6)


def test_costly_curtailment_is_not_chosen(setup):
    cfg, inp, curve = setup
    cfg = dataclasses.replace(cfg, curtailment=dataclasses.replace(cfg.curtailment, cost_usd_per_mwh=1e7))
    p = plan(cfg, inp, curve)
    assert len(p.hours) == 0 and float(p.shift_saving_usd) == 0


def _months(cfg, start, n):
    return dataclasses.replace(cfg, period=dataclasses.replace(cfg.period, start=start, months=n))


def test_the_annual_budget_is_spent_on_the_years_best_hours_whatever_the_period(portfolio):
    cfg = portfolio[0].pledge  # 2026-01 … 2026-12: the period is the plan year
    curve = api.price_response(cfg)
    inp = build_inputs(cfg)
    year = plan(cfg, inp, curve)
    B = budget(cfg)
    assert len(year.hours) == B == 22 and year.plan_years[0]["hours_used_in_year"] == B
    v = hour_values(cfg, inp, curve)
    best = v["net"][v["best"], np.arange(len(inp.ts))]
    chosen = np.isin(inp.ts, year.hours["ts"])
    assert best[chosen].min() >= best[~chosen].max()  # no hour left out is worth more than one chosen
    assert (year.hours["net_usd"].to_numpy() == best[chosen]).all()
    # a one-month ledger gets exactly the year plan's hours of that month: the months add up to the budget
    ts = pd.DatetimeIndex(year.hours["ts"])
    per_month = 0
    for m in inp.months:
        c = _months(cfg, m.label, 1)
        mp = plan(c, build_inputs(c), curve)
        assert list(pd.DatetimeIndex(mp.hours["ts"])) == list(ts[(ts >= m.start_utc) & (ts < m.end_utc)])
        assert mp.plan_years[0]["hours_used_in_year"] == B and mp.budget_hours == B
        per_month += len(mp.hours)
    assert per_month == B


def test_every_saving_is_stated_for_one_period(worked, tmp_path):
    app, resolved = worked
    app = dataclasses.replace(app, out_dir=str(tmp_path), report=False, pledge=dataclasses.replace(
        app.pledge, montecarlo=dataclasses.replace(app.pledge.montecarlo, samples=20)))
    res = api.forecast_run(app, resolved)
    p, memo = res.plan, [ln for ln in res.accounting.lines if ln.category == "memo"]
    assert 0 < len(p.hours) < p.budget_hours == 44  # July gets its share of the 2026 budget, not all of it
    by_item = {ln.item: ln for ln in memo}
    assert set(by_item) == {"curtailment_shift_saving", "curtailment_cost", "curtailment_capacity_saving_2027_28"}
    assert by_item["curtailment_shift_saving"].amount == p.shift_saving_usd > 0
    cap = by_item["curtailment_capacity_saving_2027_28"]
    assert cap.amount == p.capacity_saving_usd > 0
    assert "2027/28 capacity bill" in cap.formula and "not a saving of 2026-07" in cap.formula
    s = p.summary()
    assert s["capacity_saving_period"].startswith("delivery year 2027/28") and "billing period" in s["shift_saving_period"]
    assert s["budget_period"] == "plan year 2026-01 … 2026-12"
    # memo lines are never added: the month's total is the sum of bill and pledge lines only
    assert res.accounting.total("2026-07") == sum(ln.amount for ln in res.accounting.lines if ln.category != "memo")


def test_an_annual_budget_without_the_years_forecasts_names_the_fix(worked, tmp_path):
    from forecast.pledge.calendar import billing_months, hourly_index
    from forecast.pledge.config_checks import PledgeConfigError

    ts = hourly_index(billing_months("2026-07", 1, "America/New_York"))
    pd.DataFrame({"series_id": "campus-1", "ts": ts, "p10": 820.0, "p50": 850.0, "p90": 880.0}).to_parquet(
        tmp_path / "draw.parquet")
    cfg = worked[0].pledge
    cfg = dataclasses.replace(cfg, draw=dataclasses.replace(cfg.draw, source="file", path=str(tmp_path / "draw.parquet")))
    inp = build_inputs(cfg)
    with pytest.raises(PledgeConfigError, match=r"pledge\.curtailment\.budget_hours=None: the annual curtailment "
                                                r"budget is spent across the plan year from 2026-01.*no draw forecast"):
        plan(cfg, inp, api.price_response(cfg))
    ok = dataclasses.replace(cfg, curtailment=dataclasses.replace(cfg.curtailment, budget_hours=10))
    assert len(plan(ok, inp, api.price_response(cfg)).hours) == 10
