"""DOMAIN.md §4 reproduced through the code path users run (config -> inputs -> formulas -> ledger -> report)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import numpy as np
import pytest

from forecast.cli import main as forecast_main
from forecast.pledge import api
from forecast.pledge.accounting import compute
from forecast.pledge.inputs import build_inputs
from forecast.pledge.ledger import Ledger


def _run(worked, tmp_path, report=True):
    app, resolved = worked
    app = dataclasses.replace(app, out_dir=str(tmp_path), report=report)
    return api.forecast_run(app, resolved)


def test_worked_example_numbers(worked):
    """The formulas on the deterministic path (every hour at its p50, central curve) give DOMAIN §4 exactly."""
    app, _ = worked
    cfg = app.pledge
    acc = compute(cfg, build_inputs(cfg), api.price_response(cfg), samples=False)
    m = "2026-07"
    assert acc.months[0].hours == 744 and acc.months[0].days == 31
    # energy 632,400 MWh × $55 (DOMAIN: 34.8M); capacity 950 × 329.17 × 31 (9.69M): exact to the cent
    assert acc.amount("energy", m) == Decimal("632400") * Decimal("55")
    assert acc.amount("capacity", m) == Decimal("950") * Decimal("329.17") * 31
    # upgrades: $600M × CRF(8%, 15) / 12 ≈ 5.84M
    assert abs(acc.amount("upgrade", m) - Decimal("5.84e6")) < Decimal("0.01e6")
    # energy price shift: 707 h × 0.49 × 99,150 + 37 h × 5.7 × 149,000 ≈ 65.77M (≈ 66M) at φ = 1
    expected = 707 * 0.49 * 99150 + 37 * 5.7 * 149000
    assert float(acc.amount("shift_energy", m)) == pytest.approx(expected, rel=2e-3)
    assert abs(float(acc.amount("shift_energy", m)) - 66e6) < 0.5e6
    # capacity shift: 0 while the cap binds, ≈ 49M without it
    assert acc.amount("shift_capacity", m) == 0
    sens = acc.sensitivity
    uncapped = sens[(sens["assumption"] == "cap") & sens["case"].str.startswith("without")]["amount_usd"].iloc[0]
    assert float(uncapped) == pytest.approx(49e6, rel=0.02)
    # upgrade capex range 2.4–9.7M
    capex = sens[sens["assumption"] == "capex"]["amount_usd"].map(float).tolist()
    assert capex[0] == pytest.approx(2.43e6, rel=0.01) and capex[1] == pytest.approx(9.74e6, rel=0.01)


def test_booked_amounts_are_the_sample_means_inside_their_bands(worked, tmp_path):
    """Forecast ledger: each uncertain line is the mean of the joint samples, inside its own P10–P90."""
    res = _run(worked, tmp_path)
    acc = res.accounting
    m = "2026-07"
    n = acc.n_samples
    # a symmetric p10/p50/p90 around 850 MW: the expected energy is 632,400 MWh to sampling error
    assert float(acc.amount("energy", m)) == pytest.approx(632400 * 55, rel=2e-3)
    # the capex range [250M, 1000M] has its mean at 600M: the booked upgrade is K·CRF/12 to sampling error
    up = next(ln for ln in acc.lines if ln.item == "upgrade")
    assert float(up.amount) == pytest.approx(600e6 * 0.1168 / 12, rel=2e-3) and up.p10 < up.amount < up.p90
    assert float(up.p10) < 5.84e6 * 0.7 and float(up.p90) > 5.84e6 * 1.3 and f"mean of {n} samples" in up.formula
    for ln in acc.lines:
        if ln.category != "memo" and ln.p10 < ln.p90:
            assert ln.p10 <= ln.amount <= ln.p90, ln.line_id
    # the total is the exact sum of its line items, and the mean of the sampled totals (to the hourly cents)
    assert acc.total(m) == sum((ln.amount for ln in acc.lines if ln.category != "memo"), Decimal("0.00"))
    assert float(acc.total(m)) == pytest.approx(float(acc.sample_totals[:, 0].mean()), abs=744 * 0.01 + 1)
    lo, _, hi = acc.bands[(m, "total")]
    assert lo < acc.total(m) < hi
    assert hi != sum((ln.p90 for ln in acc.lines if ln.category != "memo"), Decimal(0))
    assert res.versions[0].manifest()["central"].startswith("mean")


def test_peak_curtailment_brings_shift_to_about_50m(worked):
    """DOMAIN §4: ≈ 50M with peak curtailment (load halved in the 37 peak hours)."""
    app, _ = worked
    cfg = app.pledge
    inp = build_inputs(cfg)
    curve = api.price_response(cfg)
    peak = inp.others_mw > 140_000
    assert peak.sum() == 37
    cut = np.where(peak, inp.median * 0.5, 0.0)
    acc = compute(cfg, inp, curve, cut_mw=cut, samples=False)
    assert abs(float(acc.amount("shift_energy")) - 50e6) < 1e6
    # halving the PLC halves the capacity charge: 4.85M
    cfg_half = dataclasses.replace(cfg, sites=[dataclasses.replace(cfg.sites[0], plc_mw=475.0)])
    acc2 = compute(cfg_half, inp, curve, samples=False)
    assert float(acc2.amount("capacity")) == pytest.approx(4.85e6, rel=1e-3)


def test_console_command_writes_ledger_csv_and_report(tmp_path, capsys):
    rc = forecast_main(["pledge", "pledge=worked_example", f"out_dir={tmp_path}", "tracking=false",
                        "pledge.montecarlo.samples=100"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "shift_energy:campus-1" in out and "TOTAL (744 h)" in out
    v = Ledger(tmp_path / "ledger" / "worked_example", "forecast").latest("2026-07")
    assert v is not None and v.number == 1
    lines = v.lines()
    assert set(lines["item"]) >= {"energy", "capacity", "upgrade", "shift_energy", "shift_capacity"}
    html_files = list((tmp_path / "report").glob("*.html"))
    csv_files = list((tmp_path / "report").glob("*_lines.csv"))
    assert len(html_files) == 1 and len(csv_files) == 1
    doc = html_files[0].read_text()
    assert doc.count("data:image/png;base64,") == 4  # fan, price, waterfall, curtailment
    assert "http://" not in doc and "https://" not in doc  # self-contained


def test_rerun_reproduces_every_cent(worked, tmp_path):
    a = _run(worked, tmp_path / "a", report=False).accounting
    b = _run(worked, tmp_path / "b", report=False).accounting
    assert [(x.line_id, x.amount, x.p10, x.p50, x.p90) for x in a.lines] == \
        [(x.line_id, x.amount, x.p10, x.p50, x.p90) for x in b.lines]
    assert a.bands == b.bands


def test_bad_tariff_input_is_rejected_with_the_override_to_fix(tmp_path):
    bad = [("pledge.tariff.capacity.0.cap_usd_per_mw_day=100", "pledge.tariff.capacity.0.cap_usd_per_mw_day"),
           ("pledge.tariff.energy_pricing=flat", "pledge.tariff.energy_pricing"),
           ("pledge.upgrades.0.rate=1.5", "pledge.upgrades.0.rate"),
           ("pledge.upgrades.0.recovery=lease", "pledge.upgrades.0.recovery"),
           ("pledge.tariff.capacity.0.delivery_year=2026-27", "pledge.tariff.capacity.0.delivery_year"),
           ("pledge.period.start=2027-07", "pledge.tariff.capacity"),
           ("pledge.shift.phi=1.2", "pledge.shift.phi"),
           ("pledge.curtailment.budget_frac=0.05", "pledge.curtailment.budget_frac"),
           ("pledge.price_curve.exp_rate_per_gw=-0.1", "pledge.price_curve.exp_rate_per_gw")]
    for override, key in bad:
        with pytest.raises(ValueError, match=key.replace(".", r"\.")):
            api.load_config(["pledge=worked_example", override])
    rc = forecast_main(["pledge", "pledge=worked_example", bad[0][0], f"out_dir={tmp_path}", "tracking=false"])
    assert rc == 2
    assert not (tmp_path / "ledger").exists()  # nothing booked from a rejected config
