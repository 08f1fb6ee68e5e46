"""Data contracts: the four input tables, validated on read (CSV or parquet).

Long format, hourly, timezone-aware; every timestamp is converted to UTC.

- jobs:  job_id, site_id, planned_start, planned_end | duration_h | (from flop_budget), n_gpus, gpu_type,
         flop_budget, precision, curtailable [, known_at]
         ``known_at`` is when that version of the plan became known; a job may have
         several rows (revisions). A table without it is refused unless the assumption
         is stated (``known_at="planned_start"`` or ``"always"``, config ``data.known_at``).
- sites: site_id, zone, gpu_type, n_gpus, pue_design, capacity_mw, base_load_mw [, host_ratio]
         (one row per site and GPU type; site-level columns must agree within a site)
- meter: site_id, ts, power_mw   (hour-beginning; facility power, MW)
- grid:  zone, ts, price, load_mw, load_forecast_mw [, solar_mw, wind_mw, temperature_c]

Every violation raises :class:`forecast.errors.ContractError` naming the file,
the column and the first offending rows. Nothing is dropped or repaired silently.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.data.asof import KNOWN_AT_ASSUMPTIONS, assume_known_at, duplicated_versions
from forecast.data.flops import fill_ends_from_budgets
from forecast.data.gpus import GPU_TYPES, PRECISIONS
from forecast.data.times import parse_utc
from forecast.errors import ContractError

HOUR = pd.Timedelta(hours=1)
_OFFSET = r"(Z|[+-]\d{2}:?\d{2})\s*$"


@dataclass(frozen=True)
class Column:
    kind: str  # "str" | "float" | "int" | "bool" | "time" | "category"
    required: bool = True
    nullable: bool = False
    min: float | None = None  # inclusive lower bound
    positive: bool = False  # strictly > 0
    choices: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Schema:
    name: str
    columns: dict[str, Column]
    series_keys: tuple[str, ...] = ()
    time_col: str | None = None  # hourly series column, checked per series
    extra_ok: bool = True  # extra columns are kept, not an error
    groups: tuple[tuple[str, ...], ...] = field(default_factory=tuple)  # at least one of each group required


JOBS = Schema(
    "jobs",
    {
        "job_id": Column("str"),
        "site_id": Column("str"),
        "known_at": Column("time", required=False),
        "planned_start": Column("time"),
        "planned_end": Column("time", required=False, nullable=True),  # or duration_h, or from flop_budget
        "duration_h": Column("float", required=False, nullable=True, positive=True),
        "n_gpus": Column("int", positive=True),
        "gpu_type": Column("category", choices=GPU_TYPES),
        "flop_budget": Column("float", nullable=True, min=0.0),
        "precision": Column("category", choices=PRECISIONS),
        "curtailable": Column("bool"),
    },
)
SITES = Schema(
    "sites",
    {
        "site_id": Column("str"),
        "zone": Column("str"),
        "gpu_type": Column("category", choices=GPU_TYPES),
        "n_gpus": Column("int", positive=True),
        "pue_design": Column("float", min=1.0),
        "capacity_mw": Column("float", positive=True),
        "base_load_mw": Column("float", min=0.0),
        # non-GPU IT power (hosts, network, storage) per W of GPU power; default DEFAULT_HOST_RATIO
        "host_ratio": Column("float", required=False, min=0.0),
    },
)
DEFAULT_HOST_RATIO = 0.30
METER = Schema(
    "meter",
    {"site_id": Column("str"), "ts": Column("time"), "power_mw": Column("float", min=0.0)},
    series_keys=("site_id",),
    time_col="ts",
)
GRID = Schema(
    "grid",
    {
        "zone": Column("str"),
        "ts": Column("time"),
        "price": Column("float"),  # prices can be negative
        "load_mw": Column("float", min=0.0),
        "load_forecast_mw": Column("float", min=0.0),
        "solar_mw": Column("float", required=False),
        "wind_mw": Column("float", required=False),
        "temperature_c": Column("float", required=False),
    },
    series_keys=("zone",),
    time_col="ts",
)
SCHEMAS = {s.name: s for s in (JOBS, SITES, METER, GRID)}


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read a CSV or parquet file as-is (timestamps stay strings in CSV until validated)."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file")
    suffix = "".join(p.suffixes[-2:]).lower()
    if p.suffix.lower() == ".parquet":
        return pd.read_parquet(p)
    if p.suffix.lower() == ".csv" or suffix.endswith(".csv.gz"):
        return pd.read_csv(p, dtype=str, keep_default_na=True, na_values=[""])
    raise ContractError(str(p), None, f"unsupported file type {p.suffix!r}; use .csv or .parquet")


def load(path: str | os.PathLike, schema: Schema | str, assume_tz: str = "") -> pd.DataFrame:
    """Read and validate a file against a contract; returns a typed frame (UTC times)."""
    schema = SCHEMAS[schema] if isinstance(schema, str) else schema
    return validate(read_table(path), schema, source=str(path), assume_tz=assume_tz)


def load_jobs(path, known_at: str = "column", assume_tz: str = "") -> pd.DataFrame:
    """The jobs table; ``known_at`` says where each version's known_at comes from (see :func:`validate`)."""
    return validate(read_table(path), JOBS, source=str(path), known_at=known_at, assume_tz=assume_tz)


