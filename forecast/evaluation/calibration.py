"""Split-conformal calibration of quantile forecasts, the same step for every contender.

A contender is fitted on training windows that end before the validation period, forecasts the
validation windows (the most recent pre-origin windows, targets ending before the refit time) and the
test origins; the offsets of its outer quantiles from its median are scaled by factors fitted on the
validation residuals so that 10% of them fall below P10 and 10% above P90. The median is never moved.
Leakage-free: the validation windows end before the refit time. After calibration, :func:`clamp`
keeps every quantile inside the series' physical range (e.g. no negative power); clamping is monotone,
so the quantiles stay sorted.
"""

from __future__ import annotations

import numpy as np


def calibration_factors(q: np.ndarray, y: np.ndarray, mi: int, target: float = 0.1) -> tuple[float, float]:
    """Scale factors (lo, hi) for the outer quantile offsets so that a share ``target`` of ``y`` falls
    below the scaled lowest quantile and the same share above the highest. q (N, H, Q), y (N, H)."""
    med = q[..., mi]
    d_lo = np.maximum(med - q[..., 0], 1e-9)
    d_hi = np.maximum(q[..., -1] - med, 1e-9)
    c_lo = float(np.quantile((med - y) / d_lo, 1 - target))
    c_hi = float(np.quantile((y - med) / d_hi, 1 - target))
    return float(np.clip(c_lo, 0.1, 20.0)), float(np.clip(c_hi, 0.1, 20.0))


def apply_calibration(q: np.ndarray, mi: int, c_lo: float, c_hi: float,
                      bounds: tuple[float, float] | None = None) -> np.ndarray:
    """Scale offsets below / above the median by c_lo / c_hi (inner quantiles proportionally); stays sorted.
    With ``bounds`` (the model's physical range) the stretched quantiles are clamped back into it, which keeps
    them sorted: a stretch never takes a power forecast below 0 or above the site's ceiling."""
    med = q[..., mi: mi + 1]
    out = q.copy()
    out[..., :mi] = med + c_lo * (q[..., :mi] - med)
    out[..., mi + 1:] = med + c_hi * (q[..., mi + 1:] - med)
    if bounds is not None:
        np.clip(out, bounds[0], bounds[1], out=out)
    return out


def conformalize(q: np.ndarray, q_val: np.ndarray, y_val: np.ndarray, mi: int,
                 bounds: tuple[float, float] | None = None) -> tuple[np.ndarray, tuple[float, float]]:
    """q (n, H, Q) test quantiles calibrated with factors fitted on q_val (m, H, Q) against y_val (m, H);
    returns the calibrated quantiles and the factors (lo, hi). Validation windows with a missing target
    hour are left out; none left: factors (1, 1)."""
    ok = np.isfinite(y_val).all(axis=1) & np.isfinite(q_val).all(axis=(1, 2))
    c = calibration_factors(q_val[ok], y_val[ok], mi) if ok.any() else (1.0, 1.0)
    return apply_calibration(q, mi, *c, bounds=bounds), c


def clamp(q: np.ndarray, lower: float | None = None, upper: float | None = None) -> np.ndarray:
    """Quantiles clipped into [lower, upper] (either may be None); keeps their order."""
    if lower is None and upper is None:
        return q
    return np.clip(q, -np.inf if lower is None else lower, np.inf if upper is None else upper)
