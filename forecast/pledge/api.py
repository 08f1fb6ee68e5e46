"""Python API: plain functions over a typed config; ``forecast pledge`` is a thin wrapper around :func:`run`.

    from forecast.pledge import api
    app, resolved = api.load_config(["pledge=worked_example", "pledge.shift.phi=0.5"])
    res = api.forecast_run(app, resolved)        # forecast ledger + report (+ MLflow run)
    res.accounting.amount("shift_energy")        # Decimal, USD
    api.settle_run(app, resolved); api.trueup_run(app, resolved)
"""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from pathlib import Path

import pandas as pd

from forecast.pledge import curtail as _curtail
from forecast.pledge import report as _report
from forecast.pledge import exports, zones
from forecast.pledge.accounting import compute
from forecast.pledge.bands import MEAN
from forecast.pledge.config import PledgeApp, PledgeConfig, load_config
from forecast.pledge.inputs import Inputs, build_inputs, sha
from forecast.pledge.ledger import Ledger, Version, code_version
from forecast.pledge.records import ROUNDING_RULES, PledgeResult, manifest, tracked
from forecast.pledge.lifecycle import bill_run, ledger_root, trueup_run
from forecast.pledge.leases import settled_peak_shares
from forecast.pledge.peaks import settled_obligations
from forecast.pledge.calendar import billing_months, hourly_index
from forecast.pledge.config_checks import P, PledgeConfigError
from forecast.price.configured import ConfiguredSupplyCurve
from forecast.price.response import NetLoadResponse, PriceResponse, RenewablesProfile, response_info
from forecast.price.curve_fit import read_fit_frame
from forecast.price.supply_curve import FittedSupplyCurve

def price_response(cfg: PledgeConfig, book: str = "forecast") -> PriceResponse:
    """The response ``pledge.price_curve.kind`` names, always on gross system load (what the accounting passes):

    - configured: :class:`ConfiguredSupplyCurve` from the config's parameters;
    - fitted: :class:`FittedSupplyCurve` read from ``path`` or fitted on ``fit_on`` (net load), wrapped in
      :class:`forecast.price.response.NetLoadResponse` with the renewables of the pledge's grid file for
      ``book`` ("forecast": system_load.path; "settled": actuals.grid_path, else system_load.path) where it
      has solar_mw/wind_mw for the hour, else the fit data's mean by local month and hour;
    - model: the LEAR members of the day-ahead price model (forecast.price.model_response).

    Its ``source`` says where it came from; :func:`forecast.price.response.response_info` is what the ledger keeps.
    """
    pc, where = cfg.price_curve, f"{P}.price_curve"
    if pc.kind == "configured":
        return ConfiguredSupplyCurve.from_config(pc, where=where, timezone=cfg.market.timezone,
                                                 source=f"configured parametric curve ({where})")
    if pc.kind == "model":
        return model_response(cfg)
    return fitted_response(cfg, book)


def model_response(cfg: PledgeConfig):
    """kind=model: the LEAR members fitted on ``path`` before ``issue_time``; refused up front when the
    billing period lies beyond the day ahead and ``beyond_day_ahead=error``."""
    from forecast.price.model_response import fit_model_response

    pc, where = cfg.price_curve, f"{P}.price_curve"
    resp = fit_model_response(pc.path, pc.issue_time, tuple(int(w) for w in pc.windows), tuple(pc.transforms),
                              pc.load_input, cfg.market.timezone, pc.beyond_day_ahead, where)
    try:
        resp.day_plan(hourly_index(billing_months(cfg.period.start, cfg.period.months, cfg.market.timezone)))
    except ValueError as e:
        raise PledgeConfigError(f"{where}.beyond_day_ahead", pc.beyond_day_ahead, str(e), "hold_last_days") from None
    return resp


def fitted_response(cfg: PledgeConfig, book: str = "forecast") -> NetLoadResponse:
    """kind=fitted: the net-load curve on gross load (see :func:`price_response`)."""
    pc, where = cfg.price_curve, f"{P}.price_curve"
    if pc.path is not None:
        curve = FittedSupplyCurve.load(pc.path)
    else:
        frame, desc = read_fit_frame(pc.fit_on, pc.zone, where)
        if pc.issue_time is not None:  # only what was known when the forecast was issued
            cut = pd.Timestamp(pc.issue_time)
            frame = frame[pd.DatetimeIndex(frame["ts"]) < cut].reset_index(drop=True)
            desc = f"{desc}, hours before {cut.tz_convert('UTC'):%Y-%m-%d %H:%M} UTC ({len(frame)} h)"
        curve = FittedSupplyCurve.fit(frame, n_draws=pc.n_draws, seed=pc.seed, cap_usd_per_mwh=pc.cap_usd_per_mwh,
                                      timezone=cfg.market.timezone, source=f"fitted at run time on {desc}; "
                                                                           f"{pc.n_draws} bootstrap draws, seed {pc.seed}")
    grid, zone = grid_file(cfg, book)
    hours = RenewablesProfile.grid_hours(read_grid(grid, zone)) if grid else None
    resp = curve.gross(hours, source=f"{grid}:solar_mw+wind_mw" if grid else "")
    ts = hourly_index(billing_months(cfg.period.start, cfg.period.months, cfg.market.timezone))
    try:
        resp.source = f"{curve.source}; gross → net load: {resp.renewables.describe(ts)}"
    except ValueError as e:
        raise PledgeConfigError(f"{where}.path", pc.path, f"{e}: the curve file carries no renewables profile and "
                                "the grid file no solar_mw/wind_mw for these hours; refit it with `forecast "
                                "price-curve` or fit at run time", "null (with fit_on=<data>)") from None
    return resp


