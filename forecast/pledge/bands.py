"""P10/P50/P90 bands and the booked (expected) amounts by Monte Carlo (DOMAIN.md §2–§4).

Joint samples go through the same formulas as the ledger: draws per (site, hour) from
:mod:`forecast.pledge.sampling`, the others' load, a price-curve draw per sample, and the configured ranges
of scalar inputs (upgrade capex, the capacity demand curve; :mod:`forecast.pledge.ranges`). The booked amount
of every uncertain line is the **mean** of these samples (the expected value): energy and price shift are
summed from the expected hourly path (mean over samples per site and hour, rounded per hour), demand, capacity
shift and upgrades are the means of their sampled monthly amounts. Means add up, so the booked total is the
mean of the sampled totals. A band of a total is the quantile of sampled totals, never a sum of quantiles.

Samples are generated in seeded blocks of :data:`BLOCK` samples (generator seeded by ``montecarlo.seed`` and
the block number); a chunk of the loop is a union of whole blocks (``montecarlo.chunk`` rounded up to a
multiple of BLOCK) and hourly means are summed block by block in block order, so every sample, band and
booked amount is the same for any chunk size. Money in USD (float inside the samples, cents in the bands).
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from forecast.pledge import backstop
from forecast.pledge.config import PledgeConfig, TariffCfg
from forecast.pledge.inputs import Inputs
from forecast.pledge.line_items import Accounting, LineItem
from forecast.pledge.money import cents
from forecast.pledge.ranges import capacity_shift_draws, capex_draws, demand_curve_draws
from forecast.pledge.sampling import draw_samples, others_samples
from forecast.price.response import PriceResponse

BLOCK = 10  # samples per seeded block: the unit of randomness, independent of montecarlo.chunk
SAMPLED = ("energy", "shift_energy", "demand")  # hourly-path items whose amount varies across samples
FAN = ("draw_mw", "price_with", "price_without")  # per-hour fans kept for the charts
MEAN = "mean of the joint samples"  # what the booked amount of an uncertain line is (manifest: central)


def curve_draw_index(seed: int, n_draws: int, n: int) -> np.ndarray:
    """(n,) price-curve draw per sample: a seeded permutation of the draws, cycled when n > n_draws."""
    return np.random.default_rng(np.random.SeedSequence([seed, 0xD8])).permutation(
        np.resize(np.arange(n_draws), max(n, n_draws)))[:n]


def chunk_size(chunk: int) -> int:
    """Samples per loop pass: ``montecarlo.chunk`` rounded up to whole blocks."""
    return -(-int(chunk) // BLOCK) * BLOCK


def _chunk_paths(cfg: PledgeConfig, inp: Inputs, curve: PriceResponse, c0: int, n: int, draws: np.ndarray,
                 cut_mw: np.ndarray | None, load_paths: np.ndarray | None = None):
    """Samples c0 … c0+n−1 (c0 a multiple of BLOCK), block by block: site draw d_s (n, S, T) MW (less
    ``cut_mw``, floored at 0), others' load o (n, T) (the system-load forecast's path ``load_paths`` per sample
    where it has paths), campus draw d (n, T), prices with and without the campus (n, T) $/MWh."""
    mc = cfg.montecarlo
    d_parts, o_parts = [], []
    for b0 in range(c0, c0 + n, BLOCK):
        nb = min(BLOCK, c0 + n - b0)
        rng = np.random.default_rng(np.random.SeedSequence([mc.seed, b0 // BLOCK]))
        d_parts.append(draw_samples(rng, nb, inp.q, inp.levels, inp.capacity_mw, mc.rho_time, mc.rho_sites))
        if inp.others_paths is None:
            o_parts.append(others_samples(rng, nb, inp.others_mw, cfg.system_load.sigma_frac, cfg.system_load.rho))
    d_s = np.concatenate(d_parts) if len(d_parts) > 1 else d_parts[0]  # (n, S, T)
    if cut_mw is not None:
        np.maximum(d_s - cut_mw[None], 0.0, out=d_s)
    if inp.others_paths is not None:
        o = inp.others_paths[load_paths]  # (n, T): whole joint paths, drawn with the campus draw
    else:
        o = np.concatenate(o_parts) if len(o_parts) > 1 else np.asarray(o_parts[0])  # (n, T)
    d = d_s.sum(axis=1)  # (n, T)
    p_with = curve.price(o + d, inp.ts, draws)  # (n, T)
    p_without = curve.price(o + inp.gen_mw, inp.ts, draws)
    return d_s, o, d, p_with, p_without


def _site_shift(d_s: np.ndarray, d: np.ndarray, sh: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """(n, S, T) shift per site and hour: d_sh · (sh_h / d_h); hours with d_h = 0 by capacity share."""
    pos = d > 0
    w = np.divide(sh, d, out=np.zeros_like(sh), where=pos)  # (n, T)
    out = d_s * w[:, None, :]
    if not pos.all():
        out += np.where(pos, 0.0, sh)[:, None, :] * (capacity / capacity.sum())[None, :, None]
    return out


def _billed_demand_mw(t: TariffCfg, d_s: np.ndarray, off: np.ndarray, floor_mw: np.ndarray) -> np.ndarray:
    """(n, S, M) billed demand: max(monthly peak draw, min_frac × contract), MW."""
    return np.maximum(np.maximum.reduceat(d_s, off, axis=-1), floor_mw)


class _Sums:
    """Sums over samples, added block by block in block order (the same floats for any chunk size)."""

    def __init__(self):
        self.s: dict[str, np.ndarray] = {}

    def add(self, name: str, x: np.ndarray) -> None:
        for b0 in range(0, x.shape[0], BLOCK):
            part = x[b0:b0 + BLOCK].sum(axis=0)
            self.s[name] = part if name not in self.s else self.s[name] + part

    def mean(self, name: str, n: int) -> np.ndarray:
        return self.s[name] / n


def _mean_path(sums: _Sums, N: int, inp: Inputs, spot: bool) -> dict[str, np.ndarray]:
    """The expected hourly path: per (site, hour) and hour, the mean over the N samples."""
    draw = sums.mean("draw", N)  # (S, T)
    d = draw.sum(axis=0)
    share = np.where(d > 0, draw / np.where(d > 0, d, 1.0), (inp.capacity_mw / inp.capacity_mw.sum())[:, None])
    h = {"draw": draw, "d": d, "p_with": sums.mean("p_with", N), "p_without": sums.mean("p_without", N),
         "shift_site": sums.mean("shift", N), "share": share}
    h["dp"] = h["p_with"] - h["p_without"]
    if spot:
        h["spot"] = sums.mean("spot", N)
    return h


def monte_carlo(cfg: PledgeConfig, inp: Inputs, curve: PriceResponse, lines: list[LineItem] | None = None,
                cut_mw: np.ndarray | None = None, keep_paths: bool = True) -> dict:
    """Propagate joint samples through the formulas. Returns ``values`` (per line id, (N, M) USD: the hourly
    items energy/shift_energy/demand per site, and each lease's share of its host's shift_energy netted off the
    host's), ``mean`` (the expected hourly path), ``expect`` (mean billed
    demand MW (S, M), capex draws per upgrade, capacity-shift draws per month) and per-hour ``fan``s.
    ``lines`` is not read (kept for callers that pass the central lines)."""
    mc, t = cfg.montecarlo, cfg.tariff
    N, S, M = mc.samples, len(inp.site_ids), len(inp.months)
    off = inp.offsets[:-1]
    perm = curve_draw_index(mc.seed, curve.n_draws, N)  # curve draw per sample, seeded
    lp = curve_draw_index(mc.seed + 1, len(inp.others_paths), N) if inp.others_paths is not None else None
    sampled = {item: np.empty((N, S, M)) for item in SAMPLED}
    fan = {k: np.empty((N, len(inp.ts)), dtype=np.float32) for k in FAN} if keep_paths else None
    floor = np.array([s.contract_demand_mw for s in cfg.sites])[None, :, None] * t.minimum_demand_frac
    sums, step = _Sums(), chunk_size(mc.chunk)
    leased = {ls.lease.lease_id: np.empty((N, M)) for ls in inp.lease_shares}  # each lease's share of its host's shift
    for c0 in range(0, N, step):  # loop over chunks (whole blocks); everything inside is vectorised
        n = min(step, N - c0)
        d_s, o, d, p_with, p_without = _chunk_paths(cfg, inp, curve, c0, n, perm[c0:c0 + n], cut_mw,
                                                    None if lp is None else lp[c0:c0 + n])
        shs = _site_shift(d_s, d, (p_with - p_without) * o * cfg.shift.phi, inp.capacity_mw)  # (n, S, T) USD
        spot = d_s * p_with[:, None, :] if t.energy_pricing == "spot" else None
        rows = slice(c0, c0 + n)
        sampled["shift_energy"][rows] = np.add.reduceat(shs, off, axis=-1)
        for ls in inp.lease_shares:
            leased[ls.lease.lease_id][rows] = np.add.reduceat(shs[:, ls.s, :] * ls.w[None, :], off, axis=-1)
        sampled["energy"][rows] = np.add.reduceat(d_s, off, axis=-1) * float(t.energy_rate_usd_per_mwh) \
            if spot is None else np.add.reduceat(spot, off, axis=-1)
        billed = _billed_demand_mw(t, d_s, off, floor)
        sampled["demand"][rows] = billed * 1000.0 * t.demand_charge_usd_per_kw_month
        for name, x in (("draw", d_s), ("shift", shs), ("p_with", p_with), ("p_without", p_without),
                        ("billed", billed)) + ((("spot", spot),) if spot is not None else ()):
            sums.add(name, x)
        if keep_paths:
            fan["draw_mw"][rows], fan["price_with"][rows], fan["price_without"][rows] = d, p_with, p_without
    values = {f"{item}:{sid}": sampled[item][:, s, :] for s, sid in enumerate(inp.site_ids) for item in SAMPLED}
    for ls in inp.lease_shares:  # the lease's share, netted off its host's own line
        key = f"shift_energy:{inp.site_ids[ls.s]}"
        values[f"{key}:{ls.lease.lease_id}"] = leased[ls.lease.lease_id]
        values[key] = values[key] - leased[ls.lease.lease_id]
    out = {"values": values, "mean": _mean_path(sums, N, inp, t.energy_pricing == "spot"),
           "expect": {"demand_mw": sums.mean("billed", N), **scalar_draws(cfg, inp, N)}, "n": N}
    if keep_paths:
        out["fan"] = {k: np.quantile(v, [0.1, 0.5, 0.9], axis=0) for k, v in fan.items()}  # each (3, T)
    return out


def scalar_draws(cfg: PledgeConfig, inp: Inputs, n: int) -> dict:
    """Draws of the ranged scalar inputs: ``capex`` {upgrade id: (n,) USD}; ``capacity_shift`` {month: (n,)
    system capacity shift USD} for months whose delivery year has a demand-curve range; ``backstop``
    {"site:month": (n,) USD} in the backstop's term."""
    plc = float(sum(s.plc_mw for s in cfg.sites))
    dys = {d.delivery_year: d for d in cfg.tariff.capacity}
    curves = demand_curve_draws(cfg, n) if plc > 0 else {}
    return {"capex": capex_draws(cfg, n), "backstop": backstop.sampled(cfg, inp.months, n),
            "capacity_shift": {m.label: capacity_shift_draws(dys[m.delivery_year], curves[m.delivery_year], plc,
                                                             m.days)
                               for m in inp.months if m.delivery_year in curves}}


