"""TiDE-style dense encoder/decoder forecaster (Das et al., 2023, "Long-term Forecasting with TiDE").

History (L steps × F_hist channels) and known-future covariates (H × F_fut)
are projected per step to a few dimensions, flattened with the raw target
history, encoded by residual MLP blocks, decoded to H per-step vectors, and a
per-step temporal decoder combines each with that hour's covariates to emit Q
quantiles. A linear skip from the target history is added to the median.

With ``anchor=(i_hist, i_fut)`` the model learns a *residual* on top of an
anchor channel (for power: the physics-expected power of the schedule as
planned): the median starts from the anchor's future values plus a linear map
of the recent gap between target and anchor, so the network spends its
capacity on the plan-versus-meter gap rather than on reproducing the plan.
With ``bounds=(low, high)`` every quantile lies in [low, high] by construction (for power: 0 and the
site's capacity, in capacity units), and quantiles stay non-crossing.
Every op is a batched matmul: it trains fast on a GPU and exports as a plain
tensor-in/tensor-out module.
"""

from __future__ import annotations

import torch
from torch import nn

from forecast.models.quantile import monotone_quantiles


class ResidualBlock(nn.Module):
    def __init__(self, d_in: int, d_hidden: int, d_out: int, dropout: float = 0.1, layer_norm: bool = True):
        super().__init__()
        self.dense = nn.Sequential(nn.Linear(d_in, d_hidden), nn.GELU(), nn.Linear(d_hidden, d_out), nn.Dropout(dropout))
        self.skip = nn.Linear(d_in, d_out)
        self.norm = nn.LayerNorm(d_out) if layer_norm else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.dense(x) + self.skip(x))


class TiDE(nn.Module):
    """x_hist (B, L, F_hist), x_fut (B, H, F_fut) -> quantiles (B, H, Q). Channel 0 of x_hist is the target."""

    def __init__(self, history: int, horizon: int, n_hist: int, n_fut: int, n_quantiles: int = 3,
                 median_index: int = 1, hidden: int = 256, n_encoder: int = 2, n_decoder: int = 1,
                 proj_dim: int = 4, decoder_dim: int = 16, temporal_hidden: int = 64, dropout: float = 0.1,
                 anchor: tuple[int, int] | None = None, bounds: tuple[float, float] | None = None):
        super().__init__()
        self.anchor = tuple(anchor) if anchor is not None else None
        if bounds is not None and not bounds[0] < bounds[1]:
            raise ValueError(f"bounds must be (low, high) with low < high, got {bounds}")
        self.bounds = tuple(float(b) for b in bounds) if bounds is not None else None
        self.history, self.horizon, self.n_quantiles, self.median_index = history, horizon, n_quantiles, median_index
        self.decoder_dim = decoder_dim
        # history covariates: a linear per-step projection (the encoder MLP adds the non-linearity);
        # a per-step MLP over L steps costs more in memory traffic than the whole encoder
        self.hist_proj = nn.Linear(n_hist - 1, proj_dim)
        self.fut_proj = ResidualBlock(n_fut, temporal_hidden, proj_dim, dropout)
        d_in = history * (2 if anchor else 1) + history * proj_dim + horizon * proj_dim
        enc = [ResidualBlock(d_in, hidden, hidden, dropout)] + [ResidualBlock(hidden, hidden, hidden, dropout)
                                                               for _ in range(n_encoder - 1)]
        self.encoder = nn.Sequential(*enc)
        dec = [ResidualBlock(hidden, hidden, hidden, dropout) for _ in range(n_decoder - 1)]
        dec.append(ResidualBlock(hidden, hidden, horizon * decoder_dim, dropout))
        self.decoder = nn.Sequential(*dec)
        self.temporal = ResidualBlock(decoder_dim + proj_dim, temporal_hidden, n_quantiles, dropout, layer_norm=False)
        self.skip = nn.Linear(history, horizon)
        self.register_buffer("median_mask", nn.functional.one_hot(torch.tensor(median_index), n_quantiles).float(),
                             persistent=False)  # (Q,) adds the linear skip to the median only

    def forward(self, x_hist: torch.Tensor, x_fut: torch.Tensor) -> torch.Tensor:
        B = x_hist.shape[0]
        y_hist = x_hist[..., 0]  # (B, L)
        level = y_hist[:, -24:].mean(dim=1, keepdim=True)  # (B, 1) recent level: the model works in deviations
        h_proj = self.hist_proj(x_hist[..., 1:])  # (B, L, P)
        f_proj = self.fut_proj(x_fut)  # (B, H, P)
        parts = [y_hist - level]
        if self.anchor is not None:
            gap = y_hist - x_hist[..., self.anchor[0]]  # (B, L) target minus anchor, history
            parts.append(gap)
        z = torch.cat([*parts, h_proj.reshape(B, -1), f_proj.reshape(B, -1)], dim=1)  # (B, L·k + L·P + H·P)
        e = self.decoder(self.encoder(z)).reshape(B, self.horizon, self.decoder_dim)  # (B, H, D)
        raw = self.temporal(torch.cat([e, f_proj], dim=-1))  # (B, H, Q)
        if self.anchor is not None:
            base = x_fut[..., self.anchor[1]] + self.skip(gap)  # (B, H) anchor + persisting gap
        else:
            base = level + self.skip(y_hist - level)  # (B, H)
        raw = raw + self.median_mask.to(raw.dtype) * base.unsqueeze(-1)  # (B, H, Q)
        q = monotone_quantiles(raw, self.median_index)  # (B, H, Q)
        if self.bounds is not None:  # the physical range; clamping a non-decreasing vector keeps it non-decreasing
            q = q.clamp(self.bounds[0], self.bounds[1])
        return q