def grid_file(cfg: PledgeConfig, book: str) -> tuple[str | None, str | None]:
    """(path, zone) of the grid file the ledger ``book`` reads system load from; (None, None) when stylised."""
    if book == "settled" and cfg.actuals.source == "file" and cfg.actuals.grid_path:
        return cfg.actuals.grid_path, cfg.actuals.zone or cfg.system_load.zone
    if cfg.system_load.source == "file":
        return cfg.system_load.path, cfg.system_load.zone
    return None, None


def read_grid(path: str, zone: str | None) -> pd.DataFrame:
    """A grid-contract file, cut to ``zone`` (or its only zone)."""
    from forecast.data.contracts import load_grid

    g = load_grid(path)
    if zone is not None:
        g = g[g["zone"] == zone]
    elif g["zone"].nunique() > 1:
        raise PledgeConfigError(f"{P}.system_load.zone", None, f"{path} has several zones", "<zone>")
    return g


def _append_months(app: PledgeApp, resolved: dict, run, inp: Inputs, acc, book: str, extra=None,
                   response: dict | None = None) -> list:
    """One ledger version per month in book ``book`` ("forecast" or "settled"): the month's lines and hourly
    rows, with a manifest carrying kind, hours, days, total, ``extra(month)``'s entries and the price response."""
    ledger = Ledger(ledger_root(app), book)
    lines = acc.lines_frame()
    versions = []
    for m in inp.months:
        info = {"kind": book, "hours": m.hours, "days": m.days, "total_usd": str(acc.total(m.label)),
                **(extra(m) if extra else {})}
        versions.append(ledger.append(m.label, lines[lines["month"] == m.label],
                                      manifest(app, resolved, run, inp, info, response),
                                      acc.hourly[acc.hourly["month"] == m.label]))
    return versions


def forecast_run(app: PledgeApp, resolved: dict, curve: PriceResponse | None = None,
                 inputs: Inputs | None = None) -> PledgeResult:
    """Pre-compute the bill adjustment: forecast ledger versions (one per month), line-item CSV, HTML report."""
    cfg = app.pledge
    inp = inputs or build_inputs(cfg, "forecast")
    curve = curve or price_response(cfg)
    response = response_info(curve)
    res = PledgeResult()
    with tracked(app, resolved, "forecast") as run:
        plan = _curtail.plan(cfg, inp, curve) if cfg.curtailment.enabled else None
        acc = compute(cfg, inp, curve, cut_mw=plan.cut_mw if (plan is not None and cfg.curtailment.apply) else None)
        if plan is not None:
            acc.lines += _curtail.memo_lines(plan, inp, cfg.market.name)
        res.accounting, res.plan, res.run_id = acc, plan, getattr(run, "run_id", None)
        def forecast_extra(m) -> dict:
            return {"central": f"{MEAN} ({cfg.montecarlo.samples}); bands: their P10/P50/P90",
                    "pledge_usd": str(acc.total(m.label, "pledge")),
                    "bands_p10_p50_p90": {k[1]: [str(x) for x in v] for k, v in acc.bands.items() if k[0] == m.label},
                    "curtailment_applied": bool(plan is not None and cfg.curtailment.apply),
                    "curtailment": plan.summary() if plan is not None else None}

        res.versions = _append_months(app, resolved, run, inp, acc, "forecast", forecast_extra, response)
        publish(app, resolved, res, inp, response)
        if run is not None:
            run.log_metrics({"total_usd": float(acc.total()), "pledge_usd": float(acc.total(category="pledge")),
                             "shift_energy_usd": float(acc.amount("shift_energy")),
                             **{f"total_{k[1]}_p{q}": float(v[i]) for k, v in acc.bands.items() if k[0] == "horizon"
                                for i, q in enumerate((10, 50, 90))}})
            run.log_artifact(res.lines_csv, "pledge")
            if res.report_path:
                run.log_artifact(res.report_path, "pledge")
    return res


def stylised_inputs(cfg: PledgeConfig, inp: Inputs) -> list[str]:
    """The inputs of a forecast that are stylised (typed illustrative figures), in words, for the report."""
    out = [f"{name.replace('_', ' ')} ({src.split(': ', 1)[-1]})" for name, src in inp.sources.items()
           if str(src).startswith("stylised")]
    if cfg.price_curve.kind == "configured":
        out.append("the price curve (configured parameters, pledge.price_curve, not fitted on market data)")
    out.append("tariff rates, capacity prices, upgrade costs and every other configured figure, as typed in the "
               "pledge config (conf/pledge)")
    return out


