"""The pledge report, built with :mod:`forecast.evaluation.reportkit`: one self-contained HTML page (PNG
plots embedded) plus the line-item CSV.

Plots: fan chart of the campus draw (P10–P90 of the joint samples), price with
and without the campus, the bill waterfall of the horizon with the P10–P90 band
of the total, and the curtailment hours. Tables: totals by month, line items,
sensitivities, curtailment plan, provenance.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from forecast.evaluation import reportkit as kit  # noqa: E402
from forecast.pledge.accounting import Accounting  # noqa: E402
from forecast.pledge.curtail import CurtailmentPlan  # noqa: E402
from forecast.pledge.money import fmt_musd, fmt_usd, total  # noqa: E402

ITEM_LABEL = {"energy": "Energy", "demand": "Demand charge", "capacity": "Capacity (PLC)",
              "transmission": "Transmission", "upgrade": "Pledge 1: upgrades", "backstop": "Reliability backstop (share)",
              "shift_energy": "Pledge 2: energy price shift", "shift_capacity": "Pledge 2: capacity shift"}
ITEMS = list(ITEM_LABEL)
ITEM_WHAT = {"energy": "energy the campus buys: metered MWh × the tariff rate, or × the spot price of each hour",
             "demand": "demand charge on the month's peak draw (at least the minimum share of contract demand)",
             "capacity": "capacity obligation (PLC, set by last summer's coincident peaks) × the auction price × days",
             "transmission": "network transmission on the NSPL (the customer's load at the system peak) × days",
             "upgrade": "pledge 1: the grid upgrades built for the campus, amortised monthly (or a contribution)",
             "backstop": "the campus's share of the reliability backstop procurement assigned to large loads",
             "shift_energy": "pledge 2: the wholesale energy price increase the campus's draw causes for other "
                             "customers, on their spot-exposed load",
             "shift_capacity": "pledge 2: the capacity price increase the campus's obligation causes for others"}
DPI = 110
MONEY = kit.money


def _local(ts: pd.DatetimeIndex, tz: str):
    return ts.tz_convert(tz).tz_localize(None)


def _daily(ts, arr, how: str = "mean"):
    """Daily ``how`` (mean or max) when a horizon is too long to show hourly (> 62 days)."""
    if len(ts) <= 24 * 62:
        return ts, arr
    s = getattr(pd.DataFrame(np.atleast_2d(arr).T, index=ts).resample("D"), how)()
    return s.index, s.to_numpy().T


def _note(ts, how: str = "daily mean") -> str:
    return "" if len(ts) <= 24 * 62 else f" ({how})"


def fan_chart(acc: Accounting, ts: pd.DatetimeIndex, tz: str) -> str:
    fig, ax = plt.subplots(figsize=(10, 3.6))
    x = _local(ts, tz)
    f = acc.fan["draw_mw"]
    x2, f2 = _daily(x, f)
    ax.fill_between(x2, f2[0], f2[2], color="tab:blue", alpha=0.25, label="P10–P90 of joint samples")
    ax.plot(x2, f2[1], color="tab:blue", lw=1.2, label="P50")
    d50 = acc.hourly.groupby("ts_utc", sort=False)["draw_mw"].sum().to_numpy()
    _, c2 = _daily(x, d50)
    ax.plot(x2, np.atleast_2d(c2)[0], color="black", lw=0.8, ls="--", label="central (p50 inputs)")
    ax.set_ylabel("campus draw, MW")
    ax.set_title("Campus draw: fan chart of the joint samples (local time)" + _note(ts))
    ax.legend(loc="lower left", fontsize=8, ncol=3)
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%b %d"))
    ax.grid(alpha=0.3)
    return kit.embed_figure(fig, "Campus draw: fan chart of the joint samples", dpi=DPI)


def price_chart(acc: Accounting, ts: pd.DatetimeIndex, tz: str) -> str:
    h = acc.hourly.drop_duplicates("ts_utc")
    x = _local(ts, tz)
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(10, 5.2), sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    x2, pw = _daily(x, h["price_with_usd_per_mwh"].to_numpy())
    _, po = _daily(x, h["price_without_usd_per_mwh"].to_numpy())
    ax.plot(x2, np.atleast_2d(pw)[0], color="tab:red", lw=1.4, label="with the campus S(L)")
    ax.plot(x2, np.atleast_2d(po)[0], color="tab:green", lw=1.0, ls="--", label="without the campus S(L − D + G)")
    if "price_with" in acc.fan:
        _, band = _daily(x, acc.fan["price_with"])
        ax.fill_between(x2, band[0], band[2], color="tab:red", alpha=0.12, label="with the campus, P10–P90")
    ax.set_ylabel("price, $/MWh")
    ax.set_title("Energy price with and without the campus (central curve)" + _note(ts))
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    _, dp = _daily(x, h["delta_price_usd_per_mwh"].to_numpy())
    ax2.plot(x2, np.atleast_2d(dp)[0], color="tab:purple", lw=1.0)
    ax2.set_ylabel("ΔP, $/MWh")
    ax2.grid(alpha=0.3)
    ax2.xaxis.set_major_formatter(mdates.DateFormatter("%b %d"))
    return kit.embed_figure(fig, "Energy price with and without the campus", dpi=DPI)


def waterfall(acc: Accounting) -> str:
    vals = [(ITEM_LABEL[i], float(acc.amount(i))) for i in ITEMS if any(ln.item == i for ln in acc.lines)]
    fig, ax = plt.subplots(figsize=(10, 4.2))
    run = 0.0
    for k, (name, v) in enumerate(vals):
        color = "tab:gray" if not name.startswith("Pledge") else "tab:orange"
        ax.bar(k, v / 1e6, bottom=run / 1e6, color=color, edgecolor="black", lw=0.5)
        ax.text(k, (run + v / 2) / 1e6, fmt_musd(v), ha="center", va="center", fontsize=8)
        run += v
    k = len(vals)
    ax.bar(k, run / 1e6, color="tab:blue", edgecolor="black", lw=0.5)
    band = acc.bands.get(("horizon", "total"))
    if band:
        lo, _, hi = (float(b) / 1e6 for b in band)
        ax.errorbar(k, run / 1e6, yerr=[[run / 1e6 - lo], [hi - run / 1e6]], color="black", capsize=6,
                    label="P10–P90 of sampled totals")
        ax.legend(loc="upper left", fontsize=8)
    ax.text(k, run / 2e6, fmt_musd(run), ha="center", va="center", fontsize=8, color="white")
    ax.set_xticks(range(k + 1), [n for n, _ in vals] + ["Total"], rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("USD, millions")
    ax.set_title("Bill and pledge waterfall over the horizon (grey: bill, orange: pledge)")
    ax.grid(axis="y", alpha=0.3)
    return kit.embed_figure(fig, "Bill and pledge waterfall over the horizon", dpi=DPI)


def curtailment_chart(plan: CurtailmentPlan, acc: Accounting, ts: pd.DatetimeIndex, tz: str) -> str:
    h = acc.hourly.drop_duplicates("ts_utc")
    load = (h["others_load_mw"] + h["campus_draw_mw"]).to_numpy() / 1000.0
    x = _local(ts, tz)
    fig, ax = plt.subplots(figsize=(10, 3.6))
    x2, l2 = _daily(x, load, "max")
    ax.plot(x2, np.atleast_2d(l2)[0], color="tab:gray", lw=0.8, label="system load (forecast)" + _note(ts, "daily max"))
    if len(plan.hours):
        hx = _local(pd.DatetimeIndex(plan.hours["ts"]), tz)
        ax.scatter(hx, plan.hours["system_load_mw"] / 1000.0, color="tab:red", s=12, zorder=3,
                   label=f"curtailed hours ({len(plan.hours)} of a {plan.budget_hours} h budget)")
        ax2 = ax.twinx()
        ax2.vlines(hx, 0, plan.hours["depth_mw"], color="tab:red", alpha=0.5, lw=2)
        ax2.set_ylabel("cut, MW", color="tab:red")
        ax2.set_ylim(0, max(plan.hours["depth_mw"].max() * 4, 1))
    ax.set_ylabel("system load, GW")
    ax.set_title("Curtailment plan: chosen hours and depth")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, fontsize=8, frameon=False)
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%b %d"))
    ax.grid(alpha=0.3)
    return kit.embed_figure(fig, "Curtailment plan: chosen hours and depth", dpi=DPI)


def months_table(acc: Accounting) -> str:
    """Central total and pledge per month with the P10/P50/P90 of the sampled totals."""
    rows = []
    for m in acc.months:
        lo, mid, hi = acc.bands.get((m.label, "total"), (None, None, None))
        plo, _, phi = acc.bands.get((m.label, "pledge"), (None, None, None))
        rows.append({"month": m.label, "hours": m.hours, "days": m.days, "total": acc.total(m.label),
                     "pledge": acc.total(m.label, "pledge"), "total_p10": lo, "total_p50": mid, "total_p90": hi,
                     "pledge_p10": plo, "pledge_p90": phi})
    money = ["total", "pledge", "total_p10", "total_p50", "total_p90", "pledge_p10", "pledge_p90"]
    return kit.table(pd.DataFrame(rows), formats={c: MONEY for c in money}, units={"hours": "h", "days": "d",
                     **{c: "USD" for c in money}},
                     labels={"total": "bill + pledge (central)", "pledge": "pledge (central)", "total_p10": "total P10",
                             "total_p50": "total P50", "total_p90": "total P90", "pledge_p10": "pledge P10",
                             "pledge_p90": "pledge P90"})


def _decimal(x) -> Decimal | None:
    return None if x is None or x == "" else Decimal(str(x))


def items_table(acc: Accounting) -> str:
    """Every line item: quantity × price = amount (exact decimals), its P10/P50/P90 and formula."""
    df = acc.lines_frame()[["month", "line_id", "category", "quantity", "quantity_unit", "price", "price_unit",
                            "amount_usd", "p10_usd", "p50_usd", "p90_usd", "formula"]]
    exact = ["quantity", "price", "amount_usd", "p10_usd", "p50_usd", "p90_usd"]
    df = df.assign(**{c: df[c].map(_decimal).astype(object) for c in exact})
    return kit.table(df, formats={"quantity": kit.grouped, "price": kit.grouped, **{c: MONEY for c in exact[2:]}},
                     long=("line_id",), below="formula", units={c: "USD" for c in exact[2:]},
                     labels={"quantity_unit": "unit", "price_unit": "price unit", "amount_usd": "amount",
                             "p10_usd": "P10", "p50_usd": "P50", "p90_usd": "P90"})


def sensitivity_table(acc: Accounting) -> str:
    df = acc.sensitivity.assign(amount_usd=[Decimal(str(x)) for x in acc.sensitivity["amount_usd"]])
    return kit.table(df, formats={"amount_usd": MONEY}, labels={"amount_usd": "amount"}, units={"amount_usd": "USD"})


def curtailment_parts(plan: CurtailmentPlan) -> list[str]:
    """The plan's summary sentence and its chosen hours (first 200)."""
    s = plan.summary()
    hours = plan.hours.assign(ts=pd.DatetimeIndex(plan.hours["ts"]).tz_convert("UTC").strftime("%Y-%m-%d %H:%MZ")).head(200)
    mw = {c: "MW" for c in ("system_load_mw", "draw_mw", "depth_mw")}
    mw_units = {**mw, **{c: "USD" for c in ("value_shift_usd", "value_capacity_usd", "cost_usd", "net_usd")},
                "p_cp": "probability"}
    usd = ("value_shift_usd", "value_capacity_usd", "cost_usd", "net_usd")
    table = kit.table(hours, units=mw_units, labels={"ts": "hour start (UTC)", "hour_ending_local": "hour ending (local)",
                                               "system_load_mw": "system load", "draw_mw": "draw", "depth_mw": "cut",
                                               "p_cp": "P(coincident peak)", "value_shift_usd": "shift value",
                                               "value_capacity_usd": "capacity value", "cost_usd": "cost",
                                               "net_usd": "value per hour (ranking)",
                                               "capacity_delivery_year": "capacity saving in"},
                      formats={**{c: kit.fixed(3) for c in mw}, "p_cp": kit.fixed(3), **{c: MONEY for c in usd}})
    years = "; ".join(f"{y['plan_year']}: {y['hours_used_in_year']} h used in the year, "
                      f"{y['hours_in_billing_period']} h of them in this billing period" for y in s["plan_years"])
    text = (f"Budget {s['budget_hours']} h for the {s['budget_period']}"
            + (f" ({years})" if years else "") + f"; this billing period cuts {s['hours_used']} h, "
            f"{s['curtailed_mwh']:,} MWh. Each saving is for one period: in this billing period, "
            f"{fmt_usd(Decimal(s['shift_saving_usd']))} less energy price shift at a compute cost of "
            f"{fmt_usd(Decimal(s['cost_usd']))}; on the capacity bill of the {s['capacity_saving_period']}, an "
            f"expected {fmt_usd(Decimal(s['capacity_saving_usd']))} (PLC −{s['plc_reduction_mw']:,} MW expected). "
            "The net value per hour below only ranks the hours; it adds savings of different periods.")
    return [kit.paragraph(text), table]


