"""Day-ahead price network, monotone non-decreasing in day d's load forecasts by construction.

Inputs (all on the window's asinh-normalised scale, see forecast.price.lear.Scaler):
- x_hist (B, 7, 24·(1+K)): the seven days d−7 … d−1, each day its 24 prices and
  its 24·K exogenous forecasts (a sequence of days);
- x_fut  (B, 24, K + 7): day d's K load forecasts per hour, then the day-of-week one-hot
  repeated on every hour.
Output (B, 24, Q) non-crossing quantiles of the transformed price.

Why it is monotone in load: the load enters only through
  (1) a layer with softplus (>= 0) weights followed by tanh (increasing) and a
      second softplus-weighted layer, and
  (2) a per-hour linear term whose gain softplus(g(context)) >= 0 depends only
      on the history, not on the load,
and the quantile spreads depend on the history only. So raising any load input
never lowers any quantile of any hour.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from forecast.models.quantile import monotone_quantiles


class PositiveLinear(nn.Module):
    """y = x · softplus(W) (+ b): non-decreasing in every input."""

    def __init__(self, n_in: int, n_out: int, bias: bool = True):
        super().__init__()
        self.raw = nn.Parameter(torch.randn(n_in, n_out) * 0.1 - 2.0)
        self.bias = nn.Parameter(torch.zeros(n_out)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x @ F.softplus(self.raw)
        return y if self.bias is None else y + self.bias


class PriceNet(nn.Module):
    def __init__(self, n_exog: int = 2, levels: tuple[float, ...] = (0.1, 0.5, 0.9), hidden: int = 256,
                 mono_hidden: int = 64, dropout: float = 0.1):
        super().__init__()
        self.n_exog, self.levels = n_exog, tuple(levels)
        self.median_index = self.levels.index(0.5)
        Q = len(self.levels)
        n_hist = 7 * 24 * (1 + n_exog)
        self.encoder = nn.Sequential(
            nn.Linear(n_hist + 7, hidden), nn.GELU(), nn.Dropout(dropout),
            nn.Linear(hidden, hidden), nn.GELU(), nn.Dropout(dropout),
        )
        self.base = nn.Linear(hidden, 24 * Q)  # context-only part: median and spreads
        self.shift = nn.Linear(hidden, mono_hidden)  # context moves the monotone layer's thresholds
        self.mono_in = PositiveLinear(24 * n_exog, mono_hidden, bias=False)
        self.mono_out = PositiveLinear(mono_hidden, 24, bias=False)
        self.gain = nn.Linear(hidden, 24 * n_exog)

    def forward(self, x_hist: torch.Tensor, x_fut: torch.Tensor) -> torch.Tensor:
        B = x_hist.shape[0]
        K = self.n_exog
        load = x_fut[..., :K]  # (B, 24, K)
        dow = x_fut[:, 0, K:]  # (B, 7)
        h = self.encoder(torch.cat([x_hist.reshape(B, -1), dow], dim=-1))  # (B, hidden)
        raw = self.base(h).reshape(B, 24, -1)  # (B, 24, Q)
        flat = load.reshape(B, 24 * K)  # (B, 24·K)
        mono = self.mono_out(torch.tanh(self.mono_in(flat) + self.shift(h)))  # (B, 24)
        gain = F.softplus(self.gain(h)).reshape(B, 24, K)  # (B, 24, K) >= 0
        mono = mono + (gain * load).sum(-1)  # (B, 24)
        m = self.median_index
        raw = torch.cat([raw[..., :m], raw[..., m:m + 1] + mono.unsqueeze(-1), raw[..., m + 1:]], dim=-1)
        return monotone_quantiles(raw, m)  # (B, 24, Q)
