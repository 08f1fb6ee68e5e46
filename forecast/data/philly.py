"""Microsoft Philly hourly active nodes → hourly occupancy (active / total), with quality flags.

Measured: active and total nodes per hour. Rows are kept as read (missing readings stay NaN, gaps in the
hourly index become NaN rows); suspect hours are flagged, never dropped. Output timestamps are UTC.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from forecast.data.trace_io import ReadReport, check_regular, naive_times, numeric, read_csv
from forecast.errors import ContractError

HOUR = pd.Timedelta(hours=1)

PHILLY_TZ = "UTC"
"""Philly timestamps are naive; read as UTC by default. The partial hour at 2017-11-05 01:00 (total = 174)
coincides with the US fall-back, which hints at US local time; pass ``tz=`` to change it."""


def read_philly(path: str | os.PathLike, tz: str = PHILLY_TZ,
                nominal_nodes: float = 420.0) -> tuple[pd.DataFrame, ReadReport]:
    """Philly hourly active nodes → hourly occupancy = active / total.

    Returns ``ts`` (UTC), ``active_nodes``, ``total_nodes``, ``occupancy`` and
    ``quality`` ∈ {ok, missing, zero_active, total_off_nominal}. Rows are kept
    as read: missing readings stay NaN (explicit gaps); hours with 0 active
    nodes (a logging outage, not an idle cluster, in the published series) and
    hours whose total differs from ``nominal_nodes`` (e.g. 552 on 2017-11-01/02,
    174 at 2017-11-05 01:00) are flagged in ``quality`` and counted in the
    report so a user can mask them. active > total is an error.
    """
    src = str(path)
    df = read_csv(path, ["time", "active", "total"])
    rep = ReadReport(src, len(df))
    df = numeric(df, ["active", "total"], src, nullable=True)
    t = naive_times(df, "time", src, tz)
    gap_after = check_regular(t, HOUR, src, "time", df)
    zero_total = df["total"] == 0
    if zero_total.any():
        raise ContractError(src, "total", f"zero total nodes ({int(zero_total.sum())} rows)", df.loc[zero_total])
    over = df["active"] > df["total"]
    if over.any():
        raise ContractError(src, "active", f"more active nodes than total ({int(over.sum())} rows)", df.loc[over])
    out = pd.DataFrame({"ts": t, "active_nodes": df["active"], "total_nodes": df["total"]})
    out["occupancy"] = out["active_nodes"] / out["total_nodes"]
    q = np.full(len(out), "ok", dtype=object)
    q[(df["total"] != nominal_nodes).to_numpy()] = "total_off_nominal"
    q[(df["active"] == 0).to_numpy()] = "zero_active"
    q[(df["active"].isna() | df["total"].isna()).to_numpy()] = "missing"
    out["quality"] = q
    out = out.set_index("ts")
    out = out.reindex(pd.date_range(out.index[0], out.index[-1], freq="h", tz="UTC", name="ts"))
    out["quality"] = out["quality"].fillna("missing")
    out = out.reset_index()
    for k in ("missing", "zero_active", "total_off_nominal"):
        n = int((out["quality"] == k).sum())
        if n:
            rep.flagged[k] = n
    if gap_after.any():
        rep.notes.append(f"{int(gap_after.sum())} gaps in the hourly index were added as NaN rows")
    rep.n_rows_out = len(out)
    return out, rep
