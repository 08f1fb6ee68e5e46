"""Known-future covariates in compact form: the schedule as planned at every issue time for every lead,
held in O(T × C + plan versions) memory, independent of the horizon, and expanded per batch of windows.

Hours of one series are 0 … T−1 (issue hour i, target hour j = i + h, lead h = 0 … H−1). fut(i, j) is
the schedule for hour j as planned at issue i. A schedule made of rectangles — w added to target hours
[a, b) as planned at issue hours [k, k_end) — is, for i <= j,

    fut(i, j) = lead0(j) + Σ_e w_e [i < τ_e <= j] [lo_e <= j < hi_e]

where lead0(j) = fut(j, j) is the schedule for hour j as planned at j, and every rectangle gives two
events: τ = k with −w (in force at j, not yet at i) and τ = k_end with +w (in force at i, superseded by
j), on target hours lo = max(τ, a) … hi = b. The windows issued at i ∈ [τ − H + 1, τ − 1] see an event,
on their leads [lo − i, hi − i) ∩ [0, H); events no window of horizon H can see are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

DENSE_CHUNK = 2048  # windows expanded at a time by KnownFuture.dense


@dataclass
class KnownFuture:
    """One series' known-future channels: lead 0 per hour plus the events that revise it (sorted by τ)."""

    lead0: np.ndarray  # (T + H, C) float32 schedule for hour j as planned at j (past the end: as planned then)
    tau: np.ndarray  # (E,) int64 first issue hour that sees the change, sorted; 1 <= τ <= T + H − 2
    lo: np.ndarray  # (E,) int64 first target hour changed, lo >= τ
    hi: np.ndarray  # (E,) int64 end target hour (exclusive), lo < hi <= τ + H − 1
    chan: np.ndarray  # (E,) int64 channel
    w: np.ndarray  # (E,) float32 added to fut(i, j) for i < τ <= j and lo <= j < hi
    n: int  # T: issue hours

    @property
    def horizon(self) -> int:
        return len(self.lead0) - self.n

    @property
    def channels(self) -> int:
        return self.lead0.shape[1]

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.lead0, self.tau, self.lo, self.hi, self.chan, self.w))

    @classmethod
    def from_lead0(cls, lead0: np.ndarray, n: int) -> KnownFuture:
        """A known future that is never revised: fut(i, j) = lead0(j); ``lead0`` (n + H, C)."""
        e = np.zeros(0, np.int64)
        return cls(np.asarray(lead0, np.float32), e, e, e, e, np.zeros(0, np.float32), n)

    @classmethod
    def from_rectangles(cls, a: np.ndarray, b: np.ndarray, k: np.ndarray, k_end: np.ndarray, w: np.ndarray,
                        n: int, horizon: int, offset: np.ndarray) -> KnownFuture:
        """Rectangles (R,) [a, b) × [k, k_end) with weights ``w`` (R, C), plus a constant ``offset`` (C,),
        for ``n`` issue hours and leads 0 … horizon−1."""
        T1, C = n + horizon, w.shape[1]
        live = k < k_end  # a version superseded within its first hour is never in force
        a, b, k, k_end, w = a[live], b[live], k[live], k_end[live], w[live]
        # lead 0: hour j as planned at j, i.e. j in [k, k_end) and in [a, b)
        s, e = np.clip(np.maximum(k, a), 0, T1), np.clip(np.minimum(k_end, b), 0, T1)
        m = s < e
        diff = np.zeros((T1 + 1, C))
        np.add.at(diff, s[m], w[m])
        np.add.at(diff, e[m], -w[m])
        lead0 = np.cumsum(diff, axis=0)[:T1] + offset
        r, c = np.nonzero(w)  # one event pair per rectangle and channel it weighs on
        tau = np.concatenate([k[r], k_end[r]])
        wv = np.concatenate([-w[r, c], w[r, c]])
        lo = np.maximum(tau, np.tile(a[r], 2))
        hi = np.minimum(np.minimum(np.tile(b[r], 2), tau + horizon - 1), T1 - 1)
        keep = (tau >= 1) & (lo < hi)
        order = np.argsort(tau[keep], kind="stable")
        pick = lambda x: x[keep][order]  # noqa: E731
        return cls(lead0.astype(np.float32), pick(tau), pick(lo), pick(hi), pick(np.tile(c, 2)).astype(np.int64),
                   pick(wv).astype(np.float32), n)

    @classmethod
    def from_dense(cls, fut: np.ndarray) -> KnownFuture:
        """The compact form of a materialised (T, H, C) array ``fut[i, h]`` (hour i + h as planned at i):
        one event per hour, lead and channel where the plan for an hour changed from one issue to the next."""
        T, H, C = fut.shape
        f = np.asarray(fut, np.float64)
        lead0 = np.concatenate([f[:, 0], f[-1, 1:], f[-1, -1:]]) if T else np.zeros((H, C))
        d = f[:-1, 1:] - f[1:, :-1]  # (T−1, H−1, C): [τ−1, j−τ] = fut(τ−1, j) − fut(τ, j)
        t, h, c = np.nonzero(d)
        tau = t.astype(np.int64) + 1
        return cls(lead0.astype(np.float32), tau, tau + h, tau + h + 1, c.astype(np.int64),
                   d[t, h, c].astype(np.float32), T)

    def at(self, i: np.ndarray) -> np.ndarray:
        """(len(i), H, C) float32: the schedule for hours i … i+H−1 as planned at issue hours ``i`` (0 <= i < T)."""
        t = lambda x: torch.from_numpy(np.ascontiguousarray(x))  # noqa: E731
        g = t(np.asarray(i, np.int64).reshape(-1))
        return expand(t(self.lead0), t(self.tau), t(self.lo), t(self.hi), t(self.chan), t(self.w), g,
                      self.horizon).numpy()

    def dense(self) -> np.ndarray:
        """(T, H, C) float32: the materialised array, fut[i, h] = hour i + h as planned at i."""
        out = np.zeros((self.n, self.horizon, self.channels), np.float32)
        for s in range(0, self.n, DENSE_CHUNK):
            out[s:s + DENSE_CHUNK] = self.at(np.arange(s, min(s + DENSE_CHUNK, self.n)))
        return out


