"""A pledge of several zones: each zone billed by its own market, tariffs, capacity market (or none), system load
and price response (``pledge.zones``; e.g. PJM zones beside ERCOT), and the portfolio across them.

Each zone is a pledge of its own (:meth:`forecast.pledge.config.PledgeConfig.zone_configs`): its sites,
upgrades and leases, its own ledger (``<out_dir>/ledger/<name>-<zone>/``) and life cycle (forecast, bill, settle,
true-up), its own Monte Carlo seed (``montecarlo.seed`` + the zone's position). The portfolio adds the zones'
booked amounts exactly; its P10/P50/P90 are quantiles of the sum of the zones' sampled totals, sample by sample,
so it treats the zones' draws, loads and curves as independent of each other (stated in the portfolio file).
Local months differ in UTC between time zones: a portfolio month is the same local month label in every zone.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.io import atomic_write_text
from forecast.pledge.bands import q3
from forecast.pledge.inputs import sha
from forecast.pledge.money import total
from forecast.pledge.records import PledgeResult

INDEPENDENCE = ("portfolio P10/P50/P90: quantiles of the zones' sampled totals added sample by sample; each zone has "
                "its own seed, so the zones are treated as independent")


def zone_apps(app, resolved: dict) -> list[tuple[str, object, dict]]:
    """(zone, the zone's PledgeApp, its resolved config) for each zone, in config order."""
    out = []
    for zone, zc in app.pledge.zone_configs():
        zr = {**resolved, "pledge": dataclasses.asdict(zc),
              "portfolio": {"name": app.pledge.name, "zone": zone, "config_hash": sha(resolved)}}
        out.append((zone, dataclasses.replace(app, pledge=zc), zr))
    return out


def portfolio(res: dict[str, PledgeResult]) -> dict:
    """Per month: the zones' totals and pledge amounts, their exact sums and the portfolio's bands."""
    accs = {z: r.accounting for z, r in res.items() if r.accounting is not None}
    labels = [m.label for m in next(iter(accs.values())).months]
    months = {}
    for i, lab in enumerate(labels):
        row = {"zones": {z: {"total_usd": str(a.total(lab)), "pledge_usd": str(a.total(lab, "pledge"))}
                         for z, a in accs.items()},
               "total_usd": str(total(a.total(lab) for a in accs.values())),
               "pledge_usd": str(total(a.total(lab, "pledge") for a in accs.values()))}
        if all(a.sample_totals is not None for a in accs.values()):
            tot = sum(a.sample_totals[:, i] for a in accs.values())
            pl = sum(a.sample_pledge[:, i] for a in accs.values())
            row["total_p10_p50_p90"] = [str(x) for x in q3(np.asarray(tot))]
            row["pledge_p10_p50_p90"] = [str(x) for x in q3(np.asarray(pl))]
        months[lab] = row
    return {"zones": list(accs), "months": months, "bands": INDEPENDENCE,
            "ledger_versions": {z: [str(v.path) for v in r.versions] for z, r in res.items()}}


def run(app, resolved: dict, action: Callable) -> PledgeResult:
    """``action`` (forecast_run, settle_run, bill_run, trueup_run, plan_run) zone by zone; a forecast also writes
    the portfolio (``<out_dir>/report/<name>_<start>_<months>m_portfolio.json``)."""
    res = PledgeResult()
    for zone, za, zr in zone_apps(app, resolved):
        r = action(za, zr)
        res.zones[zone] = r
        res.versions += r.versions
    frames = [r.trueup.assign(zone=z) for z, r in res.zones.items() if r.trueup is not None]
    res.trueup = pd.concat(frames, ignore_index=True) if frames else None
    if any(r.accounting is not None for r in res.zones.values()):
        res.portfolio = portfolio(res.zones)
        p = app.pledge
        path = Path(app.out_dir) / "report" / f"{p.name}_{p.period.start}_{p.period.months}m_portfolio.json"
        body = json.dumps({"pledge": p.name, "action": app.action, **res.portfolio}, indent=2, sort_keys=True)
        res.portfolio_path = atomic_write_text(path, body)
    return res


def zone_total(res: PledgeResult, month: str) -> Decimal:
    """The portfolio's booked total of ``month`` (exact sum over zones)."""
    return total(r.accounting.total(month) for r in res.zones.values() if r.accounting is not None)
