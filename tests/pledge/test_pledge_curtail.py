"""Curtailment planner: budget, hour choice, depth and reported savings."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from forecast.pledge import api
from forecast.pledge.accounting import compute
from forecast.pledge.curtail import budget, plan
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


def test_plan_cuts_the_peak_hours_first_and_saves_shift(setup):
    cfg, inp, curve = setup
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
