"""Configured ranges of scalar inputs (upgrade capex, the capacity demand curve) as joint-sample draws.

A range [low, high] around a configured central value c (low <= c <= high) is the two-piece uniform
distribution whose mean is c: uniform on [low, c] with probability w = (high − c)/(high − low), uniform on
[c, high] otherwise. Its draws are stratified by sample index (u_i = (π(i) + ½)/N for a seeded permutation π
of 0..N−1, one permutation per input), so N draws have a mean within O(1/N²) of c, and which draw a sample
gets does not depend on the chunk size of the Monte Carlo loop.
"""

from __future__ import annotations

import zlib

import numpy as np


def stratified_uniforms(seed: int, name: str, n: int) -> np.ndarray:
    """(n,) stratified uniforms in (0, 1) for input ``name``, seeded by (seed, crc32(name))."""
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), zlib.crc32(name.encode()), 0x5A]))
    return (rng.permutation(n) + 0.5) / n


def two_piece_uniform(u: np.ndarray, low: float, centre: float, high: float) -> np.ndarray:
    """Quantile function of the two-piece uniform with mean ``centre`` on [low, high], at ``u``."""
    if high <= low:
        return np.full(u.shape, float(centre))
    w = (high - centre) / (high - low)  # probability below the centre
    below = low + (centre - low) * np.divide(u, w, out=np.zeros_like(u), where=w > 0)
    above = centre + (high - centre) * np.divide(u - w, 1.0 - w, out=np.zeros_like(u), where=w < 1)
    return np.where(u < w, below, above)


def ranged(seed: int, name: str, n: int, low, centre: float, high) -> np.ndarray | None:
    """(n,) draws of a ranged input, or None when no range is configured (low and high both null)."""
    if low is None and high is None:
        return None
    lo = float(centre) if low is None else float(low)
    hi = float(centre) if high is None else float(high)
    return two_piece_uniform(stratified_uniforms(seed, name, n), lo, float(centre), hi)


def capex_draws(cfg, n: int) -> dict[str, np.ndarray]:
    """Per upgrade id with a capex range, (n,) capex draws in USD."""
    out = {}
    for u in cfg.upgrades:
        x = ranged(cfg.montecarlo.seed, f"capex:{u.upgrade_id}", n, u.capex_low_usd, u.capex_usd, u.capex_high_usd)
        if x is not None:
            out[u.upgrade_id] = x
    return out


def demand_curve_draws(cfg, n: int) -> dict[str, dict[str, np.ndarray]]:
    """Per delivery year with a slope or uncapped-price range, (n,) draws of ``slope`` and ``uncapped``."""
    out = {}
    for dy in cfg.tariff.capacity:
        unc = dy.uncapped_usd_per_mw_day if dy.uncapped_usd_per_mw_day is not None else dy.price_usd_per_mw_day
        s = ranged(cfg.montecarlo.seed, f"slope:{dy.delivery_year}", n, dy.slope_low_usd_per_mw_day_per_mw,
                   dy.slope_usd_per_mw_day_per_mw, dy.slope_high_usd_per_mw_day_per_mw)
        p = ranged(cfg.montecarlo.seed, f"uncapped:{dy.delivery_year}", n, dy.uncapped_low_usd_per_mw_day, unc,
                   dy.uncapped_high_usd_per_mw_day)
        if s is not None or p is not None:
            out[dy.delivery_year] = {"slope": np.full(n, float(dy.slope_usd_per_mw_day_per_mw)) if s is None else s,
                                     "uncapped": np.full(n, float(unc)) if p is None else p}
    return out


def capacity_shift_draws(dy, draws: dict[str, np.ndarray], plc_total_mw: float, days: int) -> np.ndarray:
    """(n,) [P(Q) − P(Q − PLC·FPR)]·(Q − PLC)·days, USD, at each draw of the demand curve (the cap applied)."""
    q = float(dy.obligation_mw)
    cap = np.inf if dy.cap_usd_per_mw_day is None else float(dy.cap_usd_per_mw_day)

    def price(x):
        return np.maximum(np.minimum(draws["uncapped"] + draws["slope"] * (x - q), cap), 0.0)

    return (price(q) - price(q - plc_total_mw * float(dy.fpr))) * (q - plc_total_mw) * days
