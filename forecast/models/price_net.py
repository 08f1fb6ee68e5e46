"""Day-ahead price network, monotone non-decreasing in each hour's own load forecast by construction.

Inputs (on the calibration window's asinh-normalised scale, see forecast.price.lear):
- x_free (B, F): the day-level features of day d without day d's load forecasts
  (prices of d−1, d−2, d−3, d−7, exogenous forecasts of d−1 and d−7, day of week);
- x_load (B, 24, K): day d's K load forecasts per hour.
Output (E, B, 24, Q): non-crossing quantiles of the transformed price of each hour, from
each of E members.

Structure, per member and per hour h:
  c      = MLP(x_free)                                   (day context)
  z_h    = act(c + Σ_{h'≠h} W_{h'} x_load[h'] + b_h)      (hour context: sees every hour's
                                                          load except its own)
  raw_h  = head_h(z_h)                                    (median and spreads)
  med_h += softplus(g(z_h))·x_load[h] + Σ_j softplus(a_j(z_h))·tanh(softplus(s_j)·x_load[h] + c_j(z_h))
So hour h's own load enters only through terms with non-negative gains and
increasing functions, and the quantile spreads do not depend on it: raising
any hour's load forecast never lowers any quantile of that hour's price, in
every member and in their average. The other hours' loads act freely, which
lets the network read the shape of day d's load curve (a constraint across
hours would force every cross-hour effect to be positive).

The members are independent networks (own initialisation and dropout masks)
stored as stacked weights, so one batched matmul trains them all; the pinball
loss averaged over members gives each member exactly its own gradient.
``predict`` averages the members' quantiles (the average keeps them ordered and
monotone).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from forecast.models.quantile import monotone_quantiles


def _uniform(*shape: int, fan_in: int) -> nn.Parameter:
    bound = 1.0 / math.sqrt(fan_in)
    return nn.Parameter(torch.empty(*shape).uniform_(-bound, bound))


def _others_weight(load_w: torch.Tensor, off_diagonal: torch.Tensor) -> torch.Tensor:
    """(E, K, 24, C) per-hour load weights -> (E, 24·K, 24·C): row (h', k) maps load k of hour h' to the
    context of every hour h, with exact zeros where h = h'. One matmul with it gives each hour the sum of
    the other hours' contributions; hour h's own load is multiplied by 0, so it never enters, not even
    through rounding (a total minus the own term would let it in)."""
    E, K, H, C = load_w.shape
    w = load_w.permute(0, 2, 1, 3)[:, :, :, None, :] * off_diagonal[None, :, None, :, None]  # (E, h', K, h, C)
    return w.reshape(E, H * K, H * C)


class FastDropout(nn.Module):
    """Inverted dropout with a uniform-threshold mask (same distribution as nn.Dropout; on CPU several
    times faster than its Bernoulli sampler, which dominated this network's step time)."""

    def __init__(self, p: float):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        return x * (torch.rand_like(x) >= self.p).to(x.dtype) * (1.0 / (1.0 - self.p))


class MemberLinear(nn.Module):
    """E independent linear layers: shared x (B, n_in) or x (E, N, n_in) -> (E, B or N, n_out)."""

    def __init__(self, members: int, n_in: int, n_out: int, bias: bool = True):
        super().__init__()
        self.weight = _uniform(members, n_in, n_out, fan_in=n_in)
        self.bias = nn.Parameter(torch.zeros(members, 1, n_out)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.einsum("bi,eio->ebo", x, self.weight) if x.dim() == 2 else torch.bmm(x, self.weight)
        return y if self.bias is None else y + self.bias


class PriceNet(nn.Module):
    def __init__(self, n_free: int, n_exog: int = 2, levels: tuple[float, ...] = (0.1, 0.5, 0.9),
                 hidden: int = 256, context: int = 128, mono_units: int = 8, dropout: float = 0.1,
                 members: int = 1):
        super().__init__()
        if members < 1:
            raise ValueError(f"PriceNet: members must be >= 1, got {members}")
        self.n_free, self.n_exog, self.levels, self.members = n_free, n_exog, tuple(levels), members
        self.mono_units = mono_units
        self.median_index = self.levels.index(0.5)
        E, K, C, M, Q = members, n_exog, context, mono_units, len(self.levels)
        self.day1 = MemberLinear(E, n_free, hidden)
        self.day2 = MemberLinear(E, hidden, C)
        self.load_w = _uniform(E, K, 24, C, fan_in=24 * K)  # load of hour h' -> context of every hour
        self.hour_b = nn.Parameter(torch.zeros(E, 1, 24, C))
        self.head_w = _uniform(E, 24, C, Q, fan_in=C)
        self.head_b = nn.Parameter(torch.zeros(E, 1, 24, Q))
        self.mono = MemberLinear(E, C, K + 2 * M)  # own-load gains (K), amplitudes (M), centres (M)
        self.slope = nn.Parameter(torch.zeros(E, 1, K, M))
        self.drop = FastDropout(dropout)
        self.register_buffer("off_diagonal", 1.0 - torch.eye(24), persistent=False)  # (h', h)

    def forward(self, x_free: torch.Tensor, x_load: torch.Tensor) -> torch.Tensor:
        """(E, B, 24, Q) quantiles of every member."""
        E, B, K = self.members, x_free.shape[0], self.n_exog
        c = self.day2(self.drop(F.gelu(self.day1(x_free))))  # (E, B, C)
        others = torch.einsum("bi,eio->ebo", x_load.reshape(B, 24 * K), _others_weight(self.load_w, self.off_diagonal))
        z = self.drop(F.gelu(c[:, :, None] + others.reshape(E, B, 24, -1) + self.hour_b))  # (E, B, 24, C), free of own load
        raw = torch.einsum("ebhc,ehcq->ebhq", z, self.head_w) + self.head_b  # (E, B, 24, Q)
        g = self.mono(z.reshape(E, B * 24, -1)).reshape(E, B, 24, -1)
        gain, amp, ctr = g.split([K, self.mono_units, self.mono_units], dim=-1)
        load = x_load[None]  # (1, B, 24, K)
        med = (F.softplus(gain) * load).sum(-1)  # (E, B, 24)
        med = med + (F.softplus(amp) * torch.tanh(load @ F.softplus(self.slope) + ctr)).sum(-1)
        m = self.median_index
        raw = torch.cat([raw[..., :m], raw[..., m:m + 1] + med.unsqueeze(-1), raw[..., m + 1:]], dim=-1)
        return monotone_quantiles(raw, m)

    @torch.no_grad()
    def predict(self, x_free: torch.Tensor, x_load: torch.Tensor) -> torch.Tensor:
        """(B, 24, Q): the members' quantiles averaged."""
        return self(x_free, x_load).mean(0)
