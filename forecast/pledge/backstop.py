"""The reliability backstop line: the operator's share of a long-term capacity procurement (DOMAIN.md §6).

Per site s and local month m inside the term (``backstop.start`` … + 12·``term_years`` months):

    allocated MW_s = contract_mw · PLC_s / pool_mw           (allocation plc_share)
                   = contract_mw · share · cap_s / Σ cap      (allocation fixed_share, split by capacity)
    net price      = min(price, cost cap) − market credit     $/MW-day (contracts for difference)
    amount         = allocated MW_s · net price · days_m

Exact decimals on the configured values (the settled ledger, the deterministic path); in the forecast ledger the
booked amount is the mean over the joint samples of the configured ranges of price, market credit and pool
(two-piece uniform, :mod:`forecast.pledge.ranges`) and the band their P10–P90, like every other ranged line.
The PLC is the site's for the month (configured, or metered at settlement). No clipping: a market credit above
the capped price makes the line a credit.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd

from forecast.pledge.money import dec
from forecast.pledge.ranges import ranged


def in_term(b, month: str) -> bool:
    """Whether local month ``month`` (YYYY-MM) lies in the backstop's term."""
    k = (pd.Period(month, freq="M") - pd.Period(b.start, freq="M")).n
    return b.enabled and 0 <= k < 12 * int(b.term_years)


def net_price(b, price=None, credit=None):
    """min(price, cap) − credit, $/MW-day: Decimal on the configured values, or float arrays of draws."""
    if price is None:
        p = dec(b.price_usd_per_mw_day)
        if b.cost_cap_usd_per_mw_day is not None:
            p = min(p, dec(b.cost_cap_usd_per_mw_day))
        return p - dec(b.market_credit_usd_per_mw_day)
    cap = np.inf if b.cost_cap_usd_per_mw_day is None else float(b.cost_cap_usd_per_mw_day)
    return np.minimum(price, cap) - credit


def allocated_mw(b, plc_mw: Decimal, capacity_mw: float, capacity_total_mw: float, pool=None):
    """The site's allocated MW of the procurement: Decimal on the configured pool, float array for pool draws."""
    if b.allocation == "fixed_share":
        return dec(b.contract_mw) * dec(b.share) * dec(capacity_mw) / dec(capacity_total_mw)
    if pool is None:
        return dec(b.contract_mw) * Decimal(plc_mw) / dec(b.pool_mw)
    return float(b.contract_mw) * float(plc_mw) / pool


def amount(b, plc_mw: Decimal, capacity_mw: float, capacity_total_mw: float, days: int) -> tuple[Decimal, Decimal,
                                                                                                 Decimal]:
    """(allocated MW, net $/MW-day, amount USD unrounded) on the configured values."""
    mw = allocated_mw(b, plc_mw, capacity_mw, capacity_total_mw)
    p = net_price(b)
    return mw, p, mw * p * days


def formula(b) -> str:
    rule = (f"contract {dec(b.contract_mw)} MW × PLC_s / pool {dec(b.pool_mw)} MW" if b.allocation == "plc_share"
            else f"contract {dec(b.contract_mw)} MW × share {dec(b.share)} × capacity_s / Σ capacity")
    cap = "none" if b.cost_cap_usd_per_mw_day is None else dec(b.cost_cap_usd_per_mw_day)
    return (f"{rule} × [min(price {dec(b.price_usd_per_mw_day)}, cost cap {cap}) − market credit "
            f"{dec(b.market_credit_usd_per_mw_day)}] $/MW-day × days; {b.term_years}-year term from {b.start}; "
            f"source: {b.source}")


def draws(cfg, n: int) -> dict[str, np.ndarray]:
    """(n,) draws of price, market credit and pool over their configured ranges (the value where none)."""
    b, seed = cfg.backstop, cfg.montecarlo.seed

    def one(name, low, centre, high):
        x = ranged(seed, f"backstop:{name}", n, low, centre, high)
        return np.full(n, float(centre)) if x is None else x

    return {"price": one("price", b.price_low_usd_per_mw_day, b.price_usd_per_mw_day, b.price_high_usd_per_mw_day),
            "credit": one("credit", b.market_credit_low_usd_per_mw_day, b.market_credit_usd_per_mw_day,
                          b.market_credit_high_usd_per_mw_day),
            "pool": one("pool", b.pool_low_mw, b.pool_mw, b.pool_high_mw)}


def sampled(cfg, months, n: int) -> dict[str, np.ndarray]:
    """Per ``"<site_id>:<month>"`` in the term, (n,) sampled amounts USD (float) over the configured ranges."""
    b = cfg.backstop
    if not b.enabled:
        return {}
    d = draws(cfg, n)
    cap_tot = float(sum(s.capacity_mw for s in cfg.sites))
    price = net_price(b, d["price"], d["credit"])
    out = {}
    for m in months:
        if not in_term(b, m.label):
            continue
        for s in cfg.sites:
            mw = allocated_mw(b, dec(s.plc_mw), s.capacity_mw, cap_tot, d["pool"])
            mw = np.full(n, float(mw)) if isinstance(mw, Decimal) else mw
            out[f"{s.site_id}:{m.label}"] = mw * price * m.days
    return out


def sensitivity_rows(cfg, months, obligations) -> list[tuple]:
    """Sensitivity rows (assumption, case, item, amount USD over the horizon) at the ends of each configured range."""
    import dataclasses

    from forecast.pledge.money import cents, total

    b = cfg.backstop
    if not b.enabled:
        return []
    cap_tot = float(sum(s.capacity_mw for s in cfg.sites))
    rows = []
    for name, key, unit in (("price", "price_usd_per_mw_day", "$/MW-day"),
                            ("market_credit", "market_credit_usd_per_mw_day", "$/MW-day"), ("pool", "pool_mw", "MW")):
        ends = {"low": key.replace(name, f"{name}_low", 1), "high": key.replace(name, f"{name}_high", 1)}
        for end, attr in ends.items():
            v = getattr(b, attr)
            if v is None:
                continue
            bb = dataclasses.replace(b, **{key: v, ends["low"]: None, ends["high"]: None})  # the range's end
            amt = total(cents(amount(bb, obligations.plc[i][m], s.capacity_mw, cap_tot, bm.days)[2])
                        for m, bm in enumerate(months) if in_term(bb, bm.label) for i, s in enumerate(cfg.sites))
            rows.append(("backstop", f"backstop {name} {end} ({dec(v):,} {unit})", "backstop", amt))
    return rows
