"""FLOP budgets -> durations: where a plan gives no end, the job runs for C / (n · peak · MFU) (DOMAIN.md §1).

peak is the dense peak of the job's GPU type at its precision (``gpus.GPUSpec.peak_flops``: BF16/FP16, FP8,
TF32). MFU is learned from the site's own plans: the median planned MFU (budget / (n · peak · planned
duration)) of that site's versions with an explicit end that were known at or before the version being
completed (so nothing known later leaks in); where a site has none yet, the default for the precision
(DOMAIN: 0.30–0.50 for dense BF16, ~0.20 of FP8 peak reported).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecast.data.gpus import gpu_spec

DEFAULT_MFU: dict[str, float] = {"bf16": 0.40, "fp16": 0.40, "tf32": 0.40, "fp8": 0.20}


def peak_flops(jobs: pd.DataFrame) -> np.ndarray:
    """(V,) dense peak FLOP/s per GPU of each row's GPU type at its precision."""
    pairs = pd.MultiIndex.from_arrays([jobs["gpu_type"].astype(str), jobs["precision"].astype(str)])
    codes, uniq = pd.factorize(pairs)
    table = np.array([gpu_spec(g).peak_flops(p) for g, p in uniq], dtype=np.float64)
    return table[codes]


def planned_mfu(jobs: pd.DataFrame) -> np.ndarray:
    """(V,) budget / (n · peak · planned duration); NaN where the end or the budget is missing."""
    dur_s = (pd.DatetimeIndex(jobs["planned_end"]) - pd.DatetimeIndex(jobs["planned_start"])).total_seconds()
    fb = jobs["flop_budget"].to_numpy(np.float64)
    mfu = fb / (jobs["n_gpus"].to_numpy(np.float64) * peak_flops(jobs) * dur_s.to_numpy(np.float64))
    return np.where(np.isfinite(mfu) & (fb > 0), mfu, np.nan)


def learned_mfu(jobs: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
    """(len(rows),) MFU for the versions at positions ``rows``: the median planned MFU of the same site's
    versions with an end known at or before each one; the precision's default where there are none."""
    known = jobs["known_at"].to_numpy()
    site = jobs["site_id"].to_numpy()
    mfu = planned_mfu(jobs)
    ok = np.isfinite(mfu)
    out = np.empty(len(rows))
    for i, r in enumerate(rows):  # only the versions without an end: a handful per plan
        pool = mfu[ok & (site == site[r]) & (known <= known[r])]
        out[i] = float(np.median(pool)) if len(pool) else DEFAULT_MFU[str(jobs["precision"].iloc[r])]
    return out


END_FROM = ("plan", "flop_budget")  # where a version's planned_end came from


def fill_ends_from_budgets(jobs: pd.DataFrame) -> pd.DataFrame:
    """Rows without planned_end get start + budget / (n · peak · MFU); ``end_from`` says where each end came
    from ("plan" or "flop_budget") and ``mfu`` the MFU used (NaN for planned ends). Rows without an end and
    without a positive budget are left as they are (the contract refuses them)."""
    out = jobs.copy()
    need = out["planned_end"].isna().to_numpy() & (out["flop_budget"].fillna(0).to_numpy(np.float64) > 0)
    out["end_from"] = pd.Categorical.from_codes(need.astype(np.int8), END_FROM)  # no string per row
    out["mfu"] = np.nan
    rows = np.flatnonzero(need)
    if len(rows):
        m = learned_mfu(out, rows)
        sub = out.iloc[rows]
        seconds = sub["flop_budget"].to_numpy(np.float64) / (sub["n_gpus"].to_numpy(np.float64) * peak_flops(sub) * m)
        hours = np.ceil(seconds / 3600.0)  # whole hours: plans are hourly
        out.loc[out.index[rows], "planned_end"] = sub["planned_start"] + pd.to_timedelta(hours, unit="h")
        out.loc[out.index[rows], "mfu"] = m
    return out
