"""The schedule as it was known at time t: one rule for every path that reads the jobs table.

A jobs table holds versions of plans: a job may have several rows, each with the time ``known_at``
at which that version became known. The rule:

- a version is visible at issue time t iff ``known_at <= t``;
- per job, the plan in force at t is the latest visible version (largest ``known_at``);
  a job is the same job wherever it is planned, so a revision that moves it to another site
  supersedes it at the old one.

On an hourly grid of issue times ``origin + i·1h`` this becomes integer hour intervals: version v
is in force at issue hours ``k[v] <= i < k_end[v]``, where ``k[v] = ceil((known_at − origin) / 1h)``
(a version known at 10:30 counts from the issue hour 11:00, never 10:00) and ``k_end[v]`` is ``k``
of the job's next version. Two versions that become visible in the same hour: the later ``known_at``
wins; the earlier one is never in force at any whole hour (its interval is empty).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

HOUR_NS = 3_600_000_000_000
NEVER = np.iinfo(np.int64).max // 4  # k_end of a version nothing supersedes
_CLAMP_NS = 3650 * 24 * HOUR_NS  # known_at further than ten years from origin is clamped (no int64 overflow)
# where known_at comes from when the jobs table has no such column (config key data.known_at)
KNOWN_AT_ASSUMPTIONS: tuple[str, ...] = ("column", "planned_start", "always")


def visible_from_hour(known_at_ns: np.ndarray, origin: pd.Timestamp) -> np.ndarray:
    """(V,) int64: the first issue hour index i (issue time ``origin + i·1h``) at which a version known at
    ``known_at_ns`` (int64 ns since the epoch, UTC) is visible, i.e. ceil((known_at − origin) / 1h)."""
    o = pd.Timestamp(origin).as_unit("ns").value
    v = np.clip(np.asarray(known_at_ns, np.int64), o - _CLAMP_NS, o + _CLAMP_NS)
    return -np.floor_divide(o - v, HOUR_NS)


@dataclass(frozen=True)
class VersionIntervals:
    """Issue-hour validity of each version, rows in ``order``: versions of one job together, by known_at."""

    order: np.ndarray  # (V,) positions (iloc) into the jobs frame
    job: np.ndarray  # (V,) int job code per ordered row: versions of one job share it
    k: np.ndarray  # (V,) first issue hour at which the version is in force
    k_end: np.ndarray  # (V,) first issue hour at which it is superseded (NEVER: it is not)

    def in_force(self, i: int) -> np.ndarray:
        """(V,) bool: which ordered rows are the plan in force at issue hour ``i``."""
        return (self.k <= i) & (i < self.k_end)


def known_at_ns(jobs: pd.DataFrame) -> np.ndarray:
    """(V,) int64 ns since the epoch (UTC) of the jobs' ``known_at`` column."""
    return pd.DatetimeIndex(jobs["known_at"]).as_unit("ns").asi8


def version_intervals(jobs: pd.DataFrame, origin: pd.Timestamp) -> VersionIntervals:
    """Each version's [k, k_end) interval of issue hours (from ``origin``) in which it is the job's plan.

    Stable order: jobs by job_id, versions of a job by known_at (ties keep input order).
    """
    jcode = pd.factorize(jobs["job_id"], sort=True)[0]
    known = known_at_ns(jobs)
    order = np.lexsort((known, jcode))
    job = jcode[order]
    k = visible_from_hour(known[order], origin)
    k_end = np.full(len(order), NEVER, np.int64)
    same_next = job[1:] == job[:-1]
    k_end[:-1] = np.where(same_next, k[1:], NEVER)  # superseded once the next version is visible
    return VersionIntervals(order, job, k, k_end)


def schedule_as_of(jobs: pd.DataFrame, t: pd.Timestamp) -> pd.DataFrame:
    """The schedule as it was known at ``t``: for each job the latest version with known_at <= t, rows by job_id.

    The same intervals as the hourly paths, on a grid whose hour 0 is ``t``: ceil((known_at − t) / 1h) <= 0
    iff known_at <= t, so this holds for any t, on the hour or not."""
    iv = version_intervals(jobs, t)
    return jobs.iloc[iv.order[iv.in_force(0)]].reset_index(drop=True)


def assume_known_at(jobs: pd.DataFrame, assumption: str) -> pd.Series:
    """``known_at`` for a jobs table that lacks the column, under a stated assumption:
    ``planned_start`` (each version known when it was planned to start) or ``always`` (known forever)."""
    if assumption == "planned_start":
        return jobs["planned_start"].copy()
    if assumption == "always":
        return pd.Series(pd.Timestamp.min.tz_localize("UTC"), index=jobs.index, dtype="datetime64[ns, UTC]")
    raise ValueError(f"no known_at assumption {assumption!r}; known: {', '.join(KNOWN_AT_ASSUMPTIONS[1:])}")


def duplicated_versions(jobs: pd.DataFrame) -> np.ndarray:
    """(n,) bool: rows whose (job_id, known_at) occurs more than once; job ids hashed once in arrow, each pair
    one integer (job code × distinct known_at + known_at code), hashed."""
    codes = job_codes(jobs["job_id"])
    known = pd.factorize(known_at_ns(jobs))[0]
    n_known = int(known.max()) + 1 if len(known) else 0
    return pd.Index(codes * n_known + known).duplicated(keep=False)  # one int64 per pair, hashed


def job_codes(job_id: pd.Series) -> np.ndarray:
    """(n,) int64: one code per distinct job id, in order of first appearance (hashed in arrow, no sort).

    The codes of the last column hashed are kept with that column's arrow array: validation and the schedule
    read the same jobs frame, and the same (immutable) text is hashed once. The kept array holds its buffers,
    so another column can never be taken for it."""
    jid = pa.array(job_id.astype(str))  # the column's own arrow text, uncopied
    kept = _LAST_CODES.get("last")  # one read: (text, codes) of one column, even with several threads
    if kept is not None and _views(kept[0]) == _views(jid):
        return kept[1].copy()
    whole = jid.combine_chunks() if isinstance(jid, pa.ChunkedArray) else jid
    codes = pc.dictionary_encode(whole).indices.to_numpy().astype(np.int64)
    _LAST_CODES["last"] = (jid, codes)
    return codes.copy()


_LAST_CODES: dict = {}  # last: (the arrow text last hashed, kept alive; its codes)


def _views(arr: pa.Array | pa.ChunkedArray) -> list:
    """What an arrow array views: per chunk its type, offset, length and buffers (address, size)."""
    chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
    return [(str(c.type), c.offset, len(c), [None if b is None else (b.address, b.size) for b in c.buffers()])
            for c in chunks]
