"""The price-response interface the pledge accounting uses (DOMAIN.md §2).

A price response is S_h(L): the hourly price ($/MWh) as a function of system
load L (MW), which may depend on the hour (time of day, season) and carries
parameter uncertainty as a set of joint draws. Implementations: a configured
parametric supply curve (stand-in until a fitted one exists) and the curve
fitted on market data. Both must be non-decreasing in load.

    ΔP_h = S_h(L_h) − S_h(L_h − D_h + G_h)
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd


@runtime_checkable
class PriceResponse(Protocol):
    def price(self, load_mw: np.ndarray, ts: pd.DatetimeIndex, draw: np.ndarray | None = None) -> np.ndarray:
        """Price in $/MWh for system load ``load_mw`` of shape (..., T) at hours ``ts`` (T,).

        ``draw``: None for the central curve, or int indices (N,) into the
        parameter draws, in which case ``load_mw`` must broadcast against
        (N, ..., T) and the result has that shape. Non-decreasing in load.
        """
        ...

    @property
    def n_draws(self) -> int:
        """How many joint parameter draws ``price`` accepts (>= 1)."""
        ...


def delta_price(curve: PriceResponse, load_mw: np.ndarray, draw_mw: np.ndarray, ts: pd.DatetimeIndex,
                new_gen_mw: np.ndarray | float = 0.0, draw: np.ndarray | None = None) -> np.ndarray:
    """ΔP = S(L) − S(L − D + G) per hour, $/MWh; zero where D = G."""
    load_mw = np.asarray(load_mw, dtype=np.float64)
    without = load_mw - np.asarray(draw_mw, dtype=np.float64) + np.asarray(new_gen_mw, dtype=np.float64)
    return curve.price(load_mw, ts, draw) - curve.price(without, ts, draw)
