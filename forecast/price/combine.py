"""Combining the price model's members and turning the combination into quantiles, as pure functions of
recorded forecasts: the live model (forecast.price.model) and the validation design
(forecast.price.design) call the same code, so a setting chosen on validation behaves the same on test.

- :func:`error_weights`: per-hour weights ∝ (recent error)^-power in two levels, members within their
  group (LEAR of one transform, a network), then the groups' forecasts against each other;
- :func:`equal_combination`: LEAR members averaged, network medians averaged, mixed 1 − w : w;
- :func:`rolling_combination`: the day-by-day combination of a recorded member history, each day
  weighted by the days before it only;
- :func:`conformal_quantiles`: point + per-hour empirical quantiles of the combination's own errors on
  the last ``window`` days before each day (conformal on recent errors).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MIN_WEIGHT_DAYS = 7  # fewer past days than this: equal weights
MIN_BAND_DAYS = 7  # fewer past errors than this: a degenerate band (warm-up days only)


def error_weights(hist: np.ndarray, y: np.ndarray, labels: Sequence[str], order: int, power: float) -> np.ndarray:
    """Per-hour member weights (M, 24) from past member forecasts ``hist`` (T, M, 24) and actuals ``y``
    (T, 24): error = mean |resid|^order over the T days; weights ∝ error^-power within each group
    (``labels[m]``), then between the groups' combined forecasts. Non-negative, summing to 1 per hour."""
    labels = np.asarray(labels)
    if len(labels) != hist.shape[1]:
        raise ValueError(f"weights: {len(labels)} group labels for {hist.shape[1]} members")

    def inverse_error(resid: np.ndarray) -> np.ndarray:  # (T, n, 24) -> (n, 24), summing to 1 over n
        err = (np.abs(resid) ** order).mean(0)
        w = np.maximum(err, 1e-12) ** -power
        return w / w.sum(0, keepdims=True)

    yy = y[:, None, :]
    names = list(dict.fromkeys(labels.tolist()))
    inner, group_fc = {}, []
    for g in names:
        idx = np.flatnonzero(labels == g)
        inner[g] = inverse_error(hist[:, idx] - yy)
        group_fc.append((inner[g][None] * hist[:, idx]).sum(1))  # (T, 24)
    outer = inverse_error(np.stack(group_fc, axis=1) - yy)  # (G, 24)
    w = np.zeros(hist.shape[1:])
    for j, g in enumerate(names):
        w[labels == g] = outer[j] * inner[g]
    return w


def equal_combination(points: np.ndarray, labels: Sequence[str], net_weight: float) -> np.ndarray:
    """(..., M, 24) member points -> (..., 24): mean of the LEAR members ("lear…" labels) and of the
    networks, mixed (1 − net_weight) : net_weight (a family that is absent leaves the other alone)."""
    lab = np.asarray(labels)
    is_lear = np.char.startswith(lab.astype(str), "lear")
    if is_lear.all() or not is_lear.any():
        return points.mean(-2)
    lin, net = points[..., is_lear, :].mean(-2), points[..., ~is_lear, :].mean(-2)
    return (1 - net_weight) * lin + net_weight * net


def rolling_combination(points: np.ndarray, y: np.ndarray, labels: Sequence[str], combine: str, window: int,
                        power: float, net_weight: float) -> np.ndarray:
    """Combined forecasts (N, 24) of consecutive days from member points (N, M, 24) and actuals (N, 24):
    day i weighted by days i − window … i − 1 only (equal until :data:`MIN_WEIGHT_DAYS` exist)."""
    out = equal_combination(points, labels, net_weight)
    if combine == "equal":
        return out
    order = 2 if combine == "inverse_mse" else 1
    for i in range(MIN_WEIGHT_DAYS, len(points)):
        lo = max(0, i - window)
        w = error_weights(points[lo:i], y[lo:i], labels, order, power)
        out[i] = (w * points[i]).sum(0)
    return out


def conformal_quantiles(y: np.ndarray, point: np.ndarray, levels: Sequence[float], window: int) -> np.ndarray:
    """Quantiles (N, 24, Q) of consecutive days: day i's point plus per-hour empirical quantiles of the
    errors y − point on days i − window … i − 1 (its point alone with fewer than :data:`MIN_BAND_DAYS`).
    The 0.5 level is the point itself (the median's error is the point's); a lower level above the point is
    cut to it, an upper level below it raised to it, so the quantiles never cross."""
    levels = tuple(levels)
    out = np.repeat(point[:, :, None], len(levels), axis=2)
    err = y - point
    for i in range(MIN_BAND_DAYS, len(point)):
        out[i] += np.quantile(err[max(0, i - window):i], levels, axis=0).T
    lv = np.asarray(levels)
    out[..., lv < 0.5] = np.minimum(out[..., lv < 0.5], point[..., None])
    out[..., lv > 0.5] = np.maximum(out[..., lv > 0.5], point[..., None])
    out[..., lv == 0.5] = point[..., None]
    return out
