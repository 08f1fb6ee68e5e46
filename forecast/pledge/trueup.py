"""True-up: settled (actual) charges against the pre-computed forecast charges, with interest.

Convention: the forecast charge of a month is billed on the first local day
after it (the bill date); the true-up is settled on ``trueup.date`` or
``lag_days`` after the bill date. For each line (matched by line_id; memo lines
excluded) difference = settled − forecast; interest = difference × rate × days /
365 (simple interest, Actual/365 Fixed, days from bill date to true-up date),
rounded to the cent half-even; true-up = difference + interest. Positive is a
surcharge to the operator, negative a refund. Lines present in only one book
count as zero in the other.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pandas as pd

from forecast.pledge.money import ZERO, cents, dec, total


def bill_date(month: str) -> date:
    p = pd.Period(month, freq="M") + 1
    return date(p.year, p.month, 1)


def trueup_date(month: str, lag_days: int, explicit: str | None = None) -> date:
    if explicit:
        try:
            return date.fromisoformat(str(explicit))
        except ValueError:
            raise ValueError(f"pledge.trueup.date={explicit!r}: write it as YYYY-MM-DD") from None
    return bill_date(month) + timedelta(days=int(lag_days))


def interest(amount: Decimal, rate, days: int) -> Decimal:
    """Simple interest, Actual/365 Fixed, to the cent (half-even)."""
    return cents(amount * dec(rate) * Decimal(days) / Decimal(365))


def true_up(forecast_lines: pd.DataFrame, settled_lines: pd.DataFrame, month: str, rate, lag_days: int = 60,
            explicit_date: str | None = None) -> pd.DataFrame:
    """One row per line_id: forecast, settled, difference, interest, true-up (Decimal)."""
    f = _book(forecast_lines, month)
    s = _book(settled_lines, month)
    b, t = bill_date(month), trueup_date(month, lag_days, explicit_date)
    days = (t - b).days
    if days < 0:
        raise ValueError(f"pledge.trueup.date={t}: before the bill date {b} of {month}")
    rows = []
    for lid in sorted(set(f) | set(s)):
        fa, sa = f.get(lid, (ZERO, None))[0], s.get(lid, (ZERO, None))[0]
        meta = f.get(lid, s.get(lid))[1]
        diff = sa - fa
        i = interest(diff, rate, days)
        rows.append({"month": month, "line_id": lid, "category": meta["category"], "item": meta["item"],
                     "site_id": meta["site_id"], "forecast_usd": fa, "settled_usd": sa, "difference_usd": diff,
                     "bill_date": b.isoformat(), "trueup_date": t.isoformat(), "interest_days": days,
                     "interest_rate": str(dec(rate)), "interest_usd": i, "trueup_usd": diff + i,
                     "formula": "difference = settled − forecast; interest = difference × rate × days / 365 "
                                "(simple, Actual/365 Fixed, half-even cents); true-up = difference + interest"})
    return pd.DataFrame(rows)


def _book(lines: pd.DataFrame, month: str) -> dict:
    out = {}
    for _, r in lines[(lines["month"] == month) & (lines["category"] != "memo")].iterrows():
        amt = r["amount_usd"] if isinstance(r["amount_usd"], Decimal) else Decimal(str(r["amount_usd"]))
        out[r["line_id"]] = (amt, r)
    return out


def summary(tu: pd.DataFrame) -> dict[str, Decimal]:
    return {k: total(tu[k]) for k in ("forecast_usd", "settled_usd", "difference_usd", "interest_usd", "trueup_usd")}
