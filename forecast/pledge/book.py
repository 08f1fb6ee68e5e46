"""The ledger's line items of one hourly path: per site and local month, the bill lines (energy, demand,
capacity, transmission) and pledge lines (upgrades, energy and capacity price shift), each with its quantity,
price, formula and input hashes, and the hourly trace they are summed from. Formulas and rounding rules:
:mod:`forecast.pledge.accounting`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd

from forecast.pledge import backstop
from forecast.pledge.calendar import BillingMonth, hour_ending_label
from forecast.pledge.config import PledgeConfig, SiteCfg
from forecast.pledge.formulas import (capacity_price, capacity_shift, dy_table, rint_cents, rint_kwh,
                                      upgrade_charge)
from forecast.pledge.inputs import Inputs, sha
from forecast.pledge.leases import operator_books, triggered_by
from forecast.pledge.line_items import LineItem
from forecast.pledge.money import CENT, KWH, ROUNDING, ZERO, cents, dec
from forecast.pledge.peaks import Obligations


@dataclass(frozen=True)
class _Book:
    """What every central line reads: config, inputs, and the central path rounded per (site, hour)."""

    cfg: PledgeConfig
    inp: Inputs
    h: dict[str, np.ndarray]
    hashes: dict[str, str]
    shift_c: np.ndarray  # (S, T) integer cents of shift
    kwh: np.ndarray  # (S, T) integer kWh of draw
    spot_c: np.ndarray  # (S, T) integer cents of draw × price (the actual price where settled on one)
    obl: Obligations  # PLC and NSPL per site and month
    dys: dict  # delivery year -> capacity market config
    curve_hash: str
    tariff_hash: str
    expect: dict | None = None  # bands.monte_carlo's "expect": sampled means of the non-hourly lines
    n: int = 0  # samples behind ``h`` and ``expect`` (0: a deterministic path)

    @classmethod
    def of(cls, cfg: PledgeConfig, inp: Inputs, h: dict[str, np.ndarray], expect: dict | None = None,
           n: int = 0, obligations: Obligations | None = None) -> "_Book":
        spot = h["spot"] if "spot" in h else h["draw"] * h["p_with"][None, :]
        obl = obligations if obligations is not None else Obligations.configured(cfg.sites, inp.months)
        return cls(cfg, inp, h, inp.hashes(), rint_cents(h["shift_site"]), rint_kwh(h["draw"]),
                   rint_cents(spot), obl, dy_table(cfg),
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
    if k.inp.price_actual is not None:  # settled at the actual price of each hour
        formula = f"Σ_h cents(D_h × p_h), p_h the actual price of the hour ({k.inp.sources.get('price', '')})"
        hashed = [x.dh, k.hashes[f"price_actual:{lab}"]]
    else:
        formula = "Σ_h cents(D_h × S_h(L_h)) (spot, with the campus)" + k.path()
        hashed = [x.dh, k.hashes[f"others_mw:{lab}"], k.curve_hash]
    return _line(x, f"energy:{sid}", "bill", "energy", quantity=qty, quantity_unit="MWh",
                 price=(amt / qty).quantize(Decimal("0.0001"), ROUNDING) if qty else ZERO,
                 price_unit="USD/MWh (weighted)", amount=amt, formula=formula, inputs_hash=sha(hashed))


def _demand_line(k: _Book, x: _Slot) -> LineItem:
    t, site = k.cfg.tariff, x.site
    formula = "max(peak draw, min_frac × contract demand) × 1000 × $/kW-month"
    if k.expect is not None:  # the mean billed demand of the samples, not the peak of the mean path
        billed = Decimal(int(rint_kwh(k.expect["demand_mw"][x.s, x.m]))) * KWH
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
    plc, pr = k.obl.plc[x.s][x.m], dec(dy.price_usd_per_mw_day)
    note = k.obl.note("plc", bm.label)
    return _line(x, f"capacity:{x.site.site_id}", "bill", "capacity", quantity=plc * bm.days,
                 quantity_unit="MW-day", price=pr, price_unit="USD/MW-day", amount=cents(plc * pr * bm.days),
                 formula=f"PLC {plc} MW × {pr} $/MW-day ({dy.delivery_year}) × {bm.days} days"
                         + (f"; PLC {note}" if note else ""),
                 inputs_hash=sha([str(plc), str(pr), bm.days, note]))


def _transmission_line(k: _Book, x: _Slot) -> LineItem:
    days = x.bm.days
    n_, r_ = k.obl.nspl[x.s][x.m], dec(k.cfg.tariff.transmission_usd_per_mw_day)
    note = k.obl.note("nspl", x.bm.label)
    return _line(x, f"transmission:{x.site.site_id}", "bill", "transmission", quantity=n_ * days,
                 quantity_unit="MW-day", price=r_, price_unit="USD/MW-day", amount=cents(n_ * r_ * days),
                 formula=f"NSPL {n_} MW × {r_} $/MW-day × {days} days" + (f"; NSPL {note}" if note else ""),
                 inputs_hash=sha([str(n_), str(r_), days, note]))


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


def _backstop_line(k: _Book, x: _Slot) -> LineItem | None:
    """The site's share of the reliability backstop procurement in the month (forecast.pledge.backstop)."""
    b = k.cfg.backstop
    cap_tot = float(sum(s.capacity_mw for s in k.cfg.sites))
    mw, price, amt = backstop.amount(b, k.obl.plc[x.s][x.m], x.site.capacity_mw, cap_tot, x.bm.days)
    if mw == 0:
        return None
    formula = backstop.formula(b)
    draws = k.expect.get("backstop", {}).get(f"{x.site.site_id}:{x.bm.label}") if k.expect is not None else None
    if draws is not None and np.ptp(draws) > 0:  # the mean over the configured ranges
        amt = Decimal(float(np.mean(draws)))
        formula += f"; mean of {len(draws)} samples of the ranges of price, market credit and pool"
    return _line(x, f"backstop:{x.site.site_id}", "bill", "backstop", quantity=mw.quantize(KWH, ROUNDING) * x.bm.days,
                 quantity_unit="allocated MW-day", price=price, price_unit="USD/MW-day (net of the market credit)",
                 amount=cents(amt), formula=formula, inputs_hash=sha(repr(b)))


