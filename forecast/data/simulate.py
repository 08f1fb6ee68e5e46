"""Built-in scenario simulator: AI campuses and their grid, hourly, seeded and deterministic.

Physics (DOMAIN.md §1): a stream of training jobs per site is *planned*
(FLOP budget → GPU-hours via planned MFU, packed first-fit onto the site's GPU
fleet, known from submission), then *runs* differently: start slips and
queueing, achieved MFU differs from plan, early stops, cancellations, failures
with idle downtime and re-ramp, checkpoint dips. GPU power per hour is
``n_gpu·[P_idle + u·(P_train − P_idle)]`` for allocated GPUs and ``P_idle`` for
free ones; IT power adds host overhead; facility power is ``PUE(T)·IT + P_base``
with PUE rising with outdoor temperature; the meter adds noise.

Grid (DOMAIN.md §2): zonal system load from weather and calendar plus the
campuses' draw; price from a convex, increasing supply curve of that load
times a slowly varying fuel factor. Day-ahead load forecasts carry error.

Outputs are files in the data contracts (sites.csv, jobs.parquet,
meter.parquet, grid.parquet) plus ``truth/`` (actual job runs, noiseless
power) for tests and audits; the pipeline reads only the contract files.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.data.gpus import gpu_spec
from forecast.io import atomic_write, atomic_write_text

HOUR_NS = 3_600_000_000_000


@dataclass
class FleetConfig:
    gpu_type: str = "H100"
    n_gpus: int = 100_000


@dataclass
class SiteConfig:
    site_id: str = "site-a"
    zone: str = "DOM"
    fleet: list[FleetConfig] = field(default_factory=lambda: [FleetConfig()])
    pue_min: float = 1.10  # liquid-cooled AI hall at cool outdoor temperature
    pue_slope_per_c: float = 0.006  # PUE rise per °C above pue_ref_c
    pue_ref_c: float = 12.0
    host_ratio: float = 0.30  # non-GPU IT power (CPUs, network, storage) per W of GPU power
    base_load_mw: float = 3.0  # offices, lighting: not IT, not scaled by PUE
    occupancy: float = 0.68  # planned share of GPU-hours the job stream asks for


@dataclass
class ZoneConfig:
    zone: str = "DOM"
    mean_load_mw: float = 14_000.0
    temp_mean_c: float = 14.0
    temp_season_c: float = 11.0  # amplitude of the annual cycle
    temp_day_c: float = 5.0  # amplitude of the daily cycle
    utc_offset_h: float = -5.0  # standard time, for the local daily cycle
    price_floor: float = 15.0  # $/MWh at zero load
    price_scale: float = 25.0  # $/MWh added at mean load
    price_exponent: float = 3.0  # convexity of the supply curve in load/mean
    forecast_error: float = 0.02  # relative sd of the day-ahead load forecast


@dataclass
class JobStreamConfig:
    size_fractions: list[float] = field(default_factory=lambda: [1 / 128, 1 / 64, 1 / 32, 1 / 16, 1 / 8, 1 / 4])
    size_weights: list[float] = field(default_factory=lambda: [0.25, 0.25, 0.20, 0.15, 0.10, 0.05])
    duration_median_h: float = 60.0
    duration_sigma: float = 0.9  # lognormal shape of planned duration
    duration_max_h: float = 720.0
    lead_max_h: float = 240.0  # jobs enter the schedule up to this long before their earliest start
    mfu_plan: tuple[float, float] = (0.35, 0.45)
    mfu_actual_sd: float = 0.06  # relative error of achieved vs planned MFU
    fp8_share: float = 0.2
    slip_prob: float = 0.35
    slip_mean_h: float = 8.0
    revise_prob: float = 0.5  # share of large slips announced before the planned start
    early_stop_prob: float = 0.08
    cancel_prob: float = 0.03
    restarts_per_gpu_day: float = 4.7e-4  # Llama 3: 466 interruptions / (54 d × 16,384 GPUs)
    downtime_h: tuple[float, float] = (0.05, 0.3)  # idle time per interruption (Llama 3: >90% effective time)
    redo_h: tuple[float, float] = (0.0, 0.15)  # work lost per interruption (frequent in-memory checkpoints)
    checkpoint_every_h: tuple[int, int] = (2, 6)
    checkpoint_dip: float = 0.08  # share of an hour at idle while writing a checkpoint
    train_frac_sd: float = 0.04  # job-to-job spread of training power around the GPU's train_frac
    curtailable_share: float = 0.3


@dataclass
class ScenarioConfig:
    seed: int = 7
    start: str = "2024-01-01T00:00:00Z"
    days: int = 731
    meter_noise: float = 0.004  # relative sd of meter noise (AR(1) part)
    sites: list[SiteConfig] = field(default_factory=lambda: [
        SiteConfig("site-a", "DOM", [FleetConfig("H100", 160_000)], base_load_mw=4.0),
        SiteConfig("site-b", "DOM", [FleetConfig("B200", 60_000), FleetConfig("H200", 40_000)], pue_min=1.08),
        SiteConfig("site-c", "COMED", [FleetConfig("GB200", 50_000)], pue_min=1.06, occupancy=0.62),
        SiteConfig("site-d", "COMED", [FleetConfig("A100", 120_000)], pue_min=1.25, pue_slope_per_c=0.01,
                   occupancy=0.72),
    ])
    zones: list[ZoneConfig] = field(default_factory=lambda: [
        ZoneConfig("DOM", 14_000.0, 14.5, 11.0, 5.0, -5.0),
        ZoneConfig("COMED", 12_000.0, 10.0, 14.0, 5.5, -6.0, price_floor=12.0, price_scale=24.0),
    ])
    jobs: JobStreamConfig = field(default_factory=JobStreamConfig)


@dataclass
class Scenario:
    """Everything the simulator produced, in memory."""

    sites: pd.DataFrame
    jobs: pd.DataFrame
    meter: pd.DataFrame
    grid: pd.DataFrame
    runs: pd.DataFrame  # one row per job: actual start/end, status, energy
    truth: pd.DataFrame  # per site and hour: noiseless power, IT power, GPU power, PUE, capacity bound

    def write(self, out: str | Path) -> dict[str, Path]:
        out = Path(out)
        (out / "truth").mkdir(parents=True, exist_ok=True)
        paths = {
            "sites": out / "sites.csv",
            "jobs": out / "jobs.parquet",
            "meter": out / "meter.parquet",
            "grid": out / "grid.parquet",
            "runs": out / "truth" / "runs.parquet",
            "truth": out / "truth" / "power.parquet",
        }
        for name, p in paths.items():
            frame = getattr(self, name)
            if p.suffix == ".csv":
                atomic_write(p, lambda tmp, f=frame: f.to_csv(tmp, index=False))
            else:
                atomic_write(p, lambda tmp, f=frame: f.to_parquet(tmp, index=False))
        return paths


# --------------------------------------------------------------------------- helpers
def _hours(cfg: ScenarioConfig) -> pd.DatetimeIndex:
    start = pd.Timestamp(cfg.start)
    if start.tzinfo is None:
        raise ValueError(f"scenario start {cfg.start!r} must carry a timezone (e.g. ...Z); set data.scenario.start")
    return pd.date_range(start.tz_convert("UTC"), periods=cfg.days * 24, freq="h")


def _ar1(rng: np.random.Generator, n: int, phi: float, sd: float) -> np.ndarray:
    """Stationary AR(1) with marginal sd ``sd`` (vectorised via lfilter-free recursion in blocks)."""
    e = rng.normal(0.0, sd * math.sqrt(1 - phi * phi), n)
    from scipy.signal import lfilter

    x = lfilter([1.0], [1.0, -phi], e)
    x[0] = rng.normal(0.0, sd)  # start in the stationary distribution
    return x


def temperature(zone: ZoneConfig, idx: pd.DatetimeIndex, rng: np.random.Generator) -> np.ndarray:
    """Outdoor temperature (°C): annual and daily cycles plus persistent weather anomalies."""
    doy = idx.dayofyear.to_numpy() + idx.hour.to_numpy() / 24.0
    local_h = (idx.hour.to_numpy() + zone.utc_offset_h) % 24
    season = -zone.temp_season_c * np.cos(2 * np.pi * (doy - 20) / 365.25)  # coldest ~20 Jan
    day = -zone.temp_day_c * np.cos(2 * np.pi * (local_h - 3) / 24)  # coldest ~03:00, warmest ~15:00
    anomaly = _ar1(rng, len(idx), 0.985, 3.5)
    return zone.temp_mean_c + season + day + anomaly


def _first_fit(free: np.ndarray, n: int, start: int, dur: int) -> int:
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


# --------------------------------------------------------------------------- jobs
def _plan_and_run(site: SiteConfig, jc: JobStreamConfig, T: int, rng: np.random.Generator,
                  start_ns: int, warmup: int, window: tuple[int, int]):
    """Plan a job stream for one site and execute it. Times are integer hours from the (warm-up) origin."""
    rows, runs = [], []
    TT = T + warmup
    # per-type hourly profiles over the padded timeline
    gpu_power_w = {}  # type -> (TT,) GPU board power, W
    alloc = {}
    job_no = 0
    for fleet in site.fleet:
        spec = gpu_spec(fleet.gpu_type)
        cap = fleet.n_gpus
        planned_occ = np.zeros(TT, dtype=np.int64)
        actual_occ = np.zeros(TT, dtype=np.int64)
        dyn_w = np.zeros(TT)  # Σ n·u·(P_train − P_idle)
        fr = np.asarray(jc.size_fractions)
        w = np.asarray(jc.size_weights) / np.sum(jc.size_weights)
        sizes = np.maximum(8, (np.round(fr * cap / 8) * 8).astype(np.int64))
        mean_gpu_h = float(np.sum(w * sizes)) * jc.duration_median_h * math.exp(jc.duration_sigma ** 2 / 2)
        rate = site.occupancy * cap / mean_gpu_h  # arrivals per hour
        t = 0.0
        jobs_here = []
        while True:
            t += rng.exponential(1.0 / rate)
            if t >= TT - 1:
                break
            n = int(rng.choice(sizes, p=w))
            dur = int(np.clip(round(rng.lognormal(math.log(jc.duration_median_h), jc.duration_sigma)), 2, jc.duration_max_h))
            lead = int(rng.uniform(0, jc.lead_max_h))
            jobs_here.append((int(t), n, dur, lead))
        for submit, n, dur, lead in jobs_here:
            s = _first_fit(cap - planned_occ, n, submit + lead, dur)
            if s < 0:
                continue  # would not start within the scenario: never enters the schedule
            planned_occ[s:s + dur] += n
            job_no += 1
            job_id = f"{site.site_id}-{fleet.gpu_type}-{job_no:05d}"
            precision = "fp8" if (spec.peak_fp8_tflops and rng.random() < jc.fp8_share) else "bf16"
            mfu = rng.uniform(*jc.mfu_plan)
            flops = n * spec.peak_flops(precision) * mfu * 3600.0 * dur
            rows.append(dict(job_id=job_id, site_id=site.site_id, known_at=submit, planned_start=s,
                             planned_end=s + dur, n_gpus=n, gpu_type=fleet.gpu_type, flop_budget=flops,
                             precision=precision, curtailable=bool(rng.random() < jc.curtailable_share),
                             _mfu=mfu, _dur=dur))
        # ---- execute in planned order
        mine = [r for r in rows if r["gpu_type"] == fleet.gpu_type]
        mine.sort(key=lambda r: (r["planned_start"], r["job_id"]))
        revisions = []
        for r in mine:
            n, dur = r["n_gpus"], r["_dur"]
            status = "completed"
            if rng.random() < jc.cancel_prob:
                runs.append(dict(job_id=r["job_id"], status="cancelled", actual_start=None, actual_end=None,
                                 n_failures=0, gpu_energy_mwh=0.0, dyn_energy_in_window_mwh=0.0))
                continue
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
            total_h = work_h + down.sum() + redo.sum()
            length = max(1, int(math.ceil(total_h)))
            s = _first_fit(cap - actual_occ, n, r["planned_start"] + slip, length)
            if s < 0:
                runs.append(dict(job_id=r["job_id"], status="not_started", actual_start=None, actual_end=None,
                                 n_failures=0, gpu_energy_mwh=0.0, dyn_energy_in_window_mwh=0.0))
                continue
            e = s + length
            actual_occ[s:e] += n
            # hourly utilisation u in [0, 1]
            u = np.ones(length)
            u[0] = 0.6  # ramp: loading data, compiling
            u[ckpt::ckpt] -= jc.checkpoint_dip
            frac_last = total_h - (length - 1)
            u[-1] *= frac_last  # the job ends part-way through its last hour
            if n_fail:
                at = np.sort(rng.uniform(0, max(total_h - 1, 0.0), size=n_fail))
                for a, d in zip(at, down):
                    i0 = int(a)
                    span = np.arange(i0, min(length, int(math.ceil(a + d))))
                    over = np.minimum(span + 1, a + d) - np.maximum(span, a)  # idle share of each hour
                    u[span] = np.clip(u[span] - over, 0.0, 1.0)
            u = np.clip(u, 0.0, 1.0)
            train_w = spec.tdp_w * np.clip(rng.normal(spec.train_frac, jc.train_frac_sd), 0.55, 0.92)
            dyn = n * u * (train_w - spec.idle_w)
            dyn_w[s:e] += dyn
            runs.append(dict(job_id=r["job_id"], status=status, actual_start=s, actual_end=e, n_failures=int(n_fail),
                             gpu_energy_mwh=float(np.sum(dyn + n * spec.idle_w) / 1e6),
                             # energy above idle inside the output hours [window): the bookkeeping side of
                             # "energy = Σ power" that tests compare with the hourly GPU power
                             dyn_energy_in_window_mwh=float(np.sum(dyn[max(0, window[0] - s):max(0, window[1] - s)]) / 1e6)))
            if slip > 12 and rng.random() < jc.revise_prob:
                ann = max(r["known_at"] + 1, r["planned_start"] - int(rng.uniform(1, 24)))
                if ann < s:
                    revisions.append(dict(r, known_at=ann, planned_start=s, planned_end=s + dur))
        rows.extend(revisions)
        gpu_power_w[fleet.gpu_type] = cap * spec.idle_w + dyn_w
        alloc[fleet.gpu_type] = actual_occ
        assert (actual_occ <= cap).all(), "simulator bug: allocation above the fleet"
    jobs = pd.DataFrame(rows).drop(columns=["_mfu", "_dur"])
    runs = pd.DataFrame(runs)
    return jobs, runs, gpu_power_w, alloc


def simulate(cfg: ScenarioConfig | None = None) -> Scenario:
    """Run the scenario. Same config and seed ⇒ identical frames."""
    cfg = cfg or ScenarioConfig()
    idx = _hours(cfg)
    T = len(idx)
    warmup = 24 * 30  # the first month fills the fleet; outputs start after it
    tail = 24 * 30  # jobs keep arriving after the last output hour, so the end is not a drained fleet
    full_idx = pd.date_range(idx[0] - pd.Timedelta(hours=warmup), periods=T + warmup + tail, freq="h")
    root = np.random.SeedSequence(cfg.seed)
    zone_cfg = {z.zone: z for z in cfg.zones}
    unknown = sorted({s.zone for s in cfg.sites} - set(zone_cfg))
    if unknown:
        raise ValueError(f"sites refer to zones {unknown} with no entry in data.scenario.zones")
    zone_seeds = dict(zip(zone_cfg, root.spawn(len(zone_cfg))))
    site_seeds = dict(zip([s.site_id for s in cfg.sites], root.spawn(len(cfg.sites))))

    temps = {z: temperature(zc, full_idx, np.random.default_rng(zone_seeds[z])) for z, zc in zone_cfg.items()}

    site_rows, job_frames, run_frames, meter_frames, truth_frames = [], [], [], [], []
    draw_by_zone = {z: np.zeros(T) for z in zone_cfg}
    start_ns = full_idx[0].value
    for site in cfg.sites:
        rng = np.random.default_rng(site_seeds[site.site_id])
        jobs, runs, gpu_w, alloc = _plan_and_run(site, cfg.jobs, T + tail, rng, start_ns, warmup,
                                                 (warmup, warmup + T))
        gpu_total_w = sum(gpu_w.values())
        it_mw = gpu_total_w * (1 + site.host_ratio) / 1e6
        temp = temps[site.zone]
        pue = site.pue_min + site.pue_slope_per_c * np.maximum(0.0, temp - site.pue_ref_c)
        power = pue * it_mw + site.base_load_mw
        it_max = sum(f.n_gpus * gpu_spec(f.gpu_type).tdp_w for f in site.fleet) * (1 + site.host_ratio) / 1e6
        bound = pue * it_max + site.base_load_mw
        n_all = len(full_idx)
        noise = _ar1(rng, n_all, 0.9, cfg.meter_noise) + rng.normal(0, cfg.meter_noise / 2, n_all)
        metered = power * (1 + noise)
        assert (metered <= bound).all(), "simulator bug: meter above installed capacity × PUE"
        sl = slice(warmup, warmup + T)
        pue_max = site.pue_min + site.pue_slope_per_c * max(0.0, 40.0 - site.pue_ref_c)
        for f in site.fleet:
            site_rows.append(dict(site_id=site.site_id, zone=site.zone, gpu_type=f.gpu_type, n_gpus=f.n_gpus,
                                  pue_design=round(site.pue_min + site.pue_slope_per_c * 8.0, 4),
                                  capacity_mw=round(it_max * pue_max + site.base_load_mw, 3),
                                  base_load_mw=site.base_load_mw, host_ratio=site.host_ratio))
        meter_frames.append(pd.DataFrame({"site_id": site.site_id, "ts": idx, "power_mw": metered[sl]}))
        truth_frames.append(pd.DataFrame({"site_id": site.site_id, "ts": idx, "power_mw": power[sl], "it_mw": it_mw[sl],
                                          "gpu_mw": gpu_total_w[sl] / 1e6, "pue": pue[sl], "bound_mw": bound[sl],
                                          "allocated_gpus": sum(alloc.values())[sl]}))
        draw_by_zone[site.zone] += metered[sl]
        # times: integer hours on the padded timeline -> UTC timestamps
        for col in ("known_at", "planned_start", "planned_end"):
            jobs[col] = pd.to_datetime(start_ns + jobs[col].to_numpy(np.int64) * HOUR_NS, utc=True)
        for col in ("actual_start", "actual_end"):
            v = pd.to_numeric(runs[col], errors="coerce").to_numpy()
            runs[col] = pd.to_datetime(np.where(np.isnan(v), np.nan, start_ns + np.nan_to_num(v) * HOUR_NS), utc=True)
        job_frames.append(jobs)
        run_frames.append(runs.assign(site_id=site.site_id))

    grid_frames = []
    for z, zc in zone_cfg.items():
        rng = np.random.default_rng(zone_seeds[z].spawn(1)[0])
        temp = temps[z][warmup:warmup + T]
        hours = idx
        local = hours + pd.Timedelta(hours=zc.utc_offset_h)
        lh = local.hour.to_numpy()
        dow = local.dayofweek.to_numpy()
        daily = 0.06 * -np.cos(2 * np.pi * (lh - 4) / 24) + 0.03 * -np.cos(4 * np.pi * (lh - 7) / 24)
        weekend = np.where(dow >= 5, -0.07, 0.0)
        cdd = np.maximum(0.0, temp - 20.0)
        hdd = np.maximum(0.0, 8.0 - temp)
        weather = 0.022 * cdd + 0.010 * hdd
        base = zc.mean_load_mw * (0.92 + daily + weekend + weather) * (1 + _ar1(rng, T, 0.95, 0.015))
        load = base + draw_by_zone[z]
        fc = load * (1 + _ar1(rng, T, 0.9, zc.forecast_error))
        fuel = np.exp(np.repeat(_ar1(rng, T // 24 + 1, 0.97, 0.15), 24)[:T])
        supply = zc.price_floor + zc.price_scale * np.power(load / zc.mean_load_mw, zc.price_exponent)
        price = supply * fuel + rng.normal(0, 1.5, T)
        grid_frames.append(pd.DataFrame({"zone": z, "ts": idx, "price": price, "load_mw": load, "load_forecast_mw": fc,
                                         "temperature_c": temp}))

    jobs = pd.concat(job_frames, ignore_index=True)
    # the schedule as exported at the end of the scenario: plans known by then, not ended before the warm-up month
    end = idx[-1] + pd.Timedelta(hours=1)
    jobs = jobs[(jobs["planned_end"] > idx[0] - pd.Timedelta(days=30)) & (jobs["known_at"] < end)]
    jobs = jobs.sort_values(["known_at", "job_id"], kind="stable").reset_index(drop=True)
    return Scenario(
        sites=pd.DataFrame(site_rows),
        jobs=jobs,
        meter=pd.concat(meter_frames, ignore_index=True),
        grid=pd.concat(grid_frames, ignore_index=True),
        runs=pd.concat(run_frames, ignore_index=True),
        truth=pd.concat(truth_frames, ignore_index=True),
    )


def scenario_from_dict(d: dict) -> ScenarioConfig:
    """Build a ScenarioConfig from a plain (Hydra-resolved) dict."""
    d = dict(d)
    sites = [SiteConfig(**{**s, "fleet": [FleetConfig(**f) for f in s.get("fleet", [])]}) for s in d.pop("sites", [])]
    zones = [ZoneConfig(**z) for z in d.pop("zones", [])]
    jobs = JobStreamConfig(**d.pop("jobs", {}))
    cfg = ScenarioConfig(**d, jobs=jobs)
    if sites:
        cfg.sites = sites
    if zones:
        cfg.zones = zones
    return cfg


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="forecast simulate", description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="data/scenario", help="output folder (default: data/scenario)")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--days", type=int, default=None)
    a = ap.parse_args(argv)
    cfg = ScenarioConfig()
    if a.seed is not None:
        cfg.seed = a.seed
    if a.days is not None:
        cfg.days = a.days
    sc = simulate(cfg)
    paths = sc.write(a.out)
    atomic_write_text(Path(a.out) / "scenario.json", json.dumps(asdict(cfg), indent=1))
    for k, p in paths.items():
        print(f"{k:>6}: {p}")
    return 0
