"""run(cfg): from the job schedule to next month's pledge ledger, in one MLflow parent run.

simulate (or read the user's files) -> train and register the power model -> draw forecast for every site to
the end of the next local billing month (``pipeline.draw``) -> per grid zone: the zone's system load as joint
sample paths (``price.system_load``), the price response fitted on the zone's grid history, the capacity
obligation from metered load at the system's five coincident peaks of the summer that set it -> the pledge's
forecast ledger and report (``pledge.api.forecast_run``). The sites are the data's sites table; the pledge
config (conf/pledge/<run.pledge>.yaml) names tariffs, upgrades and assumptions. Each zone's pledge gets its
own ledger (``<run.out_dir>/pledge/<zone>``).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from typing import Optional
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from forecast import tracking
from forecast.config import Config, ConfigError, to_dict
from forecast.data.inputs import Inputs, load_inputs
from forecast.io import atomic_write
from forecast.pipeline.draw import DrawForecast, forecast_draw
from forecast.pipeline.train import TrainResult, launch_rank, open_tracking, train
from forecast.pledge import api
from forecast.pledge.calendar import BillingMonth, hourly_index, next_billing_month
from forecast.pledge.config import compose as compose_pledge
from forecast.pledge.config import SiteCfg, to_app
from forecast.price.system_load import SystemLoadModel

log = logging.getLogger("forecast")


@dataclass
class RunOptions:
    """``forecast run`` / ``forecast demo``: from the job schedule to next month's pledge ledger (conf/run.yaml)."""

    pledge: str = "scenario"  # conf/pledge/<name>.yaml: tariffs, upgrades, assumptions (sites come from the data)
    pledge_overrides: list[str] = field(default_factory=list)  # e.g. ["pledge.shift.phi=0.5"]
    issue_time: Optional[str] = None  # ISO time with zone; None = the hour after the last meter reading
    train: bool = True  # false: forecast with the registered model (tracking.model_name@tracking.alias)
    blend_h: int = 48  # hours over which the learned model hands over to the long-horizon one
    origin_every_h: int = 48  # stride of the past origins that teach the long-horizon model its lead-time gap
    load_samples: int = 200  # joint sample paths of each zone's system load
    fit_correlations: bool = True  # Monte Carlo rho_time / rho_sites fitted on past pseudo-forecasts of the draw
    seed: int = 0
    out_dir: str = "outputs/run"

    def __post_init__(self):
        if self.blend_h < 0 or self.origin_every_h < 1 or self.load_samples < 10:
            raise ConfigError("run.load_samples", "run.blend_h >= 0, run.origin_every_h >= 1 and "
                              "run.load_samples >= 10 are needed", "200")
        if self.issue_time is not None:
            try:
                t = pd.Timestamp(self.issue_time)
            except ValueError:
                raise ConfigError("run.issue_time", f"cannot parse {self.issue_time!r}", "2026-01-01T00:00Z") from None
            if t.tzinfo is None:
                raise ConfigError("run.issue_time", f"{self.issue_time!r} has no timezone", "2026-01-01T00:00Z")


@dataclass
class RunConfig(Config):
    run: RunOptions = field(default_factory=RunOptions)


ConfigStore.instance().store(name="run_schema", node=RunConfig)


@dataclass
class ZoneResult:
    zone: str
    sites: list[str]
    pledge: api.PledgeResult
    system_load_path: Path
    plc_mw: dict[str, float]
    plc_source: str
    correlation_source: str = ""


@dataclass
class RunResult:
    train: TrainResult | None
    draw: DrawForecast
    month: BillingMonth
    zones: dict[str, ZoneResult] = field(default_factory=dict)
    run_id: str = ""
    seconds: float = 0.0

    def total(self) -> Decimal:
        return sum((z.pledge.accounting.total(self.month.label) for z in self.zones.values()), Decimal(0))