def _shift_energy_line(k: _Book, x: _Slot) -> LineItem:
    cfg, inp, lab, a, b = k.cfg, k.inp, x.bm.label, x.a, x.b
    amt = Decimal(int(k.shift_c[x.s, a:b].sum())) * CENT
    exposed = Decimal(int(rint_kwh(inp.others_mw[a:b] * cfg.shift.phi * k.h["share"][x.s, a:b]).sum())) * KWH
    return _line(x, f"shift_energy:{x.site.site_id}", "pledge", "shift_energy",
                 quantity=exposed, quantity_unit="MWh of others' load × φ × draw share",
                 price=(amt / exposed).quantize(Decimal("0.0001"), ROUNDING) if exposed else ZERO,
                 price_unit="USD/MWh (weighted ΔP)", amount=amt,
                 formula=f"Σ_h cents(ΔP_h·(L_h − D_h)·φ·D_sh/D_h), ΔP = S(L) − S(L − D + G), φ = {dec(cfg.shift.phi)}"
                         + k.path(),
                 inputs_hash=sha([x.dh, k.hashes[f"others_mw:{lab}"], k.hashes[f"gen_mw:{lab}"], k.curve_hash]))


def _shift_capacity_line(k: _Book, x: _Slot) -> LineItem:
    bm, plc_tot = x.bm, k.obl.plc_total(x.m)
    dy = k.dys[bm.delivery_year]
    q = dec(dy.obligation_mw)
    full = capacity_shift(dy, plc_tot, bm.days)
    share = k.obl.plc[x.s][x.m] / plc_tot
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


def _owned(k: _Book, x: _Slot, ln: LineItem, lease=None) -> LineItem:
    """``ln`` as booked: the operator's, or a memo line (a host's own, or a tenant's lease; forecast.pledge.leases)."""
    if operator_books(k.cfg, x.s, lease):
        return ln
    whose = f"lease {lease.lease_id} of {lease.lessee}" if lease is not None else f"the host {x.site.site_id}'s own"
    return dataclasses.replace(ln, category="memo", formula=f"memo ({whose}, not the operator's): {ln.formula}")


def _split_energy(k: _Book, x: _Slot, ln: LineItem, shares) -> list[LineItem]:
    """The host's energy price shift split by hourly draw share: each lease's hourly cents, the host the rest."""
    a, b, lab = x.a, x.b, x.bm.label
    exposed = k.inp.others_mw[a:b] * k.cfg.shift.phi * k.h["share"][x.s, a:b]  # (T_m,) MWh
    rest_c, rest_q, out = k.shift_c[x.s, a:b].copy(), ln.quantity, []
    for ls in shares:
        c = rint_cents(ls.w[a:b] * k.h["shift_site"][x.s, a:b])  # (T_m,) integer cents
        rest_c -= c
        q = Decimal(int(rint_kwh(exposed * ls.w[a:b]).sum())) * KWH
        rest_q -= q
        amt = Decimal(int(c.sum())) * CENT
        out.append(_owned(k, x, dataclasses.replace(
            ln, line_id=f"{ln.line_id}:{ls.lease.lease_id}", quantity=q, amount=amt,
            price=(amt / q).quantize(Decimal("0.0001"), ROUNDING) if q else ZERO,
            formula=f"lease {ls.lease.lease_id} ({ls.lease.lessee}): Σ_h cents(w_h × the host's shift_h), w = "
                    f"{ls.basis}; the host's shift: {ln.formula}",
            inputs_hash=sha([ln.inputs_hash, k.hashes[f"lease:{ls.lease.lease_id}:{lab}"]])), ls.lease))
    amt = Decimal(int(rest_c.sum())) * CENT
    host = dataclasses.replace(ln, quantity=rest_q, amount=amt,
                               price=(amt / rest_q).quantize(Decimal("0.0001"), ROUNDING) if rest_q else ZERO,
                               formula=f"the host's own: its hourly cents less its leases' ({len(shares)}); "
                                       f"{ln.formula}")
    return [_owned(k, x, host)] + out


