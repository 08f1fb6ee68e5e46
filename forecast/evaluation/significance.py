"""Diebold–Mariano tests of equal predictive accuracy: the one statistical core of the package.

For a loss differential d_t = L(e1_t) − L(e2_t), t = 1 … n (here L = |e|, absolute errors), of two
forecasts whose errors overlap over ``h`` steps (h-step-ahead forecasts, or forecasts whose
horizons cover h origin spacings):

- long-run variance  V = (γ_0 + 2 Σ_{k=1}^{h−1} γ_k) / n, γ_k the lag-k autocovariance of d with
  divisor n around its mean (γ_0 = var(d), ddof 0); when V ≤ 0 for h > 1, h = 1 is used instead
  (as R's ``forecast::dm.test`` does);
- DM = mean(d) / sqrt(V);
- Harvey–Leybourne–Newbold (1997) small-sample correction: DM* = DM · sqrt((n + 1 − 2h + h(h − 1)/n) / n),
  compared with Student's t with n − 1 degrees of freedom (R's ``dm.test`` defaults).

A positive statistic means forecast 2 has the smaller loss. A constant differential (equal forecasts)
gives 0/0: NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import t as student_t

LEVEL_ALPHA = 0.05  # differences not significant at this level are reported as "level"


def long_run_variance(d: np.ndarray, h: int = 1) -> np.ndarray:
    """(γ_0 + 2 Σ_{k<h} γ_k) / n along axis 0 of d (n, ...); γ_k with divisor n. For h = 1 it is
    exactly ``d.var(0, ddof=0) / n``."""
    d = np.asarray(d, dtype=np.float64)
    n = d.shape[0]
    if not 1 <= h <= max(n - 1, 1):
        raise ValueError(f"Diebold–Mariano: h must be in 1..n-1 = {n - 1}, got {h}")
    v = d.var(0, ddof=0)
    c = d - d.mean(0)
    for k in range(1, h):
        v = v + 2.0 * (c[k:] * c[:-k]).sum(0) / n
    return v / n


def dm_statistic(d: np.ndarray, h: int = 1) -> np.ndarray:
    """The Diebold–Mariano statistic mean(d) / sqrt(V) along axis 0 (NaN for a constant d); falls back to
    h = 1 where the h-step variance is not positive."""
    d = np.asarray(d, dtype=np.float64)
    v = long_run_variance(d, h)
    if h > 1:
        v = np.where(v > 0, v, long_run_variance(d, 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        return d.mean(0) / np.sqrt(v)


def hln_factor(n: int, h: int) -> float:
    """Harvey–Leybourne–Newbold correction sqrt((n + 1 − 2h + h(h − 1)/n) / n)."""
    return float(np.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n))


@dataclass(frozen=True)
class DMResult:
    """A two-sided HLN-corrected Diebold–Mariano test of forecast 1 against forecast 2."""

    statistic: float  # > 0: forecast 2 has the smaller loss
    p_value: float  # two-sided, Student t with n − 1 df; NaN for a constant differential
    n: int
    h: int
    mean_loss_diff: float  # mean(L1 − L2), in the errors' units

    def verdict(self, alpha: float = LEVEL_ALPHA) -> str:
        """From forecast 2's side: "better", "worse", or "level" (not significant at ``alpha``, or untestable)."""
        if not np.isfinite(self.p_value) or self.p_value >= alpha:
            return "level"
        return "better" if self.statistic > 0 else "worse"


def dm_hln(e1: np.ndarray, e2: np.ndarray, h: int = 1) -> DMResult:
    """Two-sided DM test with the HLN correction on absolute errors: e1, e2 (n,) or (n, m) errors of two
    forecasts on the same n origins (with m leads, each origin's loss is its mean absolute error)."""
    e1, e2 = np.asarray(e1, dtype=np.float64), np.asarray(e2, dtype=np.float64)
    if e1.shape != e2.shape or e1.ndim not in (1, 2):
        raise ValueError(f"dm_hln: e1 and e2 must share one (n,) or (n, leads) shape, got {e1.shape}, {e2.shape}")
    d = np.abs(e1) - np.abs(e2)
    d = d.mean(1) if d.ndim == 2 else d  # (n,)
    n = d.shape[0]
    if n < 3 or h >= n:
        return DMResult(float("nan"), float("nan"), n, h, float(d.mean()) if n else float("nan"))
    stat = float(dm_statistic(d, h)) * hln_factor(n, h)
    p = float(2.0 * student_t.sf(abs(stat), df=n - 1)) if np.isfinite(stat) else float("nan")
    return DMResult(stat, p, n, h, float(d.mean()))


def compare(y: np.ndarray, medians: dict[str, np.ndarray], head: str, h: int = 1,
            alpha: float = LEVEL_ALPHA) -> dict[str, dict]:
    """The ``head`` forecast against every other one on the same origins: y and each median (n, leads).
    {contender: {statistic, p_value, n, h, mae_diff (contender − head), verdict}}, the verdict from the head's
    side ("better", "worse", "level"); JSON-ready (None for an untestable p)."""
    e_head = medians[head] - y
    out = {}
    for name, med in medians.items():
        if name == head:
            continue
        r = dm_hln(med - y, e_head, h)
        out[name] = {"statistic": None if not np.isfinite(r.statistic) else round(r.statistic, 4),
                     "p_value": None if not np.isfinite(r.p_value) else float(f"{r.p_value:.4g}"),
                     "n": r.n, "h": r.h, "mae_diff": float(f"{r.mean_loss_diff:.6g}"), "verdict": r.verdict(alpha)}
    return out
