"""Built-in scenario simulator: AI campuses and their grid, hourly, seeded and deterministic.

Physics (DOMAIN.md §1, jobs in :mod:`forecast.data.job_stream`): a stream of training jobs per site is *planned*
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

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.data.gpus import gpu_spec
from forecast.data.job_stream import plan_and_run
from forecast.data.scenario_config import (FleetConfig, JobStreamConfig, ScenarioConfig, SiteConfig,  # noqa: F401
                                           ZoneConfig)  # (re-exported: the simulator's config lives there)
from forecast.io import atomic_write, atomic_write_text

HOUR_NS = 3_600_000_000_000
WARMUP_H = 24 * 30  # the first month fills the fleet; outputs start after it
TAIL_H = 24 * 30  # jobs keep arriving after the last output hour, so the end is not a drained fleet


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


def _seeds(cfg: ScenarioConfig, zones: list[str]) -> tuple[dict, dict]:
    """One SeedSequence per zone, then one per site, spawned in that order from ``cfg.seed``."""
    root = np.random.SeedSequence(cfg.seed)
    zone_seeds = dict(zip(zones, root.spawn(len(zones))))
    site_seeds = dict(zip([s.site_id for s in cfg.sites], root.spawn(len(cfg.sites))))
    return zone_seeds, site_seeds


# --------------------------------------------------------------------------- sites
def _site_power(site: SiteConfig, gpu_total_w: np.ndarray, temp: np.ndarray) -> dict:
    """Noiseless hourly facility power (MW) = PUE(T)·IT + base, its parts, and the installed bound.

    Keys: it_mw, pue, power, bound (PUE·installed IT + base, MW, hourly), it_max (installed IT at TDP, MW).
    """
    it_mw = gpu_total_w * (1 + site.host_ratio) / 1e6
    pue = site.pue_min + site.pue_slope_per_c * np.maximum(0.0, temp - site.pue_ref_c)
    power = pue * it_mw + site.base_load_mw
    it_max = sum(f.n_gpus * gpu_spec(f.gpu_type).tdp_w for f in site.fleet) * (1 + site.host_ratio) / 1e6
    bound = pue * it_max + site.base_load_mw
    return {"it_mw": it_mw, "pue": pue, "power": power, "bound": bound, "it_max": it_max}


def _site_rows(site: SiteConfig, it_max: float) -> list[dict]:
    """sites.csv rows, one per fleet: design PUE at 20 °C and capacity at 40 °C (MW)."""
    pue_max = site.pue_min + site.pue_slope_per_c * max(0.0, 40.0 - site.pue_ref_c)
    return [dict(site_id=site.site_id, zone=site.zone, gpu_type=f.gpu_type, n_gpus=f.n_gpus,
                 pue_design=round(site.pue_min + site.pue_slope_per_c * 8.0, 4),
                 capacity_mw=round(it_max * pue_max + site.base_load_mw, 3),
                 base_load_mw=site.base_load_mw, host_ratio=site.host_ratio) for f in site.fleet]


def _hours_to_utc(jobs: pd.DataFrame, runs: pd.DataFrame, start_ns: int) -> None:
    """Integer hours on the padded timeline -> UTC timestamps, in place (missing run times stay NaT)."""
    for col in ("known_at", "planned_start", "planned_end"):
        jobs[col] = pd.to_datetime(start_ns + jobs[col].to_numpy(np.int64) * HOUR_NS, utc=True)
    for col in ("actual_start", "actual_end"):
        v = pd.to_numeric(runs[col], errors="coerce").to_numpy()
        runs[col] = pd.to_datetime(np.where(np.isnan(v), np.nan, start_ns + np.nan_to_num(v) * HOUR_NS), utc=True)


def _simulate_site(site: SiteConfig, cfg: ScenarioConfig, rng: np.random.Generator, temp: np.ndarray,
                   full_idx: pd.DatetimeIndex, idx: pd.DatetimeIndex) -> dict:
    """One site over the padded timeline; frames cut to the output hours ``idx``.

    Keys: sites (rows), jobs, runs, meter, truth (frames), draw (metered MW over ``idx``). Invariant:
    metered power never exceeds the installed bound.
    """
    T = len(idx)
    jobs, runs, gpu_w, alloc = plan_and_run(site, cfg.jobs, T + TAIL_H, rng, WARMUP_H, (WARMUP_H, WARMUP_H + T))
    gpu_total_w = sum(gpu_w.values())
    p = _site_power(site, gpu_total_w, temp)
    n_all = len(full_idx)
    noise = _ar1(rng, n_all, 0.9, cfg.meter_noise) + rng.normal(0, cfg.meter_noise / 2, n_all)
    metered = p["power"] * (1 + noise)
    assert (metered <= p["bound"]).all(), "simulator bug: meter above installed capacity × PUE"
    sl = slice(WARMUP_H, WARMUP_H + T)
    meter = pd.DataFrame({"site_id": site.site_id, "ts": idx, "power_mw": metered[sl]})
    truth = pd.DataFrame({"site_id": site.site_id, "ts": idx, "power_mw": p["power"][sl], "it_mw": p["it_mw"][sl],
                          "gpu_mw": gpu_total_w[sl] / 1e6, "pue": p["pue"][sl], "bound_mw": p["bound"][sl],
                          "allocated_gpus": sum(alloc.values())[sl]})
    _hours_to_utc(jobs, runs, full_idx[0].value)
    return {"sites": _site_rows(site, p["it_max"]), "jobs": jobs, "runs": runs.assign(site_id=site.site_id),
            "meter": meter, "truth": truth, "draw": metered[sl]}


# --------------------------------------------------------------------------- grid
def _zone_grid(zone: str, zc: ZoneConfig, temp: np.ndarray, idx: pd.DatetimeIndex, draw: np.ndarray,
               rng: np.random.Generator) -> pd.DataFrame:
    """Hourly grid of one zone over ``idx``: load = weather/calendar base + campus draw (MW), day-ahead
    forecast with AR(1) error, price = convex supply curve of load × slowly varying fuel factor ($/MWh)."""
    T = len(idx)
    local = idx + pd.Timedelta(hours=zc.utc_offset_h)
    lh = local.hour.to_numpy()
    dow = local.dayofweek.to_numpy()
    daily = 0.06 * -np.cos(2 * np.pi * (lh - 4) / 24) + 0.03 * -np.cos(4 * np.pi * (lh - 7) / 24)
    weekend = np.where(dow >= 5, -0.07, 0.0)
    cdd = np.maximum(0.0, temp - 20.0)
    hdd = np.maximum(0.0, 8.0 - temp)
    weather = 0.022 * cdd + 0.010 * hdd
    base = zc.mean_load_mw * (0.92 + daily + weekend + weather) * (1 + _ar1(rng, T, 0.95, 0.015))
    load = base + draw
    fc = load * (1 + _ar1(rng, T, 0.9, zc.forecast_error))
    fuel = np.exp(np.repeat(_ar1(rng, T // 24 + 1, 0.97, 0.15), 24)[:T])
    supply = zc.price_floor + zc.price_scale * np.power(load / zc.mean_load_mw, zc.price_exponent)
    price = supply * fuel + rng.normal(0, 1.5, T)
    return pd.DataFrame({"zone": zone, "ts": idx, "price": price, "load_mw": load, "load_forecast_mw": fc,
                         "temperature_c": temp})


def _exported_schedule(job_frames: list[pd.DataFrame], idx: pd.DatetimeIndex) -> pd.DataFrame:
    """The schedule as exported at the end of the scenario: plans known by then, not ended before the
    warm-up month; sorted by (known_at, job_id)."""
    jobs = pd.concat(job_frames, ignore_index=True)
    end = idx[-1] + pd.Timedelta(hours=1)
    jobs = jobs[(jobs["planned_end"] > idx[0] - pd.Timedelta(days=30)) & (jobs["known_at"] < end)]
    return jobs.sort_values(["known_at", "job_id"], kind="stable").reset_index(drop=True)


def simulate(cfg: ScenarioConfig | None = None) -> Scenario:
    """Run the scenario. Same config and seed ⇒ identical frames."""
    cfg = cfg or ScenarioConfig()
    idx = _hours(cfg)
    T = len(idx)
    full_idx = pd.date_range(idx[0] - pd.Timedelta(hours=WARMUP_H), periods=T + WARMUP_H + TAIL_H, freq="h")
    zone_cfg = {z.zone: z for z in cfg.zones}
    unknown = sorted({s.zone for s in cfg.sites} - set(zone_cfg))
    if unknown:
        raise ValueError(f"sites refer to zones {unknown} with no entry in data.scenario.zones")
    zone_seeds, site_seeds = _seeds(cfg, list(zone_cfg))
    temps = {z: temperature(zc, full_idx, np.random.default_rng(zone_seeds[z])) for z, zc in zone_cfg.items()}
    parts = {k: [] for k in ("sites", "jobs", "runs", "meter", "truth")}
    draw_by_zone = {z: np.zeros(T) for z in zone_cfg}
    for site in cfg.sites:
        rng = np.random.default_rng(site_seeds[site.site_id])
        out = _simulate_site(site, cfg, rng, temps[site.zone], full_idx, idx)
        parts["sites"] += out["sites"]
        for k in ("jobs", "runs", "meter", "truth"):
            parts[k].append(out[k])
        draw_by_zone[site.zone] += out["draw"]
    grid = [_zone_grid(z, zc, temps[z][WARMUP_H:WARMUP_H + T], idx, draw_by_zone[z],
                       np.random.default_rng(zone_seeds[z].spawn(1)[0])) for z, zc in zone_cfg.items()]
    return Scenario(
        sites=pd.DataFrame(parts["sites"]),
        jobs=_exported_schedule(parts["jobs"], idx),
        meter=pd.concat(parts["meter"], ignore_index=True),
        grid=pd.concat(grid, ignore_index=True),
        runs=pd.concat(parts["runs"], ignore_index=True),
        truth=pd.concat(parts["truth"], ignore_index=True),
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


def write_scenario(cfg: ScenarioConfig, out: str | Path) -> dict[str, Path]:
    """Simulate ``cfg`` and write its contract files (and ``scenario.json``) to ``out``; returns the paths.
    The ``forecast simulate`` stage (config: conf/simulate.yaml)."""
    paths = simulate(cfg).write(out)
    atomic_write_text(Path(out) / "scenario.json", json.dumps(asdict(cfg), indent=1))
    return paths
