"""The life cycle of a month's forecast: draft → billed → settled → trued up.

- draft: every forecast version (``action=forecast``); a restatement needs ``reason=...``.
- billed: ``action=bill version=N approver=NAME`` records, in the ``billed`` book, that forecast version N
  went on the bill, with the time, the approver and its assumptions; billing another version later is a
  restatement of the bill (a reason again).
- settled: ``action=settle`` books the actuals.
- trued up: ``action=trueup`` books settled − billed with interest, always against the billed version (its
  manifest's ``forecast_version``), and refuses when the billed and settled versions, or the true-up's own
  config, rest on different assumptions (:mod:`forecast.pledge.records`), naming the keys.

Each pledge name has its own ledger: ``<out_dir>/ledger/<pledge name>/<book>/<month>/vNNNN``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from forecast.pledge.calendar import billing_months
from forecast.pledge.config_checks import PledgeConfigError
from forecast.pledge.ledger import Ledger, Version
from forecast.pledge.records import PledgeResult, assumption_diff, assumptions, manifest, tracked
from forecast.pledge.trueup import summary as trueup_summary
from forecast.pledge.trueup import true_up

TRUEUP_CONVENTION = ("simple interest, Actual/365 Fixed, from the bill date (first day after the month) to the "
                     "true-up date; positive = surcharge, negative = refund")


def ledger_root(app) -> Path:
    """The pledge's own ledger folder."""
    return Path(app.out_dir) / "ledger" / app.pledge.name


def _months(app):
    cfg = app.pledge
    return billing_months(cfg.period.start, cfg.period.months, cfg.market.timezone)


def bill_run(app, resolved: dict):
    """Mark forecast version ``app.version`` of every month of the period as billed (by ``app.approver``)."""
    if app.version is None or int(app.version) < 1:
        raise PledgeConfigError("version", app.version, "action=bill needs the forecast version that went on the "
                                "bill", "1")
    if not str(app.approver).strip():
        raise PledgeConfigError("approver", app.approver, "action=bill records who approved the bill", "'<name>'")
    root = ledger_root(app)
    fl, bl = Ledger(root, "forecast"), Ledger(root, "billed")
    res = PledgeResult()
    for m in _months(app):
        fv = next((v for v in fl.versions(m.label) if v.number == int(app.version)), None)
        if fv is None:
            have = ", ".join(v.label for v in fl.versions(m.label)) or "none"
            raise PledgeConfigError("version", app.version, f"no forecast version v{int(app.version):04d} of "
                                    f"{m.label} under {root} (versions: {have})", "<an existing version>")
        fm = fv.manifest()
        extra = {"kind": "billed", "forecast_version": fv.label, "forecast_path": str(fv.path),
                 "approver": str(app.approver), "billed_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                 "assumptions": fm.get("assumptions", {}), "assumptions_hash": fm.get("assumptions_hash"),
                 "total_usd": fm.get("total_usd")}
        man = {**manifest(app, resolved, None, None, {}), **extra}
        res.versions.append(bl.append(m.label, fv.lines(), man))
    return res


def billed_version(root: Path, month: str) -> tuple[Version, Version]:
    """(billed record, the forecast version it names) of ``month``; refuses when nothing is billed."""
    b = Ledger(root, "billed").latest(month)
    if b is None:
        raise PledgeConfigError("action", "trueup", f"no billed forecast version of {month} under {root}; the "
                                "true-up is against the billed version", "bill version=<N> approver=<name>")
    label = b.manifest()["forecast_version"]
    fv = next(v for v in Ledger(root, "forecast").versions(month) if v.label == label)
    return b, fv


def _same_assumptions(billed: dict, other: dict, what: str, month: str, fv: Version) -> None:
    keys = assumption_diff(billed, other)
    if keys:
        shown = ", ".join(f"{k} ({billed.get(k)!r} billed, {other.get(k)!r} {what})" for k in keys[:5])
        more = f" … and {len(keys) - 5} more" if len(keys) > 5 else ""
        raise PledgeConfigError(keys[0], other.get(keys[0]), f"the {what} of {month} rests on other assumptions "
                                f"than the billed {fv.label}: {shown}{more}", repr(billed.get(keys[0])))


def trueup_run(app, resolved: dict):
    """True-up of the latest settled version against the billed forecast version, per month, with interest."""
    cfg, root = app.pledge, ledger_root(app)
    sl, tl = Ledger(root, "settled"), Ledger(root, "trueup")
    res, frames = PledgeResult(), []
    with tracked(app, resolved, "trueup") as run:
        for m in _months(app):
            b, fv = billed_version(root, m.label)
            sv = sl.latest(m.label)
            if sv is None:
                raise FileNotFoundError(f"no settled ledger for {m.label} under {root}; run "
                                        "`forecast pledge action=settle` first")
            billed_a = fv.manifest().get("assumptions", {})
            _same_assumptions(billed_a, sv.manifest().get("assumptions", {}), f"settled {sv.label}", m.label, fv)
            _same_assumptions(billed_a, assumptions(resolved), "true-up's config", m.label, fv)
            tu = true_up(fv.lines(), sv.lines(), m.label, cfg.trueup.interest_rate_annual, cfg.trueup.lag_days,
                         cfg.trueup.date)
            tu["forecast_version"], tu["settled_version"] = fv.label, sv.label
            extra = {"kind": "trueup", "forecast_version": fv.label, "billed_record": b.label,
                     "approver": b.manifest().get("approver"), "settled_version": sv.label,
                     "convention": TRUEUP_CONVENTION, **{k: str(v) for k, v in trueup_summary(tu).items()}}
            out = tu.assign(**{c: tu[c].map(str) for c in ("forecast_usd", "settled_usd", "difference_usd",
                                                           "interest_usd", "trueup_usd")})
            res.versions.append(tl.append(m.label, out, manifest(app, resolved, run, None, extra)))
            frames.append(tu)
        res.trueup = pd.concat(frames, ignore_index=True)
        res.run_id = getattr(run, "run_id", None)
        if run is not None:
            run.log_metrics({"trueup_usd": float(trueup_summary(res.trueup)["trueup_usd"])})
    return res
