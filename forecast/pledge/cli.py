"""``forecast pledge [action] [hydra overrides]``: the console command over :func:`forecast.pledge.api.run`.

    forecast pledge pledge=worked_example                  forecast ledger, CSV and HTML report
    forecast pledge settle pledge=worked_example           settled ledger from actuals
    forecast pledge trueup pledge=worked_example           true-up with interest
    forecast pledge plan pledge=worked_example pledge.curtailment.budget_frac=0.01

A leading action word is ``action=<word>``; ``forecast pledge --help`` lists the overrides. The
command line (help, the action word, one-line config errors) is handled by :mod:`forecast.cli`.
"""

from __future__ import annotations

import sys
from decimal import Decimal

from forecast.pledge.money import fmt_usd


def show(res) -> None:
    """Print one pledge's lines, totals, true-up, plan and where everything went."""
    acc = res.accounting
    if acc is not None:
        print(f"{'month':<8} {'line':<44} {'amount':>18} {'P10':>18} {'P90':>18}")
        for ln in acc.lines:
            lo = fmt_usd(ln.p10) if ln.p10 is not None else ""
            hi = fmt_usd(ln.p90) if ln.p90 is not None else ""
            tag = " (memo)" if ln.category == "memo" else ""
            print(f"{ln.month:<8} {ln.line_id + tag:<44} {fmt_usd(ln.amount):>18} {lo:>18} {hi:>18}")
        for m in acc.months:
            band = acc.bands.get((m.label, "total"))
            b = f"   P10–P90 {fmt_usd(band[0])} – {fmt_usd(band[2])}" if band else ""
            print(f"{m.label:<8} {'TOTAL (' + str(m.hours) + ' h)':<44} {fmt_usd(acc.total(m.label)):>18}{b}")
    if res.trueup is not None:
        cols = ["month", "line_id", "forecast_usd", "settled_usd", "difference_usd", "interest_usd", "trueup_usd"]
        print(res.trueup[cols].to_string(index=False))
    if res.plan is not None:
        print("curtailment:", res.plan.summary())
    for v in res.versions:
        print(f"ledger {v.kind} {v.month} {v.label}: {v.path}")
    if res.lines_csv:
        print(f"lines: {res.lines_csv}")
    if res.report_path:
        print(f"report: {res.report_path}")
    if res.run_id:
        print(f"mlflow run: {res.run_id}")


def show_portfolio(res) -> None:
    """Print each zone's pledge, then the portfolio's months (exact sums, bands of summed samples)."""
    for zone, r in res.zones.items():
        print(f"== zone {zone}")
        show(r)
    if res.portfolio is None:
        return
    print(f"== portfolio ({', '.join(res.portfolio['zones'])})")
    for lab, row in res.portfolio["months"].items():
        band = row.get("total_p10_p50_p90")
        b = f"   P10–P90 {fmt_usd(Decimal(band[0]))} – {fmt_usd(Decimal(band[2]))}" if band else ""
        print(f"{lab:<8} {'PORTFOLIO TOTAL':<44} {fmt_usd(Decimal(row['total_usd'])):>18}{b}")
    print(f"portfolio: {res.portfolio_path}")


def main(overrides: list[str]) -> int:
    """Run conf/pledge_app.yaml composed with ``overrides`` and print the ledger, true-up and plan (per zone and
    for the portfolio, for a pledge of several zones)."""
    from forecast.pledge.api import run

    res = run(overrides)
    if res.zones:
        show_portfolio(res)
    else:
        show(res)
    return 0


if __name__ == "__main__":
    from forecast.cli import main as cli_main

    raise SystemExit(cli_main(["pledge", *sys.argv[1:]]))
