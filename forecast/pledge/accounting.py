"""The formulas (DOMAIN.md §2–§4): bill lines and pledge lines per site and month, central and sampled.

Central line items (the ledger amounts) come from the central path: p50 draw,
point load forecast, central price curve. P10/P50/P90 bands come from joint
samples propagated through the same formulas (:mod:`forecast.pledge.sampling`);
a band of a total is the quantile of sampled totals, never a sum of quantiles.

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

from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import pandas as pd

from forecast.pledge.calendar import BillingMonth, hour_ending_label
from forecast.pledge.config import PledgeConfig
from forecast.pledge.inputs import Inputs, sha
from forecast.pledge.money import CENT, KWH, ROUNDING, ZERO, cents, crf, dec, total
from forecast.pledge.sampling import draw_samples, others_samples
from forecast.price.response import PriceResponse

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
    """Result of :func:`compute`: line items, totals, bands, the hourly trace and chart data."""

    lines: list[LineItem]
    months: list[BillingMonth]
    bands: dict[tuple[str, str], tuple[Decimal, Decimal, Decimal]]  # (month|"horizon", "total"|"pledge") -> P10/P50/P90
    hourly: pd.DataFrame  # central trace per (site, hour)
    sensitivity: pd.DataFrame
    fan: dict[str, np.ndarray] = field(default_factory=dict)  # per-hour quantiles over samples
    sample_totals: np.ndarray | None = None  # (N, M) sampled monthly totals, USD (float)
    input_hashes: dict[str, str] = field(default_factory=dict)
    n_samples: int = 0

    def month_lines(self, month: str) -> list[LineItem]:
        return [ln for ln in self.lines if ln.month == month]

    def total(self, month: str | None = None, category: str | None = None) -> Decimal:
        """Exact sum of line amounts (memo lines excluded)."""
        return total(ln.amount for ln in self.lines if ln.category != "memo" and (month is None or ln.month == month)
                     and (category is None or ln.category == category))

    def amount(self, item: str, month: str | None = None) -> Decimal:
        """Exact sum of one item's lines over sites (and months unless given)."""
        return total(ln.amount for ln in self.lines if ln.item == item and (month is None or ln.month == month))

    def lines_frame(self) -> pd.DataFrame:
        return pd.DataFrame([ln.as_row() for ln in self.lines])


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
def central_lines(cfg: PledgeConfig, inp: Inputs, h: dict[str, np.ndarray]) -> tuple[list[LineItem], pd.DataFrame]:
    """Ledger lines from the central path, and the hourly trace they are summed from."""
    lines: list[LineItem] = []
    off = inp.offsets
    hashes = inp.hashes()
    dys = _dy_table(cfg)
    t = cfg.tariff
    shift_c = _rint_cents(h["shift_site"])  # (S, T)
    kwh = _rint_kwh(h["draw"])  # (S, T)
    spot_c = _rint_cents(h["draw"] * h["p_with"][None, :])  # (S, T)
    plc_tot = total(dec(s.plc_mw) for s in cfg.sites)
    curve_hash = sha({"curve": repr(getattr(cfg, "price_curve", None))})
    tariff_hash = sha(repr(t))
    for m, bm in enumerate(inp.months):
        a, b = int(off[m]), int(off[m + 1])
        lab = bm.label
        common = dict(month=lab, hour_start_utc=bm.start_utc, hour_end_utc=bm.end_utc, hours=bm.hours)
        for s, site in enumerate(cfg.sites):
            sid = site.site_id
            dh = hashes[f"draw:{sid}:{lab}"]
            qty = Decimal(int(kwh[s, a:b].sum())) * KWH  # MWh, exact
            if t.energy_pricing == "fixed":
                rate = dec(t.energy_rate_usd_per_mwh)
                lines.append(LineItem(f"energy:{sid}", category="bill", item="energy", site_id=sid, quantity=qty,
                                      quantity_unit="MWh", price=rate, price_unit="USD/MWh",
                                      amount=cents(qty * rate), formula="Σ_h D_h (kWh-rounded) × fixed energy rate",
                                      inputs_hash=sha([dh, tariff_hash]), **common))
            else:
                amt = Decimal(int(spot_c[s, a:b].sum())) * CENT
                lines.append(LineItem(f"energy:{sid}", category="bill", item="energy", site_id=sid, quantity=qty,
                                      quantity_unit="MWh", price=(amt / qty).quantize(Decimal("0.0001"), ROUNDING) if qty else ZERO,
                                      price_unit="USD/MWh (weighted)", amount=amt,
                                      formula="Σ_h cents(D_h × S_h(L_h)) (spot, with the campus)",
                                      inputs_hash=sha([dh, hashes[f"others_mw:{lab}"], curve_hash]), **common))
            if t.demand_charge_usd_per_kw_month > 0:
                peak = Decimal(int(kwh[s, a:b].max())) * KWH
                billed = max(peak, (dec(t.minimum_demand_frac) * dec(site.contract_demand_mw)).quantize(KWH, ROUNDING))
                rate = dec(t.demand_charge_usd_per_kw_month)
                lines.append(LineItem(f"demand:{sid}", category="bill", item="demand", site_id=sid, quantity=billed,
                                      quantity_unit="MW", price=rate * 1000, price_unit="USD/MW-month",
                                      amount=cents(billed * rate * 1000),
                                      formula="max(peak draw, min_frac × contract demand) × 1000 × $/kW-month",
                                      inputs_hash=sha([dh, tariff_hash]), **common))
            if site.plc_mw > 0:
                dy = dys[bm.delivery_year]
                plc, pr = dec(site.plc_mw), dec(dy.price_usd_per_mw_day)
                lines.append(LineItem(f"capacity:{sid}", category="bill", item="capacity", site_id=sid,
                                      quantity=plc * bm.days, quantity_unit="MW-day", price=pr, price_unit="USD/MW-day",
                                      amount=cents(plc * pr * bm.days),
                                      formula=f"PLC {plc} MW × {pr} $/MW-day ({dy.delivery_year}) × {bm.days} days",
                                      inputs_hash=sha([str(plc), str(pr), bm.days]), **common))
            nspl = site.plc_mw if site.nspl_mw is None else site.nspl_mw
            if t.transmission_usd_per_mw_day > 0 and nspl > 0:
                n_, r_ = dec(nspl), dec(t.transmission_usd_per_mw_day)
                lines.append(LineItem(f"transmission:{sid}", category="bill", item="transmission", site_id=sid,
                                      quantity=n_ * bm.days, quantity_unit="MW-day", price=r_, price_unit="USD/MW-day",
                                      amount=cents(n_ * r_ * bm.days), formula=f"NSPL {n_} MW × {r_} $/MW-day × {bm.days} days",
                                      inputs_hash=sha([str(n_), str(r_), bm.days]), **common))
            for u in cfg.upgrades:
                if u.site_id != sid:
                    continue
                amt, formula = upgrade_charge(u, lab)
                lines.append(LineItem(f"upgrade:{sid}:{u.upgrade_id}", category="pledge", item="upgrade", site_id=sid,
                                      quantity=Decimal(1), quantity_unit="month", price=cents(amt),
                                      price_unit="USD/month", amount=cents(amt), formula=formula,
                                      inputs_hash=sha([str(u.capex_usd), str(u.rate), u.years, u.recovery, u.in_service]),
                                      **common))
            amt = Decimal(int(shift_c[s, a:b].sum())) * CENT
            exposed = Decimal(int(_rint_kwh(inp.others_mw[a:b] * cfg.shift.phi * h["share"][s, a:b]).sum())) * KWH
            lines.append(LineItem(f"shift_energy:{sid}", category="pledge", item="shift_energy", site_id=sid,
                                  quantity=exposed, quantity_unit="MWh of others' load × φ × draw share",
                                  price=(amt / exposed).quantize(Decimal("0.0001"), ROUNDING) if exposed else ZERO,
                                  price_unit="USD/MWh (weighted ΔP)", amount=amt,
                                  formula=f"Σ_h cents(ΔP_h·(L_h − D_h)·φ·D_sh/D_h), ΔP = S(L) − S(L − D + G), φ = {dec(cfg.shift.phi)}",
                                  inputs_hash=sha([dh, hashes[f"others_mw:{lab}"], hashes[f"gen_mw:{lab}"], curve_hash]),
                                  **common))
            if site.plc_mw > 0 and plc_tot > 0:
                dy = dys[bm.delivery_year]
                full = capacity_shift(dy, plc_tot, bm.days)
                share = dec(site.plc_mw) / plc_tot
                lines.append(LineItem(f"shift_capacity:{sid}", category="pledge", item="shift_capacity", site_id=sid,
                                      quantity=(dec(dy.obligation_mw) - plc_tot) * bm.days, quantity_unit="MW-day of others' obligation",
                                      price=(capacity_price(dy, dec(dy.obligation_mw)) - capacity_price(dy, dec(dy.obligation_mw) - plc_tot * dec(dy.fpr))).quantize(Decimal("0.0001"), ROUNDING),
                                      price_unit="USD/MW-day (ΔP_cap, capped)", amount=cents(full * share),
                                      formula=f"[P_cap(Q) − P_cap(Q − PLC·FPR)]·(Q − PLC)·days × PLC_s/PLC; Q={dec(dy.obligation_mw)}, "
                                              f"PLC={plc_tot}, FPR={dec(dy.fpr)}, cap={dy.cap_usd_per_mw_day}",
                                      inputs_hash=sha(repr(dy)), **common))
    trace = _trace(cfg, inp, h, shift_c, kwh)
    return lines, trace


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


