"""Shared pieces of the cluster-trace readers: the read report and checked CSV, number and time parsing.

Every check raises :class:`forecast.errors.ContractError` naming the file, the column and the rows;
nothing is dropped silently. Times come out tz-aware UTC.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forecast.errors import ContractError


@dataclass
class ReadReport:
    """What a reader did: rows in and out, rows excluded by reason, and notes on assumptions.

    ``excluded`` maps a reason to a row count; ``flagged`` maps a reason to a count
    of rows kept but marked (e.g. suspect values); ``values`` holds derived
    numbers a user should see (e.g. an estimated initial level).
    """

    source: str
    n_rows_in: int
    n_rows_out: int = 0
    excluded: dict[str, int] = field(default_factory=dict)
    flagged: dict[str, int] = field(default_factory=dict)
    values: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def n_excluded(self) -> int:
        return int(sum(self.excluded.values()))

    def summary(self) -> str:
        """One human-readable paragraph."""
        parts = [f"{self.source}: {self.n_rows_in} rows in, {self.n_rows_out} out"]
        if self.excluded:
            parts.append("excluded " + ", ".join(f"{k}={v}" for k, v in self.excluded.items()))
        if self.flagged:
            parts.append("flagged " + ", ".join(f"{k}={v}" for k, v in self.flagged.items()))
        if self.values:
            parts.append(", ".join(f"{k}={v:g}" for k, v in self.values.items()))
        return "; ".join(parts) + "".join(f"\n  - {n}" for n in self.notes)


def read_csv(path: str | os.PathLike, required: list[str]) -> pd.DataFrame:
    """Read a CSV with stripped column names; a missing file or a missing ``required`` column is an error."""
    src = str(path)
    if not os.path.exists(src):
        raise FileNotFoundError(f"{src}: no such file")
    df = pd.read_csv(src)
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ContractError(src, ", ".join(missing), f"missing; found columns {list(df.columns)}")
    return df


def numeric(df: pd.DataFrame, cols: list[str], src: str, nullable: bool = False, min_value: float | None = 0.0):
    """Columns ``cols`` as float64 in place (and returned): text, missing (unless ``nullable``) and values
    below ``min_value`` are errors naming the rows."""
    for c in cols:
        raw = df[c]
        out = pd.to_numeric(raw, errors="coerce")
        bad = out.isna() & raw.notna()
        if bad.any():
            raise ContractError(src, c, f"not a number ({int(bad.sum())} rows)", df.loc[bad, [c]])
        if not nullable and out.isna().any():
            raise ContractError(src, c, f"missing values ({int(out.isna().sum())} rows)", df.loc[out.isna(), [c]])
        if min_value is not None:
            neg = out < min_value
            if neg.any():
                raise ContractError(src, c, f"values below {min_value:g} ({int(neg.sum())} rows)", df.loc[neg, [c]])
        df[c] = out.astype("float64")
    return df


def naive_times(df: pd.DataFrame, col: str, src: str, tz: str) -> pd.Series:
    """Parse naive wall-clock times and localise them to ``tz`` (then UTC). Offsets in the text are an error."""
    txt = df[col].astype(str).str.strip()
    t = pd.to_datetime(txt, errors="coerce", format="ISO8601")
    bad = t.isna()
    if bad.any():
        raise ContractError(src, col, f"unparseable timestamps ({int(bad.sum())} rows)", df.loc[bad, [col]])
    if getattr(t.dt, "tz", None) is not None:
        raise ContractError(src, col, "timestamps carry a UTC offset; this trace is expected naive")
    try:
        return t.dt.tz_localize(tz, ambiguous="raise", nonexistent="raise").dt.tz_convert("UTC")
    except (ValueError, TypeError) as e:  # DST fold or gap in the chosen zone
        raise ContractError(src, col, f"wall-clock time not valid in zone {tz!r} ({e})") from None


def check_regular(t: pd.Series, step: pd.Timedelta, src: str, col: str, df: pd.DataFrame) -> np.ndarray:
    """Strictly increasing on a ``step`` grid; returns a bool mask of rows that follow a gap."""
    d = t.diff()
    back = (d <= pd.Timedelta(0)).to_numpy()
    if back.any():
        raise ContractError(src, col, f"timestamps not strictly increasing (duplicated or out of order, {int(back.sum())} rows)",
                            df.loc[back, [col]])
    off = ((t - t.iloc[0]) % step != pd.Timedelta(0)).to_numpy()
    if off.any():
        raise ContractError(src, col, f"timestamps off the {step} grid ({int(off.sum())} rows)", df.loc[off, [col]])
    return (d > step).to_numpy()