def system_load_paths(grid: pd.DataFrame, zone: str, t: pd.Timestamp, hours: pd.DatetimeIndex, tz: str,
                      n: int, seed: int, path: Path) -> tuple[Path, dict]:
    """Fit the zone's load model on its history before ``t``; write the joint paths (ts, sample, load_mw)."""
    g = grid[(grid["zone"] == zone) & (grid["ts"] < t)]
    load = pd.Series(g["load_mw"].to_numpy(np.float64), index=pd.DatetimeIndex(g["ts"]))
    temp = (pd.Series(g["temperature_c"].to_numpy(np.float64), index=load.index)
            if "temperature_c" in g.columns else None)
    model = SystemLoadModel(timezone=tz).fit(load, temperature=temp, until=t, source=f"grid zone {zone}")
    fc = model.forecast(t, hours, n_samples=n, seed=seed)
    K, T = fc.samples.shape
    frame = pd.DataFrame({"ts": np.tile(fc.ts, K), "sample": np.repeat(np.arange(K), T),
                          "load_mw": fc.samples.ravel()})  # (K·T,) long
    atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False))
    return path, fc.source


def coincident_peak_plc(inp: Inputs, zone: str, sites: list[str], month: BillingMonth, tz: str,
                        n_peaks: int = 5) -> tuple[dict[str, float], str]:
    """PLC per site: its mean metered load in the zone's ``n_peaks`` highest daily peak hours (five days) of
    June–September of the summer before the delivery year of ``month`` (PJM 5CP: summer Y − 1 sets the
    obligation billed June Y … May Y + 1). Where that summer is not in the data: 0, and said so."""
    y = int(month.delivery_year.split("/")[0]) - 1
    g = inp.grid[inp.grid["zone"] == zone] if inp.grid is not None else pd.DataFrame()
    if g.empty:
        return {s: 0.0 for s in sites}, "no grid history: PLC 0"
    local = pd.DatetimeIndex(g["ts"]).tz_convert(tz)
    summer = g[(local.year == y) & local.month.isin([6, 7, 8, 9])]
    if len(summer) < 24 * 100:
        return {s: 0.0 for s in sites}, f"summer {y} not in the data: PLC 0 (no forecast of it yet)"
    # PJM's five coincident peaks fall on five different days: each day's peak hour, the five highest of them
    day = pd.DatetimeIndex(summer["ts"]).tz_convert(tz).normalize()
    daily = summer.loc[summer.groupby(day.to_numpy())["load_mw"].idxmax()]
    peaks = pd.DatetimeIndex(daily.nlargest(n_peaks, "load_mw")["ts"])
    m = inp.meter[inp.meter["ts"].isin(peaks)]
    plc = m.groupby("site_id")["power_mw"].mean()
    missing = [s for s in sites if s not in plc.index or (m["site_id"] == s).sum() < n_peaks]
    if missing:
        return {s: 0.0 for s in sites}, f"meter lacks the {n_peaks} coincident peaks of {y} for {missing}: PLC 0"
    hours = ", ".join(f"{p:%Y-%m-%d %H}h UTC" for p in sorted(peaks))
    return {s: round(float(plc[s]), 3) for s in sites}, f"metered load at the {n_peaks} zone peaks of summer {y}: {hours}"


@dataclass
class ZoneApp:
    """A zone's pledge config completed from the run's forecasts, ready for ``pledge.api``."""

    app: object  # forecast.pledge.config.PledgeApp
    resolved: dict
    sites: list[str]
    system_load_path: Path
    plc_mw: dict[str, float]
    plc_source: str
    correlation_source: str