# ----------------------------------------------------------------------------- Monte Carlo
def monte_carlo(cfg: PledgeConfig, inp: Inputs, curve: PriceResponse, lines: list[LineItem],
                cut_mw: np.ndarray | None = None, keep_paths: bool = True) -> dict:
    """Propagate joint samples through the formulas; returns per-line sample values (N, M) and per-hour fans."""
    mc = cfg.montecarlo
    N, S, T, M = mc.samples, len(inp.site_ids), len(inp.ts), len(inp.months)
    off = inp.offsets[:-1]
    t = cfg.tariff
    phi = cfg.shift.phi
    rate = float(t.energy_rate_usd_per_mwh)
    perm = np.random.default_rng(np.random.SeedSequence([mc.seed, 0xD8])).permutation(
        np.resize(np.arange(curve.n_draws), max(N, curve.n_draws)))[:N]  # curve draw per sample, seeded
    energy = np.empty((N, S, M))
    shift = np.empty((N, S, M))
    demand = np.empty((N, S, M))
    fan_d = np.empty((N, T), dtype=np.float32) if keep_paths else None
    fan_pw = np.empty((N, T), dtype=np.float32) if keep_paths else None
    fan_po = np.empty((N, T), dtype=np.float32) if keep_paths else None
    contract = np.array([s.contract_demand_mw for s in cfg.sites])[None, :, None] * t.minimum_demand_frac
    for c0 in range(0, N, mc.chunk):  # loop over chunks of samples; everything inside is vectorised
        n = min(mc.chunk, N - c0)
        rng = np.random.default_rng(np.random.SeedSequence([mc.seed, c0 // mc.chunk]))
        d_s = draw_samples(rng, n, inp.q, inp.levels, inp.capacity_mw, mc.rho_time, mc.rho_sites)  # (n, S, T)
        if cut_mw is not None:
            np.maximum(d_s - cut_mw[None], 0.0, out=d_s)
        o = others_samples(rng, n, inp.others_mw, cfg.system_load.sigma_frac, cfg.system_load.rho)  # (n, T)
        d = d_s.sum(axis=1)  # (n, T)
        idx = perm[c0:c0 + n]
        p_with = curve.price(o + d, inp.ts, idx)  # (n, T)
        p_without = curve.price(o + inp.gen_mw, inp.ts, idx)
        sh = (p_with - p_without) * o * phi  # (n, T) USD
        # allocate by hourly draw share: Σ_h d_sh · (sh_h / d_h); capacity share where d_h = 0
        pos = d > 0
        w = np.divide(sh, d, out=np.zeros_like(sh), where=pos)  # (n, T)
        shift[c0:c0 + n] = np.add.reduceat(d_s * w[:, None, :], off, axis=-1)
        if not pos.all():
            idle = np.add.reduceat(np.where(pos, 0.0, sh), off, axis=-1)  # (n, M)
            shift[c0:c0 + n] += idle[:, None, :] * (inp.capacity_mw / inp.capacity_mw.sum())[None, :, None]
        if t.energy_pricing == "fixed":
            energy[c0:c0 + n] = np.add.reduceat(d_s, off, axis=-1) * rate
        else:
            energy[c0:c0 + n] = np.add.reduceat(d_s * p_with[:, None, :], off, axis=-1)
        if t.demand_charge_usd_per_kw_month > 0:
            demand[c0:c0 + n] = np.maximum(np.maximum.reduceat(d_s, off, axis=-1), contract) * 1000.0 * \
                t.demand_charge_usd_per_kw_month
        else:
            demand[c0:c0 + n] = 0.0
        if keep_paths:
            fan_d[c0:c0 + n], fan_pw[c0:c0 + n], fan_po[c0:c0 + n] = d, p_with, p_without
    values: dict[str, np.ndarray] = {}
    for s, sid in enumerate(inp.site_ids):
        values[f"energy:{sid}"] = energy[:, s, :]
        values[f"shift_energy:{sid}"] = shift[:, s, :]
        values[f"demand:{sid}"] = demand[:, s, :]
    month_pos = {m.label: i for i, m in enumerate(inp.months)}
    for ln in lines:  # deterministic lines: the same in every sample
        if ln.line_id not in values:
            values[ln.line_id] = np.zeros((N, M))
        if ln.item not in ("energy", "shift_energy", "demand"):
            values[ln.line_id][:, month_pos[ln.month]] = float(ln.amount)
    out = {"values": values}
    if keep_paths:
        qs = [0.1, 0.5, 0.9]
        out["fan"] = {"draw_mw": np.quantile(fan_d, qs, axis=0), "price_with": np.quantile(fan_pw, qs, axis=0),
                      "price_without": np.quantile(fan_po, qs, axis=0)}  # each (3, T)
    return out


def _q3(x: np.ndarray) -> tuple[Decimal, Decimal, Decimal]:
    a, b, c = np.quantile(x, [0.1, 0.5, 0.9])
    return cents(float(a)), cents(float(b)), cents(float(c))


# ----------------------------------------------------------------------------- the whole computation
def compute(cfg: PledgeConfig, inp: Inputs, curve: PriceResponse, cut_mw: np.ndarray | None = None,
            samples: bool = True, keep_paths: bool = True) -> Accounting:
    """Central line items + sampled bands + sensitivities. ``cut_mw`` (S, T): curtailment applied to the draw."""
    h = hourly_central(cfg, inp, curve, cut_mw)
    lines, trace = central_lines(cfg, inp, h)
    acc = Accounting(lines=lines, months=inp.months, bands={}, hourly=trace,
                     sensitivity=sensitivity(cfg, inp, h, lines), input_hashes=inp.hashes())
    if samples:
        mc = monte_carlo(cfg, inp, curve, lines, cut_mw, keep_paths)
        vals = mc["values"]
        acc.n_samples = cfg.montecarlo.samples
        cat = {ln.line_id: ln.category for ln in lines}
        for ln in lines:
            m = [mm.label for mm in inp.months].index(ln.month)
            if ln.item in ("energy", "shift_energy", "demand"):
                ln.p10, ln.p50, ln.p90 = _q3(vals[ln.line_id][:, m])
            else:
                ln.p10 = ln.p50 = ln.p90 = ln.amount
        keys = [k for k in vals if cat.get(k) in ("bill", "pledge")]
        tot = sum(vals[k] for k in keys)  # (N, M) sampled totals
        pledge = sum(vals[k] for k in keys if cat[k] == "pledge")
        acc.sample_totals = tot
        for m, bm in enumerate(inp.months):
            acc.bands[(bm.label, "total")] = _q3(tot[:, m])
            acc.bands[(bm.label, "pledge")] = _q3(pledge[:, m])
        acc.bands[("horizon", "total")] = _q3(tot.sum(axis=1))
        acc.bands[("horizon", "pledge")] = _q3(pledge.sum(axis=1))
        acc.fan = mc.get("fan", {})
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
