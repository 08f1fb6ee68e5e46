"""How a draw forecast's errors hang together over the hours of a billing month and across sites.

The pledge's Monte Carlo (``pledge.sampling``) draws normal scores z[s, h] = √ρ_s·f[h] + √(1 − ρ_s)·e[s, h],
with f and e stationary unit-variance AR(1) in time (lag-one correlation ρ_t), and maps them through each
hour's quantiles. A month's bill sums W hours, so what the bands need is the spread of the *sum* of the scores
over the month, Var(Σ_h z_h) = W + 2·Σ_{k=1}^{W−1} (W − k)·ρ_t^k, and the correlation of those sums between
sites, which is ρ_s. Both are fitted here on pseudo-forecasts issued at past origins (targets before the issue
time only): each residual becomes a normal score through the quantiles the forecaster gave that lead
(``normal_scores``, the inverse of the sampler's quantile map); ρ_t is the value whose AR(1) sum variance
matches the mean square of the month-window sums (around zero, so a persistent bias widens the bands rather
than hiding in a variance); ρ_s is the mean correlation of those sums between pairs of sites.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

MIN_PATHS = 10  # month windows needed before the fitted values replace the configured ones


@dataclass(frozen=True)
class Dependence:
    """Fitted Monte Carlo correlations, or None where too few past windows exist (``note`` says why)."""

    rho_time: float | None
    rho_sites: float | None
    n_windows: int
    window_h: int
    note: str


def normal_scores(x: np.ndarray, q: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Normal scores of values ``x`` (...,) under quantiles ``q`` (..., K) at ``levels`` (K,): piecewise linear
    through (q_k, Φ⁻¹(level_k)) with the outer segments extended, the inverse of ``pledge.sampling.quantile_map``.
    A segment of zero width (equal quantiles) takes the middle of its score interval."""
    zk = norm.ppf(np.asarray(levels, np.float64))  # (K,)
    K = zk.size
    q = np.asarray(q, np.float64)
    x = np.asarray(x, np.float64)
    seg = np.clip((x[..., None] >= q).sum(axis=-1) - 1, 0, K - 2)  # (...,) segment index
    lo = np.take_along_axis(q, seg[..., None], axis=-1)[..., 0]
    hi = np.take_along_axis(q, seg[..., None] + 1, axis=-1)[..., 0]
    width = hi - lo
    flat = width <= 1e-12
    frac = np.where(flat, 0.5, (x - lo) / np.where(flat, 1.0, width))
    return zk[seg] + frac * (zk[seg + 1] - zk[seg])


def ar1_sum_variance(rho: float, W: int) -> float:
    """Var(Σ_{h<W} z_h) of a stationary unit-variance AR(1) with lag-one correlation ``rho``."""
    k = np.arange(1, W, dtype=np.float64)
    return float(W + 2.0 * np.sum((W - k) * rho ** k))


def rho_for_sum_variance(v: float, W: int, hi: float = 0.9999) -> float:
    """The ρ in [0, hi] whose AR(1) window-sum variance is ``v`` (bisection; the variance rises with ρ)."""
    if v <= W:
        return 0.0
    if v >= ar1_sum_variance(hi, W):
        return hi
    a, b = 0.0, hi
    for _ in range(60):
        m = 0.5 * (a + b)
        a, b = (m, b) if ar1_sum_variance(m, W) < v else (a, m)
    return 0.5 * (a + b)


def fit_dependence(z: np.ndarray) -> Dependence:
    """ρ_t and ρ_s from normal-score paths ``z`` (O, S, W): O past issue times, S sites, the W hours of the
    month window at the same leads as the forecast's month; NaN where no meter reading (such windows dropped)."""
    O, S, W = z.shape
    ok = np.isfinite(z).all(axis=(1, 2))  # (O,) complete windows only
    z = z[ok]
    n = int(ok.sum())
    if n < MIN_PATHS:
        return Dependence(None, None, n, W, f"{n} complete past month windows (< {MIN_PATHS}): configured values kept")
    sums = z.sum(axis=2)  # (n, S)
    ms = float(np.mean(sums ** 2))  # mean square around zero, pooled over sites
    rho_t = rho_for_sum_variance(ms, W)
    if S > 1:
        c = np.corrcoef(sums.T)  # (S, S)
        pairs = c[np.triu_indices(S, 1)]
        rho_s = float(np.clip(np.nanmean(pairs), 0.0, 1.0)) if np.isfinite(pairs).any() else 0.0
    else:
        rho_s = 0.0
    note = (f"fitted on {n} past {W} h windows: mean square of the window sum of normal scores {ms:.0f} "
            f"(independent hours: {W})")
    return Dependence(round(rho_t, 6), round(rho_s, 6), n, W, note)