def _split_capacity(k: _Book, x: _Slot, ln: LineItem, shares) -> list[LineItem]:
    """The host's capacity shift split by share of peak-hour load; the host keeps the rest."""
    rest, rest_share, out = ln.amount, Decimal(1), []
    for ls in shares:
        f = Decimal(repr(float(np.broadcast_to(ls.peak_share, len(k.inp.months))[x.m])))
        amt = cents(ln.amount * f)
        rest, rest_share = rest - amt, rest_share - f
        out.append(_owned(k, x, dataclasses.replace(
            ln, line_id=f"{ln.line_id}:{ls.lease.lease_id}", amount=amt, unit_value=(ln.unit_value or 0.0) * float(f),
            formula=f"lease {ls.lease.lease_id} ({ls.lease.lessee}): share {f} of the host's peak-hour load "
                    f"({ls.basis}) × the host's capacity shift: {ln.formula}"), ls.lease))
    host = dataclasses.replace(ln, amount=rest, unit_value=(ln.unit_value or 0.0) * float(rest_share),
                               formula=f"the host's own: {rest_share} of its peak-hour load; {ln.formula}")
    return [_owned(k, x, host)] + out


def _lease_lines(k: _Book, x: _Slot, out: list[LineItem]) -> list[LineItem]:
    """A host's lines with its leases: price shifts split, triggered upgrades to their lease, and what is not
    the operator's booked as memo (forecast.pledge.leases)."""
    shares = [ls for ls in k.inp.lease_shares if ls.s == x.s]
    if not shares and x.site.owned:
        return out
    res = []
    for ln in out:
        if ln.item == "shift_energy" and shares:
            res += _split_energy(k, x, ln, shares)
        elif ln.item == "shift_capacity" and shares:
            res += _split_capacity(k, x, ln, shares)
        elif ln.item == "upgrade" and triggered_by(k.cfg, ln.line_id.split(":")[2]) is not None:
            lease = triggered_by(k.cfg, ln.line_id.split(":")[2])
            res.append(_owned(k, x, dataclasses.replace(
                ln, formula=f"{ln.formula}; triggered by lease {lease.lease_id} ({lease.lessee}): wholly its"), lease))
        else:
            res.append(_owned(k, x, ln))
    return res


def _slot_lines(k: _Book, x: _Slot) -> list[LineItem]:
    """The lines of one site and month, in ledger order: energy, demand, capacity, transmission, upgrades,
    backstop, shift_energy, shift_capacity (each only where its tariff or site value applies)."""
    t, site = k.cfg.tariff, x.site
    out = [_energy_line(k, x)]
    if t.demand_charge_usd_per_kw_month > 0:
        out.append(_demand_line(k, x))
    plc = k.obl.plc[x.s][x.m]
    if plc > 0:
        out.append(_capacity_line(k, x))
    if t.transmission_usd_per_mw_day > 0 and k.obl.nspl[x.s][x.m] > 0:
        out.append(_transmission_line(k, x))
    out += [_upgrade_line(k, x, u) for u in k.cfg.upgrades if u.site_id == site.site_id]
    if backstop.in_term(k.cfg.backstop, x.bm.label):
        out += [ln for ln in (_backstop_line(k, x),) if ln is not None]
    out.append(_shift_energy_line(k, x))
    if plc > 0:
        out.append(_shift_capacity_line(k, x))
    return _lease_lines(k, x, out)


def central_lines(cfg: PledgeConfig, inp: Inputs, h: dict[str, np.ndarray], expect: dict | None = None,
                  n: int = 0, obligations: Obligations | None = None) -> tuple[list[LineItem], pd.DataFrame]:
    """Ledger lines from the hourly path ``h`` (with ``expect``: the sampled means of the non-hourly lines,
    over ``n`` samples; ``obligations``: PLC/NSPL per site and month, else the sites' configured values), and
    the hourly trace they are summed from."""
    k = _Book.of(cfg, inp, h, expect, n, obligations)
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
    actual = {} if inp.price_actual is None else {"price_actual_usd_per_mwh": np.tile(inp.price_actual, S)}
    if inp.lease_shares:
        leased = np.zeros((S, T))
        for ls in inp.lease_shares:
            leased[ls.s] += ls.w
        actual["leased_share"] = leased.ravel()
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
        **actual,
    })
