"""The real Hydra files compose into validated typed configs; the worked example's inputs are pinned."""

from __future__ import annotations

from pathlib import Path

import pytest

import forecast
from forecast.config import conf_dir
from forecast.pledge.config import PledgeApp, PledgeConfigError, load_config

PLEDGE_FILES = sorted(p.stem for p in (conf_dir() / "pledge").glob("*.yaml"))


def test_conf_dir_sits_beside_the_package():
    assert conf_dir() == Path(forecast.__file__).resolve().parents[1] / "conf"
    assert (conf_dir() / "pledge_app.yaml").exists()
    assert {"worked_example", "pjm_portfolio"} <= set(PLEDGE_FILES)


# configs that `forecast run` completes (sites from the data's sites table, the run's forecast files): what the run
# fills in, so they compose and validate as the run uses them
RUN_FILLED = {"scenario": lambda d: [
    "pledge.sites=[{site_id:site-a,capacity_mw:188.6},{site_id:site-b,capacity_mw:145.8},"
    "{site_id:site-c,capacity_mw:98.8},{site_id:site-d,capacity_mw:98.5}]",
    f"pledge.draw.path={d}/draw.parquet", f"pledge.system_load.path={d}/paths.parquet",
    f"pledge.price_curve.fit_on={d}", f"pledge.actuals.meter_path={d}/meter.parquet"]}


@pytest.mark.parametrize("name", PLEDGE_FILES)
def test_every_pledge_config_composes_and_validates(name, tmp_path):
    app, resolved = load_config([f"pledge={name}", *RUN_FILLED.get(name, lambda d: [])(tmp_path)])
    assert isinstance(app, PledgeApp) and app.pledge.name == name
    assert resolved["pledge"]["name"] == name


def test_a_run_filled_config_alone_names_what_is_missing():
    with pytest.raises(PledgeConfigError, match=r"pledge.draw.path=None: draw.source=file needs a forecast file"):
        load_config(["pledge=scenario"])


def test_default_group_and_pinned_worked_example_inputs():
    app, _ = load_config([])
    p = app.pledge
    assert p.name == "worked_example" and app.action == "forecast"
    assert (p.period.start, p.period.months, p.market.timezone) == ("2026-07", 1, "America/New_York")
    s = p.sites[0]
    assert (s.capacity_mw, s.plc_mw, s.p50_mw) == (1000.0, 950.0, 850.0)
    u = p.upgrades[0]
    assert (u.capex_usd, u.rate, u.years, u.recovery) == (600e6, 0.08, 15, "amortised")
    dy = p.tariff.capacity[0]
    assert (dy.delivery_year, dy.price_usd_per_mw_day, dy.cap_usd_per_mw_day) == ("2026/27", 329.17, 329.17)
    assert (p.tariff.energy_pricing, p.tariff.energy_rate_usd_per_mwh) == ("fixed", 55.0)
    assert (p.system_load.base_gw, p.system_load.peak_gw, p.system_load.peak_hours) == (100.0, 149.85, 37)
    assert p.shift.phi == 1.0 and p.montecarlo.samples == 1000


def test_overrides_from_the_command_line_apply():
    app, _ = load_config(["pledge=worked_example", "pledge.shift.phi=0.5", "pledge.sites.0.plc_mw=475"])
    assert app.pledge.shift.phi == 0.5 and app.pledge.sites[0].plc_mw == 475.0


@pytest.mark.parametrize("override,key", [
    ("pledge.sites.0.p10_mw=900", "pledge.sites.0.p50_mw"),
    ("pledge.market.timezone=Mars/Olympus", "pledge.market.timezone"),
    ("pledge.montecarlo.samples=3", "pledge.montecarlo.samples"),
    ("pledge.draw.source=file", "pledge.draw.path"),
    ("action=explode", "action"),
])
def test_errors_name_the_override(override, key):
    with pytest.raises(ValueError, match=rf"{key.replace('.', chr(92) + '.')}=.*fix with the override"):
        load_config(["pledge=worked_example", override])


@pytest.mark.parametrize("override,key", [
    ("pledge.sites.0.plc_mw=5000", "pledge.sites.0.plc_mw"),
    ("pledge.sites.0.p90_mw=1200", "pledge.sites.0.p90_mw"),
    ("pledge.upgrades.0.capex_low_usd=2e9", "pledge.upgrades.0.capex_low_usd"),
    ("pledge.upgrades.0.capex_high_usd=1e8", "pledge.upgrades.0.capex_high_usd"),
    ("pledge.tariff.capacity.0.uncapped_low_usd_per_mw_day=500", "pledge.tariff.capacity.0.uncapped_low_usd_per_mw_day"),
])
def test_inputs_that_would_be_clipped_or_inverted_are_refused(override, key):
    with pytest.raises(ValueError, match=rf"{key.replace('.', chr(92) + '.')}=.*fix with the override"):
        load_config(["pledge=worked_example", override])


@pytest.mark.parametrize("override,key", [("pledge.shift.phy=0.5", "pledge.shift.phy"),
                                          ("pledge.shift.phi=abc", "pledge.shift.phi"),
                                          ("pledge.sites.0.plc_mw=5000", "pledge.sites.0.plc_mw"),
                                          ("pledge.upgrades.0.capex_low_usd=2e9", "pledge.upgrades.0.capex_low_usd")])
def test_config_errors_are_one_line_naming_the_key(override, key, tmp_path, capsys):
    from forecast.cli import main as forecast_main

    assert forecast_main(["pledge", "pledge=worked_example", override, f"out_dir={tmp_path}", "tracking=false"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"forecast pledge: {key}:") and "fix:" in err[0]
    assert not (tmp_path / "ledger").exists()