LEAD = ("Each booked amount is the mean of {n} joint samples of draw, system load, price-curve parameters and the "
        "configured ranges, propagated through the same formulas; P10/P50/P90 are quantiles of the same samples "
        "(bands of totals are quantiles of sampled totals, not sums of quantiles). Money is exact decimal, "
        "rounded half-even to the cent; totals are sums of line items; memo lines are shown and never added.")


def stylised_lead(stylised: list[str] | None) -> str:
    """The report's first paragraph: which inputs are stylised (illustrative figures, not measurements or filed
    rates)."""
    if stylised:
        return ("Stylised inputs (illustrative figures, not forecasts, measurements or filed rates): "
                + "; ".join(stylised) + ". Amounts that rest on them illustrate the method, not a bill.")
    return "No stylised inputs: the draw, the system load and the price response come from the files named in Sources."


def _what(ln) -> str:
    parts = ln.line_id.split(":")
    extra = f" (lease {parts[2]})" if ln.item in ("shift_energy", "shift_capacity") and len(parts) > 2 else ""
    return ITEM_WHAT.get(ln.item, ln.item.replace("_", " ")) + extra


def summary_table(acc: Accounting, previous: dict | None) -> str:
    """The month billed next: each booked line in words, amount, P10–P90 and the change from the last version."""
    m = acc.months[0].label
    prev = (previous or {}).get("amounts", {})
    label = (previous or {}).get("label")
    rows = [{"line": f"{ITEM_LABEL.get(ln.item, ln.item)} — {ln.site_id}", "what it is": _what(ln),
             "amount": ln.amount, "P10": ln.p10, "P90": ln.p90,
             "change": (ln.amount - prev[ln.line_id]) if ln.line_id in prev else None}
            for ln in acc.month_lines(m) if ln.category != "memo"]
    lo, _, hi = acc.bands.get((m, "total"), (None, None, None))
    rows.append({"line": f"Total {m}", "what it is": "bill lines + pledge lines (memo lines not added)",
                 "amount": acc.total(m), "P10": lo, "P90": hi,
                 "change": acc.total(m) - previous["total"] if previous else None})
    head = "change from " + label if label else "change from the last version (first version)"
    return kit.table(pd.DataFrame(rows).rename(columns={"change": head}), units={c: "USD" for c in
                     ("amount", "P10", "P90", head)}, formats={c: MONEY for c in ("amount", "P10", "P90", head)},
                     long=("what it is",))