def previous_version(root: Path, v) -> dict | None:
    """The forecast version before ``v`` of its month: its label and booked amounts per line id."""
    if v.number < 2:
        return None
    prev = next(x for x in Ledger(root, "forecast").versions(v.month) if x.number == v.number - 1)
    lines = prev.lines()
    return {"label": prev.label, "amounts": dict(zip(lines["line_id"], lines["amount_usd"])),
            "total": Decimal(prev.manifest()["total_usd"])}


def publish(app: PledgeApp, resolved: dict, res: PledgeResult, inp: Inputs, response: dict) -> None:
    """The forecast's line items as CSV and JSON (one documented schema) and, with ``report``, its HTML report."""
    cfg, acc = app.pledge, res.accounting
    tag = f"{cfg.name}_{inp.months[0].label}_{len(inp.months)}m_forecast_{res.versions[0].label}"
    out = Path(app.out_dir) / "report"
    res.lines_csv = exports.write_csv(out / f"{tag}_lines.csv", acc)
    ledger = {v.month: v.label for v in res.versions}
    lines_json = exports.write_json(out / f"{tag}_lines.json", acc, cfg.name, ledger)
    if not app.report:
        return
    prov = {"code": code_version(), "mlflow_run_id": res.run_id, "config_hash": sha(resolved),
            "ledger_versions": [str(v.path) for v in res.versions],
            "inputs": {**inp.sources, "price_response": response}, "rounding": ROUNDING_RULES}
    res.report_path = _report.render(
        out / f"{tag}.html", f"Cost pledge: {cfg.name} — {inp.months[0].label} + {len(inp.months)} month(s), "
        "forecast", acc, inp.ts, cfg.market.timezone, res.plan, prov, str(res.lines_csv),
        previous=previous_version(ledger_root(app), res.versions[0]), stylised=stylised_inputs(cfg, inp),
        version=f"{inp.months[0].label} {res.versions[0].label}", lines_json=str(lines_json))


def settle_run(app: PledgeApp, resolved: dict, curve: PriceResponse | None = None,
               inputs: Inputs | None = None) -> PledgeResult:
    """Settled ledger from actuals through the same formulas, no sampling: the metered draw and actual system load;
    spot energy at the grid file's actual prices (``actuals.prices=grid``); PLC and NSPL from the meter at the
    system's coincident peaks (``actuals.obligations=metered``, :mod:`forecast.pledge.peaks`), each month's
    manifest naming the peak hours."""
    cfg = app.pledge
    inp = inputs or build_inputs(cfg, "settled")
    obl = settled_obligations(cfg, inp.months)
    inp = dataclasses.replace(inp, lease_shares=settled_peak_shares(cfg, inp, obl))
    curve = curve or price_response(cfg, "settled")
    res = PledgeResult()
    with tracked(app, resolved, "settle") as run:
        acc = compute(cfg, inp, curve, samples=False, obligations=obl)
        res.accounting, res.run_id = acc, getattr(run, "run_id", None)
        prices = inp.sources.get("price", "the price curve at the actual load (pledge.actuals.prices=curve)")
        res.versions = _append_months(app, resolved, run, inp, acc, "settled", lambda m: {
            "central": "the metered path through the formulas (no samples)",
            "spot_prices": prices if cfg.tariff.energy_pricing == "spot" else "fixed energy rate",
            "obligations": obl.manifest(m.label, cfg.site_ids(), inp.months.index(m))}, response_info(curve))
        if run is not None:
            run.log_metrics({"settled_total_usd": float(acc.total())})
    return res


def plan_run(app: PledgeApp, resolved: dict, curve: PriceResponse | None = None) -> PledgeResult:
    cfg = app.pledge
    inp = build_inputs(cfg, "forecast")
    p = _curtail.plan(cfg, inp, curve or price_response(cfg))
    out = Path(app.out_dir) / "report" / f"{cfg.name}_{inp.months[0].label}_curtailment.csv"
    from forecast.io import atomic_write
    atomic_write(out, lambda f: p.hours.to_csv(f, index=False))
    return PledgeResult(plan=p, lines_csv=out)


def run(overrides: list[str] | tuple[str, ...] = ()) -> PledgeResult:
    """Compose ``conf/pledge_app.yaml`` with ``overrides`` and do ``action`` (zone by zone for a pledge of several
    zones, :mod:`forecast.pledge.zones`)."""
    app, resolved = load_config(overrides)
    action = {"forecast": forecast_run, "settle": settle_run, "bill": bill_run, "trueup": trueup_run,
              "plan": plan_run}[app.action]
    if app.pledge.zones:  # several zones: each its own pledge and ledger, and the portfolio across them
        return zones.run(app, resolved, action)
    return action(app, resolved)


__all__ = ["PledgeResult", "forecast_run", "settle_run", "bill_run", "trueup_run", "plan_run", "run", "load_config",
           "price_response", "fitted_response", "json"]