def expand(lead0: torch.Tensor, tau: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor, chan: torch.Tensor,
           w: torch.Tensor, g: torch.Tensor, horizon: int) -> torch.Tensor:
    """(B, H, C) windows of known-future channels at issue indices ``g`` (B,), all tensors on one device.

    ``lead0`` (N, C) covers g … g+H−1; the events (E,) sorted by ``tau``, on the same index axis as g.
    Window b gets lead0[g_b + h] plus each event with g_b < τ <= g_b + H − 1 on leads [lo − g_b, hi − g_b):
    the (window, event) pairs found with searchsorted, scattered as ±w into a difference buffer over
    leads, summed with one cumsum — no loop over windows.
    """
    B, H, C, dev = len(g), horizon, lead0.shape[1], lead0.device
    first = torch.searchsorted(tau, g, right=True)  # (B,) first event with τ > g
    count = torch.searchsorted(tau, g + (H - 1), right=True) - first  # (B,) events with g < τ <= g + H − 1
    row = torch.repeat_interleave(torch.arange(B, device=dev), count)  # (P,) window of each pair
    e = first[row] + torch.arange(len(row), device=dev) - (torch.cumsum(count, 0) - count)[row]  # (P,) event
    gr, we = g[row], w[e].to(lead0.dtype)
    key = row * ((H + 1) * C) + chan[e]  # (P,) flat index of lead 0, channel of the pair in the buffer
    s = (lo[e] - gr).clamp_(max=H)  # >= 1: τ > g
    t = (hi[e] - gr).clamp_(max=H)
    diff = torch.zeros(B * (H + 1) * C, dtype=lead0.dtype, device=dev)
    diff.index_add_(0, torch.cat([key + s * C, key + t * C]), torch.cat([we, -we]))
    x = lead0.unfold(0, H, 1).transpose(1, 2).index_select(0, g)  # (B, H, C): lead0[g + h]
    return x.add_(diff.view(B, H + 1, C).cumsum(1)[:, :H])
