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

from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd

from forecast.pledge.bands import monte_carlo, set_bands  # noqa: F401  (monte_carlo re-exported)
from forecast.pledge.calendar import BillingMonth, hour_ending_label
from forecast.pledge.config import PledgeConfig, SiteCfg
from forecast.pledge.inputs import Inputs, sha
from forecast.pledge.line_items import CATEGORIES, Accounting, LineItem  # noqa: F401  (re-exported)
from forecast.pledge.money import CENT, KWH, ROUNDING, ZERO, cents, crf, dec, total
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


def _dy_table(cfg: PledgeConfig) -> dict:
    return {d.delivery_year: d for d in cfg.tariff.capacity}


# ----------------------------------------------------------------------------- hourly physics
def hourly_central(cfg: PledgeConfig, inp: Inputs, curve: PriceResponse, cut_mw: np.ndarray | None = None,
                   phi: float | None = None) -> dict[str, np.ndarray]:
    """Central path: site draw (S, T), ΔP (T,), shift per (S, T) in USD (float)."""
    d_s = inp.median.copy()  # (S, T)
    if cut_mw is not None:
        d_s = np.maximum(d_s - cut_mw, 0.0)
    phi = cfg.shift.phi if phi is None else phi
    d = d_s.sum(axis=0)  # (T,)
    p_with = curve.price(inp.others_mw + d, inp.ts)
    p_without = curve.price(inp.others_mw + inp.gen_mw, inp.ts)
    dp = p_with - p_without
    shift = dp * inp.others_mw * phi  # (T,) USD
    share = _share(d_s, inp.capacity_mw)  # (S, T)
    return {"draw": d_s, "d": d, "p_with": p_with, "p_without": p_without, "dp": dp, "shift_site": shift * share,
            "share": share}


