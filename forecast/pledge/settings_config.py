"""Pledge config, run side: Monte Carlo, curtailment planner, actuals of the settled ledger, true-up.
Schemas re-exported by :mod:`forecast.pledge.config`; every ``__post_init__`` check names the override to fix it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from forecast.pledge.config_checks import P, check, choice


@dataclass
class MonteCarloCfg:
    samples: int = 1000
    seed: int = 20260701
    rho_time: float = 0.9  # AR(1) correlation of the draw's normal scores hour to hour
    rho_sites: float = 0.5  # correlation of normal scores between sites (one common factor)
    chunk: int = 50  # samples per vectorised batch (memory: chunk × sites × hours × 8 bytes × ~6)

    def __post_init__(self):
        k = f"{P}.montecarlo"
        check(self.samples >= 10, f"{k}.samples", self.samples, "need >= 10 joint samples for P10/P90", "1000")
        check(0 <= self.rho_time < 1, f"{k}.rho_time", self.rho_time, "must be in [0, 1)", "0.9")
        check(0 <= self.rho_sites <= 1, f"{k}.rho_sites", self.rho_sites, "must be in [0, 1]", "0.5")
        check(self.chunk >= 1, f"{k}.chunk", self.chunk, "must be >= 1", "50")


@dataclass
class CurtailmentCfg:
    enabled: bool = True  # plan curtailment and report it
    apply: bool = False  # also book the ledger with the plan applied
    budget_frac: float = 0.005  # share of the 8,760 hours of a year (0.25–1%)
    budget_hours: Optional[int] = None  # the billing period's own budget, planned inside it (overrides budget_frac)
    depth_steps: int = 4  # candidate depths: curtailable_frac × (1..steps)/steps of the draw
    cost_usd_per_mwh: float = 0.0  # value of the compute lost per MWh cut
    cp_hours: int = 5  # coincident peaks that set next year's PLC
    cp_months: list[int] = field(default_factory=lambda: [6, 7, 8, 9])
    samples: int = 200  # system-load samples for the chance that an hour is a coincident peak
    # the plan year over which the annual budget is spent: 12 local months from this month (1 = calendar year)
    year_start_month: int = 1

    def __post_init__(self):
        k = f"{P}.curtailment"
        check(0.0025 <= self.budget_frac <= 0.01, f"{k}.budget_frac", self.budget_frac,
              "must be in [0.0025, 0.01] (0.25–1% of the year's hours)", "0.005")
        check(self.budget_hours is None or self.budget_hours >= 0, f"{k}.budget_hours", self.budget_hours,
              "must be >= 0 or null", "null")
        check(self.depth_steps >= 1, f"{k}.depth_steps", self.depth_steps, "must be >= 1", "4")
        check(self.cost_usd_per_mwh >= 0, f"{k}.cost_usd_per_mwh", self.cost_usd_per_mwh, "must be >= 0", "0")
        check(self.cp_hours >= 1, f"{k}.cp_hours", self.cp_hours, "must be >= 1", "5")
        for i, m in enumerate(self.cp_months):
            check(1 <= m <= 12, f"{k}.cp_months.{i}", m, "must be a month 1..12", "7")
        check(self.samples >= 1, f"{k}.samples", self.samples, "must be >= 1", "200")
        check(1 <= self.year_start_month <= 12, f"{k}.year_start_month", self.year_start_month,
              "must be a month 1..12", "1")
        same_year = [m >= self.year_start_month for m in self.cp_months]
        check(all(same_year) or not any(same_year), f"{k}.year_start_month", self.year_start_month,
              f"splits the coincident-peak months {list(self.cp_months)} between two plan years", "1")


@dataclass
class ActualsCfg:
    """Inputs of the settled ledger."""

    source: str = "stylised"  # stylised (sites[].actual_mw, the stylised system load) | file
    meter_path: Optional[str] = None  # meter contract: site_id, ts, power_mw
    grid_path: Optional[str] = None  # grid contract: actual load_mw (and price for spot energy)
    zone: Optional[str] = None
    # spot energy settles at: grid = the grid file's actual price of each hour | curve = the price curve at the
    # actual load (stylised actuals, which carry no prices)
    prices: str = "grid"
    # PLC / NSPL of the settled ledger: metered = from the meter at the system's coincident peaks
    # (tariff.plc_peaks, tariff.nspl_peaks; meter_path and grid_path must cover the summer or year that sets
    # them) | configured = sites[].plc_mw / nspl_mw as typed
    obligations: str = "metered"
    # an interval meter for the peaks (both or neither): site_id, ts, power_mw and zone, ts, load_mw at a step that
    # divides the hour (e.g. 15 minutes, ERCOT's 4CP intervals); without them the hourly meter and grid files are
    # the hourly proxy
    interval_meter_path: Optional[str] = None
    interval_grid_path: Optional[str] = None

    def __post_init__(self):
        k = f"{P}.actuals"
        choice(f"{k}.source", self.source, ("stylised", "file"))
        choice(f"{k}.prices", self.prices, ("grid", "curve"))
        choice(f"{k}.obligations", self.obligations, ("metered", "configured"))
        check(bool(self.interval_meter_path) == bool(self.interval_grid_path), f"{k}.interval_grid_path",
              self.interval_grid_path, "an interval meter needs the system's load at the same intervals (both paths, "
              "or neither)", "path/to/system_load_15min.csv")
        if self.source == "file":
            check(bool(self.meter_path), f"{k}.meter_path", self.meter_path, "actuals.source=file needs a meter file",
                  "path/to/meter.csv")


@dataclass
class TrueUpCfg:
    interest_rate_annual: float = 0.05  # simple interest, Actual/365 Fixed
    lag_days: int = 60  # true-up date = first day after the month + lag_days (local calendar)
    date: Optional[str] = None  # explicit true-up date YYYY-MM-DD (overrides lag_days)

    def __post_init__(self):
        k = f"{P}.trueup"
        check(0 <= self.interest_rate_annual < 1, f"{k}.interest_rate_annual", self.interest_rate_annual,
              "must be in [0, 1)", "0.05")
        check(self.lag_days >= 0, f"{k}.lag_days", self.lag_days, "must be >= 0", "60")
