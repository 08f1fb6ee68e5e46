"""Scenario simulator config: fleets, sites, zones, the job stream and the scenario (plain dataclasses, Hydra-typed).

Units: power in MW unless named ``_w``; times in hours; temperatures in °C; prices in $/MWh.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from forecast.errors import UsageError


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
    # (mean busy, mean quiet) spell in hours, each spell's length exponential: no job arrives in a quiet spell (a
    # cluster drained, a team between projects); None: a steady stream
    quiet_spells_h: tuple[float, float] | None = None

    def __post_init__(self):
        q = self.quiet_spells_h
        if q is not None and not (len(q) == 2 and all(float(x) > 0 for x in q)):
            raise UsageError("jobs.quiet_spells_h", f"two positive mean spell lengths in hours are needed, got {list(q)}",
                             "scenario.jobs.quiet_spells_h=[48,120] (busy, quiet; data.scenario.… in train), or "
                             "null for a steady stream")


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
