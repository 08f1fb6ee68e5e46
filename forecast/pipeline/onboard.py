"""Own data, first hour: ``forecast init`` writes a template data folder that passes validation, and
``forecast validate`` checks every table of a folder and lists the problems of each, not only the first.

Required tables (README: Data contracts): sites, jobs and meter for the power model; grid (zone load, price,
temperature) only where temperature is used (``data.use_temperature``) and for the pledge's system load and
price response.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from forecast.config import Config, DataConfig, to_object
from forecast.config import load as load_config
from forecast.data import contracts
from forecast.data.inputs import TABLES, find_table, load_inputs
from forecast.data.scenario_config import FleetConfig, ScenarioConfig, SiteConfig
from forecast.data.simulate import simulate
from forecast.errors import ContractError, UsageError


@dataclass
class InitConfig:
    """``forecast init`` (conf/init.yaml)."""

    dir: str = MISSING  # the folder to create (it must not exist or be empty)
    days: int = 31
    seed: int = 0


ConfigStore.instance().store(name="init_schema", node=InitConfig)


def template_scenario(days: int, seed: int) -> ScenarioConfig:
    """One site with 8,000 H100s in the DOM zone, ``days`` of meter, jobs with plan revisions, the zone's grid."""
    base = ScenarioConfig()
    return ScenarioConfig(seed=seed, days=days, sites=[SiteConfig("my-site", "DOM", [FleetConfig("H100", 8_000)])],
                          zones=[z for z in base.zones if z.zone == "DOM"])


def init(cfg: InitConfig) -> dict[str, Path]:
    """Write the template folder; refuses a folder that has files (nothing is overwritten)."""
    out = Path(cfg.dir)
    if out.exists() and any(out.iterdir()):
        raise UsageError("dir", f"{out} is not empty; init never overwrites", "dir=<a new folder>")
    if cfg.days < 14:
        raise UsageError("days", f"{cfg.days} days is too short a template for the default model", "days=31")
    paths = simulate(template_scenario(cfg.days, cfg.seed)).write(out)
    load_inputs(DataConfig(source="files", dir=str(out)))  # the template passes the contracts it shows
    return paths


def check_tables(dc: DataConfig) -> list[str]:
    """Every table read and validated on its own (each one's first problem), then the cross-table checks."""
    folder = Path(dc.dir)
    tz = dc.assume_tz
    loaders = {"sites": lambda p: contracts.load_sites(p, tz), "meter": lambda p: contracts.load_meter(p, tz),
               "grid": lambda p: contracts.load_grid(p, tz),
               "jobs": lambda p: contracts.load_jobs(p, known_at=dc.known_at, assume_tz=tz)}
    problems = []
    for table in TABLES:
        try:
            path = find_table(folder, table, required=(table != "grid" or dc.use_temperature))
            if path is not None:
                loaders[table](path)
        except (ContractError, FileNotFoundError) as e:
            problems.append(f"{table}: {e}")
    if not problems:
        try:
            load_inputs(dc)
        except ContractError as e:
            problems.append(f"across tables: {e}")
    return problems


def main_init(overrides: list[str]) -> int:
    cfg = load_config("init", InitConfig, overrides)
    paths = init(cfg)
    print(f"template data folder {cfg.dir}: " + ", ".join(p.name for k, p in paths.items() if k in TABLES))
    print(f"it passes validation; try: forecast validate data.dir={cfg.dir}")
    return 0


def main_validate(overrides: list[str]) -> int:
    from forecast.config import compose

    cfg = to_object(compose(["data=files", *overrides]), Config)
    problems = check_tables(cfg.data)
    for p in problems:
        print(p)
    print(f"{cfg.data.dir}: {len(problems)} problem(s)" if problems else f"{cfg.data.dir}: every table passes")
    return 1 if problems else 0
