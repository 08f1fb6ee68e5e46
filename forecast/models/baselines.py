"""Baselines on the same windows as the learned model.

- seasonal naive (period 24 h or 168 h): the value one period before the target hour,
  repeated across periods for longer leads;
- physics-only: the schedule as planned at issue time × the power model at design PUE
  (the ``phys_power`` channel).

Their quantiles come from empirical residual quantiles per lead, fitted on
training windows only, so pinball loss and coverage compare like with like.
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


class ResidualQuantiles:
    """Per-lead empirical quantiles of (actual − point) on training windows."""

    def __init__(self, levels: tuple[float, ...]):
        self.levels = tuple(levels)
        self.q: np.ndarray | None = None  # (H, Q)

    def fit(self, point: np.ndarray, y: np.ndarray) -> ResidualQuantiles:
        """point, y: (N, H)."""
        r = y - point
        self.q = np.quantile(r, self.levels, axis=0).T  # (H, Q)
        mi = int(np.argmin(np.abs(np.asarray(self.levels) - 0.5)))
        self.q[:, mi] = 0.0  # the point forecast is the median
        self.q = np.sort(self.q, axis=1)
        return self

    def apply(self, point: np.ndarray) -> np.ndarray:
        """(N, H) -> (N, H, Q)."""
        if self.q is None:
            raise RuntimeError("ResidualQuantiles.apply before fit")
        return point[..., None] + self.q[None, :, :]


