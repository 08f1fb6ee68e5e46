"""Times in the input tables: the one rule for reading them as UTC.

A time must carry its zone (an offset, ``Z``, or a tz-aware dtype); wall times without one are read in the zone
the user names (``data.assume_tz``, ``--assume-tz``) and refused otherwise, since an hourly series in local wall
time cannot be placed around DST changes without knowing its zone.
"""

from __future__ import annotations

import re

import pandas as pd

from forecast.errors import ContractError

_TZ_SUFFIX = re.compile(r"(?:Z|[+-]\d{2}:?\d{2}|UTC|GMT)\s*$", re.IGNORECASE)


def parse_utc(s: pd.Series, name: str = "ts", source: str = "<frame>", assume_tz: str = "") -> pd.Series:
    """Parse timestamps that carry a zone (offset, 'Z' or tz-aware dtype) to UTC.

    Timezone-naive input is an error unless ``assume_tz`` names the zone it is in (``data.assume_tz``): an hourly
    series in local wall time cannot be placed around DST changes without knowing its zone.
    """
    if pd.api.types.is_datetime64_any_dtype(s):
        if getattr(s.dt, "tz", None) is None:
            if assume_tz:
                return _localize(s, assume_tz, name, source)
            raise ContractError(source, name, f"timezone-naive timestamps; store them tz-aware (UTC) {_OR_ZONE}",
                                s.to_frame().head())
        return s.dt.tz_convert("UTC")
    null = s.isna()
    if null.any():  # a nullable column: parse the values, keep the gaps as NaT (the caller decides about them)
        out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns, UTC]")
        if (~null).any():
            out[~null] = parse_utc(s[~null], name, source, assume_tz)
        return out
    txt = s.astype(str).str.strip()
    naive = ~txt.str.contains(_TZ_SUFFIX)
    if naive.all() and assume_tz:
        return _localize(pd.Series(pd.to_datetime(txt, format="ISO8601", errors="coerce"), index=s.index), assume_tz,
                         name, source, s)
    if naive.any():
        raise ContractError.where(source, name, "timezone-naive timestamps; add a UTC offset, e.g. 2025-07-01T00:00:00Z or +00:00, "
                   f"{_OR_ZONE}", s, naive)
    try:
        out = pd.to_datetime(txt, utc=True, format="ISO8601")
    except (ValueError, TypeError):
        parsed = pd.to_datetime(txt, utc=True, errors="coerce", format="ISO8601")
        raise ContractError.where(source, name, "unparseable timestamps (expected ISO 8601 with an offset)", s, parsed.isna()) from None
    return out


_OR_ZONE = "or say which zone they are in with data.assume_tz (e.g. data.assume_tz=UTC, --assume-tz UTC)"


def _localize(t: pd.Series, zone: str, name: str, source: str, raw: pd.Series | None = None) -> pd.Series:
    """Naive wall times read in ``zone``, as UTC; an unparseable time, or a wall time that does not exist or occurs
    twice there (DST), is refused with its rows."""
    raw = t if raw is None else raw
    if t.isna().any():
        raise ContractError.where(source, name, "unparseable timestamps (expected ISO 8601)", raw, t.isna())
    try:
        local = t.dt.tz_localize(zone, ambiguous="NaT", nonexistent="NaT")
    except Exception as e:  # an unknown zone name (pytz / zoneinfo raise different types)
        raise ContractError(source, name, f"data.assume_tz={zone!r} is not a time zone ({e})") from None
    if local.isna().any():
        raise ContractError.where(source, name, f"wall times that do not exist or occur twice in {zone} (DST); write them with "
                   "a UTC offset", raw, local.isna())
    return local.dt.tz_convert("UTC")
