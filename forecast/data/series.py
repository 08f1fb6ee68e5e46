"""Generic meter-series loader: a CSV at any regular step ≤ 1 h → hourly means.

Used by ``forecast series-bench``. Rules:

- Timestamps with a UTC offset (``+02:00``, ``Z``) are converted to UTC.
  Timestamps **without** an offset are taken to be UTC (write offsets if your
  clock is local: local clocks repeat and skip hours at DST changes, which
  then show up here as duplicates or gaps). Mixing the two is an error.
- The step is the most common spacing; it must be ≤ 1 h and divide an hour
  (1, 5, 10, 15, 30, 60 min …). Every spacing must be a whole multiple of it
  (a longer spacing is a gap); duplicates and other spacings are errors.
- Values are averaged into hour-beginning hourly means. An hour with some
  readings is the mean of those (counted as partial); an hour with none is
  NaN and listed in the report's gaps. Nothing is filled.
- Bad input raises :class:`forecast.errors.ContractError` naming file, column, rows.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forecast.errors import ContractError

HOUR = pd.Timedelta(hours=1)
_OFFSET = re.compile(r"(?:Z|[+-]\d{2}:?\d{2}|UTC|GMT)\s*$", re.IGNORECASE)


@dataclass
class SeriesReport:
    """What the loader saw: input step, hours out, partial hours and gaps (start, end, n_hours) per column."""

    source: str
    step: pd.Timedelta
    n_rows: int
    n_hours: int
    naive_as_utc: bool
    partial_hours: dict[str, int] = field(default_factory=dict)
    gaps: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["column", "start", "end", "n_hours"]))

    @property
    def n_missing_hours(self) -> dict[str, int]:
        return {c: int(g["n_hours"].sum()) for c, g in self.gaps.groupby("column")}


def load_hourly_series(path: str | os.PathLike, timestamp: str, target: str,
                       known_future: list[str] | tuple[str, ...] = (),
                       assume_tz: str = "") -> tuple[pd.DataFrame, SeriesReport]:
    """Read ``path`` and return (hourly frame indexed by UTC ``ts``, report).

    Columns of the frame: ``target`` then each ``known_future`` column, hourly
    means (float). The index runs from the first to the last hour with data,
    every hour present; missing hours are NaN and reported, never filled.
    """
    src = str(path)
    if not os.path.exists(src):
        raise FileNotFoundError(f"{src}: no such file")
    df = pd.read_csv(src, dtype=str, keep_default_na=True, na_values=["", "NA", "NaN", "nan", "null"])
    df.columns = [str(c).strip() for c in df.columns]
    cols = [target, *known_future]
    missing = [c for c in [timestamp, *cols] if c not in df.columns]
    if missing:
        raise ContractError(src, ", ".join(missing), f"not in the file; found columns {list(df.columns)}")
    if len(set(cols)) != len(cols) or timestamp in cols:
        raise ContractError(src, timestamp, "timestamp, target and known-future columns must be distinct")
    if df.empty:
        raise ContractError(src, timestamp, "no data rows")
    ts, naive = _parse_times(df, timestamp, src, assume_tz)
    vals = {}
    for c in cols:
        v = pd.to_numeric(df[c], errors="coerce")
        bad = v.isna() & df[c].notna()
        if bad.any():
            raise ContractError(src, c, f"not a number ({int(bad.sum())} rows)", df.loc[bad, [timestamp, c]])
        vals[c] = v.to_numpy(dtype=np.float64)
    x = pd.DataFrame(vals, index=pd.DatetimeIndex(ts, name="ts"))
    order = np.argsort(x.index.asi8, kind="stable")
    x = x.iloc[order]
    raw_rows = df.iloc[order]
    step = _check_spacing(x.index, raw_rows, timestamp, src)
    hour = x.index.floor("h")
    g = x.groupby(hour)
    means = g.mean()
    counts = g.count()  # (hours, columns): finite readings per hour
    per_hour = int(HOUR / step)
    grid = pd.date_range(means.index[0], means.index[-1], freq="h", name="ts")
    out = means.reindex(grid)
    counts = counts.reindex(grid).fillna(0).astype(int)
    rep = SeriesReport(src, step, len(df), len(out), naive)
    gaps = []
    for c in cols:
        rep.partial_hours[c] = int(((counts[c] > 0) & (counts[c] < per_hour)).sum())
        gaps.append(_runs(out[c].isna().to_numpy(), grid, c))
    rep.gaps = pd.concat(gaps, ignore_index=True) if gaps else rep.gaps
    if out[target].notna().sum() == 0:
        raise ContractError(src, target, "no readings at all")
    return out, rep


def _parse_times(df: pd.DataFrame, col: str, src: str, assume_tz: str = "") -> tuple[pd.DatetimeIndex, bool]:
    """UTC times of ``col``; times without an offset are refused unless ``assume_tz`` names their zone."""
    txt = df[col].astype(str).str.strip()
    empty = df[col].isna()
    if empty.any():
        raise ContractError(src, col, f"missing timestamps ({int(empty.sum())} rows)", df.loc[empty, [col]])
    has = txt.str.contains(_OFFSET)
    if has.any() and not has.all():
        raise ContractError(src, col, "some timestamps carry a UTC offset and some do not", df.loc[~has, [col]])
    if not has.any():
        return _assumed_zone(txt, df, col, src, assume_tz), True
    try:
        t = pd.to_datetime(txt, utc=True, format="ISO8601")
    except (ValueError, TypeError):
        parsed = pd.to_datetime(txt, utc=True, errors="coerce", format="ISO8601")
        raise ContractError(src, col, "unparseable timestamps (expected ISO 8601)", df.loc[parsed.isna(), [col]]) from None
    return pd.DatetimeIndex(t), not bool(has.any())


def _assumed_zone(txt: pd.Series, df: pd.DataFrame, col: str, src: str, zone: str) -> pd.DatetimeIndex:
    """Times without an offset read in ``zone`` (required: there is no default), as UTC; a wall time that does
    not exist or occurs twice in that zone (DST) is an error naming it."""
    if not zone:
        raise ContractError(src, col, "timestamps without a UTC offset; add offsets (e.g. 2025-07-01T00:00:00Z) "
                            "or say which zone they are in with --assume-tz (e.g. --assume-tz UTC)",
                            df.head(3)[[col]])
    try:
        local = pd.DatetimeIndex(pd.to_datetime(txt, format="ISO8601"))
    except (ValueError, TypeError):
        parsed = pd.to_datetime(txt, errors="coerce", format="ISO8601")
        raise ContractError(src, col, "unparseable timestamps (expected ISO 8601)", df.loc[parsed.isna(), [col]]) from None
    try:
        return local.tz_localize(zone, ambiguous="raise", nonexistent="raise").tz_convert("UTC")
    except (ValueError, TypeError, KeyError) as e:  # unknown zone, or a DST gap / repeat
        raise ContractError(src, col, f"cannot read the times in zone {zone!r}: {e}") from None


def _check_spacing(idx: pd.DatetimeIndex, raw: pd.DataFrame, col: str, src: str) -> pd.Timedelta:
    if len(idx) < 2:
        raise ContractError(src, col, "need at least two timestamps to tell the step")
    d = pd.Series(idx).diff().iloc[1:].reset_index(drop=True)
    dup = (d == pd.Timedelta(0)).to_numpy()
    if dup.any():
        rows = raw.iloc[np.flatnonzero(dup) + 1][[col]]
        raise ContractError(src, col, f"duplicated timestamps ({int(dup.sum())} rows); if these are local clock "
                            "times, add UTC offsets", rows)
    step = d.mode().iloc[0]
    if step > HOUR or HOUR % step != pd.Timedelta(0):
        raise ContractError(src, col, f"step {step} is not a regular step ≤ 1 h that divides an hour")
    odd = ((d % step) != pd.Timedelta(0)).to_numpy()
    if odd.any():
        rows = raw.iloc[np.flatnonzero(odd) + 1][[col]]
        raise ContractError(src, col, f"irregular spacing: {int(odd.sum())} intervals are not multiples of the "
                            f"{step} step", rows)
    return step


def _runs(mask: np.ndarray, grid: pd.DatetimeIndex, column: str) -> pd.DataFrame:
    """Contiguous True runs of ``mask`` as rows (column, start, end, n_hours); end is the last missing hour."""
    m = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(m))
    starts, ends = edges[::2], edges[1::2]
    return pd.DataFrame({"column": column, "start": grid[starts], "end": grid[ends - 1],
                         "n_hours": (ends - starts).astype(int)})
