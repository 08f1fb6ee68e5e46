"""Leased capacity: a lessee's share of a host's price shift (by hourly draw share), capacity effect (by share of
peak-hour load) and triggered upgrades, netted off the host's own; shares add up to the host; a 100% lessee
equals owning."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forecast.pledge import api
from forecast.pledge.accounting import compute
from forecast.pledge.calendar import billing_months, hourly_index
from forecast.pledge.config import load_config
from forecast.pledge.config_checks import PledgeConfigError
from forecast.pledge.inputs import build_inputs
from forecast.pledge.lease_config import LeaseCfg
from forecast.pledge.money import CENT

SPLIT = ("shift_energy", "shift_capacity")


@pytest.fixture(scope="module")
def leased():
    app, resolved = load_config(["pledge=leased_example", "tracking=false", "report=false",
                                 "pledge.montecarlo.samples=20"])
    return app, resolved, api.price_response(app.pledge)


def _with(cfg, leases, **site_changes):
    sites = [dataclasses.replace(s, **site_changes.get(s.site_id, {})) for s in cfg.sites]
    return dataclasses.replace(cfg, sites=sites, leases=leases)


def _by_site_item(acc, site, item):
    return {ln.line_id: ln for ln in acc.lines if ln.site_id == site and ln.item == item}


def _check_shares_add_up(cfg, curve, samples):
    """Per host and split item: the host's own + its leases = the host's amount without leases, to the cent."""
    whole = _with(cfg, [], **{s.site_id: {"owned": True} for s in cfg.sites})
    a = compute(cfg, build_inputs(cfg), curve, samples=samples, keep_paths=False)
    b = compute(whole, build_inputs(whole), curve, samples=samples, keep_paths=False)
    for site in {ls.site_id for ls in cfg.leases}:
        for item in SPLIT:
            parts, one = _by_site_item(a, site, item), _by_site_item(b, site, item)
            assert len(parts) == 1 + sum(ls.site_id == site for ls in cfg.leases) and len(one) == 1
            assert sum((ln.amount for ln in parts.values()), Decimal(0)) == next(iter(one.values())).amount
    return a, b


def test_worked_lease_example_shares_add_up_in_both_ledgers(leased):
    app, _, curve = leased
    a, _ = _check_shares_add_up(app.pledge, curve, samples=True)
    _check_shares_add_up(app.pledge, curve, samples=False)
    lines = {ln.line_id: ln for ln in a.lines}
    host = lines["shift_capacity:host-dc"].amount + lines["shift_capacity:host-dc:op-at-host"].amount
    assert lines["shift_capacity:host-dc:op-at-host"].amount == (host * Decimal("0.425")).quantize(CENT)
    # who books what: the operator's lease and its triggered upgrade; the host's remainder, bill and own upgrade
    # and the tenant's share at the operator's campus are memo lines
    assert lines["shift_energy:host-dc:op-at-host"].category == "pledge"
    assert lines["upgrade:host-dc:host-tap"].category == "pledge" and "op-at-host" in lines["upgrade:host-dc:host-tap"].formula
    for lid in ("shift_energy:host-dc", "energy:host-dc", "capacity:host-dc", "upgrade:host-dc:host-substation",
                "shift_energy:campus-1:tenant-x", "shift_capacity:campus-1:tenant-x"):
        assert lines[lid].category == "memo", lid
    assert a.total() == sum((ln.amount for ln in a.lines if ln.category != "memo"), Decimal(0))
    # every booked line in its band, and the lease's energy share is the hourly share of the host's shift
    for ln in a.lines:
        assert ln.category == "memo" or ln.p10 <= ln.amount <= ln.p90, ln.line_id
    h = a.hourly[a.hourly["site_id"] == "host-dc"]
    assert np.allclose(h["leased_share"], 102.0 / 250.0)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mw=st.lists(st.floats(1.0, 110.0), min_size=1, max_size=2), lf=st.floats(0.1, 1.0),
       tenant=st.booleans())
def test_shares_add_up_to_the_host_for_any_leases(leased, mw, lf, tenant):
    cfg = leased[0].pledge
    leases = [LeaseCfg(lease_id=f"l{i}", site_id="host-dc", lessee="operator", contracted_mw=m, load_factor=lf)
              for i, m in enumerate(mw)]
    if tenant:
        leases.append(LeaseCfg(lease_id="t", site_id="campus-1", lessee="t", lessee_is_operator=False,
                               contracted_mw=200.0, load_factor=lf))
    _check_shares_add_up(_with(cfg, leases), leased[2], samples=False)


def test_a_lease_of_all_of_a_host_books_what_owning_it_books(leased):
    app, _, curve = leased
    cfg = app.pledge
    full = LeaseCfg(lease_id="all", site_id="host-dc", lessee="operator", contracted_mw=250.0, load_factor=1.0,
                    peak_share=1.0, upgrades=["host-tap", "host-substation"])
    lease = _with(cfg, [full])
    own = _with(cfg, [], **{"host-dc": {"owned": True}})
    for samples in (False, True):
        a = compute(lease, build_inputs(lease), curve, samples=samples, keep_paths=False)
        b = compute(own, build_inputs(own), curve, samples=samples, keep_paths=False)
        assert a.total(category="pledge") == b.total(category="pledge")
        for item in (*SPLIT, "upgrade"):
            mine = sorted(ln.amount for ln in a.lines if ln.site_id == "host-dc" and ln.item == item
                          and ln.category == "pledge")
            owned = sorted(ln.amount for ln in b.lines if ln.site_id == "host-dc" and ln.item == item)
            assert mine == owned, item
        if samples:
            for q in range(3):
                assert abs(a.bands[("2026-07", "pledge")][q] - b.bands[("2026-07", "pledge")][q]) <= CENT


def test_submetered_share_is_the_hourly_ratio_and_settles_on_readings(leased, tmp_path):
    app, resolved, curve = leased
    ts = hourly_index(billing_months("2026-07", 1, "America/New_York"))
    rng = np.random.default_rng(1)
    sub = rng.uniform(50, 150, len(ts))
    pd.DataFrame({"lease_id": "op-at-host", "ts": ts, "power_mw": sub}).to_parquet(tmp_path / "sub.parquet")
    pd.DataFrame({"lease_id": "op-at-host", "ts": ts, "power_mw": sub * 0.5}).to_csv(tmp_path / "act.csv", index=False)
    cfg = app.pledge
    ls = dataclasses.replace(cfg.leases[0], basis="submeter", submeter_path=str(tmp_path / "sub.parquet"),
                             actual_submeter_path=str(tmp_path / "act.csv"), peak_share=0.3)
    cfg = _with(cfg, [ls, cfg.leases[1]])
    inp = build_inputs(cfg)
    assert np.allclose(inp.lease_shares[0].w, sub / 250.0)
    acc = compute(cfg, inp, curve, samples=False)
    host = acc.hourly[acc.hourly["site_id"] == "host-dc"]
    expect = np.rint(sub / 250.0 * host["shift_energy_cents"].to_numpy() / 100 * 100)
    got = next(ln for ln in acc.lines if ln.line_id == "shift_energy:host-dc:op-at-host").amount
    assert abs(got - Decimal(int(expect.sum())) * CENT) <= Decimal(len(ts)) * CENT  # per-hour rounding only
    settled = build_inputs(cfg, "settled")
    assert np.allclose(settled.lease_shares[0].w, sub * 0.5 / 252.0)  # the readings over the metered host draw
    pd.DataFrame({"lease_id": "op-at-host", "ts": ts[1:], "power_mw": sub[1:]}).to_parquet(tmp_path / "sub.parquet")
    with pytest.raises(Exception, match=r"sub\.parquet: column 'power_mw': lease 'op-at-host': no reading"):
        build_inputs(cfg)


@pytest.mark.parametrize("override,key", [
    ("pledge.leases.0.site_id=nowhere", "pledge.leases.0.site_id"),
    ("pledge.leases.0.contracted_mw=400", "pledge.leases.0.contracted_mw"),
    ("pledge.leases.0.peak_share=0.8,pledge.leases=[{lease_id:a,site_id:host-dc,lessee:op,peak_share:0.8,"
     "contracted_mw:10},{lease_id:b,site_id:host-dc,lessee:op,peak_share:0.5,contracted_mw:10}]", "pledge.leases.1"),
    ("pledge.leases.1.upgrades=[host-tap]", "pledge.leases.1.upgrades.0"),
    ("pledge.leases.0.lessee_is_operator=false", "pledge.sites.1.owned"),
    ("pledge.leases.0.basis=submeter", "pledge.leases.0.submeter_path"),
])
def test_leases_that_cannot_be_apportioned_are_refused(override, key):
    with pytest.raises(PledgeConfigError, match=rf"{key.replace('.', chr(92) + '.')}"):
        load_config(["pledge=leased_example", *override.split(",pledge.")[0:1],
                     *("pledge." + o for o in override.split(",pledge.")[1:])])


def test_leases_drawing_more_than_their_host_are_refused(leased):
    cfg = leased[0].pledge
    two = [LeaseCfg(lease_id=f"l{i}", site_id="host-dc", lessee="operator", contracted_mw=140.0, load_factor=1.0,
                    peak_share=0.4) for i in range(2)]
    with pytest.raises(PledgeConfigError, match=r"pledge\.leases=\['l0', 'l1'\]: the leases at 'host-dc' draw more "
                                                r"than the host in 744 hours"):
        build_inputs(_with(cfg, two))


def test_curtailment_at_a_host_cuts_only_the_operators_share(leased):
    from forecast.pledge.curtail import plan

    cfg = leased[0].pledge
    cfg = _with(cfg, cfg.leases, **{"host-dc": {"curtailable_frac": 0.5}})
    cfg = dataclasses.replace(cfg, curtailment=dataclasses.replace(cfg.curtailment, enabled=True, budget_hours=40))
    inp = build_inputs(cfg)
    p = plan(cfg, inp, leased[2])
    host = cfg.site_ids().index("host-dc")
    assert len(p.hours) == 40 and p.cut_mw[host].max() > 0
    assert (p.cut_mw[host] <= 0.5 * inp.lease_shares[0].w * inp.median[host] + 1e-9).all()  # never the host's own


def test_settled_peak_share_is_the_leases_load_at_the_metered_peaks(tmp_path):
    ts = pd.date_range("2025-01-01T05:00Z", "2026-08-01T04:00Z", freq="h")
    rng = np.random.default_rng(5)
    doy, hod = ts.dayofyear.to_numpy(), ts.tz_convert("America/New_York").hour.to_numpy()
    load = 100_000 + 25_000 * np.exp(-((doy - 200) / 40.0) ** 2) + 8_000 * np.sin(np.pi * hod / 24) \
        + rng.normal(0, 2_000, len(ts))
    stamp = ts.strftime("%Y-%m-%dT%H:%M:%SZ")
    pd.DataFrame({"zone": "RTO", "ts": stamp, "price": 40.0, "load_mw": load, "load_forecast_mw": load}).to_csv(
        tmp_path / "grid.csv", index=False)
    meter = pd.concat([pd.DataFrame({"site_id": "campus-1", "ts": stamp, "power_mw": rng.uniform(780, 900, len(ts))}),
                       pd.DataFrame({"site_id": "host-dc", "ts": stamp, "power_mw": rng.uniform(200, 280, len(ts))})])
    meter.to_csv(tmp_path / "meter.csv", index=False)
    app, resolved = load_config(["pledge=leased_example", "tracking=false", "report=false", f"out_dir={tmp_path}",
                                 "pledge.actuals.source=file", f"pledge.actuals.meter_path={tmp_path / 'meter.csv'}",
                                 f"pledge.actuals.grid_path={tmp_path / 'grid.csv'}",
                                 "pledge.actuals.obligations=metered"])
    res = api.settle_run(app, resolved)
    plc = Decimal(res.versions[0].manifest()["obligations"]["plc_mw"]["host-dc"])
    lines = {ln.line_id: ln for ln in res.accounting.lines}
    whole = lines["shift_capacity:host-dc"].amount + lines["shift_capacity:host-dc:op-at-host"].amount
    share = Decimal(repr(float(102.0 / float(plc))))
    assert lines["shift_capacity:host-dc:op-at-host"].amount == (whole * share).quantize(CENT)
    assert "metered PLC peak hours" in lines["shift_capacity:host-dc:op-at-host"].formula
    assert lines["capacity:host-dc"].quantity == plc * 31 and lines["capacity:host-dc"].category == "memo"
