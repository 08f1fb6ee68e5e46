"""Ledger line items and the accounting result (line items, totals, bands, the hourly trace).

Amounts are exact decimals in USD to the cent; totals are exact sums of line amounts, memo lines
(``category == "memo"``) shown but never added.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import pandas as pd

from forecast.pledge.calendar import BillingMonth
from forecast.pledge.money import total

CATEGORIES = ("bill", "pledge", "memo")  # memo lines are shown, never added to totals


@dataclass
class LineItem:
    line_id: str  # "<item>:<site_id>[:<upgrade_id>]", unique within a month
    month: str
    category: str
    item: str
    site_id: str
    hour_start_utc: pd.Timestamp
    hour_end_utc: pd.Timestamp  # exclusive
    hours: int
    quantity: Decimal
    quantity_unit: str
    price: Decimal
    price_unit: str
    amount: Decimal  # USD, to the cent
    formula: str
    inputs_hash: str
    p10: Decimal | None = None
    p50: Decimal | None = None
    p90: Decimal | None = None
    unit_value: float | None = None  # USD of this line per unit of its ranged input (capex USD, system shift USD)

    def as_row(self) -> dict:
        return {"month": self.month, "line_id": self.line_id, "category": self.category, "item": self.item,
                "site_id": self.site_id, "hour_start_utc": self.hour_start_utc.isoformat(),
                "hour_end_utc": self.hour_end_utc.isoformat(), "hours": self.hours,
                "quantity": str(self.quantity), "quantity_unit": self.quantity_unit, "price": str(self.price),
                "price_unit": self.price_unit, "amount_usd": str(self.amount),
                "p10_usd": "" if self.p10 is None else str(self.p10),
                "p50_usd": "" if self.p50 is None else str(self.p50),
                "p90_usd": "" if self.p90 is None else str(self.p90),
                "formula": self.formula, "inputs_hash": self.inputs_hash}


@dataclass
class Accounting:
    """Result of :func:`forecast.pledge.accounting.compute`: line items, totals, bands, the hourly trace, chart data."""

    lines: list[LineItem]
    months: list[BillingMonth]
    bands: dict[tuple[str, str], tuple[Decimal, Decimal, Decimal]]  # (month|"horizon", "total"|"pledge") -> P10/P50/P90
    hourly: pd.DataFrame  # central trace per (site, hour)
    sensitivity: pd.DataFrame
    fan: dict[str, np.ndarray] = field(default_factory=dict)  # per-hour quantiles over samples
    sample_totals: np.ndarray | None = None  # (N, M) sampled monthly totals, USD (float)
    sample_pledge: np.ndarray | None = None  # (N, M) sampled monthly pledge totals, USD (float)
    input_hashes: dict[str, str] = field(default_factory=dict)
    n_samples: int = 0

    def month_lines(self, month: str) -> list[LineItem]:
        return [ln for ln in self.lines if ln.month == month]

    def total(self, month: str | None = None, category: str | None = None) -> Decimal:
        """Exact sum of line amounts (memo lines excluded)."""
        return total(ln.amount for ln in self.lines if ln.category != "memo" and (month is None or ln.month == month)
                     and (category is None or ln.category == category))

    def amount(self, item: str, month: str | None = None) -> Decimal:
        """Exact sum of one item's booked lines over sites (and months unless given); memo lines (a host's own, a
        tenant's share) excluded, as from :meth:`total`."""
        return total(ln.amount for ln in self.lines if ln.item == item and ln.category != "memo"
                     and (month is None or ln.month == month))

    def lines_frame(self) -> pd.DataFrame:
        return pd.DataFrame([ln.as_row() for ln in self.lines])