def line_values(inp: Inputs, lines: list[LineItem], mc: dict) -> dict[str, np.ndarray]:
    """Per line id, (n, M) sampled USD: the hourly items from ``mc['values']``, upgrades and capacity shift
    from their ranged draws, every other line its booked amount in its month (0 elsewhere)."""
    n, ex = mc["n"], mc["expect"]
    values = dict(mc["values"])
    month_pos = {m.label: i for i, m in enumerate(inp.months)}
    for ln in lines:
        if ln.line_id in mc["values"]:
            continue
        v = values.setdefault(ln.line_id, np.zeros((n, len(inp.months))))
        m = month_pos[ln.month]
        uid = ln.line_id.split(":")[2] if ln.item == "upgrade" else None
        if uid in ex["capex"] and ln.unit_value is not None:
            v[:, m] = ex["capex"][uid] * ln.unit_value  # the charge is linear in capex
        elif ln.item == "backstop" and f"{ln.site_id}:{ln.month}" in ex.get("backstop", {}):
            v[:, m] = ex["backstop"][f"{ln.site_id}:{ln.month}"]
        elif ln.item == "shift_capacity" and ln.month in ex["capacity_shift"] and ln.unit_value is not None:
            v[:, m] = ex["capacity_shift"][ln.month] * ln.unit_value  # the site's PLC share
        else:
            v[:, m] = float(ln.amount)
    return values


