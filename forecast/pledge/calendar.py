"""Billing months in local prevailing time over hourly UTC data.

A billing month is a calendar month of the market's local clock (PJM: hour-ending
Eastern prevailing time, America/New_York). Data are hour-beginning UTC, so a
month is the UTC hours from local midnight on the 1st to local midnight on the
1st of the next month: 744 for July, 743 for the month the clocks spring forward
(March in the US), 721 for US November (30 days + the repeated hour) and 745 for
a 31-day fall-back month (October in Europe). ``days`` counts local calendar days.
PJM capacity delivery years run June–May ("2026/27" = June 2026 … May 2027).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

HOUR = pd.Timedelta(hours=1)


@dataclass(frozen=True)
class BillingMonth:
    label: str  # "2026-07", local calendar month
    start_utc: pd.Timestamp  # inclusive, hour-beginning
    end_utc: pd.Timestamp  # exclusive
    days: int  # local calendar days
    timezone: str

    @property
    def hours(self) -> int:
        return int((self.end_utc - self.start_utc) / HOUR)

    @property
    def delivery_year(self) -> str:
        return delivery_year(self.label)


def parse_month(label: str, where: str = "period.start") -> pd.Period:
    try:
        return pd.Period(str(label), freq="M")
    except (ValueError, TypeError):
        raise ValueError(f"{where}={label!r}: not a month; write it as YYYY-MM, e.g. {where}=2026-07") from None


def local_midnight(year: int, month: int, tz: str) -> pd.Timestamp:
    """Local midnight on the 1st, in UTC. Raises where midnight does not exist or repeats."""
    t = pd.Timestamp(year=year, month=month, day=1).tz_localize(tz, ambiguous="raise", nonexistent="raise")
    return t.tz_convert("UTC")


def billing_months(start: str, months: int, tz: str) -> list[BillingMonth]:
    """``months`` consecutive local months from ``start`` (YYYY-MM)."""
    if months < 1:
        raise ValueError(f"period.months={months}: must be >= 1")
    p0 = parse_month(start)
    out = []
    for i in range(months):
        p = p0 + i
        q = p + 1
        out.append(BillingMonth(label=str(p), start_utc=local_midnight(p.year, p.month, tz),
                                end_utc=local_midnight(q.year, q.month, tz), days=int(p.days_in_month), timezone=tz))
    return out


def hourly_index(months: list[BillingMonth]) -> pd.DatetimeIndex:
    """All UTC hour-beginnings of consecutive months (T,)."""
    return pd.date_range(months[0].start_utc, months[-1].end_utc, freq="h", inclusive="left", name="ts")


def month_offsets(months: list[BillingMonth]) -> np.ndarray:
    """Start position of each month in :func:`hourly_index` plus the end, (M+1,); for np.add.reduceat."""
    pos = [0]
    for m in months:
        pos.append(pos[-1] + m.hours)
    return np.asarray(pos, dtype=np.int64)


def delivery_year(label: str) -> str:
    """PJM delivery year of a local month: June–May, e.g. '2026-07' -> '2026/27', '2027-03' -> '2026/27'."""
    p = parse_month(label, "month")
    y = p.year if p.month >= 6 else p.year - 1
    return f"{y}/{(y + 1) % 100:02d}"


def hour_ending_label(ts: pd.DatetimeIndex, tz: str) -> list[str]:
    """PJM-style local hour-ending labels ('2026-07-01 HE01 EDT') for hour-beginning UTC stamps."""
    loc = pd.DatetimeIndex(ts).tz_convert(tz)
    he = loc.hour + 1
    return [f"{d} HE{h:02d} {z}" for d, h, z in zip(loc.strftime("%Y-%m-%d"), he, loc.strftime("%Z"))]


def next_billing_month(t: pd.Timestamp, tz: str) -> BillingMonth:
    """The first local month that starts at or after ``t``: the month a forecast issued at t is billed for."""
    loc = pd.Timestamp(t).tz_convert(tz)
    p = pd.Period(year=loc.year, month=loc.month, freq="M")
    first = billing_months(str(p), 1, tz)[0]
    return first if first.start_utc >= t else billing_months(str(p + 1), 1, tz)[0]
