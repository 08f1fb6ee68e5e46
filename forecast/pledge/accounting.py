"""The formulas (DOMAIN.md §2–§4): bill lines and pledge lines per site and month, booked and sampled.

Forecast ledger amounts are the means of the joint samples the P10/P50/P90 bands come from
(:mod:`forecast.pledge.bands`): the hourly lines are summed from the expected path (mean over samples per
site and hour), demand, capacity shift and ranged upgrades are the means of their sampled amounts, so each
booked amount lies inside its own band. A band of a total is the quantile of sampled totals, never a sum of
quantiles. Without samples (the settled ledger; ``compute(samples=False)``) the same formulas run on one
deterministic path: the metered draw, or every hour at its p50 with the central price curve.

Per site s, local month m (hours h in m, days = local calendar days):
- energy        fixed: qty = Σ_h D_sh (kWh-rounded) MWh; amount = qty × rate
                spot:  Σ_h D_sh · S_h(L_h)
- demand        max(max_h D_sh, min_frac × contract) × 1000 × $/kW-month (minimum bill)
- capacity      PLC_s × price_DY × days
- transmission  NSPL_s × $/MW-day × days
- upgrade       K · CRF(r, n) / 12 for 12n months from in-service (amortised);
                K once (ciac); 0 (ciac_paid, contribution already paid)
- shift_energy  Σ_h ΔP_h · O_h · φ · D_sh / D_h, with ΔP_h = S_h(O_h + D_h) − S_h(O_h + G_h);
                the system-level shift allocated to sites by hourly draw share
- shift_capacity [P_cap(Q) − P_cap(Q − PLC·FPR)] · (Q − PLC) · days · PLC_s / PLC,
                P_cap(x) = min(cap, uncapped + slope·(x − Q)); 0 while the cap binds
                on both sides. Only others' obligation (Q − PLC) counts: the campus's
                own PLC charge is on its bill, not an externality (no double counting).

Rounding (see :mod:`forecast.pledge.money`): hourly money (shift, spot energy) is
rounded to integer cents per (site, hour) by round-half-even of x·100 in float64
(``numpy.rint``) and summed exactly; energy quantities to integer kWh the same
way; quantity × price lines are rounded once to the cent (half-even). Subtotals
and totals are exact sums of line items.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd

from forecast.pledge import backstop
from forecast.pledge.bands import monte_carlo, set_bands  # noqa: F401  (monte_carlo re-exported)
from forecast.pledge.book import central_lines  # noqa: F401  (re-exported)
from forecast.pledge.config import PledgeConfig
from forecast.pledge.formulas import (capacity_price, capacity_shift, dy_table, hourly_central,  # noqa: F401
                                      rint_cents, upgrade_charge)
from forecast.pledge.inputs import Inputs
from forecast.pledge.line_items import CATEGORIES, Accounting, LineItem  # noqa: F401  (re-exported)
from forecast.pledge.money import CENT, cents, dec, total
from forecast.pledge.peaks import Obligations
from forecast.price.response import PriceResponse


# ----------------------------------------------------------------------------- the whole computation
def compute(cfg: PledgeConfig, inp: Inputs, curve: PriceResponse, cut_mw: np.ndarray | None = None,
            samples: bool = True, keep_paths: bool = True, obligations: Obligations | None = None) -> Accounting:
    """Line items + bands + sensitivities. ``cut_mw`` (S, T): curtailment applied to the draw. With
    ``samples``: amounts are the means of the joint samples and bands their quantiles; without: one
    deterministic path (p50 draw, or the metered draw, central curve), no bands. ``obligations``: PLC and NSPL
    per site and month (the settled ledger's metered ones), else the sites' configured values."""
    mc = monte_carlo(cfg, inp, curve, None, cut_mw, keep_paths) if samples else None
    h = mc["mean"] if mc is not None else hourly_central(cfg, inp, curve, cut_mw)
    obl = obligations if obligations is not None else Obligations.configured(cfg.sites, inp.months)
    lines, trace = central_lines(cfg, inp, h, mc["expect"] if mc else None, mc["n"] if mc else 0, obl)
    acc = Accounting(lines=lines, months=inp.months, bands={}, hourly=trace,
                     sensitivity=sensitivity(cfg, inp, h, lines, obl), input_hashes=inp.hashes())
    if mc is not None:
        set_bands(acc, inp, mc, cfg.montecarlo.samples)
    return acc


def sensitivity(cfg: PledgeConfig, inp: Inputs, h: dict, lines: list[LineItem],
                obligations: Obligations | None = None) -> pd.DataFrame:
    """Central sensitivities over the horizon: φ, the supply-curve slope, the capacity cap, upgrade capex.

    Slope: ΔP scaled by the factor (exact for a curve whose load-dependent part is
    scaled, while the energy cap does not bind)."""
    rows = []
    base_share = h["shift_site"] / cfg.shift.phi if cfg.shift.phi > 0 else None
    for phi in cfg.shift.phi_sensitivity:
        if base_share is None:
            x = hourly_phi_zero(cfg, inp, h, phi)
        else:
            x = base_share * phi
        rows.append(("phi", f"φ = {phi:g}", "shift_energy", Decimal(int(rint_cents(x).sum())) * CENT))
    for f in cfg.shift.slope_sensitivity:
        rows.append(("slope", f"supply-curve slope × {f:g}", "shift_energy",
                     Decimal(int(rint_cents(h["shift_site"] * f).sum())) * CENT))
    obl = obligations if obligations is not None else Obligations.configured(cfg.sites, inp.months)
    dys = dy_table(cfg)
    if any(obl.plc_total(i) > 0 for i in range(len(inp.months))):
        for capped in (True, False):
            amt = total(cents(capacity_shift(dys[m.delivery_year], obl.plc_total(i), m.days, capped))
                        for i, m in enumerate(inp.months) if obl.plc_total(i) > 0)
            rows.append(("cap", "auction cap applied" if capped else "without the auction cap", "shift_capacity", amt))
    for u in cfg.upgrades:
        for name, k in (("low", u.capex_low_usd), ("high", u.capex_high_usd)):
            if k is None:
                continue
            uu = type(u)(**{**u.__dict__, "capex_usd": k})
            amt = total(cents(upgrade_charge(uu, m.label)[0]) for m in inp.months)
            rows.append(("capex", f"{u.upgrade_id} capex {name} ({dec(k):,.0f} USD)", "upgrade", amt))
    rows += backstop.sensitivity_rows(cfg, inp.months, obl)
    return pd.DataFrame(rows, columns=["assumption", "case", "item", "amount_usd"])


def hourly_phi_zero(cfg, inp, h, phi):
    """Shift per (site, hour) at a given φ when the booked φ is 0 (so it cannot be rescaled)."""
    return h["dp"] * inp.others_mw * phi * h["share"]