def load_sites(path, assume_tz: str = "") -> pd.DataFrame:
    return load(path, SITES, assume_tz)


def load_meter(path, assume_tz: str = "") -> pd.DataFrame:
    return load(path, METER, assume_tz)


def load_grid(path, assume_tz: str = "") -> pd.DataFrame:
    return load(path, GRID, assume_tz)


def validate(df: pd.DataFrame, schema: Schema | str, source: str = "<frame>",
             known_at: str = "column", assume_tz: str = "") -> pd.DataFrame:
    """Check and type ``df`` against ``schema``. Returns a new frame; never drops rows.

    ``known_at`` (jobs only): ``column`` — the table must have a known_at column; ``planned_start`` or
    ``always`` — it must not, and each version counts as known at its planned start / forever.
    """
    schema = SCHEMAS[schema] if isinstance(schema, str) else schema
    df = df.reset_index(drop=True)  # row labels = 0-based data rows, as errors report them
    df.columns = [str(c).strip() for c in df.columns]
    check_columns(df, schema, source)
    offsets = None
    if schema.time_col and not pd.api.types.is_datetime64_any_dtype(df[schema.time_col]):
        # the written UTC offsets tell a DST transition apart from a plain gap
        offsets = df[schema.time_col].astype(str).str.extract(_OFFSET, flags=re.IGNORECASE)[0]
    for name, col in schema.columns.items():
        if name in df.columns:
            df[name] = coerce(df[name], name, col, source, assume_tz)
    if schema is JOBS or schema.name == "jobs":
        df = _check_jobs(df, source, known_at)
    if schema.name == "sites":
        _check_sites(df, source)
    if schema.time_col:
        keys, tcol = list(schema.series_keys), schema.time_col
        codes = np.zeros(len(df), np.int64)  # ranks of the keys in their sort order
        for k in keys:
            c, uniq = pd.factorize(df[k], sort=True)
            codes = codes * len(uniq) + c
        ts = pd.DatetimeIndex(df[tcol])
        per_h = int(np.timedelta64(1, "h") // np.timedelta64(1, ts.unit))
        order = hourly_order(codes, ts.asi8, per_h, lambda i: df[[*keys, tcol]].iloc[i], schema, source, offsets)
        df = df if order is None else df.iloc[order].reset_index(drop=True)
    return df


# ---------------------------------------------------------------------------- columns
def check_columns(df: pd.DataFrame, schema: Schema, source: str) -> None:
    optional_groups = {c for g in schema.groups for c in g}
    missing = [c for c, spec in schema.columns.items() if spec.required and c not in df.columns and c not in optional_groups]
    for g in schema.groups:
        if not any(c in df.columns for c in g):
            missing.append(" or ".join(g))
    if missing:
        hints = []
        known = set(schema.columns)
        for m in missing:
            for cand in difflib.get_close_matches(m.split(" or ")[0], [c for c in df.columns if c not in known], n=1, cutoff=0.6):
                hints.append(f"'{cand}' looks like a misnamed '{m.split(' or ')[0]}'")
        hint = f" ({'; '.join(hints)})" if hints else ""
        raise ContractError(source, ", ".join(missing),
                            f"missing from the {schema.name} table; found columns {list(df.columns)}{hint}")


_bad = ContractError.where


def coerce(s: pd.Series, name: str, col: Column, source: str, assume_tz: str = "") -> pd.Series:
    null = s.isna()
    if null.any() and not col.nullable:
        raise _bad(source, name, "missing values", s, null)
    if col.kind == "time":
        out = parse_utc(s, name, source, assume_tz)
    elif col.kind in ("float", "int"):
        out = pd.to_numeric(s, errors="coerce")
        bad = out.isna() & ~null
        if bad.any():
            raise _bad(source, name, "not a number", s, bad)
        out = out.astype("float64")
        inf = ~null & ~np.isfinite(out.to_numpy())
        if inf.any():
            raise _bad(source, name, "not finite (inf)", s, inf)
        if col.kind == "int":
            frac = ~null & (out != np.round(out))
            if frac.any():
                raise _bad(source, name, "not a whole number", s, frac)
            out = out.astype("int64")
        if col.positive:
            neg = ~null & ~(out > 0)
            if neg.any():
                raise _bad(source, name, "must be positive", s, neg)
        if col.min is not None:
            neg = ~null & (out < col.min)
            if neg.any():
                word = "negative" if col.min == 0 else f"below {col.min}"
                raise _bad(source, name, f"{word} values", s, neg)
    elif col.kind == "bool":
        if s.dtype == bool:
            out = s
        else:
            txt = s.astype(str).str.strip().str.lower()
            mapping = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False,
                       "1.0": True, "0.0": False}
            bad = ~txt.isin(mapping)
            if bad.any():
                raise _bad(source, name, "not a boolean (true/false)", s, bad)
            out = txt.map(mapping).astype(bool)
    else:  # str, category
        out = s.astype(str).str.strip()
        bad = ~out.isin(col.choices) if col.choices is not None else out == ""
        if bad.any():
            problem = f"unknown value; known: {', '.join(col.choices)}" if col.choices is not None else "empty strings"
            raise _bad(source, name, problem, s, bad)
    return out


