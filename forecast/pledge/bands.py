"""P10/P50/P90 bands by Monte Carlo (DOMAIN.md §2–§4): joint samples through the same formulas as the ledger.

Per chunk of samples (seeded by ``montecarlo.seed`` and the chunk number, so results do not depend on
anything run before): draws per (site, hour) from :mod:`forecast.pledge.sampling`, the others' load,
a price-curve draw per sample; the sampled items are energy, shift_energy and demand, every other line
is the same in every sample. A band of a total is the quantile of sampled totals, never a sum of
quantiles. Money in USD (float inside the samples, cents in the bands).
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from forecast.pledge.config import PledgeConfig, TariffCfg
from forecast.pledge.inputs import Inputs
from forecast.pledge.line_items import Accounting, LineItem
from forecast.pledge.money import cents
from forecast.pledge.sampling import draw_samples, others_samples
from forecast.price.response import PriceResponse

SAMPLED = ("energy", "shift_energy", "demand")  # items whose amount varies across samples
FAN = ("draw_mw", "price_with", "price_without")  # per-hour fans kept for the charts


def curve_draw_index(seed: int, n_draws: int, n: int) -> np.ndarray:
    """(n,) price-curve draw per sample: a seeded permutation of the draws, cycled when n > n_draws."""
    return np.random.default_rng(np.random.SeedSequence([seed, 0xD8])).permutation(
        np.resize(np.arange(n_draws), max(n, n_draws)))[:n]


def _chunk_paths(cfg: PledgeConfig, inp: Inputs, curve: PriceResponse, rng: np.random.Generator, n: int,
                 draws: np.ndarray, cut_mw: np.ndarray | None, load_paths: np.ndarray | None = None):
    """n joint samples: site draw d_s (n, S, T) MW (less ``cut_mw``, floored at 0), others' load o (n, T)
    (the system-load forecast's path ``load_paths`` per sample where it has paths), campus draw d (n, T),
    prices with and without the campus (n, T) $/MWh."""
    mc = cfg.montecarlo
    d_s = draw_samples(rng, n, inp.q, inp.levels, inp.capacity_mw, mc.rho_time, mc.rho_sites)  # (n, S, T)
    if cut_mw is not None:
        np.maximum(d_s - cut_mw[None], 0.0, out=d_s)
    if inp.others_paths is not None:
        o = inp.others_paths[load_paths]  # (n, T): whole joint paths, drawn with the campus draw
    else:
        o = others_samples(rng, n, inp.others_mw, cfg.system_load.sigma_frac, cfg.system_load.rho)  # (n, T)
    d = d_s.sum(axis=1)  # (n, T)
    p_with = curve.price(o + d, inp.ts, draws)  # (n, T)
    p_without = curve.price(o + inp.gen_mw, inp.ts, draws)
    return d_s, o, d, p_with, p_without


def _monthly_shift(d_s: np.ndarray, d: np.ndarray, sh: np.ndarray, off: np.ndarray,
                   capacity: np.ndarray) -> np.ndarray:
    """(n, S, M) shift per site and month: Σ_h d_sh · (sh_h / d_h); hours with d_h = 0 by capacity share."""
    pos = d > 0
    w = np.divide(sh, d, out=np.zeros_like(sh), where=pos)  # (n, T)
    out = np.add.reduceat(d_s * w[:, None, :], off, axis=-1)
    if not pos.all():
        idle = np.add.reduceat(np.where(pos, 0.0, sh), off, axis=-1)  # (n, M)
        out += idle[:, None, :] * (capacity / capacity.sum())[None, :, None]
    return out


def _monthly_energy(t: TariffCfg, d_s: np.ndarray, p_with: np.ndarray, off: np.ndarray) -> np.ndarray:
    """(n, S, M) energy USD: Σ_h D_sh × fixed rate, or Σ_h D_sh · S_h(L_h) for spot pricing."""
    if t.energy_pricing == "fixed":
        return np.add.reduceat(d_s, off, axis=-1) * float(t.energy_rate_usd_per_mwh)
    return np.add.reduceat(d_s * p_with[:, None, :], off, axis=-1)


def _monthly_demand(t: TariffCfg, d_s: np.ndarray, off: np.ndarray, contract: np.ndarray):
    """(n, S, M) demand charge USD: max(peak draw, min_frac × contract) × 1000 × $/kW-month; 0 without one."""
    if t.demand_charge_usd_per_kw_month > 0:
        return np.maximum(np.maximum.reduceat(d_s, off, axis=-1), contract) * 1000.0 * \
            t.demand_charge_usd_per_kw_month
    return 0.0


def line_values(inp: Inputs, lines: list[LineItem], sampled: dict[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
    """Per line id, (n, M) sampled USD: the sampled items from ``sampled[item]`` (n, S, M), every other
    line its central amount in its month (0 elsewhere)."""
    values: dict[str, np.ndarray] = {}
    for s, sid in enumerate(inp.site_ids):
        for item in SAMPLED:
            values[f"{item}:{sid}"] = sampled[item][:, s, :]
    month_pos = {m.label: i for i, m in enumerate(inp.months)}
    for ln in lines:  # deterministic lines: the same in every sample
        if ln.line_id not in values:
            values[ln.line_id] = np.zeros((n, len(inp.months)))
        if ln.item not in SAMPLED:
            values[ln.line_id][:, month_pos[ln.month]] = float(ln.amount)
    return values


def monte_carlo(cfg: PledgeConfig, inp: Inputs, curve: PriceResponse, lines: list[LineItem],
                cut_mw: np.ndarray | None = None, keep_paths: bool = True) -> dict:
    """Propagate joint samples through the formulas; returns per-line sample values (N, M) and per-hour fans."""
    mc, t = cfg.montecarlo, cfg.tariff
    N, S, T, M = mc.samples, len(inp.site_ids), len(inp.ts), len(inp.months)
    off = inp.offsets[:-1]
    perm = curve_draw_index(mc.seed, curve.n_draws, N)  # curve draw per sample, seeded
    # system-load path per sample: its own seeded permutation, so chunk sizes do not change which path a sample gets
    lp = curve_draw_index(mc.seed + 1, len(inp.others_paths), N) if inp.others_paths is not None else None
    sampled = {item: np.empty((N, S, M)) for item in SAMPLED}
    fan = {k: np.empty((N, T), dtype=np.float32) for k in FAN} if keep_paths else None
    contract = np.array([s.contract_demand_mw for s in cfg.sites])[None, :, None] * t.minimum_demand_frac
    for c0 in range(0, N, mc.chunk):  # loop over chunks of samples; everything inside is vectorised
        n = min(mc.chunk, N - c0)
        rng = np.random.default_rng(np.random.SeedSequence([mc.seed, c0 // mc.chunk]))
        d_s, o, d, p_with, p_without = _chunk_paths(cfg, inp, curve, rng, n, perm[c0:c0 + n], cut_mw,
                                                    None if lp is None else lp[c0:c0 + n])
        sh = (p_with - p_without) * o * cfg.shift.phi  # (n, T) USD
        rows = slice(c0, c0 + n)
        sampled["shift_energy"][rows] = _monthly_shift(d_s, d, sh, off, inp.capacity_mw)
        sampled["energy"][rows] = _monthly_energy(t, d_s, p_with, off)
        sampled["demand"][rows] = _monthly_demand(t, d_s, off, contract)
        if keep_paths:
            fan["draw_mw"][rows], fan["price_with"][rows], fan["price_without"][rows] = d, p_with, p_without
    out = {"values": line_values(inp, lines, sampled, N)}
    if keep_paths:
        qs = [0.1, 0.5, 0.9]
        out["fan"] = {k: np.quantile(v, qs, axis=0) for k, v in fan.items()}  # each (3, T)
    return out


def q3(x: np.ndarray) -> tuple[Decimal, Decimal, Decimal]:
    """P10, P50, P90 of samples ``x`` (numpy 'linear' quantiles), each rounded to the cent."""
    a, b, c = np.quantile(x, [0.1, 0.5, 0.9])
    return cents(float(a)), cents(float(b)), cents(float(c))


def set_bands(acc: Accounting, inp: Inputs, mc: dict, n_samples: int) -> None:
    """Fill ``acc`` from :func:`monte_carlo` output: per-line P10/P50/P90 (deterministic lines: their amount),
    P10/P50/P90 of the sampled total and pledge per month and over the horizon, sampled totals (N, M), fans."""
    vals = mc["values"]
    acc.n_samples = n_samples
    cat = {ln.line_id: ln.category for ln in acc.lines}
    for ln in acc.lines:
        m = [mm.label for mm in inp.months].index(ln.month)
        if ln.item in SAMPLED:
            ln.p10, ln.p50, ln.p90 = q3(vals[ln.line_id][:, m])
        else:
            ln.p10 = ln.p50 = ln.p90 = ln.amount
    keys = [k for k in vals if cat.get(k) in ("bill", "pledge")]
    tot = sum(vals[k] for k in keys)  # (N, M) sampled totals
    pledge = sum(vals[k] for k in keys if cat[k] == "pledge")
    acc.sample_totals = tot
    for m, bm in enumerate(inp.months):
        acc.bands[(bm.label, "total")] = q3(tot[:, m])
        acc.bands[(bm.label, "pledge")] = q3(pledge[:, m])
    acc.bands[("horizon", "total")] = q3(tot.sum(axis=1))
    acc.bands[("horizon", "pledge")] = q3(pledge.sum(axis=1))
    acc.fan = mc.get("fan", {})
