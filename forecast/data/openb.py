"""Alibaba openb (cluster-trace-gpu-v2023): pods → a jobs-like schedule, nodes, hourly GPUs in use.

Measured: one row per task (pod) with its GPU request and creation / scheduled / deletion times in
seconds from an unpublished trace start (anchored at :data:`OPENB_ANCHOR`, an explicit arbitrary
choice); the node list's GPUs. GPU shares are the *requested* shares, not measured utilisation.
Output timestamps are UTC.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from forecast.data.trace_io import ReadReport, numeric, read_csv
from forecast.errors import ContractError

OPENB_ANCHOR = pd.Timestamp("2023-01-01T00:00:00Z")
"""openb times are seconds from an unpublished trace start; this anchor is an arbitrary, explicit choice.
Only differences of openb times are meaningful; hour-of-day and weekday derived from it are not."""

OPENB_SITE = "openb"
OPENB_DEFAULT_GPU_TYPE = "unknown"
"""openb pods name no GPU model (``gpu_spec`` is empty in the default pod list) and no node, so a pod's GPU type
cannot be traced to the node list; it is this default unless ``gpu_spec`` names a single model."""

POD_COLUMNS = ["name", "num_gpu", "gpu_milli", "gpu_spec", "qos", "pod_phase",
               "creation_time", "deletion_time", "scheduled_time"]


def _check_pods(df: pd.DataFrame, src: str) -> None:
    """GPU shares ≤ 1000 milli (1000 for multi-GPU pods), not scheduled before creation, unique pod names."""
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


def _kept(df: pd.DataFrame, rep: ReadReport) -> pd.Series:
    """Mask of GPU pods that ran: never-scheduled, zero-GPU and deleted-before-scheduled pods are counted
    in ``rep.excluded`` (never-scheduled ones by phase in a note) and left out."""
    unsched = df["scheduled_time"].isna()
    zero = ~unsched & ((df["num_gpu"] == 0) | (df["gpu_milli"] == 0))
    nodur = ~unsched & ~zero & (df["deletion_time"] <= df["scheduled_time"])
    for name, m in (("never_scheduled", unsched), ("zero_gpu", zero), ("deleted_before_scheduled", nodur)):
        if m.any():
            rep.excluded[name] = int(m.sum())
    if unsched.any():
        by = df.loc[unsched, "pod_phase"].value_counts()
        rep.notes.append("never scheduled by phase: " + ", ".join(f"{k}={v}" for k, v in by.items()))
    return ~(unsched | zero | nodur)


def _gpu_types(k: pd.DataFrame, default_gpu_type: str, rep: ReadReport) -> pd.Series:
    """Per pod: ``gpu_spec`` when it names a single model, else ``default_gpu_type`` (count flagged)."""
    spec = k["gpu_spec"].astype("string").str.strip()
    single = spec.notna() & (spec != "") & ~spec.str.contains("|", regex=False, na=False)
    gpu_type = pd.Series(default_gpu_type, index=k.index, dtype=object)
    gpu_type[single.fillna(False).to_numpy()] = spec[single.fillna(False)].astype(str)
    n_default = int((gpu_type == default_gpu_type).sum())
    if n_default:
        rep.flagged["gpu_type_default"] = n_default
    return gpu_type


def _schedule(k: pd.DataFrame, anchor: pd.Timestamp, gpu_type: pd.Series, last: float) -> pd.DataFrame:
    """The jobs-like frame of kept pods (times = anchor + seconds; ``censored``: deleted at ``last``)."""
    sec = pd.to_timedelta
    return pd.DataFrame({
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
    df = read_csv(path, POD_COLUMNS)
    rep = ReadReport(src, len(df))
    df = numeric(df, ["num_gpu", "gpu_milli", "creation_time", "deletion_time"], src)
    df = numeric(df, ["scheduled_time"], src, nullable=True)
    _check_pods(df, src)
    last = float(df["deletion_time"].max())
    k = df[_kept(df, rep)]
    out = _schedule(k, anchor, _gpu_types(k, default_gpu_type, rep), last)
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
    df = read_csv(path, ["sn", "gpu", "model"])
    rep = ReadReport(src, len(df))
    df = numeric(df, ["gpu"], src)
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
