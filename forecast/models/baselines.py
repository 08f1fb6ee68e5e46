"""Baselines on the same windows as the learned model.

- seasonal naive (period 24 h or 168 h): the value one period before the target hour,
  repeated across periods for longer leads;
- physics-only: the schedule as planned at issue time × the power model at design PUE
  (the ``phys_power`` channel).

Their quantiles come from empirical residual quantiles per lead, fitted on
training windows only, so pinball loss and coverage compare like with like. The
median follows each baseline's own definition (``CENTER``): a seasonal naive's
median is its point forecast exactly (the lagged value), the physics baseline's
is its point plus its own median residual (a biased design PUE is corrected).
"""

from __future__ import annotations


import numpy as np
import torch

from forecast.data.features import PHYS


def seasonal_naive(x_hist: torch.Tensor, horizon: int, period: int) -> torch.Tensor:
    """x_hist (B, L, F) with the target in channel 0 -> (B, H): y[t+h − period·ceil((h+1)/period)]."""
    L = x_hist.shape[1]
    if period > L:
        raise ValueError(f"seasonal period {period} h exceeds the history of {L} h")
    h = torch.arange(horizon, device=x_hist.device)
    lag = period * torch.ceil((h + 1) / period).long()  # (H,)
    if int(lag.max()) - horizon + 1 > L:
        raise ValueError(f"history of {L} h too short for period {period} at horizon {horizon}")
    idx = L + h - lag  # (H,) index into the history
    return x_hist[:, idx, 0]  # (B, H)


def physics(x_fut: torch.Tensor) -> torch.Tensor:
    """x_fut (B, H, F) -> (B, H) expected power from the schedule channel (model units)."""
    return x_fut[..., PHYS]


BASELINES = {
    "seasonal_naive_24h": lambda b, H: seasonal_naive(b["x_hist"], H, 24),
    "seasonal_naive_168h": lambda b, H: seasonal_naive(b["x_hist"], H, 168),
    "physics": lambda b, H: physics(b["x_fut"]),
}


CENTERS = ("exact", "residual")
# How each baseline's median is placed: "exact" = the point forecast itself, "residual" = point + median residual.
CENTER = {"seasonal_naive_24h": "exact", "seasonal_naive_168h": "exact", "physics": "residual"}


class ResidualQuantiles:
    """Per-lead empirical quantiles of (actual − point) on training windows.

    ``center="exact"``: the median offset is 0, offsets below it are ≤ 0 and above it ≥ 0 (a residual
    quantile on the wrong side of 0 is cut to 0), so the median equals the point forecast bit for bit.
    ``center="residual"``: every offset, the median's included, is the residual quantile itself.
    Both are non-decreasing in the level without sorting, so no quantile moves to another level."""

    def __init__(self, levels: tuple[float, ...], center: str = "exact"):
        if center not in CENTERS:
            raise ValueError(f"ResidualQuantiles: center must be one of {', '.join(CENTERS)}, got {center!r}")
        self.levels, self.center = tuple(levels), center
        self.q: np.ndarray | None = None  # (H, Q)

    def fit(self, point: np.ndarray, y: np.ndarray) -> ResidualQuantiles:
        """point, y: (N, H); NaN targets are left out."""
        r = np.asarray(y, np.float64) - np.asarray(point, np.float64)
        qf = np.nanquantile if np.isnan(r).any() else np.quantile  # same values; quantile is the fast path
        q = qf(r, self.levels, axis=0).T  # (H, Q), non-decreasing along Q
        if self.center == "exact":
            lv = np.asarray(self.levels)
            mi = int(np.argmin(np.abs(lv - 0.5)))
            q = np.where(lv < lv[mi], np.minimum(q, 0.0), np.maximum(q, 0.0))
            q[:, mi] = 0.0  # the point forecast is the median
        self.q = q
        return self

    def apply(self, point: np.ndarray) -> np.ndarray:
        """(N, H) -> (N, H, Q)."""
        if self.q is None:
            raise RuntimeError("ResidualQuantiles.apply before fit")
        return point[..., None] + self.q[None, :, :]  # with "exact", point + 0.0: the median is the point


