"""The deterministic pieces of the formulas (DOMAIN.md §2–§4): the capacity demand curve with its cap, the
capacity shift, upgrade recovery, the central hourly path and the per-hour rounding to cents and kWh.
Formulas and rounding rules: :mod:`forecast.pledge.accounting`.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd

from forecast.pledge.config import PledgeConfig
from forecast.pledge.inputs import Inputs
from forecast.pledge.money import crf, dec
from forecast.price.response import PriceResponse


# ----------------------------------------------------------------------------- deterministic pieces
def capacity_price(dy, x_mw: Decimal, capped: bool = True) -> Decimal:
    """Demand-curve capacity price ($/MW-day) at obligation x: uncapped + slope·(x − Q), then the cap."""
    unc = dec(dy.uncapped_usd_per_mw_day if dy.uncapped_usd_per_mw_day is not None else dy.price_usd_per_mw_day)
    p = unc + dec(dy.slope_usd_per_mw_day_per_mw) * (x_mw - dec(dy.obligation_mw))
    if capped and dy.cap_usd_per_mw_day is not None:
        p = min(p, dec(dy.cap_usd_per_mw_day))
    return max(p, Decimal(0))


def capacity_shift(dy, plc_total_mw: Decimal, days: int, capped: bool = True) -> Decimal:
    """[P(Q) − P(Q − PLC·FPR)] · (Q − PLC) · days, unrounded."""
    q = dec(dy.obligation_mw)
    dp = capacity_price(dy, q, capped) - capacity_price(dy, q - plc_total_mw * dec(dy.fpr), capped)
    return dp * (q - plc_total_mw) * days


def upgrade_charge(u, month: str) -> tuple[Decimal, str]:
    """Amount billed for upgrade ``u`` in local month ``month`` (unrounded) and its formula text."""
    p = pd.Period(month, freq="M")
    start = pd.Period(u.in_service, freq="M")
    k = (p.year - start.year) * 12 + (p.month - start.month)  # months since in service
    K = dec(u.capex_usd)
    if u.recovery == "amortised":
        if 0 <= k < 12 * int(u.years):
            c = crf(u.rate, u.years)
            return K * c / 12, f"K·CRF(r,n)/12 = {K}·{c.quantize(Decimal('1e-10'))}/12 (r={dec(u.rate)}, n={u.years}, month {k + 1} of {12 * u.years})"
        return Decimal(0), "outside the amortisation period"
    if u.recovery == "ciac":
        return (K, f"contribution in aid of construction K = {K}, billed in {u.in_service}") if k == 0 else \
            (Decimal(0), f"contribution billed in {u.in_service}")
    return Decimal(0), f"contribution of {K} already paid up front (ciac_paid)"


def dy_table(cfg: PledgeConfig) -> dict:
    return {d.delivery_year: d for d in cfg.tariff.capacity}


# ----------------------------------------------------------------------------- hourly physics
def hourly_central(cfg: PledgeConfig, inp: Inputs, curve: PriceResponse, cut_mw: np.ndarray | None = None,
                   phi: float | None = None) -> dict[str, np.ndarray]:
    """Central path: site draw (S, T), ΔP (T,), shift per (S, T) in USD (float); with actual prices in ``inp``
    (a settled path) also spot energy per (S, T) at those prices."""
    d_s = inp.median.copy()  # (S, T)
    if cut_mw is not None:
        d_s = np.maximum(d_s - cut_mw, 0.0)
    phi = cfg.shift.phi if phi is None else phi
    d = d_s.sum(axis=0)  # (T,)
    p_with = curve.price(inp.others_mw + d, inp.ts)
    p_without = curve.price(inp.others_mw + inp.gen_mw, inp.ts)
    dp = p_with - p_without
    shift = dp * inp.others_mw * phi  # (T,) USD
    share = draw_share(d_s, inp.capacity_mw)  # (S, T)
    h = {"draw": d_s, "d": d, "p_with": p_with, "p_without": p_without, "dp": dp, "shift_site": shift * share,
         "share": share}
    if inp.price_actual is not None:  # a settled path: energy at the actual price of each hour
        h["spot"] = d_s * inp.price_actual[None, :]
    return h


def draw_share(d_s: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Hourly draw share per site (…, S, T); capacity share in hours with no draw."""
    d = d_s.sum(axis=-2, keepdims=True)
    cap_share = (capacity / capacity.sum())[:, None]
    return np.where(d > 0, d_s / np.where(d > 0, d, 1.0), cap_share)


def rint_cents(x: np.ndarray) -> np.ndarray:
    """Integer cents, round-half-even of x·100 (float64)."""
    return np.rint(np.asarray(x, dtype=np.float64) * 100.0).astype(np.int64)


def rint_kwh(mw: np.ndarray) -> np.ndarray:
    return np.rint(np.asarray(mw, dtype=np.float64) * 1000.0).astype(np.int64)