def _share(d_s: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Hourly draw share per site (…, S, T); capacity share in hours with no draw."""
    d = d_s.sum(axis=-2, keepdims=True)
    cap_share = (capacity / capacity.sum())[:, None]
    return np.where(d > 0, d_s / np.where(d > 0, d, 1.0), cap_share)


def _rint_cents(x: np.ndarray) -> np.ndarray:
    """Integer cents, round-half-even of x·100 (float64)."""
    return np.rint(np.asarray(x, dtype=np.float64) * 100.0).astype(np.int64)


def _rint_kwh(mw: np.ndarray) -> np.ndarray:
    return np.rint(np.asarray(mw, dtype=np.float64) * 1000.0).astype(np.int64)


# ----------------------------------------------------------------------------- central line items
@dataclass(frozen=True)
class _Book:
    """What every central line reads: config, inputs, and the central path rounded per (site, hour)."""

    cfg: PledgeConfig
    inp: Inputs
    h: dict[str, np.ndarray]
    hashes: dict[str, str]
    shift_c: np.ndarray  # (S, T) integer cents of shift
    kwh: np.ndarray  # (S, T) integer kWh of draw
    spot_c: np.ndarray  # (S, T) integer cents of draw × price with the campus
    plc_tot: Decimal  # Σ PLC over sites, MW
    dys: dict  # delivery year -> capacity market config
    curve_hash: str
    tariff_hash: str
    expect: dict | None = None  # bands.monte_carlo's "expect": sampled means of the non-hourly lines
    n: int = 0  # samples behind ``h`` and ``expect`` (0: a deterministic path)

    @classmethod
    def of(cls, cfg: PledgeConfig, inp: Inputs, h: dict[str, np.ndarray], expect: dict | None = None,
           n: int = 0) -> "_Book":
        spot = h["spot"] if "spot" in h else h["draw"] * h["p_with"][None, :]
        return cls(cfg, inp, h, inp.hashes(), _rint_cents(h["shift_site"]), _rint_kwh(h["draw"]),
                   _rint_cents(spot), total(dec(s.plc_mw) for s in cfg.sites), _dy_table(cfg),
                   sha({"curve": repr(getattr(cfg, "price_curve", None))}), sha(repr(cfg.tariff)), expect, n)

    def path(self) -> str:
        """How the hourly path was formed, for formula texts."""
        return f" (expected path: mean of {self.n} joint samples per hour)" if self.n else ""


@dataclass(frozen=True)
class _Slot:
    """One site in one billing month: hours [a, b) of the horizon; ``common`` fields of its lines."""

    s: int
    m: int  # month position in the horizon
    site: SiteCfg
    bm: BillingMonth
    a: int
    b: int
    dh: str  # hash of the site's draw in the month
    common: dict


def _line(x: _Slot, line_id: str, category: str, item: str, **kw) -> LineItem:
    return LineItem(line_id, category=category, item=item, site_id=x.site.site_id, **kw, **x.common)


def _energy_line(k: _Book, x: _Slot) -> LineItem:
    t, sid, lab = k.cfg.tariff, x.site.site_id, x.bm.label
    qty = Decimal(int(k.kwh[x.s, x.a:x.b].sum())) * KWH  # MWh, exact
    if t.energy_pricing == "fixed":
        rate = dec(t.energy_rate_usd_per_mwh)
        return _line(x, f"energy:{sid}", "bill", "energy", quantity=qty, quantity_unit="MWh", price=rate,
                     price_unit="USD/MWh", amount=cents(qty * rate),
                     formula="Σ_h D_h (kWh-rounded) × fixed energy rate" + k.path(), inputs_hash=sha([x.dh, k.tariff_hash]))
    amt = Decimal(int(k.spot_c[x.s, x.a:x.b].sum())) * CENT
    return _line(x, f"energy:{sid}", "bill", "energy", quantity=qty, quantity_unit="MWh",
                 price=(amt / qty).quantize(Decimal("0.0001"), ROUNDING) if qty else ZERO,
                 price_unit="USD/MWh (weighted)", amount=amt,
                 formula="Σ_h cents(D_h × S_h(L_h)) (spot, with the campus)" + k.path(),
                 inputs_hash=sha([x.dh, k.hashes[f"others_mw:{lab}"], k.curve_hash]))


def _demand_line(k: _Book, x: _Slot) -> LineItem:
    t, site = k.cfg.tariff, x.site
    formula = "max(peak draw, min_frac × contract demand) × 1000 × $/kW-month"
    if k.expect is not None:  # the mean billed demand of the samples, not the peak of the mean path
        billed = Decimal(int(_rint_kwh(k.expect["demand_mw"][x.s, x.m]))) * KWH
        formula = f"mean over {k.n} joint samples of {formula}"
    else:
        peak = Decimal(int(k.kwh[x.s, x.a:x.b].max())) * KWH
        billed = max(peak, (dec(t.minimum_demand_frac) * dec(site.contract_demand_mw)).quantize(KWH, ROUNDING))
    rate = dec(t.demand_charge_usd_per_kw_month)
    return _line(x, f"demand:{site.site_id}", "bill", "demand", quantity=billed, quantity_unit="MW",
                 price=rate * 1000, price_unit="USD/MW-month", amount=cents(billed * rate * 1000),
                 formula=formula,
                 inputs_hash=sha([x.dh, k.tariff_hash]))


def _capacity_line(k: _Book, x: _Slot) -> LineItem:
    bm = x.bm
    dy = k.dys[bm.delivery_year]
    plc, pr = dec(x.site.plc_mw), dec(dy.price_usd_per_mw_day)
    return _line(x, f"capacity:{x.site.site_id}", "bill", "capacity", quantity=plc * bm.days,
                 quantity_unit="MW-day", price=pr, price_unit="USD/MW-day", amount=cents(plc * pr * bm.days),
                 formula=f"PLC {plc} MW × {pr} $/MW-day ({dy.delivery_year}) × {bm.days} days",
                 inputs_hash=sha([str(plc), str(pr), bm.days]))


def _transmission_line(k: _Book, x: _Slot, nspl: float) -> LineItem:
    days = x.bm.days
    n_, r_ = dec(nspl), dec(k.cfg.tariff.transmission_usd_per_mw_day)
    return _line(x, f"transmission:{x.site.site_id}", "bill", "transmission", quantity=n_ * days,
                 quantity_unit="MW-day", price=r_, price_unit="USD/MW-day", amount=cents(n_ * r_ * days),
                 formula=f"NSPL {n_} MW × {r_} $/MW-day × {days} days", inputs_hash=sha([str(n_), str(r_), days]))


def _upgrade_line(k: _Book, x: _Slot, u) -> LineItem:
    h = sha([str(u.capex_usd), str(u.rate), u.years, u.recovery, u.in_service])
    per_usd = float(upgrade_charge(type(u)(**{**u.__dict__, "capex_usd": 1.0}), x.bm.label)[0])
    draws = k.expect["capex"].get(u.upgrade_id) if k.expect is not None else None
    if draws is not None:  # the mean of the sampled capex over its configured range
        u = type(u)(**{**u.__dict__, "capex_usd": float(np.mean(draws))})
    amt, formula = upgrade_charge(u, x.bm.label)
    if draws is not None:
        formula += f"; K = mean of {len(draws)} samples of capex over [{u.capex_low_usd}, {u.capex_high_usd}]"
    return _line(x, f"upgrade:{x.site.site_id}:{u.upgrade_id}", "pledge", "upgrade", quantity=Decimal(1),
                 quantity_unit="month", price=cents(amt), price_unit="USD/month", amount=cents(amt), formula=formula,
                 inputs_hash=h, unit_value=per_usd)


def _shift_energy_line(k: _Book, x: _Slot) -> LineItem:
    cfg, inp, lab, a, b = k.cfg, k.inp, x.bm.label, x.a, x.b
    amt = Decimal(int(k.shift_c[x.s, a:b].sum())) * CENT
    exposed = Decimal(int(_rint_kwh(inp.others_mw[a:b] * cfg.shift.phi * k.h["share"][x.s, a:b]).sum())) * KWH
    return _line(x, f"shift_energy:{x.site.site_id}", "pledge", "shift_energy",
                 quantity=exposed, quantity_unit="MWh of others' load × φ × draw share",
                 price=(amt / exposed).quantize(Decimal("0.0001"), ROUNDING) if exposed else ZERO,
                 price_unit="USD/MWh (weighted ΔP)", amount=amt,
                 formula=f"Σ_h cents(ΔP_h·(L_h − D_h)·φ·D_sh/D_h), ΔP = S(L) − S(L − D + G), φ = {dec(cfg.shift.phi)}"
                         + k.path(),
                 inputs_hash=sha([x.dh, k.hashes[f"others_mw:{lab}"], k.hashes[f"gen_mw:{lab}"], k.curve_hash]))


def _shift_capacity_line(k: _Book, x: _Slot) -> LineItem:
    bm, plc_tot = x.bm, k.plc_tot
    dy = k.dys[bm.delivery_year]
    q = dec(dy.obligation_mw)
    full = capacity_shift(dy, plc_tot, bm.days)
    share = dec(x.site.plc_mw) / plc_tot
    draws = k.expect["capacity_shift"].get(bm.label) if k.expect is not None else None
    note = ""
    if draws is not None:  # the mean over the configured ranges of the demand curve
        full, note = Decimal(float(np.mean(draws))), f"; mean of {len(draws)} samples of the demand curve's ranges"
    return _line(x, f"shift_capacity:{x.site.site_id}", "pledge", "shift_capacity",
                 quantity=(q - plc_tot) * bm.days, quantity_unit="MW-day of others' obligation",
                 price=(capacity_price(dy, q) - capacity_price(dy, q - plc_tot * dec(dy.fpr))).quantize(
                     Decimal("0.0001"), ROUNDING),
                 price_unit="USD/MW-day (ΔP_cap, capped)", amount=cents(full * share),
                 formula=f"[P_cap(Q) − P_cap(Q − PLC·FPR)]·(Q − PLC)·days × PLC_s/PLC; Q={q}, "
                         f"PLC={plc_tot}, FPR={dec(dy.fpr)}, cap={dy.cap_usd_per_mw_day}" + note,
                 inputs_hash=sha(repr(dy)), unit_value=float(share))


def _slot_lines(k: _Book, x: _Slot) -> list[LineItem]:
    """The lines of one site and month, in ledger order: energy, demand, capacity, transmission, upgrades,
    shift_energy, shift_capacity (each only where its tariff or site value applies)."""
    t, site = k.cfg.tariff, x.site
    out = [_energy_line(k, x)]
    if t.demand_charge_usd_per_kw_month > 0:
        out.append(_demand_line(k, x))
    if site.plc_mw > 0:
        out.append(_capacity_line(k, x))
    nspl = site.plc_mw if site.nspl_mw is None else site.nspl_mw
    if t.transmission_usd_per_mw_day > 0 and nspl > 0:
        out.append(_transmission_line(k, x, nspl))
    out += [_upgrade_line(k, x, u) for u in k.cfg.upgrades if u.site_id == site.site_id]
    out.append(_shift_energy_line(k, x))
    if site.plc_mw > 0 and k.plc_tot > 0:
        out.append(_shift_capacity_line(k, x))
    return out


def central_lines(cfg: PledgeConfig, inp: Inputs, h: dict[str, np.ndarray], expect: dict | None = None,
                  n: int = 0) -> tuple[list[LineItem], pd.DataFrame]:
    """Ledger lines from the hourly path ``h`` (with ``expect``: the sampled means of the non-hourly lines,
    over ``n`` samples), and the hourly trace they are summed from."""
    k = _Book.of(cfg, inp, h, expect, n)
    off = inp.offsets
    lines: list[LineItem] = []
    for m, bm in enumerate(inp.months):
        a, b = int(off[m]), int(off[m + 1])
        common = dict(month=bm.label, hour_start_utc=bm.start_utc, hour_end_utc=bm.end_utc, hours=bm.hours)
        for s, site in enumerate(cfg.sites):
            lines += _slot_lines(k, _Slot(s, m, site, bm, a, b, k.hashes[f"draw:{site.site_id}:{bm.label}"], common))
    return lines, _trace(cfg, inp, h, k.shift_c, k.kwh)


def _trace(cfg, inp: Inputs, h, shift_c, kwh) -> pd.DataFrame:
    S, T = h["draw"].shape
    month_of = np.repeat([m.label for m in inp.months], np.diff(inp.offsets))
    he = np.asarray(hour_ending_label(inp.ts, cfg.market.timezone))
    return pd.DataFrame({
        "month": np.tile(month_of, S),
        "site_id": np.repeat(inp.site_ids, T),
        "ts_utc": np.tile(inp.ts.strftime("%Y-%m-%dT%H:%M:%SZ"), S),
        "hour_ending_local": np.tile(he, S),
        "draw_mw": h["draw"].ravel(),
        "energy_kwh": kwh.ravel(),
        "campus_draw_mw": np.tile(h["d"], S),
        "others_load_mw": np.tile(inp.others_mw, S),
        "new_gen_mw": np.tile(inp.gen_mw, S),
        "price_with_usd_per_mwh": np.tile(h["p_with"], S),
        "price_without_usd_per_mwh": np.tile(h["p_without"], S),
        "delta_price_usd_per_mwh": np.tile(h["dp"], S),
        "draw_share": h["share"].ravel(),
        "shift_energy_cents": shift_c.ravel(),
    })


# ----------------------------------------------------------------------------- the whole computation
def compute(cfg: PledgeConfig, inp: Inputs, curve: PriceResponse, cut_mw: np.ndarray | None = None,
            samples: bool = True, keep_paths: bool = True) -> Accounting:
    """Line items + bands + sensitivities. ``cut_mw`` (S, T): curtailment applied to the draw. With
    ``samples``: amounts are the means of the joint samples and bands their quantiles; without: one
    deterministic path (p50 draw, central curve), no bands."""
    mc = monte_carlo(cfg, inp, curve, None, cut_mw, keep_paths) if samples else None
    h = mc["mean"] if mc is not None else hourly_central(cfg, inp, curve, cut_mw)
    lines, trace = central_lines(cfg, inp, h, mc["expect"] if mc else None, mc["n"] if mc else 0)
    acc = Accounting(lines=lines, months=inp.months, bands={}, hourly=trace,
                     sensitivity=sensitivity(cfg, inp, h, lines), input_hashes=inp.hashes())
    if mc is not None:
        set_bands(acc, inp, mc, cfg.montecarlo.samples)
    return acc


def sensitivity(cfg: PledgeConfig, inp: Inputs, h: dict, lines: list[LineItem]) -> pd.DataFrame:
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
        rows.append(("phi", f"φ = {phi:g}", "shift_energy", Decimal(int(_rint_cents(x).sum())) * CENT))
    for f in cfg.shift.slope_sensitivity:
        rows.append(("slope", f"supply-curve slope × {f:g}", "shift_energy",
                     Decimal(int(_rint_cents(h["shift_site"] * f).sum())) * CENT))
    plc_tot = total(dec(s.plc_mw) for s in cfg.sites)
    dys = _dy_table(cfg)
    if plc_tot > 0:
        for capped in (True, False):
            amt = total(cents(capacity_shift(dys[m.delivery_year], plc_tot, m.days, capped)) for m in inp.months)
            rows.append(("cap", "auction cap applied" if capped else "without the auction cap", "shift_capacity", amt))
    for u in cfg.upgrades:
        for name, k in (("low", u.capex_low_usd), ("high", u.capex_high_usd)):
            if k is None:
                continue
            uu = type(u)(**{**u.__dict__, "capex_usd": k})
            amt = total(cents(upgrade_charge(uu, m.label)[0]) for m in inp.months)
            rows.append(("capex", f"{u.upgrade_id} capex {name} ({dec(k):,.0f} USD)", "upgrade", amt))
    return pd.DataFrame(rows, columns=["assumption", "case", "item", "amount_usd"])


def hourly_phi_zero(cfg, inp, h, phi):
    """Shift per (site, hour) at a given φ when the booked φ is 0 (so it cannot be rescaled)."""
    return h["dp"] * inp.others_mw * phi * h["share"]
