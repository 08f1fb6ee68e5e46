"""A varied corpus of simulated hourly series for pretraining a global power model.

Each scenario is one run of the site simulator (``data.simulate``: job streams planned and run on GPU fleets,
PUE with the weather, meter noise) with 1–4 sites drawn at random: one 8-GPU server to a 200,000-GPU campus,
any GPU type, occupancy 0.3–0.9, 14–120 days from a random start. Every site gives three series:

- ``facility``: metered facility power (MW);
- ``occupancy``: the share of the fleet's GPUs allocated to jobs (a cluster's utilisation trace);
- ``server``: the average power per GPU (W) with the host's idle power added, as a server's PDU reads it.

In some scenarios (``p_quiet_spells``) the jobs come in busy spells separated by quiet ones without arrivals
(mean lengths of a day to a week), so a series can idle for days after days of jobs.
Then, each with its own probability: a level shift (the idle power of a server, a hall coming on line) at a
random hour, extra meter noise, and dropouts (runs of 1–48 missing hours). Series are plain ``pd.Series``
(UTC hourly index, NaN where missing), so any reader's rule (``evaluation.series_bench.prepare``) turns them
into model inputs. The same seed gives the same series.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecast.data.gpus import GPU_TYPES, gpu_spec
from forecast.data.scenario_config import FleetConfig, JobStreamConfig, ScenarioConfig, SiteConfig, ZoneConfig
from forecast.data.simulate import simulate

KINDS = ("facility", "occupancy", "server")


@dataclass(frozen=True)
class SeriesSpec:
    """What went into the corpus (for the model card)."""

    scenarios: int
    days: tuple[int, int] = (14, 120)
    fleet: tuple[int, int] = (8, 200_000)
    p_level_shift: float = 0.3
    p_dropout: float = 0.3
    p_noise: float = 0.3
    p_quiet_spells: float = 0.0  # scenarios whose jobs come in busy and quiet spells (JobStreamConfig); 0: none
    quiet_spells_h: tuple[float, float] = (24.0, 168.0)  # each spell's mean length is drawn in this range (h)
    seed: int = 0


def _site(rng: np.random.Generator, i: int, fleet: tuple[int, int]) -> SiteConfig:
    n = int(np.exp(rng.uniform(np.log(fleet[0]), np.log(fleet[1]))))
    n = max(8, n // 8 * 8)
    gpu = str(rng.choice(GPU_TYPES))
    it_mw = n * gpu_spec(gpu).tdp_w * 1.3 / 1e6
    return SiteConfig(f"site{i}", "Z", [FleetConfig(gpu, n)], pue_min=float(rng.uniform(1.08, 1.4)),
                      host_ratio=float(rng.uniform(0.15, 0.45)), base_load_mw=float(it_mw * rng.uniform(0.0, 0.05)),
                      occupancy=float(rng.uniform(0.3, 0.9)))


def _scenario(rng: np.random.Generator, spec: SeriesSpec) -> ScenarioConfig:
    days = int(rng.integers(spec.days[0], spec.days[1] + 1))
    start = pd.Timestamp("2023-01-01", tz="UTC") + pd.Timedelta(days=int(rng.integers(0, 3 * 365)))
    zone = ZoneConfig("Z", temp_mean_c=float(rng.uniform(-2, 26)), temp_season_c=float(rng.uniform(3, 15)),
                      temp_day_c=float(rng.uniform(2, 8)), utc_offset_h=float(rng.choice([-8, -5, 0, 1, 8])))
    sites = [_site(rng, i, spec.fleet) for i in range(int(rng.integers(1, 5)))]
    jobs = JobStreamConfig()
    if spec.p_quiet_spells > 0 and rng.random() < spec.p_quiet_spells:  # days of jobs, then days without any
        # (no draw at 0: the corpus is then the one drawn before spells existed)
        jobs = JobStreamConfig(quiet_spells_h=tuple(float(rng.uniform(*spec.quiet_spells_h)) for _ in range(2)))
    return ScenarioConfig(seed=int(rng.integers(2**31)), start=start.strftime("%Y-%m-%dT%H:%M:%SZ"), days=days,
                          meter_noise=float(rng.uniform(0.001, 0.01)), sites=sites, zones=[zone], jobs=jobs)


def _augment(rng: np.random.Generator, y: np.ndarray, spec: SeriesSpec, high: float = np.inf) -> np.ndarray:
    y = y.astype(np.float64).copy()
    T = len(y)
    if rng.random() < spec.p_level_shift and T > 48:
        at = int(rng.integers(24, T - 24))
        y[at:] += float(rng.uniform(-0.3, 0.5)) * float(np.nanmean(np.abs(y)) or 1.0)
    if rng.random() < spec.p_noise:
        y += rng.normal(0.0, float(rng.uniform(0.01, 0.05)) * (float(np.nanstd(y)) or 1.0), T)
    if rng.random() < spec.p_dropout:
        for _ in range(int(rng.integers(1, 4))):
            a = int(rng.integers(0, T))
            y[a:a + int(rng.integers(1, 49))] = np.nan
    return np.clip(y, 0.0, high)  # the generated series stay physical: power >= 0, occupancy in [0, 1]


def site_series(sc, rng: np.random.Generator, spec: SeriesSpec) -> Iterator[tuple[str, str, pd.Series]]:
    """(kind, site id, series) for every site of one simulated scenario."""
    truth = sc.truth
    for sid, t in truth.groupby("site_id", sort=True):
        idx = pd.DatetimeIndex(t["ts"])
        n_gpus = int(sc.sites.loc[sc.sites.site_id == sid, "n_gpus"].sum())
        m = sc.meter[sc.meter.site_id == sid]
        raw = {"facility": m["power_mw"].to_numpy(np.float64),
               "occupancy": t["allocated_gpus"].to_numpy(np.float64) / n_gpus,
               "server": t["it_mw"].to_numpy(np.float64) * 1e6 / n_gpus}
        for kind in KINDS:
            high = 1.0 if kind == "occupancy" else np.inf
            yield kind, str(sid), pd.Series(_augment(rng, raw[kind], spec, high), index=idx, name=kind)


def synthetic_series(spec: SeriesSpec) -> Iterator[tuple[str, pd.Series]]:
    """(name, hourly series) of ``spec.scenarios`` simulated scenarios, 3 series per site; seeded by spec.seed."""
    rng = np.random.default_rng(spec.seed)
    for k in range(spec.scenarios):
        sc = simulate(_scenario(rng, spec))
        for kind, sid, s in site_series(sc, rng, spec):
            yield f"sim{spec.seed}-{k:05d}/{sid}/{kind}", s