def sources_table(provenance: dict) -> str:
    """Where each input came from, in words."""
    inputs = provenance.get("inputs", {})
    words = {"draw": "campus draw", "system_load": "system load", "price": "actual prices",
             "price_response": "price response"}
    rows = [{"input": words.get(k, k.replace("_", " ")), "source": v.get("source", "") if isinstance(v, dict) else v}
            for k, v in inputs.items()]
    code = provenance.get("code", {})
    rows += [{"input": "code", "source": f"forecast {code.get('forecast_version')} at commit {code.get('git_commit')}"},
             {"input": "configuration", "source": f"resolved config, sha256 {provenance.get('config_hash')}"},
             {"input": "ledger", "source": ", ".join(provenance.get("ledger_versions", []))},
             {"input": "rounding", "source": provenance.get("rounding", "")}]
    return kit.table(pd.DataFrame(rows), long=("source",))


def signoff_block(version: str | None) -> str:
    """Who prepared, reviewed and agreed the bill adjustment (blank lines to sign)."""
    blank = "________________"
    rows = [{"role": "prepared by (this system)", "name": f"forecast ledger {version or ''}", "signature": "—",
             "date": "—"},
            {"role": "reviewed by (operator)", "name": blank, "signature": blank, "date": blank},
            {"role": "agreed by (utility)", "name": blank, "signature": blank, "date": blank},
            {"role": "billed (forecast pledge action=bill version=N approver=…)", "name": blank, "signature": blank,
             "date": blank}]
    return kit.table(pd.DataFrame(rows))


