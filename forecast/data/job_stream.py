"""Job stream of one simulated site (DOMAIN.md §1): planned from FLOP budgets and packed first-fit, then run.

Plan: Poisson arrivals of jobs (size a share of the fleet, lognormal planned
duration, lead time before the earliest start) placed first-fit on the
planned occupancy. Run, in planned order: cancellations, start slips and
queueing on the actual occupancy, achieved MFU ≠ planned, early stops,
interruptions with idle downtime and redone work, checkpoint dips; large
slips may be announced as schedule revisions.

Times are integer hours from the padded (warm-up) origin; power in W; energy
in MWh. Invariants: allocated GPUs never exceed the fleet (planned or
actual); one seeded generator per site, drawn in a fixed order, so the same
config and seed give the same jobs.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import pandas as pd

from forecast.data.gpus import GPUSpec, gpu_spec
from forecast.data.scenario_config import FleetConfig, JobStreamConfig, SiteConfig


def first_fit(free: np.ndarray, n: int, start: int, dur: int) -> int:
    """Earliest s >= start with free[s:s+dur] >= n everywhere; -1 if none before the end."""
    T = free.shape[0]
    lo = start
    while lo + dur <= T:
        hi = min(T, lo + dur + 4096)
        ok = free[lo:hi] >= n
        cs = np.concatenate([[0], np.cumsum(ok)])
        win = cs[dur:] - cs[:-dur] if dur <= hi - lo else np.array([], dtype=np.int64)
        hit = np.flatnonzero(win == dur)
        if hit.size:
            return lo + int(hit[0])
        if hi == T:
            return -1
        lo = hi - dur + 1
    return -1


# --------------------------------------------------------------------------- plan
def arrivals(cap: int, occupancy: float, jc: JobStreamConfig, TT: int,
             rng: np.random.Generator) -> list[tuple[int, int, int, int]]:
    """Poisson arrivals on [0, TT − 1) asking ``occupancy`` of ``cap`` GPUs on average (with
    ``jc.quiet_spells_h``: in the busy spells; the arrivals of quiet spells are left out, but for the first
    arrival when no other is left).

    Returns (submit h, GPUs, planned duration h, lead h) per job; sizes are multiples of 8 GPUs, ≥ 8.
    """
    fr = np.asarray(jc.size_fractions)
    w = np.asarray(jc.size_weights) / np.sum(jc.size_weights)
    sizes = np.maximum(8, (np.round(fr * cap / 8) * 8).astype(np.int64))
    mean_gpu_h = float(np.sum(w * sizes)) * jc.duration_median_h * math.exp(jc.duration_sigma ** 2 / 2)
    rate = occupancy * cap / mean_gpu_h  # arrivals per hour
    t = 0.0
    out = []
    while True:
        t += rng.exponential(1.0 / rate)
        if t >= TT - 1:
            break
        n = int(rng.choice(sizes, p=w))
        dur = int(np.clip(round(rng.lognormal(math.log(jc.duration_median_h), jc.duration_sigma)), 2, jc.duration_max_h))
        lead = int(rng.uniform(0, jc.lead_max_h))
        out.append((int(t), n, dur, lead))
    if jc.quiet_spells_h is None:
        return out
    busy = busy_hours(jc.quiet_spells_h, TT, rng)
    kept = [job for job in out if busy[job[0]]]
    return kept or out[:1]  # a stream keeps at least its first job (the simulator plans a site with jobs)


def busy_hours(spells_h: tuple[float, float], TT: int, rng: np.random.Generator) -> np.ndarray:
    """(TT,) bool: alternating busy and quiet spells of exponential lengths with means ``spells_h`` (h),
    starting in either as often as the means give."""
    b, q = (float(x) for x in spells_h)
    out = np.zeros(TT, bool)
    busy, t = bool(rng.random() < b / (b + q)), 0
    while t < TT:
        n = max(1, int(round(rng.exponential(b if busy else q))))
        out[t:t + n] = busy
        busy, t = not busy, t + n
    return out


def plan_fleet(site_id: str, fleet: FleetConfig, jc: JobStreamConfig, jobs: list[tuple[int, int, int, int]],
               TT: int, rng: np.random.Generator, rows: list[dict], job_no: int) -> int:
    """Place ``jobs`` (from :func:`arrivals`) first-fit on the fleet's planned occupancy; append their plan rows
    to ``rows`` and return the last job number used. A job that would not start within the TT hours never
    enters the schedule. Rows carry the planned MFU and duration as ``_mfu``, ``_dur`` (h) for the run."""
    spec = gpu_spec(fleet.gpu_type)
    cap = fleet.n_gpus
    planned_occ = np.zeros(TT, dtype=np.int64)
    for submit, n, dur, lead in jobs:
        s = first_fit(cap - planned_occ, n, submit + lead, dur)
        if s < 0:
            continue  # would not start within the scenario: never enters the schedule
        planned_occ[s:s + dur] += n
        job_no += 1
        job_id = f"{site_id}-{fleet.gpu_type}-{job_no:05d}"
        precision = "fp8" if (spec.peak_fp8_tflops and rng.random() < jc.fp8_share) else "bf16"
        mfu = rng.uniform(*jc.mfu_plan)
        flops = n * spec.peak_flops(precision) * mfu * 3600.0 * dur
        rows.append(dict(job_id=job_id, site_id=site_id, known_at=submit, planned_start=s,
                         planned_end=s + dur, n_gpus=n, gpu_type=fleet.gpu_type, flop_budget=flops,
                         precision=precision, curtailable=bool(rng.random() < jc.curtailable_share),
                         _mfu=mfu, _dur=dur))
    return job_no


# --------------------------------------------------------------------------- run
class Execution(NamedTuple):
    """How one (not cancelled) job runs: start slip (h), compute hours at the achieved MFU, interruptions."""

    slip: int
    work_h: float
    status: str  # completed | stopped_early
    n_fail: int
    down: np.ndarray  # (n_fail,) idle hours per interruption
    redo: np.ndarray  # (n_fail,) hours of work lost per interruption
    ckpt: int  # checkpoint every ckpt hours

    @property
    def total_h(self) -> float:
        """Wall-clock hours from start to end: work + downtime + redone work."""
        return self.work_h + self.down.sum() + self.redo.sum()


def draw_execution(n: int, dur: int, jc: JobStreamConfig, rng: np.random.Generator) -> Execution:
    """Draw how a job of ``n`` GPUs planned for ``dur`` hours runs (after the cancellation draw)."""
    status = "completed"
    slip = int(rng.exponential(jc.slip_mean_h)) if rng.random() < jc.slip_prob else 0
    speed = max(0.5, 1 + rng.normal(0, jc.mfu_actual_sd))  # achieved / planned MFU
    work_h = dur / speed  # hours of compute needed at the achieved MFU
    if rng.random() < jc.early_stop_prob:
        work_h *= rng.uniform(0.2, 0.9)
        status = "stopped_early"
    n_fail = rng.poisson(jc.restarts_per_gpu_day / 24.0 * n * work_h)
    down = rng.uniform(*jc.downtime_h, size=n_fail)
    ckpt = int(rng.integers(jc.checkpoint_every_h[0], jc.checkpoint_every_h[1] + 1))
    redo = rng.uniform(*jc.redo_h, size=n_fail)  # work lost since the last checkpoint
    return Execution(slip, work_h, status, n_fail, down, redo, ckpt)


def utilisation(ex: Execution, length: int, dip: float, rng: np.random.Generator) -> np.ndarray:
    """Hourly utilisation u ∈ [0, 1] over the run's ``length`` hours: ramp-up hour, checkpoint dips (share
    ``dip`` of an hour), the partial last hour, idle downtime at uniformly drawn interruption times."""
    total_h = ex.total_h
    u = np.ones(length)
    u[0] = 0.6  # ramp: loading data, compiling
    u[ex.ckpt::ex.ckpt] -= dip
    frac_last = total_h - (length - 1)
    u[-1] *= frac_last  # the job ends part-way through its last hour
    if ex.n_fail:
        at = np.sort(rng.uniform(0, max(total_h - 1, 0.0), size=ex.n_fail))
        for a, d in zip(at, ex.down):
            i0 = int(a)
            span = np.arange(i0, min(length, int(math.ceil(a + d))))
            over = np.minimum(span + 1, a + d) - np.maximum(span, a)  # idle share of each hour
            u[span] = np.clip(u[span] - over, 0.0, 1.0)
    return np.clip(u, 0.0, 1.0)


def no_run(job_id: str, status: str) -> dict:
    """Run row of a job that never started (cancelled | not_started): no times, no energy."""
    return dict(job_id=job_id, status=status, actual_start=None, actual_end=None,
                n_failures=0, gpu_energy_mwh=0.0, dyn_energy_in_window_mwh=0.0)


def run_job(r: dict, spec: GPUSpec, cap: int, jc: JobStreamConfig, actual_occ: np.ndarray, dyn_w: np.ndarray,
            rng: np.random.Generator, window: tuple[int, int]) -> tuple[dict, dict | None]:
    """Execute plan row ``r`` on a fleet of ``cap`` GPUs of ``spec``: books its GPUs in ``actual_occ`` and its
    power above idle (W) in ``dyn_w`` (both (TT,), updated in place). Returns the run row and a schedule
    revision (or None)."""
    n, dur = r["n_gpus"], r["_dur"]
    if rng.random() < jc.cancel_prob:
        return no_run(r["job_id"], "cancelled"), None
    ex = draw_execution(n, dur, jc, rng)
    length = max(1, int(math.ceil(ex.total_h)))
    s = first_fit(cap - actual_occ, n, r["planned_start"] + ex.slip, length)
    if s < 0:
        return no_run(r["job_id"], "not_started"), None
    e = s + length
    actual_occ[s:e] += n
    u = utilisation(ex, length, jc.checkpoint_dip, rng)
    train_w = spec.tdp_w * np.clip(rng.normal(spec.train_frac, jc.train_frac_sd), 0.55, 0.92)
    dyn = n * u * (train_w - spec.idle_w)
    dyn_w[s:e] += dyn
    run = dict(job_id=r["job_id"], status=ex.status, actual_start=s, actual_end=e, n_failures=int(ex.n_fail),
               gpu_energy_mwh=float(np.sum(dyn + n * spec.idle_w) / 1e6),
               # energy above idle inside the output hours [window): the bookkeeping side of
               # "energy = Σ power" that tests compare with the hourly GPU power
               dyn_energy_in_window_mwh=float(np.sum(dyn[max(0, window[0] - s):max(0, window[1] - s)]) / 1e6))
    revision = None
    if ex.slip > 12 and rng.random() < jc.revise_prob:
        ann = max(r["known_at"] + 1, r["planned_start"] - int(rng.uniform(1, 24)))
        if ann < s:
            revision = dict(r, known_at=ann, planned_start=s, planned_end=s + dur)
    return run, revision


def run_fleet(fleet: FleetConfig, jc: JobStreamConfig, rows: list[dict], TT: int, rng: np.random.Generator,
              window: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, list[dict], list[dict]]:
    """Run the plan rows of this fleet's GPU type in planned order.

    Returns GPU board power (TT,) W, allocated GPUs (TT,), run rows and schedule revisions.
    """
    spec = gpu_spec(fleet.gpu_type)
    actual_occ = np.zeros(TT, dtype=np.int64)
    dyn_w = np.zeros(TT)  # Σ n·u·(P_train − P_idle)
    mine = [r for r in rows if r["gpu_type"] == fleet.gpu_type]
    mine.sort(key=lambda r: (r["planned_start"], r["job_id"]))
    runs, revisions = [], []
    for r in mine:
        run, revision = run_job(r, spec, fleet.n_gpus, jc, actual_occ, dyn_w, rng, window)
        runs.append(run)
        if revision is not None:
            revisions.append(revision)
    assert (actual_occ <= fleet.n_gpus).all(), "simulator bug: allocation above the fleet"
    return fleet.n_gpus * spec.idle_w + dyn_w, actual_occ, runs, revisions


def plan_and_run(site: SiteConfig, jc: JobStreamConfig, T: int, rng: np.random.Generator, warmup: int,
                 window: tuple[int, int]) -> tuple[pd.DataFrame, pd.DataFrame, dict, dict]:
    """Plan a job stream for one site and execute it over T + warmup hours.

    Returns the schedule (plans and revisions, integer hours), the runs, GPU board power (W) and allocated
    GPUs per GPU type, each (T + warmup,).
    """
    rows, runs = [], []
    TT = T + warmup
    gpu_power_w, alloc = {}, {}
    job_no = 0
    for fleet in site.fleet:
        jobs = arrivals(fleet.n_gpus, site.occupancy, jc, TT, rng)
        job_no = plan_fleet(site.site_id, fleet, jc, jobs, TT, rng, rows, job_no)
        power_w, occ, fleet_runs, revisions = run_fleet(fleet, jc, rows, TT, rng, window)
        runs.extend(fleet_runs)
        rows.extend(revisions)
        gpu_power_w[fleet.gpu_type] = power_w
        alloc[fleet.gpu_type] = occ
    jobs = pd.DataFrame(rows).drop(columns=["_mfu", "_dur"])
    return jobs, pd.DataFrame(runs), gpu_power_w, alloc
