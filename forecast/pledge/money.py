"""Exact money: decimal.Decimal quantised to the cent, one rounding rule everywhere.

Rules (the ledger depends on them; tests pin them):
- Rounding is ROUND_HALF_EVEN ("banker's rounding") to 0.01 USD for money and
  to 0.001 MWh (one kWh) for energy quantities.
- Configured inputs (rates, prices, capex typed by a person) enter as
  ``Decimal(repr(x))``: the shortest decimal that round-trips the float, i.e.
  the number as written in the YAML (329.17 stays 329.17, not 329.1699999…).
- Computed float64 aggregates (Monte Carlo, hourly sums) enter as the exact
  binary value ``Decimal(x)`` and are then quantised. Float sums over hours use
  ``math.fsum`` (correctly rounded, independent of summation order).
- A line item's amount is rounded once; every subtotal and total is the exact
  Decimal sum of rounded line items, so items always add up to the total.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

import numpy as np

from forecast.evaluation.reportkit import format_money

CENT = Decimal("0.01")
KWH = Decimal("0.001")  # in MWh
ROUNDING = ROUND_HALF_EVEN
ZERO = Decimal("0.00")


def dec(x) -> Decimal:
    """A configured input as the decimal the person wrote (``Decimal(repr(float))``)."""
    if isinstance(x, Decimal):
        return x
    if isinstance(x, (int, np.integer)):
        return Decimal(int(x))
    if isinstance(x, str):
        return Decimal(x)
    f = float(x)
    if not math.isfinite(f):
        raise ValueError(f"money input must be finite, got {x!r}")
    return Decimal(repr(f))


def cents(x) -> Decimal:
    """Quantise to the cent (half-even). Floats are taken at their exact binary value."""
    if isinstance(x, (float, np.floating)):
        f = float(x)
        if not math.isfinite(f):
            raise ValueError(f"money amount must be finite, got {x!r}")
        x = Decimal(f)
    elif not isinstance(x, Decimal):
        x = Decimal(x)
    return x.quantize(CENT, rounding=ROUNDING)


def mwh(x) -> Decimal:
    """Quantise an energy quantity to 0.001 MWh (half-even); floats at their exact binary value."""
    x = Decimal(float(x)) if isinstance(x, (float, np.floating)) else Decimal(x)
    return x.quantize(KWH, rounding=ROUNDING)


def fsum(a) -> float:
    """Correctly rounded float sum (order-independent, so reruns give the same cents)."""
    return math.fsum(np.asarray(a, dtype=np.float64).ravel().tolist())


def total(items: Iterable[Decimal]) -> Decimal:
    """Exact sum of already-rounded amounts."""
    out = ZERO
    for x in items:
        out += x
    return out


def crf(rate, years: int) -> Decimal:
    """Capital recovery factor r(1+r)^n / ((1+r)^n − 1), exact to 28 digits; 1/n when r = 0."""
    r = dec(rate)
    n = int(years)
    if n <= 0:
        raise ValueError(f"years must be >= 1, got {years}")
    with localcontext() as ctx:
        ctx.prec = 40
        if r == 0:
            return +(Decimal(1) / Decimal(n))
        g = (Decimal(1) + r) ** n
        out = r * g / (g - Decimal(1))
    return +out  # back to the default 28-digit context


def fmt_usd(x: Decimal) -> str:
    """'$5,841,477.37' style (negative: '-$12.50'), for reports: the report kit's one money formatter,
    half-even to the cent."""
    return format_money(x)


def fmt_musd(x) -> str:
    """'5.84M' style, for charts and summaries (not for the ledger)."""
    return f"{float(x) / 1e6:,.2f}M"