# ---------------------------------------------------------------------------- table rules
def _check_jobs(df: pd.DataFrame, source: str, known_at: str = "column") -> pd.DataFrame:
    if "planned_end" not in df.columns:
        df["planned_end"] = pd.Series(pd.NaT, index=df.index, dtype="datetime64[ns, UTC]")
    if "duration_h" in df.columns:
        miss = df["planned_end"].isna()
        df.loc[miss, "planned_end"] = df.loc[miss, "planned_start"] + pd.to_timedelta(df.loc[miss, "duration_h"], unit="h")
    bad = df["planned_end"].notna() & ~(df["planned_end"] > df["planned_start"])
    if bad.any():
        raise _bad(source, "planned_end", "job ends before (or when) it starts",
                   df[["job_id", "planned_start", "planned_end"]], bad)
    _known_at_column(df, source, known_at)
    df = fill_ends_from_budgets(df)  # no end planned: from the FLOP budget at the site's learned MFU
    no_end = df["planned_end"].isna()
    if no_end.any():
        raise _bad(source, "planned_end", "no end: give planned_end, duration_h or a positive flop_budget "
                   "(the end then follows from the budget, GPU type, precision and the site's MFU)",
                   df[["job_id", "planned_start", "flop_budget"]], no_end)
    late = df["known_at"] > df["planned_end"]
    # a plan first known after it ended is a record of the past, not a plan
    if late.any():
        raise _bad(source, "known_at", "plan known only after its planned end",
                   df[["job_id", "known_at", "planned_end"]], late)
    dup = duplicated_versions(df)
    if dup.any():
        raise _bad(source, "job_id", "duplicated (job_id, known_at): two versions of one job known at the same time",
                   df[["job_id", "known_at"]], dup)
    return df


