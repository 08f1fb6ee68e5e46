"""Readers for public GPU-cluster traces: schedules and hourly occupancy.

Three sources (see ``../shared/data/SOURCES.md`` for where they are published):

- Helios **Venus** (SenseTime): 10-minute counts of submitted / started / ended
  jobs and GPUs → :func:`read_venus` (hourly event counts and a running-GPU
  occupancy proxy) and :func:`venus_events` (long-format job-event schedule).
- Microsoft **Philly**: hourly mean of active nodes out of the cluster's nodes →
  :func:`read_philly` (occupancy = active / total).
- Alibaba **openb** (cluster-trace-gpu-v2023): one row per task (pod) with
  GPU request and creation / scheduled / deletion times in seconds from trace
  start → :func:`read_openb_pods` (a jobs-contract-like schedule),
  :func:`read_openb_nodes` and :func:`openb_occupancy` (hourly GPUs in use).

Every reader returns ``(frame, ReadReport)``. The report counts each row that
was left out and why; nothing is dropped without being counted, and input that
cannot be read honestly raises :class:`forecast.errors.ContractError`. All output
timestamps are tz-aware UTC, hour-beginning; hours without data are present as
NaN rows (explicit gaps), never filled.

What is measured and what is modelled: the event counts, active nodes and task
times are measured; Venus' running-GPU level is *derived* (its initial level is
unknown and estimated, see :func:`read_venus`); openb GPU shares are the
requested shares, not measured utilisation.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forecast.errors import ContractError

HOUR = pd.Timedelta(hours=1)

VENUS_TZ = "Asia/Shanghai"
"""Venus timestamps are naive wall-clock times of a cluster in China (UTC+8, no DST): an assumption, overridable."""

PHILLY_TZ = "UTC"
"""Philly timestamps are naive; read as UTC by default. The partial hour at 2017-11-05 01:00 (total = 174)
coincides with the US fall-back, which hints at US local time; pass ``tz=`` to change it."""

OPENB_ANCHOR = pd.Timestamp("2023-01-01T00:00:00Z")
"""openb times are seconds from an unpublished trace start; this anchor is an arbitrary, explicit choice.
Only differences of openb times are meaningful; hour-of-day and weekday derived from it are not."""

OPENB_SITE = "openb"
OPENB_DEFAULT_GPU_TYPE = "unknown"
"""openb pods name no GPU model (``gpu_spec`` is empty in the default pod list) and no node, so a pod's GPU type
cannot be traced to the node list; it is this default unless ``gpu_spec`` names a single model."""


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


# ---------------------------------------------------------------------------- helpers
def _read_csv(path: str | os.PathLike, required: list[str]) -> pd.DataFrame:
    src = str(path)
    if not os.path.exists(src):
        raise FileNotFoundError(f"{src}: no such file")
    df = pd.read_csv(src)
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ContractError(src, ", ".join(missing), f"missing; found columns {list(df.columns)}")
    return df


def _numeric(df: pd.DataFrame, cols: list[str], src: str, nullable: bool = False, min_value: float | None = 0.0):
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


def _naive_times(df: pd.DataFrame, col: str, src: str, tz: str) -> pd.Series:
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


def _check_regular(t: pd.Series, step: pd.Timedelta, src: str, col: str, df: pd.DataFrame) -> np.ndarray:
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


# ---------------------------------------------------------------------------- Venus
VENUS_COLUMNS = ["submit_gpu_job", "start_gpu_job", "end_gpu_job", "submit_gpu_num", "start_gpu_num", "end_gpu_num"]


def read_venus(path: str | os.PathLike, tz: str = VENUS_TZ,
               capacity_gpus: float | None = None) -> tuple[pd.DataFrame, ReadReport]:
    """Helios Venus 10-minute throughput → hourly GPU-job series.

    Returns one row per hour (``ts``, UTC, hour-beginning) with:
    ``submit_jobs``, ``start_jobs``, ``end_jobs`` (GPU jobs per hour),
    ``submit_gpus``, ``start_gpus``, ``end_gpus`` (GPUs requested by those jobs),
    ``running_gpus`` (hourly mean of the running level), ``occupancy`` and
    ``n_intervals`` (10-min rows seen in the hour, 6 when complete).

    Running level: L(t) = L0 + Σ_{s≤t} (started − ended GPUs), evaluated at the
    end of each 10-minute interval. L0 (GPUs already running when the trace
    starts) is unknown; it is estimated as the smallest value that keeps L ≥ 0,
    so the series is a *lower bound* on running GPUs (reported as
    ``initial_running_gpus``). ``occupancy`` = running_gpus / ``capacity_gpus``,
    or / the series' peak when no capacity is given (reported).

    Gaps: an hour with fewer than 6 intervals gets NaN counts and NaN running
    level (events in the missing intervals are unknown, so the level after a gap
    is still reported but flagged ``after_gap``); hours with no rows are NaN rows.
    """
    src = str(path)
    df = _read_csv(path, ["time", *VENUS_COLUMNS])
    rep = ReadReport(src, len(df))
    df = _numeric(df, VENUS_COLUMNS, src)
    t = _naive_times(df, "time", src, tz)
    gap_after = _check_regular(t, pd.Timedelta(minutes=10), src, "time", df)
    net = (df["start_gpu_num"] - df["end_gpu_num"]).to_numpy()
    level = np.cumsum(net)  # (N,) running GPUs minus the unknown initial level
    l0 = float(max(0.0, -level.min()))
    level = level + l0
    rep.values["initial_running_gpus"] = l0
    rep.notes.append("running_gpus = L0 + cumulative (started − ended) GPUs; L0 estimated as the least value keeping "
                     "the series ≥ 0, so it is a lower bound")
    x = pd.DataFrame({
        "ts": t.dt.floor("h"),
        "submit_jobs": df["submit_gpu_job"], "start_jobs": df["start_gpu_job"], "end_jobs": df["end_gpu_job"],
        "submit_gpus": df["submit_gpu_num"], "start_gpus": df["start_gpu_num"], "end_gpus": df["end_gpu_num"],
        "running_gpus": level, "after_gap": np.cumsum(gap_after) > 0,
    })
    g = x.groupby("ts")
    h = g[["submit_jobs", "start_jobs", "end_jobs", "submit_gpus", "start_gpus", "end_gpus"]].sum()
    h["running_gpus"] = g["running_gpus"].mean()
    h["after_gap"] = g["after_gap"].any()
    h["n_intervals"] = g.size()
    grid = pd.date_range(h.index.min(), h.index.max(), freq="h", tz="UTC", name="ts")
    h = h.reindex(grid)
    h["n_intervals"] = h["n_intervals"].fillna(0).astype(int)
    h["after_gap"] = h["after_gap"].astype("boolean").fillna(True).astype(bool)
    incomplete = h["n_intervals"] < 6
    h.loc[incomplete, h.columns.difference(["n_intervals", "after_gap"])] = np.nan
    # first and last hour may be cut by the trace window, not by missing data
    n_bad = int(incomplete.sum())
    if n_bad:
        rep.excluded["incomplete_hours_set_nan"] = n_bad
    if gap_after.any():
        rep.flagged["rows_after_10min_gap"] = int(gap_after.sum())
    if capacity_gpus is None:
        cap = float(np.nanmax(h["running_gpus"]))
        rep.notes.append(f"no capacity given: occupancy = running_gpus / peak of the series ({cap:g} GPUs)")
    else:
        if not capacity_gpus > 0:
            raise ValueError(f"capacity_gpus must be positive, got {capacity_gpus}")
        cap = float(capacity_gpus)
        over = int((h["running_gpus"] > cap).sum())
        if over:
            rep.flagged["hours_running_above_capacity"] = over
    rep.values["capacity_gpus"] = cap
    h["occupancy"] = h["running_gpus"] / cap
    h = h.reset_index()
    h[["submit_jobs", "start_jobs", "end_jobs", "submit_gpus", "start_gpus", "end_gpus"]] = \
        h[["submit_jobs", "start_jobs", "end_jobs", "submit_gpus", "start_gpus", "end_gpus"]].astype("float64")
    rep.n_rows_out = len(h)
    return h, rep


def venus_events(hourly: pd.DataFrame) -> pd.DataFrame:
    """Long-format job-event schedule from :func:`read_venus` output.

    Columns: ``ts`` (UTC hour), ``event`` ∈ {submit, start, end}, ``n_jobs``,
    ``n_gpus``. Hours with NaN counts stay NaN (not zero events).
    """
    parts = []
    for ev in ("submit", "start", "end"):
        parts.append(pd.DataFrame({"ts": hourly["ts"], "event": ev,
                                   "n_jobs": hourly[f"{ev}_jobs"], "n_gpus": hourly[f"{ev}_gpus"]}))
    return pd.concat(parts, ignore_index=True).sort_values(["ts", "event"], kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------------------- Philly
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
    df = _read_csv(path, ["time", "active", "total"])
    rep = ReadReport(src, len(df))
    df = _numeric(df, ["active", "total"], src, nullable=True)
    t = _naive_times(df, "time", src, tz)
    gap_after = _check_regular(t, HOUR, src, "time", df)
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


# ---------------------------------------------------------------------------- Alibaba openb
POD_COLUMNS = ["name", "num_gpu", "gpu_milli", "gpu_spec", "qos", "pod_phase",
               "creation_time", "deletion_time", "scheduled_time"]


def read_openb_pods(path: str | os.PathLike, anchor: pd.Timestamp = OPENB_ANCHOR,
                    default_gpu_type: str = OPENB_DEFAULT_GPU_TYPE) -> tuple[pd.DataFrame, ReadReport]:
    """openb pod list → a jobs-contract-like schedule of GPU tasks.

    Columns: ``job_id`` (pod name), ``site_id`` ("openb"), ``planned_start`` =
    anchor + scheduled_time, ``planned_end`` = anchor + deletion_time,
    ``created_at`` = anchor + creation_time, ``n_gpus`` = num_gpu ×
    gpu_milli / 1000 (float: **fractional** GPUs — a pod may hold a share of
    one GPU; for num_gpu > 1 gpu_milli is 1000), ``num_gpu``, ``gpu_milli``,
    ``gpu_type``, ``qos``, ``pod_phase``, ``censored`` (still alive when the
    trace ends: deletion_time equals the last deletion time in the file).

    Differs from the jobs contract: n_gpus is fractional, gpu_type is not one of
    the contract's types (see OPENB_DEFAULT_GPU_TYPE), and flop_budget,
    precision and curtailable are unknown, so absent. planned_* are actual
    times, not plans.

    Excluded (counted in the report): pods never scheduled (no
    scheduled_time: Pending, deleted while queued), zero-GPU pods (CPU-only),
    and pods deleted at or before being scheduled. A pod scheduled before its
    creation is an error.
    """
    src = str(path)
    df = _read_csv(path, POD_COLUMNS)
    rep = ReadReport(src, len(df))
    df = _numeric(df, ["num_gpu", "gpu_milli", "creation_time", "deletion_time"], src)
    df = _numeric(df, ["scheduled_time"], src, nullable=True)
    frac = (df["gpu_milli"] > 1000) | ((df["num_gpu"] > 1) & (df["gpu_milli"] < 1000) & (df["gpu_milli"] > 0))
    if frac.any():
        raise ContractError(src, "gpu_milli", "share must be ≤ 1000, and 1000 for multi-GPU pods "
                            f"({int(frac.sum())} rows)", df.loc[frac, ["name", "num_gpu", "gpu_milli"]])
    early = df["scheduled_time"] < df["creation_time"]
    if early.any():
        raise ContractError(src, "scheduled_time", f"scheduled before creation ({int(early.sum())} rows)",
                            df.loc[early, ["name", "creation_time", "scheduled_time"]])
    dup = df["name"].duplicated(keep=False)
    if dup.any():
        raise ContractError(src, "name", f"duplicated pod names ({int(dup.sum())} rows)", df.loc[dup, ["name"]])
    last = float(df["deletion_time"].max())
    unsched = df["scheduled_time"].isna()
    zero = ~unsched & ((df["num_gpu"] == 0) | (df["gpu_milli"] == 0))
    nodur = ~unsched & ~zero & (df["deletion_time"] <= df["scheduled_time"])
    for name, m in (("never_scheduled", unsched), ("zero_gpu", zero), ("deleted_before_scheduled", nodur)):
        if m.any():
            rep.excluded[name] = int(m.sum())
    if unsched.any():
        by = df.loc[unsched, "pod_phase"].value_counts()
        rep.notes.append("never scheduled by phase: " + ", ".join(f"{k}={v}" for k, v in by.items()))
    keep = ~(unsched | zero | nodur)
    k = df[keep]
    spec = k["gpu_spec"].astype("string").str.strip()
    single = spec.notna() & (spec != "") & ~spec.str.contains("|", regex=False, na=False)
    gpu_type = pd.Series(default_gpu_type, index=k.index, dtype=object)
    gpu_type[single.fillna(False).to_numpy()] = spec[single.fillna(False)].astype(str)
    n_default = int((gpu_type == default_gpu_type).sum())
    if n_default:
        rep.flagged["gpu_type_default"] = n_default
    sec = pd.to_timedelta
    out = pd.DataFrame({
        "job_id": k["name"].astype(str),
        "site_id": OPENB_SITE,
        "created_at": anchor + sec(k["creation_time"], unit="s"),
        "planned_start": anchor + sec(k["scheduled_time"], unit="s"),
        "planned_end": anchor + sec(k["deletion_time"], unit="s"),
        "n_gpus": k["num_gpu"] * k["gpu_milli"] / 1000.0,
        "num_gpu": k["num_gpu"].astype(int),
        "gpu_milli": k["gpu_milli"].astype(int),
        "gpu_type": gpu_type,
        "qos": k["qos"].astype(str),
        "pod_phase": k["pod_phase"].astype(str),
        "censored": k["deletion_time"] == last,
    }).reset_index(drop=True)
    rep.flagged["fractional_gpu"] = int((out["n_gpus"] % 1 != 0).sum())
    rep.flagged["censored_at_trace_end"] = int(out["censored"].sum())
    rep.values["observed_from_s"] = float(df["deletion_time"].min())
    rep.values["trace_end_s"] = last
    rep.notes.append(f"anchor (trace start) = {anchor.isoformat()}, an arbitrary choice")
    rep.n_rows_out = len(out)
    return out, rep


def read_openb_nodes(path: str | os.PathLike) -> tuple[pd.DataFrame, ReadReport]:
    """openb node list → ``node_id``, ``n_gpus`` (int ≥ 0), ``gpu_model`` (as written: G2, T4, P100, V100M16 …)."""
    src = str(path)
    df = _read_csv(path, ["sn", "gpu", "model"])
    rep = ReadReport(src, len(df))
    df = _numeric(df, ["gpu"], src)
    dup = df["sn"].duplicated(keep=False)
    if dup.any():
        raise ContractError(src, "sn", f"duplicated node names ({int(dup.sum())} rows)", df.loc[dup, ["sn"]])
    out = pd.DataFrame({"node_id": df["sn"].astype(str), "n_gpus": df["gpu"].astype(int),
                        "gpu_model": df["model"].astype(str).str.strip()})
    for m, n in out.groupby("gpu_model")["n_gpus"].sum().items():
        rep.values[f"gpus_{m}"] = float(n)
    rep.n_rows_out = len(out)
    return out, rep


def openb_occupancy(pods: pd.DataFrame, nodes: pd.DataFrame, anchor: pd.Timestamp = OPENB_ANCHOR,
                    observed_from_s: float | None = None) -> tuple[pd.DataFrame, ReadReport]:
    """Hourly GPUs in use (time-weighted mean of requested GPU shares) and occupancy = in use / node-list GPUs.

    ``pods`` is :func:`read_openb_pods` output; ``nodes`` is
    :func:`read_openb_nodes` output. The level is exact within each hour (pods
    count for the fraction of the hour they hold GPUs). The pod list only holds
    pods alive after ``observed_from_s`` (the earliest deletion in the file; a
    pod deleted before it cannot appear), so hours before it would under-count
    and are not returned (their number is reported).
    Columns: ``ts`` (UTC), ``gpus_in_use``, ``occupancy``, ``n_running`` (pods
    running at the start of the hour).
    """
    rep = ReadReport("openb occupancy", len(pods))
    total = float(nodes["n_gpus"].sum())
    if not total > 0:
        raise ValueError("node list holds no GPUs")
    s = ((pods["planned_start"] - anchor) / pd.Timedelta(seconds=1)).to_numpy(dtype=float)  # (P,) s
    e = ((pods["planned_end"] - anchor) / pd.Timedelta(seconds=1)).to_numpy(dtype=float)  # (P,) s
    w = pods["n_gpus"].to_numpy(dtype=float)
    lo = float(observed_from_s) if observed_from_s is not None else float(e.min())
    h0 = int(np.ceil(lo / 3600.0))
    h1 = int(np.ceil(e.max() / 3600.0))
    rep.excluded["hours_before_observation_window"] = h0
    edges = np.arange(h0, h1 + 1, dtype=float) * 3600.0  # (H+1,) hour boundaries, s
    cum = _ramp_integral(edges, s, w) - _ramp_integral(edges, e, w)  # ∫_0^x level dt
    in_use = np.diff(cum) / 3600.0
    running = np.searchsorted(np.sort(s), edges[:-1], side="right") - np.searchsorted(np.sort(e), edges[:-1], side="right")
    ts = pd.DatetimeIndex(anchor + pd.to_timedelta(edges[:-1], unit="s")).tz_convert("UTC")
    out = pd.DataFrame({"ts": ts, "gpus_in_use": in_use, "occupancy": in_use / total, "n_running": running})
    rep.values["total_gpus"] = total
    rep.notes.append("gpus_in_use counts requested GPU shares (fractional), not measured utilisation")
    rep.n_rows_out = len(out)
    return out, rep


def _ramp_integral(x: np.ndarray, t: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Σ_p w_p · max(0, x − t_p) for each x: the integral of steps of height w_p switched on at t_p."""
    order = np.argsort(t)
    ts, ws = t[order], w[order]
    cw = np.concatenate([[0.0], np.cumsum(ws)])
    cwt = np.concatenate([[0.0], np.cumsum(ws * ts)])
    k = np.searchsorted(ts, x, side="right")
    return cw[k] * x - cwt[k]
