"""Pledge config, money side: the price curve, the tariff (with the capacity market by delivery year)
and grid upgrades. Money in USD as floats here (exact decimals later, :mod:`forecast.pledge.money`);
capacity prices in $/MW-day, energy in $/MWh.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import pandas as pd
from omegaconf import MISSING

from forecast.pledge.config_checks import P, PledgeConfigError, check, choice, finite


PRICE_KINDS = ("configured", "fitted", "model")


@dataclass
class PriceCurveCfg:
    """The price response: ``configured`` (forecast.price.configured.SupplyCurveParams, the fields below up to
    ``seed``), ``fitted`` (forecast.price.supply_curve.FittedSupplyCurve on net load, read from ``path`` or fitted
    on ``fit_on``; ``n_draws`` bootstrap draws, ``seed``, ``cap_usd_per_mwh``) or ``model`` (the LEAR members of
    the day-ahead price model fitted on the epftoolbox-layout CSV ``path``, forecast.price.model_response)."""

    kind: str = "configured"  # configured | fitted | model
    base_usd_per_mwh: float = 30.0
    ref_load_gw: float = 100.0
    linear_usd_per_mwh_per_gw: float = 0.0
    exp_coef_usd_per_mwh: float = 12.0
    exp_rate_per_gw: float = 0.05
    cap_usd_per_mwh: float = 2000.0
    hour_adders_usd_per_mwh: list[float] = field(default_factory=list)
    n_draws: int = 200
    sigma_linear: float = 0.0
    sigma_exp_coef: float = 0.2
    sigma_exp_rate: float = 0.1
    seed: int = 0
    path: Optional[str] = None  # fitted: a supply_curve.json (`forecast price-curve`); model: the market CSV
    fit_on: Optional[str] = None  # fitted: PJM Data Miner folder, or grid-contract file/folder, to fit on at run time
    zone: Optional[str] = None  # fitted: the zone of a grid file with several (label of a Data Miner folder)
    issue_time: Optional[str] = None  # model, fitted with fit_on: fit on data before it (ISO 8601 with offset); null = all
    beyond_day_ahead: str = "error"  # model: error | hold_last_days (day by day, lagged prices of the last known days)
    windows: list[int] = field(default_factory=lambda: [364, 728, 1092, 1456])  # model: LEAR windows, days
    # model: LEAR transforms; asinh by default because N-PIT members are flat beyond the loads their window saw
    # (ΔP = 0 in the peak hours that matter most); npit adds them
    transforms: list[str] = field(default_factory=lambda: ["asinh"])
    load_input: int = 0  # model: the exogenous column of the market CSV that is system load

    def __post_init__(self):
        k = f"{P}.price_curve"
        choice(f"{k}.kind", self.kind, PRICE_KINDS)
        from forecast.price.configured import SupplyCurveParams
        kw = {f: getattr(self, f) for f in SupplyCurveParams.__dataclass_fields__ if hasattr(self, f)}
        kw["hour_adders_usd_per_mwh"] = tuple(self.hour_adders_usd_per_mwh)
        SupplyCurveParams(**kw, where=k)  # raises naming the override
        if self.kind == "configured":
            for name in ("path", "fit_on"):
                check(getattr(self, name) is None, f"{k}.{name}", getattr(self, name),
                      "is read only by kind=fitted or kind=model; set the kind or clear it", "null")
        elif self.kind == "fitted":
            self._check_fitted(k)
        else:
            self._check_model(k)

    def _check_fitted(self, k: str) -> None:
        check((self.path is None) != (self.fit_on is None), f"{k}.fit_on", self.fit_on,
              "kind=fitted needs exactly one of path (a supply_curve.json) and fit_on (the data to fit on)",
              "<PJM Data Miner folder or grid file>")
        key, value = (f"{k}.path", self.path) if self.path is not None else (f"{k}.fit_on", self.fit_on)
        check(Path(value).exists(), key, value, "no such file or folder", "<an existing path>")

    def _check_model(self, k: str) -> None:
        from forecast.price.lear import TRANSFORMS
        from forecast.price.model_response import BEYOND
        check(self.path is not None and Path(self.path).is_file(), f"{k}.path", self.path,
              "kind=model needs an existing epftoolbox-layout market CSV (timestamp, price, load forecasts)",
              "<path/to/PJM.csv>")
        check(self.fit_on is None, f"{k}.fit_on", self.fit_on, "is read only by kind=fitted", "null")
        choice(f"{k}.beyond_day_ahead", self.beyond_day_ahead, BEYOND)
        check(len(self.transforms) > 0 and set(self.transforms) <= set(TRANSFORMS), f"{k}.transforms",
              list(self.transforms), f"must be a non-empty subset of {', '.join(TRANSFORMS)}", "[asinh,npit]")
        check(len(self.windows) > 0, f"{k}.windows", list(self.windows), "give one or more LEAR windows", "[364]")
        from forecast.price.model import PriceModelConfig
        try:
            PriceModelConfig(windows=tuple(int(w) for w in self.windows), transforms=tuple(self.transforms), net=False)
        except ValueError as e:
            raise PledgeConfigError(f"{k}.windows", list(self.windows), str(e), "[364]") from None
        check(self.load_input >= 0, f"{k}.load_input", self.load_input, "must be >= 0", "0")
        if self.issue_time is not None:
            try:
                t = pd.Timestamp(self.issue_time)
            except ValueError:
                t = None
            check(t is not None and t.tz is not None, f"{k}.issue_time", self.issue_time,
                  "must be an ISO 8601 time with a UTC offset", "2018-07-01T00:00-04:00")


@dataclass
class DeliveryYearCfg:
    """Capacity market for one delivery year (June–May), $/MW-day."""

    delivery_year: str = MISSING  # "2026/27"
    price_usd_per_mw_day: float = MISSING  # cleared (billed) price
    cap_usd_per_mw_day: Optional[float] = None  # auction cap; None = no cap
    uncapped_usd_per_mw_day: Optional[float] = None  # demand-curve price at the obligation Q (default: the price)
    slope_usd_per_mw_day_per_mw: float = 0.0  # fall in the demand-curve price per MW less obligation
    obligation_mw: float = 150000.0  # Q: RTO capacity obligation
    fpr: float = 0.94  # forecast pool requirement (UCAP per MW of PLC)
    # ranges of the demand curve for the capacity shift's band (two-piece uniform with its mean at the value
    # above, forecast.pledge.ranges); null = no range
    slope_low_usd_per_mw_day_per_mw: Optional[float] = None
    slope_high_usd_per_mw_day_per_mw: Optional[float] = None
    uncapped_low_usd_per_mw_day: Optional[float] = None
    uncapped_high_usd_per_mw_day: Optional[float] = None


PEAK_RULES = ("daily_peaks", "monthly_peaks")


@dataclass
class PeakRuleCfg:
    """Which system intervals set an obligation (forecast.pledge.peaks): ``daily_peaks`` = each local day's
    highest system hour, the ``n_peaks`` highest such days of ``months`` (PJM 5CP: 5, June–September; a 1CP:
    1); ``monthly_peaks`` = the single highest system hour of each month of ``months`` (ERCOT 4CP: June–September;
    ``n_peaks`` unused). Hourly data: the peak hour is the hourly proxy of a 15-minute interval."""

    rule: str = "daily_peaks"
    n_peaks: int = 5
    months: list[int] = field(default_factory=lambda: [6, 7, 8, 9])

    def check(self, k: str) -> None:
        choice(f"{k}.rule", self.rule, PEAK_RULES)
        check(self.n_peaks >= 1, f"{k}.n_peaks", self.n_peaks, "must be >= 1", "5")
        check(len(self.months) >= 1, f"{k}.months", list(self.months), "list one or more months", "[6,7,8,9]")
        check(len(set(self.months)) == len(self.months), f"{k}.months", list(self.months), "a month listed twice",
              "[6,7,8,9]")
        for i, m in enumerate(self.months):
            check(1 <= m <= 12, f"{k}.months.{i}", m, "must be a month 1..12", "7")


@dataclass
class TariffCfg:
    energy_pricing: str = "fixed"  # fixed (energy_rate) | spot (the price curve with the campus)
    energy_rate_usd_per_mwh: float = 55.0
    demand_charge_usd_per_kw_month: float = 0.0  # T&D demand charge; 0 = none
    minimum_demand_frac: float = 0.85  # minimum bill: billed demand >= frac × contract demand
    transmission_usd_per_mw_day: float = 0.0  # network integration service on NSPL; 0 = none
    capacity: list[DeliveryYearCfg] = field(default_factory=list)
    # the coincident peaks that set the obligations a settled ledger computes from metered load
    # (pledge.actuals.obligations=metered): PLC (capacity, PJM 5CP of the summer before the delivery year) and
    # NSPL (transmission, set by the calendar year before the billing month; PJM zonal 1CP by default, ERCOT 4CP
    # with rule=monthly_peaks, months [6,7,8,9])
    plc_peaks: PeakRuleCfg = field(default_factory=PeakRuleCfg)
    nspl_peaks: PeakRuleCfg = field(default_factory=lambda: PeakRuleCfg(n_peaks=1, months=list(range(1, 13))))

    def __post_init__(self):
        k = f"{P}.tariff"
        self.plc_peaks.check(f"{k}.plc_peaks")
        self.nspl_peaks.check(f"{k}.nspl_peaks")
        choice(f"{k}.energy_pricing", self.energy_pricing, ("fixed", "spot"))
        check(finite(self.energy_rate_usd_per_mwh) and self.energy_rate_usd_per_mwh >= 0,
              f"{k}.energy_rate_usd_per_mwh", self.energy_rate_usd_per_mwh, "must be finite and >= 0", "55")
        check(self.demand_charge_usd_per_kw_month >= 0, f"{k}.demand_charge_usd_per_kw_month",
              self.demand_charge_usd_per_kw_month, "must be >= 0", "0")
        check(self.transmission_usd_per_mw_day >= 0, f"{k}.transmission_usd_per_mw_day",
              self.transmission_usd_per_mw_day, "must be >= 0", "0")
        check(0 <= self.minimum_demand_frac <= 1, f"{k}.minimum_demand_frac", self.minimum_demand_frac,
              "must be in [0, 1]", "0.85")
        seen = set()
        for i, dy in enumerate(self.capacity):
            kk = f"{k}.capacity.{i}"
            check(_dy_ok(dy.delivery_year), f"{kk}.delivery_year", dy.delivery_year,
                  "write the delivery year as YYYY/YY, e.g. 2026/27", "2026/27")
            check(dy.delivery_year not in seen, f"{kk}.delivery_year", dy.delivery_year, "listed twice")
            seen.add(dy.delivery_year)
            check(dy.price_usd_per_mw_day >= 0, f"{kk}.price_usd_per_mw_day", dy.price_usd_per_mw_day, "must be >= 0")
            check(dy.cap_usd_per_mw_day is None or dy.cap_usd_per_mw_day >= dy.price_usd_per_mw_day,
                  f"{kk}.cap_usd_per_mw_day", dy.cap_usd_per_mw_day, "must be >= the cleared price or null",
                  "null")
            check(dy.slope_usd_per_mw_day_per_mw >= 0, f"{kk}.slope_usd_per_mw_day_per_mw",
                  dy.slope_usd_per_mw_day_per_mw, "must be >= 0 (price rises with obligation)", "0")
            check(dy.obligation_mw > 0, f"{kk}.obligation_mw", dy.obligation_mw, "must be > 0", "150000")
            check(0 < dy.fpr <= 2, f"{kk}.fpr", dy.fpr, "must be in (0, 2]", "0.94")
            unc = dy.uncapped_usd_per_mw_day if dy.uncapped_usd_per_mw_day is not None else dy.price_usd_per_mw_day
            check_range(kk, "slope", "_usd_per_mw_day_per_mw", dy.slope_low_usd_per_mw_day_per_mw,
                        dy.slope_usd_per_mw_day_per_mw, dy.slope_high_usd_per_mw_day_per_mw)
            check_range(kk, "uncapped", "_usd_per_mw_day", dy.uncapped_low_usd_per_mw_day, unc,
                        dy.uncapped_high_usd_per_mw_day)


def check_range(k: str, name: str, unit: str, low, centre: float, high) -> None:
    """A configured range must hold its central value: 0 <= low <= centre <= high."""
    lo_key, hi_key = f"{k}.{name}_low{unit}", f"{k}.{name}_high{unit}"
    for key, v in ((lo_key, low), (hi_key, high)):
        check(v is None or (finite(v) and v >= 0), key, v, "must be finite and >= 0, or null", "null")
    check(low is None or low <= centre, lo_key, low, f"is above the central value {centre} (need low <= value <= "
          "high)", repr(centre))
    check(high is None or high >= centre, hi_key, high, f"is below the central value {centre} (need low <= value "
          "<= high)", repr(centre))


def _dy_ok(s: str) -> bool:
    try:
        a, b = str(s).split("/")
        return len(a) == 4 and len(b) == 2 and (int(a) + 1) % 100 == int(b)
    except ValueError:
        return False


@dataclass
class UpgradeCfg:
    upgrade_id: str = MISSING
    site_id: str = MISSING
    capex_usd: float = MISSING
    rate: float = 0.08
    years: int = 15
    # amortised: K·CRF(r, n)/12 a month for 12n months from in_service | ciac: K billed once in the
    # in-service month | ciac_paid: a lump-sum contribution already paid (nothing more to bill)
    recovery: str = "amortised"
    in_service: str = "2026-01"  # first billed local month, YYYY-MM
    capex_low_usd: Optional[float] = None  # range: the band (mean at capex_usd) and the sensitivity
    capex_high_usd: Optional[float] = None


def check_upgrades(upgrades: list[UpgradeCfg], site_ids: set[str]) -> None:
    """Each upgrade: at a listed site, capex >= 0 (and its sensitivity range), rate in [0, 1), 1..60 years,
    a known recovery and a YYYY-MM in-service month."""
    for i, u in enumerate(upgrades):
        k = f"{P}.upgrades.{i}"
        check(u.site_id in site_ids, f"{k}.site_id", u.site_id, f"not a listed site ({', '.join(sorted(site_ids))})")
        check(finite(u.capex_usd) and u.capex_usd >= 0, f"{k}.capex_usd", u.capex_usd, "must be >= 0",
              "600000000")
        check(0 <= u.rate < 1, f"{k}.rate", u.rate, "annual rate must be in [0, 1)", "0.08")
        check(1 <= u.years <= 60, f"{k}.years", u.years, "must be in 1..60", "15")
        choice(f"{k}.recovery", u.recovery, ("amortised", "ciac", "ciac_paid"))
        from forecast.pledge.calendar import parse_month
        parse_month(u.in_service, f"{k}.in_service")
        check_range(k, "capex", "_usd", u.capex_low_usd, u.capex_usd, u.capex_high_usd)


BACKSTOP_ALLOCATIONS = ("plc_share", "fixed_share")


@dataclass
class BackstopCfg:
    """The operator's share of a long-term reliability backstop procurement (DOMAIN.md §6; forecast.pledge.backstop).

    The procurement costs ``contract_mw`` × (min(price, cost cap) − market credit) a day for ``term_years`` from
    ``start`` (contracts for difference: the market capacity revenue of the contracted MW is credited back, so a
    day can cost less than nothing); large loads bear it by ``allocation``: ``plc_share`` = each site's PLC over the
    large-load pool ``pool_mw`` (the PLC of every load the rule assigns it to, the operator's included),
    ``fixed_share`` = ``share`` of the whole, split over the sites by capacity. Ranges (low/high, two-piece uniform
    with the mean at the value) give the line its band. Every default is a stylised figure of ``source``."""

    enabled: bool = False
    source: str = ("PJM reliability backstop procurement as reported in 2026 (about 14.9 GW, 15-year terms, in "
                   "service by June 2031, average cost cap about $555/MW-day, costs to large loads): stylised")
    contract_mw: float = 14900.0
    price_usd_per_mw_day: float = 520.0  # average contract price (pay-as-bid)
    cost_cap_usd_per_mw_day: Optional[float] = 555.0  # the average cost cap; null = none
    market_credit_usd_per_mw_day: float = 0.0  # capacity-market revenue credited back per contracted MW-day
    start: str = "2031-06"  # first local month in service, YYYY-MM
    term_years: int = 15
    allocation: str = "plc_share"
    pool_mw: float = 30000.0  # plc_share: large loads' total PLC the cost is spread over, MW
    share: float = 0.0  # fixed_share: the operator's share of the procurement, in [0, 1]
    price_low_usd_per_mw_day: Optional[float] = None
    price_high_usd_per_mw_day: Optional[float] = None
    market_credit_low_usd_per_mw_day: Optional[float] = None
    market_credit_high_usd_per_mw_day: Optional[float] = None
    pool_low_mw: Optional[float] = None
    pool_high_mw: Optional[float] = None

    def __post_init__(self):
        k = f"{P}.backstop"
        check(finite(self.contract_mw) and self.contract_mw >= 0, f"{k}.contract_mw", self.contract_mw, "must be >= 0",
              "14900")
        check(finite(self.price_usd_per_mw_day) and self.price_usd_per_mw_day >= 0, f"{k}.price_usd_per_mw_day",
              self.price_usd_per_mw_day, "must be >= 0", "520")
        check(self.cost_cap_usd_per_mw_day is None or self.cost_cap_usd_per_mw_day >= 0,
              f"{k}.cost_cap_usd_per_mw_day", self.cost_cap_usd_per_mw_day, "must be >= 0 or null", "555")
        check(finite(self.market_credit_usd_per_mw_day) and self.market_credit_usd_per_mw_day >= 0,
              f"{k}.market_credit_usd_per_mw_day", self.market_credit_usd_per_mw_day, "must be >= 0", "0")
        from forecast.pledge.calendar import parse_month
        parse_month(self.start, f"{k}.start")
        check(1 <= self.term_years <= 40, f"{k}.term_years", self.term_years, "must be in 1..40", "15")
        choice(f"{k}.allocation", self.allocation, BACKSTOP_ALLOCATIONS)
        check(finite(self.pool_mw) and self.pool_mw > 0, f"{k}.pool_mw", self.pool_mw, "must be > 0", "30000")
        check(0 <= self.share <= 1, f"{k}.share", self.share, "must be in [0, 1]", "0.03")
        check_range(k, "price", "_usd_per_mw_day", self.price_low_usd_per_mw_day, self.price_usd_per_mw_day,
                    self.price_high_usd_per_mw_day)
        check_range(k, "market_credit", "_usd_per_mw_day", self.market_credit_low_usd_per_mw_day,
                    self.market_credit_usd_per_mw_day, self.market_credit_high_usd_per_mw_day)
        check_range(k, "pool", "_mw", self.pool_low_mw, self.pool_mw, self.pool_high_mw)
        check(self.pool_low_mw is None or self.pool_low_mw > 0, f"{k}.pool_low_mw", self.pool_low_mw, "must be > 0",
              "20000")
