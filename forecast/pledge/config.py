"""Typed Hydra config for the pledge accounting (schemas in Hydra's ConfigStore).

Values live in ``conf/pledge/*.yaml`` (one file per scenario) and the primary
config ``conf/pledge_app.yaml``; ``forecast pledge pledge=worked_example
pledge.shift.phi=0.5`` composes them. Every ``__post_init__`` check names the
override that fixes it. Money inputs are floats here and become exact decimals
as written (see :mod:`forecast.pledge.money`). The money schemas (price curve,
tariff, upgrades) live in :mod:`forecast.pledge.tariff_config` and the check
helpers in :mod:`forecast.pledge.config_checks`; both are re-exported here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

from forecast.config import compose as compose_config
from forecast.pledge.config_checks import P, PledgeConfigError, check, choice
from forecast.pledge.lease_config import LeaseCfg, check_leases
from forecast.pledge.settings_config import ActualsCfg, CurtailmentCfg, MonteCarloCfg, TrueUpCfg  # noqa: F401
from forecast.pledge.tariff_config import (BackstopCfg, DeliveryYearCfg, PriceCurveCfg,  # noqa: F401  (re-exported)
                                           TariffCfg, UpgradeCfg, check_upgrades)


@dataclass
class MarketCfg:
    name: str = "PJM-RTO"
    timezone: str = "America/New_York"  # billing months are local-time months

    def __post_init__(self):
        try:
            import zoneinfo
            zoneinfo.ZoneInfo(self.timezone)
        except Exception:
            raise PledgeConfigError(f"{P}.market.timezone", self.timezone, "unknown IANA time zone",
                                    "America/New_York") from None


@dataclass
class PeriodCfg:
    start: str = "2026-07"  # first local billing month, YYYY-MM
    months: int = 1

    def __post_init__(self):
        from forecast.pledge.calendar import parse_month
        parse_month(self.start, f"{P}.period.start")
        check(1 <= self.months <= 240, f"{P}.period.months", self.months, "must be in 1..240", "12")


@dataclass
class SiteCfg:
    site_id: str = MISSING
    capacity_mw: float = MISSING  # sampled draw is clipped to [0, capacity]
    plc_mw: float = 0.0  # capacity obligation for the delivery year (set by last summer's 5CP)
    curtailable_frac: float = 0.5  # most of the draw that may be cut in an hour
    nspl_mw: Optional[float] = None  # network service peak load for transmission (default: plc_mw)
    contract_demand_mw: float = 0.0  # for the minimum bill of the demand charge
    # stylised flat draw forecast, used when draw.source = stylised
    p10_mw: Optional[float] = None
    p50_mw: Optional[float] = None
    p90_mw: Optional[float] = None
    actual_mw: Optional[float] = None  # stylised metered draw, used when actuals.source = stylised
    owned: bool = True  # false: a host facility the operator leases capacity at (pledge.leases), not its own
    zone: Optional[str] = None  # with pledge.zones: the zone (zones[].zone) whose market and tariffs bill the site


@dataclass
class DrawCfg:
    source: str = "stylised"  # stylised | file
    path: Optional[str] = None  # forecast output: series_id (= site_id), [issued_at,] ts, p10, p50, p90 …
    as_of: Optional[str] = None  # use the latest issue at or before this time (ISO 8601 with offset)
    levels: list[float] = field(default_factory=lambda: [0.1, 0.5, 0.9])

    def __post_init__(self):
        choice(f"{P}.draw.source", self.source, ("stylised", "file"))
        if self.source == "file":
            check(bool(self.path), f"{P}.draw.path", self.path, "draw.source=file needs a forecast file",
                  "path/to/draw_forecast.parquet")
        from forecast.types import Quantiles
        try:
            Quantiles(tuple(self.levels))
        except ValueError as e:
            raise PledgeConfigError(f"{P}.draw.levels", list(self.levels), str(e), "[0.1,0.5,0.9]") from None


@dataclass
class SystemLoadCfg:
    # stylised (two-level) | file (grid contract: zone, ts, price, load_mw, load_forecast_mw) |
    # forecast (joint sample paths of a system-load forecast: ts, sample, load_mw; forecast.price.system_load)
    source: str = "stylised"
    path: Optional[str] = None
    zone: Optional[str] = None  # row filter for a grid file with several zones
    includes_campus: bool = True  # True: the load forecast already contains the campus draw
    # stylised two-level load: the `peak_hours` weekday-afternoon hours of each month sit at peak_gw
    base_gw: float = 100.0
    peak_gw: float = 150.0
    peak_hours: int = 37
    # forecast error of the others' load, for the joint samples: AR(1) in time, relative sd
    sigma_frac: float = 0.0
    rho: float = 0.95

    def __post_init__(self):
        k = f"{P}.system_load"
        choice(f"{k}.source", self.source, ("stylised", "file", "forecast"))
        if self.source in ("file", "forecast"):
            check(bool(self.path), f"{k}.path", self.path, f"system_load.source={self.source} needs a file",
                  "path/to/grid.csv" if self.source == "file" else "path/to/system_load_paths.parquet")
        check(self.base_gw > 0, f"{k}.base_gw", self.base_gw, "must be > 0", "100")
        check(self.peak_gw >= self.base_gw, f"{k}.peak_gw", self.peak_gw, "must be >= base_gw", str(self.base_gw))
        check(self.peak_hours >= 0, f"{k}.peak_hours", self.peak_hours, "must be >= 0", "37")
        check(0 <= self.sigma_frac < 0.5, f"{k}.sigma_frac", self.sigma_frac, "must be in [0, 0.5)", "0.02")
        check(0 <= self.rho < 1, f"{k}.rho", self.rho, "must be in [0, 1)", "0.95")


@dataclass
class ShiftCfg:
    phi: float = 1.0  # share of other load exposed to spot prices, for the ledger
    phi_sensitivity: list[float] = field(default_factory=lambda: [0.25, 0.5, 0.75, 1.0])
    slope_sensitivity: list[float] = field(default_factory=lambda: [0.5, 2.0])
    new_generation_mw: float = 0.0  # G: generation the operator brought online (MW, every hour)

    def __post_init__(self):
        k = f"{P}.shift"
        check(0 <= self.phi <= 1, f"{k}.phi", self.phi, "must be in [0, 1]", "1.0")
        for i, v in enumerate(self.phi_sensitivity):
            check(0 <= v <= 1, f"{k}.phi_sensitivity.{i}", v, "must be in [0, 1]", "0.5")
        for i, v in enumerate(self.slope_sensitivity):
            check(v > 0, f"{k}.slope_sensitivity.{i}", v, "must be > 0", "2.0")
        check(self.new_generation_mw >= 0, f"{k}.new_generation_mw", self.new_generation_mw, "must be >= 0", "0")


@dataclass
class ZoneCfg:
    """One grid zone of a pledge of several (forecast.pledge.zones): its market (time zone), tariffs and capacity
    market, system load, price response and backstop; ``zone`` is also its label in grid files."""

    zone: str = MISSING
    market: MarketCfg = field(default_factory=MarketCfg)
    tariff: TariffCfg = field(default_factory=TariffCfg)
    system_load: SystemLoadCfg = field(default_factory=SystemLoadCfg)
    price_curve: PriceCurveCfg = field(default_factory=PriceCurveCfg)
    backstop: BackstopCfg = field(default_factory=BackstopCfg)


ZONE_KEYS = ("market", "tariff", "system_load", "price_curve", "backstop")  # a zone's own, in place of the top level


@dataclass
class PledgeConfig:
    name: str = MISSING
    market: MarketCfg = field(default_factory=MarketCfg)
    period: PeriodCfg = field(default_factory=PeriodCfg)
    sites: list[SiteCfg] = field(default_factory=list)
    draw: DrawCfg = field(default_factory=DrawCfg)
    system_load: SystemLoadCfg = field(default_factory=SystemLoadCfg)
    price_curve: PriceCurveCfg = field(default_factory=PriceCurveCfg)
    tariff: TariffCfg = field(default_factory=TariffCfg)
    upgrades: list[UpgradeCfg] = field(default_factory=list)
    backstop: BackstopCfg = field(default_factory=BackstopCfg)
    leases: list[LeaseCfg] = field(default_factory=list)
    shift: ShiftCfg = field(default_factory=ShiftCfg)
    montecarlo: MonteCarloCfg = field(default_factory=MonteCarloCfg)
    curtailment: CurtailmentCfg = field(default_factory=CurtailmentCfg)
    actuals: ActualsCfg = field(default_factory=ActualsCfg)
    trueup: TrueUpCfg = field(default_factory=TrueUpCfg)
    # several zones, each billed by its own market and tariffs (ZONE_KEYS of the top level are then not read)
    zones: list[ZoneCfg] = field(default_factory=list)

    def __post_init__(self):
        check(len(self.sites) >= 1, f"{P}.sites", list(self.sites), "list at least one site",
              "[{site_id:campus-1,capacity_mw:1000}]")
        ids = set()
        for i, s in enumerate(self.sites):
            k = f"{P}.sites.{i}"
            check(bool(str(s.site_id).strip()), f"{k}.site_id", s.site_id, "must not be empty", "campus-1")
            check(s.site_id not in ids, f"{k}.site_id", s.site_id, "site listed twice")
            ids.add(s.site_id)
            check(s.capacity_mw > 0, f"{k}.capacity_mw", s.capacity_mw, "must be > 0", "1000")
            check(0 <= s.plc_mw <= s.capacity_mw, f"{k}.plc_mw", s.plc_mw,
                  f"must be in [0, capacity_mw = {s.capacity_mw}] (a PLC is the site's load at the peaks)",
                  repr(min(max(s.plc_mw, 0.0), s.capacity_mw)))
            check(s.nspl_mw is None or 0 <= s.nspl_mw <= s.capacity_mw, f"{k}.nspl_mw", s.nspl_mw,
                  f"must be in [0, capacity_mw = {s.capacity_mw}] or null", "null")
            check(s.contract_demand_mw >= 0, f"{k}.contract_demand_mw", s.contract_demand_mw, "must be >= 0", "0")
            check(0 <= s.curtailable_frac <= 1, f"{k}.curtailable_frac", s.curtailable_frac, "must be in [0, 1]", "0.5")
            if self.draw.source == "stylised":
                qs = (s.p10_mw, s.p50_mw, s.p90_mw)
                for name, v in zip(("p10_mw", "p50_mw", "p90_mw"), qs):
                    check(v is not None and v >= 0, f"{k}.{name}", v,
                          "draw.source=stylised needs p10_mw <= p50_mw <= p90_mw per site (>= 0)", "850")
                check(qs[0] <= qs[1] <= qs[2], f"{k}.p50_mw", qs, "quantiles cross: need p10_mw <= p50_mw <= p90_mw")
                check(qs[2] <= s.capacity_mw, f"{k}.p90_mw", qs[2], f"above the site's capacity_mw = {s.capacity_mw} "
                      "(a draw cannot exceed it; nothing is clipped)", repr(s.capacity_mw))
                check(list(self.draw.levels) == [0.1, 0.5, 0.9], f"{P}.draw.levels", list(self.draw.levels),
                      "the stylised draw has p10/p50/p90 only", "[0.1,0.5,0.9]")
            if self.actuals.source == "stylised":
                check(s.actual_mw is None or s.actual_mw >= 0, f"{k}.actual_mw", s.actual_mw, "must be >= 0")
        check_upgrades(self.upgrades, ids)
        check_leases(self.leases, self.sites, self.upgrades)
        b, plc = self.backstop, sum(s.plc_mw for s in self.sites)
        if b.enabled and b.allocation == "plc_share":
            for key, pool in (("pool_mw", b.pool_mw), ("pool_low_mw", b.pool_low_mw)):
                check(pool is None or pool >= plc, f"{P}.backstop.{key}", pool, f"is below the operator's own PLC "
                      f"{plc} MW (the pool holds every large load the cost is spread over)", repr(max(plc, 1.0)))
        if self.zones:
            self.zone_configs()  # each zone's config validated on its own
            return
        from forecast.pledge.calendar import billing_months
        months = billing_months(self.period.start, self.period.months, self.market.timezone)
        dys = {d.delivery_year for d in self.tariff.capacity}
        if any(s.plc_mw > 0 for s in self.sites):
            for m in months:
                check(m.delivery_year in dys, f"{P}.tariff.capacity", sorted(dys),
                      f"no capacity price for delivery year {m.delivery_year} (month {m.label})",
                      f"[{{delivery_year:'{m.delivery_year}',price_usd_per_mw_day:329.17}}]")

    def site_ids(self) -> list[str]:
        return [s.site_id for s in self.sites]

    def zone_configs(self) -> list[tuple[str, "PledgeConfig"]]:
        """(zone, the zone's own pledge config): its sites, upgrades and leases, the zone's ZONE_KEYS, the zone as
        the grid files' zone filter (system load, actuals, a curve fitted at run time), its own ledger (name
        ``<name>-<zone>``) and Monte Carlo seed (seed + position)."""
        names = [z.zone for z in self.zones]
        for i, z in enumerate(self.zones):
            check(bool(str(z.zone).strip()) and names.count(z.zone) == 1, f"{P}.zones.{i}.zone", z.zone,
                  "must be non-empty and not listed twice", f"zone-{i + 1}")
        for i, s in enumerate(self.sites):
            check(s.zone in names, f"{P}.sites.{i}.zone", s.zone, f"with pledge.zones every site names one of "
                  f"{', '.join(names)}", names[0])
        defaults = {"market": MarketCfg(), "tariff": TariffCfg(), "system_load": SystemLoadCfg(),
                    "price_curve": PriceCurveCfg(), "backstop": BackstopCfg()}
        for key, default in defaults.items():  # the top level's are not read: never set them silently unused
            check(getattr(self, key) == default, f"{P}.{key}", "<set>", "is not read in a pledge of several zones; "
                  f"set it per zone (pledge.zones.N.{key})", "<the default, or remove it>")
        out = []
        for i, z in enumerate(self.zones):
            ids = {s.site_id for s in self.sites if s.zone == z.zone}
            check(bool(ids), f"{P}.zones.{i}.zone", z.zone, "no site is in this zone", "<drop the zone>")
            sl = z.system_load
            sl = dataclasses.replace(sl, zone=sl.zone or z.zone) if sl.source == "file" else sl
            act = dataclasses.replace(self.actuals, zone=z.zone) if self.actuals.source == "file" else self.actuals
            pc = z.price_curve
            pc = dataclasses.replace(pc, zone=z.zone) if pc.kind == "fitted" and pc.fit_on and pc.zone is None else pc
            try:
                cfg = dataclasses.replace(
                    self, name=f"{self.name}-{z.zone}", market=z.market, tariff=z.tariff, system_load=sl,
                    price_curve=pc, backstop=z.backstop, actuals=act, zones=[],
                    sites=[s for s in self.sites if s.site_id in ids],
                    upgrades=[u for u in self.upgrades if u.site_id in ids],
                    leases=[ls for ls in self.leases if ls.site_id in ids],
                    montecarlo=dataclasses.replace(self.montecarlo, seed=self.montecarlo.seed + i))
            except PledgeConfigError as e:  # name the zone's key where the error is in its own part
                part = e.key.split(".")[1] if e.key.count(".") else ""
                raise e.under(e.key.replace(f"{P}.", f"{P}.zones.{i}.", 1) if part in ZONE_KEYS else e.key,
                              f" (zone {z.zone})") from None
            out.append((z.zone, cfg))
        return out


@dataclass
class PledgeApp:
    """Primary config of ``forecast pledge``."""

    pledge: PledgeConfig = MISSING
    action: str = "forecast"  # forecast | settle | trueup | plan | bill
    out_dir: str = "runs/pledge"  # ledgers under out_dir/ledger, reports under out_dir/report
    reason: str = ""  # why a new version is written (restatements), recorded in the manifest
    version: Optional[int] = None  # action=bill: the forecast version that went on the bill
    approver: str = ""  # action=bill: who approved the bill
    report: bool = True
    tracking: bool = True  # record the run in MLflow through forecast.tracking
    tracking_uri: Optional[str] = None  # default: forecast.tracking's (sqlite:///mlflow.db in the working dir)
    experiment: str = "pledge"

    def __post_init__(self):
        choice("action", self.action, ("forecast", "settle", "trueup", "plan", "bill"))


def register_configs() -> None:
    cs = ConfigStore.instance()
    cs.store(name="pledge_app_schema", node=PledgeApp)
    cs.store(group="pledge", name="pledge_schema", node=PledgeConfig)


def compose(overrides: list[str] | tuple[str, ...] = (), config_name: str = "pledge_app") -> DictConfig:
    """Compose ``conf/pledge_app.yaml`` with command-line style overrides (``forecast.config.compose``)."""
    register_configs()
    return compose_config(list(overrides), config_name=config_name)


def to_app(cfg: DictConfig) -> PledgeApp:
    """Validate a composed config into typed objects (runs every ``__post_init__``)."""
    try:
        obj = OmegaConf.to_object(cfg)
    except PledgeConfigError as e:
        raise zone_error(cfg, e) from None
    if not isinstance(obj, PledgeApp):
        raise TypeError(f"expected a PledgeApp config, got {type(obj).__name__}")
    return obj


def zone_error(cfg: DictConfig, e: PledgeConfigError) -> PledgeConfigError:
    """``e`` under the key of the zone it comes from (a zone's market, tariff, … raise with the top-level key)."""
    zones = OmegaConf.select(cfg, "pledge.zones") or []
    part = e.key.split(".")[1] if e.key.count(".") else ""
    for i, z in enumerate(zones):
        if part not in ZONE_KEYS:
            break
        try:
            OmegaConf.to_object(z[part])
        except PledgeConfigError as here:
            if str(here) == str(e):
                return e.under(e.key.replace(f"{P}.", f"{P}.zones.{i}.", 1), f" (zone {z.zone})")
    return e


def load_config(overrides: list[str] | tuple[str, ...] = ()) -> tuple[PledgeApp, dict]:
    """Compose + validate. Returns the typed config and the resolved plain dict (for the manifest)."""
    cfg = compose(overrides)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    return to_app(cfg), resolved