def _known_at_column(df: pd.DataFrame, source: str, known_at: str) -> None:
    """The jobs' known_at column as the stated assumption says; a table without one is refused by default,
    since taking every plan as known forever would let forecasts see revisions made after they were issued."""
    if known_at not in KNOWN_AT_ASSUMPTIONS:
        raise ValueError(f"known_at={known_at!r} is not one of {', '.join(KNOWN_AT_ASSUMPTIONS)}")
    has = "known_at" in df.columns
    if known_at == "column" and not has:
        raise ContractError(source, "known_at", "missing: when each plan version became known is needed to forecast "
                            "without look-ahead; add the column, or state an assumption with "
                            "data.known_at=planned_start (each version known at its planned start) or "
                            "data.known_at=always (every version known forever)")
    if known_at != "column" and has:
        raise ContractError(source, "known_at", f"present, but data.known_at={known_at} says to assume it; "
                            "drop the column or use data.known_at=column")
    if not has:
        df["known_at"] = assume_known_at(df, known_at)


def _check_sites(df: pd.DataFrame, source: str) -> None:
    dup = df.duplicated(["site_id", "gpu_type"], keep=False)
    if dup.any():
        raise _bad(source, "gpu_type", "duplicated (site_id, gpu_type)", df[["site_id", "gpu_type"]], dup)
    for col in ("zone", "pue_design", "capacity_mw", "base_load_mw", "host_ratio"):
        if col not in df.columns:
            continue
        n = df.groupby("site_id")[col].transform("nunique")
        if (n > 1).any():
            raise _bad(source, col, "differs between rows of one site", df[["site_id", col]], n > 1)


def hourly_order(codes: np.ndarray, ticks: np.ndarray, per_h: int, rows, schema: Schema, source: str,
                 offsets: pd.Series | None) -> np.ndarray | None:
    """Stable order of the rows by (series, time), None where they are in that order already. Refuses times off
    the hour, then duplicated, then missing hours within a series, naming the first such rows in that order.
    ``codes``: series ranks in key order; ``ticks``: int64 times; ``rows(positions)``: the key and time columns
    of those rows, labelled by data row; ``offsets``: the written UTC offsets, for the DST note."""
    if not len(ticks):
        return None
    order = None
    if len(ticks) > 1 and not ((codes[1:] > codes[:-1]) | (codes[1:] == codes[:-1]) & (ticks[1:] >= ticks[:-1])).all():
        order = np.lexsort((ticks, codes))
    c, t = (codes, ticks) if order is None else (codes[order], ticks[order])
    same, step = c[1:] == c[:-1], np.diff(t)
    if ((step == per_h) | ~same).all() and not (t[np.r_[0, np.flatnonzero(~same) + 1]] % per_h).any():
        return order  # every series starts on the hour and has one row per hour, none missing
    same, step = np.r_[False, same], np.r_[0, step]
    pos = np.arange(len(t)) if order is None else order
    tcol = schema.time_col
    off_hour = t % per_h != 0
    if off_hour.any():
        raise ContractError(source, tcol, f"timestamps not on the hour (hourly data expected) ({int(off_hour.sum())} "
                            "rows)", rows(pos[off_hour]))
    for mask, what in ((same & (step == 0), "duplicated timestamps"),
                       (same & (step > per_h), "gaps in the hourly series (missing hours)")):
        if mask.any():
            where = _dst_note(mask, None if offsets is None else offsets.iloc[pos], after=2 if what[0] == "d" else 1)
            bad = rows(pos[mask])
            if what.startswith("gaps"):
                bad["previous"] = rows(pos[np.flatnonzero(mask) - 1])[tcol].to_numpy()
            raise ContractError(source, tcol, f"{what}{where} ({int(mask.sum())} rows)", bad)
    return order


def _dst_note(mask: np.ndarray, offsets: pd.Series | None, after: int) -> str:
    """If the first bad row sits where the written UTC offset changes, say it is a DST transition.

    A gap shows the change between the row before and the bad row; a repeated
    fall-back hour shows it on the row after the duplicate, hence ``after``.
    """
    if offsets is None:
        return ""
    i = int(np.flatnonzero(mask)[0])
    window = offsets.iloc[max(0, i - 1): i + after].dropna().unique()
    if len(window) > 1:
        return f" at a DST transition (UTC offset changes {window[0]} -> {window[-1]}; local clock times were written without the skipped/repeated hour)"
    return ""