def q3(x: np.ndarray) -> tuple[Decimal, Decimal, Decimal]:
    """P10, P50, P90 of samples ``x`` (numpy 'linear' quantiles), each rounded to the cent."""
    a, b, c = np.quantile(x, [0.1, 0.5, 0.9])
    return cents(float(a)), cents(float(b)), cents(float(c))


def set_bands(acc: Accounting, inp: Inputs, mc: dict, n_samples: int) -> None:
    """Fill ``acc`` from :func:`monte_carlo` output: per-line P10/P50/P90 (lines without uncertainty: their
    amount), P10/P50/P90 of the sampled total and pledge per month and over the horizon, sampled totals
    (N, M), fans."""
    vals = line_values(inp, acc.lines, mc)
    acc.n_samples = n_samples
    cat = {ln.line_id: ln.category for ln in acc.lines}
    labels = [mm.label for mm in inp.months]
    for ln in acc.lines:
        x = vals.get(ln.line_id)
        if ln.category != "memo" and x is not None and np.ptp(x[:, labels.index(ln.month)]) > 0:
            ln.p10, ln.p50, ln.p90 = q3(x[:, labels.index(ln.month)])
        else:
            ln.p10 = ln.p50 = ln.p90 = ln.amount
    keys = [k for k in vals if cat.get(k) in ("bill", "pledge")]
    tot = sum(vals[k] for k in keys)  # (N, M) sampled totals
    pledge = sum(vals[k] for k in keys if cat[k] == "pledge")
    acc.sample_totals, acc.sample_pledge = tot, pledge
    for m, bm in enumerate(inp.months):
        acc.bands[(bm.label, "total")] = q3(tot[:, m])
        acc.bands[(bm.label, "pledge")] = q3(pledge[:, m])
    acc.bands[("horizon", "total")] = q3(tot.sum(axis=1))
    acc.bands[("horizon", "pledge")] = q3(pledge.sum(axis=1))
    acc.fan = mc.get("fan", {})