def correlations(rc: RunOptions, draw: DrawForecast, mc) -> str:
    """Set the pledge's Monte Carlo correlations (``mc``) to those fitted with the draw forecast, unless the run
    says not to or the pledge overrides name them; returns where the values come from."""
    dep = draw.dependence
    if any(o.startswith("pledge.montecarlo.rho") for o in rc.pledge_overrides):
        return f"rho_time {mc.rho_time}, rho_sites {mc.rho_sites} from run.pledge_overrides"
    if not rc.fit_correlations or dep is None or dep.rho_time is None:
        why = "run.fit_correlations=false" if not rc.fit_correlations else (dep.note if dep else "no fit")
        return f"rho_time {mc.rho_time}, rho_sites {mc.rho_sites} as configured ({why})"
    mc.rho_time, mc.rho_sites = float(dep.rho_time), float(dep.rho_sites)
    return f"rho_time {mc.rho_time:.4f}, rho_sites {mc.rho_sites:.3f} {dep.note}"


def zone_app(cfg: RunConfig, inp: Inputs, zone: str, draw: DrawForecast, month: BillingMonth) -> ZoneApp:
    """The zone's pledge config: its sites from the sites table, the draw file, the system-load paths, the
    price curve fitted on the zone's grid hours before the issue time, the PLC, the actuals for settlement."""
    rc = cfg.run
    sites = sorted(s for s, m in inp.metas.items() if m.zone == zone)
    pc = compose_pledge([f"pledge={rc.pledge}", *rc.pledge_overrides])
    tz = pc.pledge.market.timezone
    out = Path(rc.out_dir) / "pledge" / zone
    sl_path, _ = system_load_paths(inp.grid, zone, draw.issued_at, hourly_index([month]), tz, rc.load_samples,
                                   rc.seed, out / f"system_load_{month.label}.parquet")
    plc, plc_source = coincident_peak_plc(inp, zone, sites, month, tz)
    p = pc.pledge
    corr_source = correlations(rc, draw, p.montecarlo)
    p.name = f"{p.name}-{zone}"
    p.period.start, p.period.months = month.label, 1
    p.sites = [SiteCfg(site_id=s, capacity_mw=inp.metas[s].capacity_mw, plc_mw=plc[s]) for s in sites]
    p.upgrades = [u for u in p.upgrades if u.site_id in sites]
    p.draw.source, p.draw.path = "file", str(draw.path)
    p.system_load.source, p.system_load.path = "forecast", str(sl_path)
    if p.price_curve.kind == "fitted" and p.price_curve.path is None:  # the zone's grid history before t only
        p.price_curve.fit_on, p.price_curve.zone = str(inp.paths["grid"]), zone
        p.price_curve.issue_time = draw.issued_at.isoformat()
    p.actuals.source, p.actuals.meter_path = "file", str(inp.paths["meter"])
    p.actuals.grid_path, p.actuals.zone = str(inp.paths["grid"]), zone
    pc.out_dir, pc.tracking_uri, pc.experiment = str(out), cfg.tracking.uri, cfg.tracking.experiment
    resolved = OmegaConf.to_container(pc, resolve=True)
    return ZoneApp(to_app(pc), resolved, sites, sl_path, plc, plc_source, corr_source)


def zone_pledge(cfg: RunConfig, inp: Inputs, zone: str, draw: DrawForecast, month: BillingMonth) -> ZoneResult:
    """The zone's pledge forecast ledger from the run's forecasts."""
    z = zone_app(cfg, inp, zone, draw, month)
    res = api.forecast_run(z.app, z.resolved)
    return ZoneResult(zone, z.sites, res, z.system_load_path, z.plc_mw, z.plc_source, z.correlation_source)


def check_issue_time(cfg: RunConfig) -> None:
    """Training reads every meter hour in data.dir: an issue time before the data ends would let the model see
    what came after it. Refused unless the run forecasts with a model trained earlier (run.train=false)."""
    if cfg.run.issue_time is None or not cfg.run.train:
        return
    meter = load_inputs(cfg.data).meter
    last = meter["ts"].max() + pd.Timedelta(hours=1)
    if pd.Timestamp(cfg.run.issue_time) < last:
        raise ConfigError("run.issue_time", f"{cfg.run.issue_time} is before the meter ends ({last}); training would "
                          "read the hours after it: set run.train=false (a model trained before it) or cut data.dir",
                          "null")


