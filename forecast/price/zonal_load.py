"""Reader for the public PJM hourly zonal load files (``PJME_hourly.csv``, ``DOM_hourly.csv`` …).

Two layouts are accepted:

- ``ds,y`` with ISO timestamps ``YYYY-MM-DD HH:MM:SS`` (PJME);
- ``Datetime,<ZONE>_MW`` with day-first timestamps ``dd-mm-yyyy HH:MM`` (DOM, COMED).

Timestamps are **local Eastern prevailing time, hour-ending**, as PJM publishes
them: the row ``31-12-2005 01:00`` is the hour 00:00–01:00 EST of 31 Dec 2005,
i.e. the UTC hour beginning 2005-12-31 05:00. Each label ``E`` is read as the
local hour beginning ``E − 1 h`` and converted to UTC hour-beginning. Midnight
(hour-ending 24) is written as ``00:00`` of the next day.

DST, as these files have it:

- spring forward: the label ``03:00`` does not exist (the hour beginning
  02:00 local is skipped), so no UTC hour is missing; such days are counted in
  ``skipped_labels``. A row that does carry a non-existent local time is excluded
  and listed;
- fall back: the label ``02:00`` (the hour beginning 01:00) appears twice, once
  for EDT and once for EST. Two such rows are placed by file order (first = EDT,
  the earlier UTC hour); any other count cannot be placed and is excluded and listed.
  Up to 2013 the files have no row for that hour at all: those UTC hours stay
  missing (``missing_fallback``).

Rows come unsorted; the frame is sorted. Any other duplicated UTC hour is
excluded (every copy) and listed. Missing hours are never filled.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.errors import ContractError

EASTERN = "America/New_York"
ISO_FORMAT = "%Y-%m-%d %H:%M:%S"
DAYFIRST_FORMAT = "%d-%m-%Y %H:%M"


@dataclass(frozen=True)
class ZonalLoadReport:
    """What the reader met and did. ``unplaced``: excluded rows (row, label, load_mw, reason)."""

    source: str
    zone: str
    n_rows: int
    n_hours: int
    span: tuple[pd.Timestamp, pd.Timestamp]
    fallback_placed: int
    unplaced: pd.DataFrame
    skipped_labels: int
    missing: pd.DatetimeIndex
    missing_fallback: int

    def text(self) -> str:
        """A human-readable account, one fact a line."""
        a, b = self.span
        lines = [f"{self.source}: zone {self.zone}, {self.n_rows} rows -> {self.n_hours} UTC hours, {a} … {b}",
                 f"fall-back repeated hours placed by file order: {self.fallback_placed} pairs",
                 f"spring-forward days (local label absent, no hour lost): {self.skipped_labels}",
                 f"excluded rows that could not be placed: {len(self.unplaced)}",
                 f"missing UTC hours: {len(self.missing)} (fall-back repeated hour absent: {self.missing_fallback}, "
                 f"other: {len(self.missing) - self.missing_fallback}); left missing"]
        lines += [f"  excluded row {r.row}: {r.label} ({r.reason})" for r in self.unplaced.head(10).itertuples()]
        return "\n".join(lines)


@dataclass(frozen=True)
class ZonalLoad:
    """``frame``: ts (UTC hour-beginning, sorted, unique), load_mw; ``report``: see :class:`ZonalLoadReport`."""

    frame: pd.DataFrame
    report: ZonalLoadReport


def _layout(cols: list[str], stem: str, src: str) -> tuple[str, str, str, str]:
    """(time column, value column, timestamp format, zone) from the header."""
    if cols == ["ds", "y"]:
        return "ds", "y", ISO_FORMAT, stem.split("_")[0]
    if len(cols) == 2 and cols[0] == "Datetime" and cols[1].endswith("_MW"):
        return "Datetime", cols[1], DAYFIRST_FORMAT, cols[1][: -len("_MW")]
    raise ContractError(src, None, f"unknown layout, header {cols}; expected 'ds,y' (ISO timestamps) or "
                        "'Datetime,<ZONE>_MW' (dd-mm-yyyy HH:MM)")


def _parse(raw: pd.DataFrame, tcol: str, vcol: str, fmt: str, src: str) -> tuple[pd.Series, pd.Series]:
    """Naive local hour-beginning times and numeric loads, or one ContractError."""
    ending = pd.to_datetime(raw[tcol].str.strip(), format=fmt, errors="coerce")
    bad = ending.isna()
    if bad.any():
        raise ContractError(src, tcol, f"unparseable timestamps ({int(bad.sum())} rows); expected {fmt!r}, "
                            "local hour-ending", raw[bad])
    off = (ending.dt.minute != 0) | (ending.dt.second != 0)
    if off.any():
        raise ContractError(src, tcol, f"timestamps not on the hour ({int(off.sum())} rows)", raw[off])
    val = pd.to_numeric(raw[vcol], errors="coerce")
    bad = val.isna() | ~np.isfinite(val) | (val < 0)
    if bad.any():
        raise ContractError(src, vcol, f"missing, non-numeric or negative loads ({int(bad.sum())} rows); "
                            "fix or remove those rows", raw[bad])
    return ending - pd.Timedelta(hours=1), val.astype("float64")


def _to_utc(begin: pd.Series) -> tuple[pd.Series, pd.Series, int]:
    """UTC hour-beginning per row (NaT where it cannot be placed), the reason, and fall-back pairs placed."""
    n = len(begin)
    plain = begin.dt.tz_localize(EASTERN, ambiguous="NaT", nonexistent="NaT")
    dst = begin.dt.tz_localize(EASTERN, ambiguous=np.ones(n, bool), nonexistent="NaT")
    std = begin.dt.tz_localize(EASTERN, ambiguous=np.zeros(n, bool), nonexistent="NaT")
    reason = pd.Series("", index=begin.index, dtype=object)
    reason[dst.isna()] = "local time does not exist (spring forward)"
    amb = plain.isna() & dst.notna()
    out = plain.copy()
    pairs = 0
    for _, idx in begin[amb].groupby(begin[amb]).groups.items():  # one group per fall-back day
        if len(idx) == 2:
            out[idx[0]], out[idx[1]] = dst[idx[0]], std[idx[1]]  # file order: EDT first, then EST
            pairs += 1
        else:
            reason[idx] = f"repeated fall-back hour appears {len(idx)} times; cannot tell EDT from EST"
    out[reason != ""] = pd.NaT
    return out.dt.tz_convert("UTC"), reason, pairs


def _missing_fallback(missing: pd.DatetimeIndex) -> int:
    """How many missing UTC hours are the repeated (ambiguous) local hour of a fall-back day."""
    local = missing.tz_convert(EASTERN).tz_localize(None)
    return int(local.tz_localize(EASTERN, ambiguous="NaT", nonexistent="NaT").isna().sum())


def _spring_days(first: pd.Timestamp, last: pd.Timestamp) -> int:
    """Spring-forward transitions within [first, last] (UTC): local days with 23 hours."""
    local = pd.date_range(first, last, freq="h", tz="UTC").tz_convert(EASTERN).tz_localize(None)
    return int((np.diff(local.values) == np.timedelta64(2, "h")).sum())  # the local clock jumps 2 h in one UTC hour


def read_pjm_zonal_load(path: str | os.PathLike) -> ZonalLoad:
    """Read one PJM hourly zonal load file -> :class:`ZonalLoad` (frame ts UTC hour-beginning, load_mw + report).

    Labels are Eastern prevailing time, hour-ending (see the module docstring for
    DST handling). Nothing is dropped silently: excluded rows are listed in
    ``report.unplaced``; missing hours stay missing and are listed in ``report.missing``.
    """
    p, src = Path(path), str(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file")
    raw = pd.read_csv(p, dtype=str, keep_default_na=False)
    raw.columns = [str(c).strip() for c in raw.columns]
    tcol, vcol, fmt, zone = _layout(list(raw.columns), p.stem, src)
    if raw.empty:
        raise ContractError(src, tcol, "no data rows; the file holds only a header")
    begin, load = _parse(raw, tcol, vcol, fmt, src)
    ts, reason, pairs = _to_utc(begin)
    dup = ts.notna() & ts.duplicated(keep=False)
    reason[dup] = "duplicated UTC hour; every copy excluded"
    keep = reason == ""
    unplaced = pd.DataFrame({"row": raw.index[~keep], "label": raw[tcol][~keep].to_numpy(),
                             "load_mw": load[~keep].to_numpy(), "reason": reason[~keep].to_numpy()})
    frame = (pd.DataFrame({"ts": ts[keep], "load_mw": load[keep]}).sort_values("ts", kind="stable")
             .reset_index(drop=True))
    if frame.empty:
        raise ContractError(src, tcol, "no row could be placed on a UTC hour", unplaced["row"].tolist())
    first, last = frame["ts"].iloc[0], frame["ts"].iloc[-1]
    missing = pd.date_range(first, last, freq="h", tz="UTC").difference(pd.DatetimeIndex(frame["ts"]))
    report = ZonalLoadReport(source=src, zone=zone, n_rows=len(raw), n_hours=len(frame), span=(first, last),
                             fallback_placed=pairs, unplaced=unplaced, skipped_labels=_spring_days(first, last),
                             missing=missing, missing_fallback=_missing_fallback(missing))
    return ZonalLoad(frame=frame, report=report)
