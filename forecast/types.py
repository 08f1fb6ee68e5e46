"""Named types for the things the pipeline passes around (not bare ints and floats)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NewType

import pandas as pd

HorizonH = NewType("HorizonH", int)
"""Lead in hours: horizon_h = 1 is the hour beginning at the issue time."""

IssueTime = NewType("IssueTime", pd.Timestamp)
"""Time a forecast is issued (tz-aware UTC, on the hour). Only data known at or before it is used."""


@dataclass(frozen=True)
class Quantiles:
    """Quantile levels, strictly increasing in (0, 1); column names p10, p50, p90 …"""

    levels: tuple[float, ...] = (0.1, 0.5, 0.9)

    def __post_init__(self):
        lv = tuple(float(q) for q in self.levels)
        if not lv or any(not 0.0 < q < 1.0 for q in lv) or any(b <= a for a, b in zip(lv, lv[1:])):
            raise ValueError(f"quantile levels must be strictly increasing in (0, 1), got {self.levels}")
        if 0.5 not in lv:
            raise ValueError(f"quantile levels must include the median 0.5, got {self.levels}")
        object.__setattr__(self, "levels", lv)

    @property
    def columns(self) -> list[str]:
        return [quantile_column(q) for q in self.levels]

    @property
    def median_index(self) -> int:
        return self.levels.index(0.5)

    def __len__(self) -> int:
        return len(self.levels)


def quantile_column(q: float) -> str:
    """0.1 -> 'p10', 0.5 -> 'p50', 0.025 -> 'p2.5'."""
    pct = round(q * 100, 6)
    return f"p{int(pct)}" if float(pct).is_integer() else f"p{pct:g}"