def serving_model(cfg: RunConfig, tr: TrainResult | None) -> str | None:
    """The model the draw forecast uses: the registry's alias (None), unless the run's new model was not
    promoted and no model holds the alias yet; then the new model's checkpoint, and the log says so."""
    if tr is None or tr.promoted:
        return None
    try:
        tracking.resolve_alias(cfg.tracking.model_name, cfg.tracking.alias, cfg.tracking.uri)
        log.warning("the new model is not promoted (%s): the draw forecast uses %s@%s", tr.promotion,
                    cfg.tracking.model_name, cfg.tracking.alias)
        return None
    except LookupError:
        log.warning("the new model is not promoted (%s) and no model holds %s@%s: the draw forecast uses the new "
                    "model's checkpoint %s", tr.promotion, cfg.tracking.model_name, cfg.tracking.alias, tr.checkpoint)
        return str(tr.checkpoint)


def run(cfg: RunConfig) -> RunResult | None:
    """The whole chain; every stage a child of one MLflow run. None on ranks other than 0 (they only train)."""
    t0 = time.perf_counter()
    if launch_rank() != 0:
        train(cfg)
        return None
    open_tracking(cfg)  # an unreachable tracking server is found before any work is spent
    check_issue_time(cfg)
    with tracking.run(to_dict(cfg), experiment=cfg.tracking.experiment, tracking_uri=cfg.tracking.uri,
                      run_name="run", tags={"kind": "run"}) as parent:
        tr = train(cfg) if cfg.run.train else None
        tz = compose_pledge([f"pledge={cfg.run.pledge}"]).pledge.market.timezone
        draw = forecast_draw(cfg, tz, reference_time=cfg.run.issue_time, model_ref=serving_model(cfg, tr),
                             blend_h=cfg.run.blend_h, origin_every_h=cfg.run.origin_every_h)
        month = next_billing_month(draw.issued_at, tz)
        parent.log_artifact(draw.path, artifact_path="draw")
        inp = load_inputs(dataclasses.replace(cfg.data, source="files"))
        res = RunResult(tr, draw, month, run_id=parent.run_id)
        for zone in sorted({m.zone for m in inp.metas.values()}):
            res.zones[zone] = zone_pledge(cfg, inp, zone, draw, month)
            acc = res.zones[zone].pledge.accounting
            parent.log_metrics({f"{zone}_total_usd": float(acc.total(month.label)),
                                f"{zone}_pledge_usd": float(acc.total(month.label, "pledge"))})
        res.seconds = time.perf_counter() - t0
        parent.log_metrics({"total_usd": float(res.total()), "seconds": res.seconds})
    return res


def format_run(res: RunResult) -> str:
    """The month's bill adjustment per zone with its P10–P90, and where the ledger and its inputs are."""
    from forecast.pledge.money import fmt_usd

    m = res.month.label
    lines = [f"\ndraw forecast: {res.draw.path} (issued {res.draw.issued_at}, to {res.draw.end})"]
    for z in res.zones.values():
        acc = z.pledge.accounting
        lo, _, hi = acc.bands[(m, "total")]
        plo, _, phi = acc.bands[(m, "pledge")]
        lines.append(f"{z.zone} ({', '.join(z.sites)}), {m}: bill adjustment {fmt_usd(acc.total(m))} "
                     f"(P10–P90 {fmt_usd(lo)} – {fmt_usd(hi)}); pledge lines {fmt_usd(acc.total(m, 'pledge'))} "
                     f"(P10–P90 {fmt_usd(plo)} – {fmt_usd(phi)})")
        lines.append(f"  ledger {z.pledge.versions[0].path}; report {z.pledge.report_path}; PLC: {z.plc_source}")
        lines.append(f"  Monte Carlo correlations: {z.correlation_source}")
    lines.append(f"MLflow parent run {res.run_id}; {res.seconds:.0f} s")
    return "\n".join(lines)
