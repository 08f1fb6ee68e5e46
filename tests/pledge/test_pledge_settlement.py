"""Settlement from actual bills: spot energy at the grid file's prices, PLC / NSPL from metered load at the
system's coincident peaks (PJM 5CP, ERCOT 4CP, a 1CP), transmission from actual peaks."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecast.errors import ContractError
from forecast.pledge import api
from forecast.pledge.config import load_config
from forecast.pledge.config_checks import PledgeConfigError
from forecast.pledge.money import mwh
from forecast.pledge.peaks import obligation_mw, peak_positions, setting_hours
from forecast.pledge.trueup import interest

TZ = "America/New_York"
SUMMER = setting_hours(2025, [6, 7, 8, 9], TZ)


def _local_day(ts):
    loc = pd.DatetimeIndex(ts).tz_convert(TZ)
    return loc.year * 10000 + loc.month * 100 + loc.day


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 12), ties=st.booleans())
def test_daily_peaks_are_the_highest_days_each_at_its_own_peak(seed, n, ties):
    rng = np.random.default_rng(seed)
    load = rng.normal(100_000, 8_000, len(SUMMER))
    if ties:  # coarse loads: many equal values, the earlier hour must win
        load = np.round(load / 5_000) * 5_000
    pos = peak_positions(SUMMER, load, TZ, "daily_peaks", [6, 7, 8, 9], n)
    day = _local_day(SUMMER)
    daily_max = pd.Series(load).groupby(day).max()
    assert len(pos) == n and len(set(day[pos])) == n  # n peaks on n different local days
    assert (load[pos] == daily_max.loc[day[pos]].to_numpy()).all()  # each its day's highest hour
    for p in pos:  # … and the first such hour of that day
        assert not ((day == day[p]) & (load == load[p]) & (np.arange(len(load)) < p)).any()
    others = daily_max.drop(index=np.unique(day[pos]))
    assert (others <= load[pos].min()).all()  # no day left out peaks above a chosen one
    # raising a peak or lowering any other hour leaves the peaks where they are
    up = load.copy()
    up[pos] += 1_000
    low = load.copy()
    rest = np.setdiff1d(np.arange(len(load)), pos)
    low[rest] -= rng.uniform(0, 1_000, len(rest))
    for x in (up, low):
        assert (peak_positions(SUMMER, x, TZ, "daily_peaks", [6, 7, 8, 9], n) == pos).all()


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), months=st.sets(st.integers(6, 9), min_size=1))
def test_monthly_peaks_are_one_per_month_each_its_months_highest(seed, months):
    load = np.random.default_rng(seed).normal(100_000, 8_000, len(SUMMER))
    pos = peak_positions(SUMMER, load, TZ, "monthly_peaks", sorted(months), 5)
    loc = SUMMER.tz_convert(TZ)
    assert sorted(loc.month[pos]) == sorted(months)
    for p in pos:
        same = loc.month == loc.month[p]
        assert load[p] == load[same].max()


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), sites=st.integers(1, 4))
def test_obligations_are_linear_bounded_and_blind_to_off_peak_hours(seed, sites):
    rng = np.random.default_rng(seed)
    load = rng.normal(100_000, 8_000, len(SUMMER))
    meter = rng.uniform(0, 900, (sites, len(SUMMER)))
    pos = peak_positions(SUMMER, load, TZ, "daily_peaks", [6, 7, 8, 9], 5)
    ob = obligation_mw(meter, pos)
    assert obligation_mw(meter.sum(axis=0, keepdims=True), pos)[0] == pytest.approx(ob.sum(), rel=1e-12)
    assert (ob >= meter[:, pos].min(axis=1) - 1e-9).all() and (ob <= meter[:, pos].max(axis=1) + 1e-9).all()
    off = meter.copy()
    off[:, np.setdiff1d(np.arange(len(SUMMER)), pos)] = rng.uniform(0, 900, (sites, len(SUMMER) - len(pos)))
    assert (obligation_mw(off, pos) == ob).all()
    assert obligation_mw(np.full((1, len(SUMMER)), 812.5), pos)[0] == 812.5


def _files(d, price=40.0, seed=0, drop_meter=None):
    """Grid (zone RTO) and meter (campus-1) files for Jan 2025 … Jul 2026, hourly."""
    ts = pd.date_range("2025-01-01T05:00Z", "2026-08-01T04:00Z", freq="h")
    rng = np.random.default_rng(seed)
    doy, hod = ts.dayofyear.to_numpy(), ts.tz_convert(TZ).hour.to_numpy()
    load = 100_000 + 25_000 * np.exp(-((doy - 200) / 40.0) ** 2) + 8_000 * np.sin(np.pi * hod / 24) \
        + rng.normal(0, 2_000, len(ts))
    meter = rng.uniform(780.0, 900.0, len(ts))
    stamp = ts.strftime("%Y-%m-%dT%H:%M:%SZ")
    pd.DataFrame({"zone": "RTO", "ts": stamp, "price": price, "load_mw": load, "load_forecast_mw": load}).to_csv(
        d / "grid.csv", index=False)
    m = pd.DataFrame({"site_id": "campus-1", "ts": stamp, "power_mw": meter})
    (m.drop(index=drop_meter) if drop_meter is not None else m).to_csv(d / "meter.csv", index=False)
    return ts, load, meter


def _app(d, *extra):
    return load_config(["pledge=worked_example", "tracking=false", "report=false", f"out_dir={d}",
                        "pledge.montecarlo.samples=20", "pledge.curtailment.enabled=false",
                        "pledge.actuals.source=file", f"pledge.actuals.meter_path={d / 'meter.csv'}",
                        f"pledge.actuals.grid_path={d / 'grid.csv'}", "pledge.actuals.obligations=metered",
                        "pledge.actuals.prices=grid", "pledge.tariff.energy_pricing=spot",
                        "pledge.tariff.transmission_usd_per_mw_day=100", *extra])


def _expected_cp(ts, load, meter, months, year, n=None):
    """The obligation by plain pandas: daily (or monthly) peak hours of the months, the n highest, meter mean."""
    loc = ts.tz_convert(TZ)
    f = pd.DataFrame({"load": load, "meter": meter, "day": loc.normalize(), "month": loc.month})
    f = f[(loc.year == year) & np.isin(loc.month, months)]
    by = "day" if n else "month"
    peaks = f.loc[f.groupby(by)["load"].idxmax()]
    if n:
        peaks = peaks.nlargest(n, "load")
    return mwh(float(peaks["meter"].mean())), peaks.index


def test_settled_ledger_bills_metered_5cp_1cp_and_actual_prices(tmp_path):
    ts, load, meter = _files(tmp_path)
    app, resolved = _app(tmp_path)
    res = api.settle_run(app, resolved)
    acc, man = res.accounting, res.versions[0].manifest()
    plc, peaks = _expected_cp(ts, load, meter, [6, 7, 8, 9], 2025, n=5)
    nspl, _ = _expected_cp(ts, load, meter, list(range(1, 13)), 2025, n=1)
    cap = next(ln for ln in acc.lines if ln.item == "capacity")
    assert cap.quantity == plc * 31 and cap.amount == (plc * Decimal("329.17") * 31).quantize(Decimal("0.01"))
    assert "5 highest daily system peaks of Jun–Sep 2025" in cap.formula and "hourly proxy" in cap.formula
    tr = next(ln for ln in acc.lines if ln.item == "transmission")
    assert tr.quantity == nspl * 31 and "highest daily system peaks of Jan–Dec 2025" in tr.formula
    ob = man["obligations"]
    assert Decimal(ob["plc_mw"]["campus-1"]) == plc and Decimal(ob["nspl_mw"]["campus-1"]) == nspl
    assert sorted(ob["peak_hours_utc"]["plc"]) == sorted(f"{t:%Y-%m-%dT%H:%MZ}" for t in ts[peaks])
    # spot energy at the grid file's price of each hour: Σ_h cents(D_h × p_h)
    july = (ts >= "2026-07-01T04:00Z") & (ts < "2026-08-01T04:00Z")
    energy = next(ln for ln in acc.lines if ln.item == "energy")
    assert energy.amount == Decimal(int(np.rint(meter[july] * 40.0 * 100).sum())) / 100
    assert man["spot_prices"].endswith("grid.csv:price") and "actual price" in energy.formula


def test_spot_energy_follows_the_actual_price(tmp_path):
    amounts = {}
    for price in (30.0, 1000.0):
        d = tmp_path / str(int(price))
        d.mkdir()
        ts, _, meter = _files(d, price=price)
        app, resolved = _app(d)
        amounts[price] = api.settle_run(app, resolved).accounting.amount("energy")
    july = (ts >= "2026-07-01T04:00Z") & (ts < "2026-08-01T04:00Z")
    for price, amt in amounts.items():
        assert amt == Decimal(int(np.rint(meter[july] * price * 100).sum())) / 100
    assert amounts[1000.0] > 30 * amounts[30.0]


def test_ercot_4cp_transmission_from_the_monthly_peaks(tmp_path):
    ts, load, meter = _files(tmp_path)
    app, resolved = _app(tmp_path, "pledge.tariff.nspl_peaks.rule=monthly_peaks",
                         "pledge.tariff.nspl_peaks.months=[6,7,8,9]")
    res = api.settle_run(app, resolved)
    nspl, peaks = _expected_cp(ts, load, meter, [6, 7, 8, 9], 2025)
    tr = next(ln for ln in res.accounting.lines if ln.item == "transmission")
    assert tr.quantity == nspl * 31 and len(peaks) == 4
    assert "highest system hour of each month of Jun–Sep 2025 (4 peaks)" in tr.formula


def test_trueup_corrects_the_billed_plc_to_the_metered_one(tmp_path):
    ts, load, meter = _files(tmp_path)
    app, resolved = _app(tmp_path)
    api.forecast_run(app, resolved)
    from dataclasses import replace
    api.bill_run(replace(app, version=1, approver="j.doe"), resolved)
    api.settle_run(app, resolved)
    tu = api.trueup_run(app, resolved).trueup.set_index("line_id")
    plc, _ = _expected_cp(ts, load, meter, [6, 7, 8, 9], 2025, n=5)
    diff = (plc * Decimal("329.17") * 31).quantize(Decimal("0.01")) - (Decimal(950) * Decimal("329.17") * 31)
    row = tu.loc["capacity:campus-1"]
    assert row["difference_usd"] == diff and row["trueup_usd"] == diff + interest(diff, 0.05, 60)


def test_missing_meter_at_the_peaks_and_stylised_actuals_are_refused(tmp_path):
    first_2026 = int((pd.Timestamp("2026-01-01T05:00Z") - pd.Timestamp("2025-01-01T05:00Z")) / pd.Timedelta("1h"))
    _files(tmp_path, drop_meter=list(range(first_2026)))  # the meter starts in 2026: summer 2025 is missing
    app, resolved = _app(tmp_path)
    with pytest.raises(ContractError, match=r"meter\.csv: column 'power_mw': no meter reading for site 'campus-1' "
                                            r"in 2928 hours of the 5 highest daily system peaks of Jun–Sep 2025, which "
                                            r"set the PLC of delivery year 2026/27.*obligations=configured"):
        api.settle_run(app, resolved)
    app, resolved = load_config(["pledge=worked_example", "tracking=false", f"out_dir={tmp_path}",
                                 "pledge.actuals.obligations=metered"])
    with pytest.raises(PledgeConfigError, match=r"pledge\.actuals\.obligations='metered': .*fix with the override "
                                                r"pledge\.actuals\.obligations=configured"):
        api.settle_run(app, resolved)
    app, resolved = load_config(["pledge=pjm_portfolio", "tracking=false", f"out_dir={tmp_path}",
                                 "pledge.actuals.prices=grid"])
    with pytest.raises(PledgeConfigError, match=r"pledge\.actuals\.prices='grid': .*override pledge\.actuals\."
                                                r"prices=curve"):
        api.settle_run(app, resolved)


def test_ercot_4cp_from_an_interval_meter(tmp_path):
    """15-minute readings: each summer month's highest 15-minute system interval, the site's load in it."""
    ts, _, _ = _files(tmp_path)
    q = setting_hours(2025, [6, 7, 8, 9], TZ, pd.Timedelta(minutes=15))
    rng = np.random.default_rng(3)
    load = rng.normal(100_000, 5_000, len(q))
    meter = rng.uniform(700.0, 900.0, len(q))
    stamp = q.strftime("%Y-%m-%dT%H:%M:%SZ")
    pd.DataFrame({"zone": "RTO", "ts": stamp, "load_mw": load}).to_csv(tmp_path / "grid15.csv", index=False)
    pd.DataFrame({"site_id": "campus-1", "ts": stamp, "power_mw": meter}).to_csv(tmp_path / "meter15.csv", index=False)
    app, resolved = _app(tmp_path, "pledge.tariff.nspl_peaks.rule=monthly_peaks",
                         "pledge.tariff.nspl_peaks.months=[6,7,8,9]",
                         f"pledge.actuals.interval_meter_path={tmp_path / 'meter15.csv'}",
                         f"pledge.actuals.interval_grid_path={tmp_path / 'grid15.csv'}")
    res = api.settle_run(app, resolved)
    month = q.tz_convert(TZ).month
    peaks = [int(np.flatnonzero(month == m)[np.argmax(load[month == m])]) for m in (6, 7, 8, 9)]
    tr = next(ln for ln in res.accounting.lines if ln.item == "transmission")
    assert tr.quantity == mwh(float(meter[peaks].mean())) * 31
    assert "15-minute intervals" in tr.formula and "hourly proxy" not in tr.formula
    hours = res.versions[0].manifest()["obligations"]["peak_hours_utc"]["nspl"]
    assert hours == [f"{t:%Y-%m-%dT%H:%MZ}" for t in q[sorted(peaks)]]
    with pytest.raises(PledgeConfigError, match=r"pledge\.actuals\.interval_grid_path=None: an interval meter needs"):
        _app(tmp_path, f"pledge.actuals.interval_meter_path={tmp_path / 'meter15.csv'}")
