"""Several zones: each zone billed by its own market, tariffs and capacity market (ERCOT beside PJM), its own
ledger and life cycle; the portfolio adds them exactly, its bands from summed samples."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from forecast.cli import main as forecast_main
from forecast.pledge import api
from forecast.pledge.accounting import compute
from forecast.pledge.bands import q3
from forecast.pledge.config import (BackstopCfg, MarketCfg, PriceCurveCfg, SystemLoadCfg, TariffCfg, ZoneCfg,
                                    load_config)
from forecast.pledge.config_checks import PledgeConfigError
from forecast.pledge.inputs import build_inputs
from forecast.pledge.ledger import Ledger


def _run(tmp_path, *extra):
    return api.run(["pledge=multi_zone", "tracking=false", "report=false", f"out_dir={tmp_path}",
                    "pledge.montecarlo.samples=50", *extra])


def test_one_zone_of_several_is_that_pledge_on_its_own(worked):
    cfg = worked[0].pledge
    cfg = dataclasses.replace(cfg, montecarlo=dataclasses.replace(cfg.montecarlo, samples=50))
    zone = ZoneCfg(zone="RTO", market=cfg.market, tariff=cfg.tariff, system_load=cfg.system_load,
                   price_curve=cfg.price_curve, backstop=cfg.backstop)
    with pytest.raises(PledgeConfigError, match=r"pledge\.tariff=.*is not read in a pledge of several zones"):
        dataclasses.replace(cfg, sites=[dataclasses.replace(s, zone="RTO") for s in cfg.sites], zones=[zone])
    zoned = dataclasses.replace(cfg, sites=[dataclasses.replace(s, zone="RTO") for s in cfg.sites], zones=[zone],
                                market=MarketCfg(), tariff=TariffCfg(), system_load=SystemLoadCfg(),
                                price_curve=PriceCurveCfg(), backstop=BackstopCfg())
    (zone, zc), = zoned.zone_configs()
    assert zone == "RTO" and zc.name == "worked_example-RTO" and zc.zones == []
    curve = api.price_response(cfg)
    a, b = compute(cfg, build_inputs(cfg), curve), compute(zc, build_inputs(zc), curve)
    assert [(x.line_id, x.amount, x.p10, x.p90) for x in a.lines] == [(x.line_id, x.amount, x.p10, x.p90) for x in b.lines]
    with pytest.raises(PledgeConfigError, match=r"pledge\.zones=\['RTO'\]: a pledge of several zones is computed zone"):
        build_inputs(zoned)


def test_each_zone_is_billed_by_its_own_market_and_tariffs(tmp_path):
    res = _run(tmp_path)
    assert list(res.zones) == ["PJM-AEP", "PJM-DOM", "ERCOT-North"]
    acc = {z: r.accounting for z, r in res.zones.items()}
    line = {z: {ln.item: ln for ln in a.lines} for z, a in acc.items()}
    assert line["PJM-AEP"]["demand"].price == Decimal("4.5") * 1000
    assert line["PJM-DOM"]["demand"].price == Decimal("6.0") * 1000
    assert line["PJM-AEP"]["transmission"].price == Decimal("180.0")
    # ERCOT: energy-only (no capacity line, no capacity shift), 4CP transmission on the typed NSPL, Central time
    ercot = line["ERCOT-North"]
    assert {"capacity", "shift_capacity", "demand"}.isdisjoint(ercot) and ercot["transmission"].quantity == 380 * 31
    assert acc["ERCOT-North"].months[0].start_utc.hour == 5 and acc["PJM-AEP"].months[0].start_utc.hour == 4
    # one ledger per zone, under the zone's pledge name
    for z in res.zones:
        assert Ledger(tmp_path / "ledger" / f"multi_zone-{z}", "forecast").latest("2026-07").number == 1


def test_the_portfolio_adds_the_zones_and_bands_their_summed_samples(tmp_path):
    res = _run(tmp_path)
    accs = [r.accounting for r in res.zones.values()]
    row = res.portfolio["months"]["2026-07"]
    assert Decimal(row["total_usd"]) == sum((a.total("2026-07") for a in accs), Decimal(0))
    assert Decimal(row["pledge_usd"]) == sum((a.total("2026-07", "pledge") for a in accs), Decimal(0))
    summed = sum(a.sample_totals[:, 0] for a in accs)
    assert [Decimal(x) for x in row["total_p10_p50_p90"]] == list(q3(np.asarray(summed)))
    lo, _, hi = (Decimal(x) for x in row["total_p10_p50_p90"])
    assert lo < Decimal(row["total_usd"]) < hi
    assert lo != sum((a.bands[("2026-07", "total")][0] for a in accs), Decimal(0))  # never a sum of quantiles
    written = json.loads(res.portfolio_path.read_text())
    assert written["months"] == res.portfolio["months"] and "independent" in written["bands"]
    seeds = {r.versions[0].manifest()["seeds"]["montecarlo"] for r in res.zones.values()}
    assert len(seeds) == 3  # each zone its own seed


def test_bill_settle_and_trueup_run_zone_by_zone(tmp_path, capsys):
    _run(tmp_path)
    _run(tmp_path, "action=bill", "version=1", "approver=j.doe")
    _run(tmp_path, "action=settle")
    tu = _run(tmp_path, "action=trueup")
    assert set(tu.trueup["zone"]) == {"PJM-AEP", "PJM-DOM", "ERCOT-North"}
    for z, r in tu.zones.items():
        man = r.versions[0].manifest()
        assert man["forecast_version"] == "v0001" and man["pledge"] == f"multi_zone-{z}"
    assert forecast_main(["pledge", "pledge=multi_zone", f"out_dir={tmp_path / 'cli'}", "tracking=false",
                          "report=false", "pledge.montecarlo.samples=20"]) == 0
    out = capsys.readouterr().out
    assert "== zone ERCOT-North" in out and "PORTFOLIO TOTAL" in out


@pytest.mark.parametrize("override,key", [
    ("pledge.sites.0.zone=MISO", "pledge.sites.0.zone"),
    ("pledge.sites.2.plc_mw=300", "pledge.zones.2.tariff.capacity"),
    ("pledge.zones.1.tariff.transmission_usd_per_mw_day=-1", "pledge.zones.1.tariff.transmission_usd_per_mw_day"),
    ("pledge.zones.2.market.timezone=Texas/Dallas", "pledge.zones.2.market.timezone"),
])
def test_zone_errors_name_the_zones_key(override, key):
    with pytest.raises(PledgeConfigError, match=rf"^{key.replace('.', chr(92) + '.')}="):
        load_config(["pledge=multi_zone", override])


def test_a_zone_reads_its_own_rows_of_a_shared_grid_file(tmp_path):
    from forecast.pledge.calendar import billing_months, hourly_index

    ts = hourly_index(billing_months("2026-07", 1, "America/New_York"))
    frames = [pd.DataFrame({"zone": z, "ts": ts.strftime("%Y-%m-%dT%H:%M:%SZ"), "price": 40.0, "load_mw": mw,
                            "load_forecast_mw": mw}) for z, mw in (("PJM-AEP", 24_000.0), ("PJM-DOM", 17_000.0))]
    pd.concat(frames).to_csv(tmp_path / "grid.csv", index=False)
    app, _ = load_config(["pledge=multi_zone", *(f"pledge.zones.{i}.system_load.{k}={v}" for i in (0, 1)
                                                 for k, v in (("source", "file"), ("path", tmp_path / "grid.csv")))])
    zc = dict(app.pledge.zone_configs())
    for zone, mw in (("PJM-AEP", 24_000.0), ("PJM-DOM", 17_000.0)):
        cfg = zc[zone]
        assert cfg.system_load.zone == zone
        inp = build_inputs(cfg)
        assert np.allclose(inp.others_mw + inp.median.sum(axis=0), mw)  # the zone's load, its campus inside