def dictionary_table() -> str:
    from forecast.pledge.exports import DATA_DICTIONARY, SCHEMA

    df = pd.DataFrame(list(DATA_DICTIONARY), columns=["column", "type", "unit", "meaning"])
    return kit.paragraph(f"Line items as CSV and JSON, schema {SCHEMA}:") + kit.table(df, long=("meaning",))


def render(path: str | Path, title: str, acc: Accounting, ts: pd.DatetimeIndex, tz: str,
           plan: CurtailmentPlan | None, provenance: dict, lines_csv: str | None = None, *,
           previous: dict | None = None, stylised: list[str] | None = None, version: str | None = None,
           lines_json: str | None = None) -> Path:
    """Write the report to ``path`` (atomic) and return it: which inputs are stylised first, then the summary of the
    month billed next (each line in words, amount, P10–P90, change from the ``previous`` version), the months,
    charts, sensitivities, line items, sources in words, the data dictionary, a sign-off block, provenance."""
    page = kit.Page(title, lead=[stylised_lead(stylised), LEAD.format(n=acc.n_samples)])
    page.section(f"Summary: {acc.months[0].label}", summary_table(acc, previous))
    page.section("Totals by month", months_table(acc),
                 f"<p><b>Horizon total (central):</b> {fmt_usd(acc.total())} — of which pledge "
                 f"{fmt_usd(acc.total(category='pledge'))}</p>")
    page.section("Campus draw", fan_chart(acc, ts, tz))
    page.section("Price with and without the campus", price_chart(acc, ts, tz))
    page.section("Bill waterfall", waterfall(acc))
    if plan is not None:
        page.section("Curtailment hours", curtailment_chart(plan, acc, ts, tz))
    page.section("Sensitivities (horizon, central)", sensitivity_table(acc))
    if plan is not None:
        page.section("Curtailment plan", *curtailment_parts(plan))
    page.section("Line items", items_table(acc))
    page.section("Sources", sources_table(provenance))
    files = [f"{kind}: {kit.code(str(f))}" for kind, f in (("CSV", lines_csv), ("JSON", lines_json)) if f]
    page.section("Data dictionary", dictionary_table(), *([f"<p>{'; '.join(files)}</p>"] if files else []))
    page.section("Sign-off", signoff_block(version))
    page.section("Provenance (machine-readable)", kit.preformatted(json.dumps(provenance, indent=2, default=str)))
    return page.write(path)


def write_lines_csv(path: str | Path, acc: Accounting) -> Path:
    """The line items as CSV, columns of the documented data dictionary (:mod:`forecast.pledge.exports`)."""
    from forecast.pledge.exports import write_csv

    return write_csv(path, acc)


__all__ = ["render", "write_lines_csv", "total"]
