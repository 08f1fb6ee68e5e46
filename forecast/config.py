"""Typed configuration: dataclasses registered in Hydra's ConfigStore; values live in conf/*.yaml.

Validation runs in ``__post_init__`` when a composed config is turned into
objects (:func:`to_object`); errors name the override that fixes them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, TypeVar

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf

from forecast.data.simulate import ScenarioConfig

T = TypeVar("T")


class ConfigError(ValueError):
    """A config value that cannot be used: ``key`` is the override that fixes it, ``problem`` what is
    wrong, ``example`` a value that would do (None: no single one)."""

    def __init__(self, key: str, problem: str, example: str | None = None):
        self.key, self.problem, self.example = key, problem, example
        super().__init__(f"config: {problem} (set it with the override `{key}=...`)")


def fail(override: str, problem: str, example: str | None = None) -> None:
    """Raise the :class:`ConfigError` of ``override`` (the checks below are for schemas kept beside their stage)."""
    raise ConfigError(override, problem, example)


def choice(override: str, value: str, allowed: tuple[str, ...]) -> None:
    _choice(override, value, allowed)


def at_least(override: str, value: float, low: float) -> None:
    _at_least(override, value, low)


def _fail(override: str, problem: str, example: str | None = None) -> None:
    raise ConfigError(override, problem, example)


def _choice(override: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        _fail(override, f"{value!r} is not one of {', '.join(allowed)}", allowed[0])


def _at_least(override: str, value: float, low: float) -> None:
    if value < low:
        _fail(override, f"must be >= {low:g}, got {value}", f"{low:g}")


def _zoned_time(override: str, value: str | None) -> None:
    """A time given in config (None: not given) must parse and carry a zone."""
    if value is None:
        return
    import pandas as pd

    try:
        t = pd.Timestamp(value)
    except ValueError:
        _fail(override, f"cannot parse {value!r}", "2025-12-01T00:00Z")
    if t.tzinfo is None:
        _fail(override, f"{value!r} has no timezone; write e.g. 2025-12-01T00:00Z", "2025-12-01T00:00Z")


@dataclass
class DataConfig:
    source: str = "simulate"  # simulate | files
    dir: str = "data/scenario"  # where the contract files are read (and written, for source=simulate)
    scenario: ScenarioConfig = field(default_factory=ScenarioConfig)
    history_h: int = 336
    horizon_h: int = 168
    test_weeks: int = 8
    val_weeks: int = 4
    train_every_h: int = 1  # stride between training issue times
    val_every_h: int = 6
    eval_hour: int = 0  # test forecasts are issued daily at this UTC hour
    use_temperature: bool = True
    # where each job version's known_at comes from: column (the jobs table must have it) | planned_start
    # (none in the table: each version known at its planned start) | always (none: every version known forever)
    known_at: str = "column"
    assume_tz: str = ""  # times written without an offset are read in this zone (e.g. UTC); "" = refused

    def __post_init__(self):
        _choice("data.source", self.source, ("simulate", "files"))
        _choice("data.known_at", self.known_at, ("column", "planned_start", "always"))
        if not self.dir or self.dir == "???":
            _fail("data.dir", "no data folder given")
        if not 24 <= self.history_h <= 24 * 60:
            _fail("data.history_h", f"history_h must be in [24, 1440], got {self.history_h}")
        if not 1 <= self.horizon_h <= 24 * 14:
            _fail("data.horizon_h", f"horizon_h must be in [1, 336], got {self.horizon_h}")
        if self.test_weeks < 1 or self.val_weeks < 1:
            _fail("data.test_weeks", "test_weeks and val_weeks must be >= 1")
        if not 0 <= self.eval_hour < 24:
            _fail("data.eval_hour", f"eval_hour must be 0..23, got {self.eval_hour}")
        if self.train_every_h < 1 or self.val_every_h < 1:
            _fail("data.train_every_h", "strides must be >= 1")


@dataclass
class OptimizerConfig:
    name: str = "adamw"  # adamw | adam
    lr: float = 2e-3
    weight_decay: float = 1e-4
    scheduler: str = "onecycle"  # onecycle | cosine | none

    def __post_init__(self):
        _choice("model.optimizer.name", self.name, ("adamw", "adam"))
        _choice("model.optimizer.scheduler", self.scheduler, ("onecycle", "cosine", "none"))
        if not 0 < self.lr < 1:
            _fail("model.optimizer.lr", f"lr must be in (0, 1), got {self.lr}")


@dataclass
class ModelConfig:
    name: str = "tide"
    quantiles: list[float] = field(default_factory=lambda: [0.1, 0.5, 0.9])
    hidden: int = 256
    n_encoder: int = 2
    n_decoder: int = 1
    proj_dim: int = 4
    decoder_dim: int = 16
    temporal_hidden: int = 64
    dropout: float = 0.1
    anchor: bool = True  # learn the gap to the physics-expected power of the planned schedule
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)

    def __post_init__(self):
        from forecast.types import Quantiles

        _choice("model.name", self.name, ("tide",))
        try:
            Quantiles(tuple(self.quantiles))
        except ValueError as e:
            _fail("model.quantiles", str(e))
        if self.hidden < 8:
            _fail("model.hidden", f"hidden must be >= 8, got {self.hidden}")


@dataclass
class TrainerConfig:
    accelerator: str = "auto"  # auto | cuda | cpu
    devices: Any = "auto"  # "auto", an int, or a list of device ids
    num_nodes: int = 1
    strategy: str = "auto"  # auto | ddp | ddp_spawn …
    precision: str = "auto"  # auto -> bf16-mixed on CUDA, 32-true on CPU
    max_epochs: int = 5
    batch_size: int = 512
    max_train_windows: int = 0  # 0 = all; else a random subset per epoch (seeded)
    seed: int = 0
    deterministic: bool = False
    compile: bool = False
    gradient_clip_val: float = 1.0
    num_threads: int = 0  # CPU intra-op threads; 0 = torch default
    progress: bool = True
    resume: str = "none"  # none | last (<out_dir>/checkpoints/last.ckpt of an interrupted run) | a checkpoint path

    def __post_init__(self):
        if self.batch_size < 1:
            _fail("trainer.batch_size", f"batch_size must be >= 1, got {self.batch_size}")
        if self.max_epochs < 1:
            _fail("trainer.max_epochs", f"max_epochs must be >= 1, got {self.max_epochs}")


@dataclass
class TrackingConfig:
    uri: Optional[str] = None  # None -> $FORECAST_TRACKING_URI, $MLFLOW_TRACKING_URI or sqlite:///mlflow.db
    experiment: str = "forecast-power"
    model_name: str = "power-forecaster"
    alias: str = "champion"
    register: bool = True
    force_promote: bool = False  # take the alias even when not better than the champion and every baseline
    timeout_s: float = 5.0  # a tracking server that does not answer within this is unreachable
    fallback: str = "none"  # none: refuse in one line; local: record in local_uri and say so (tracking-sync copies)
    local_uri: Optional[str] = None  # default: sqlite:///<out_dir>/mlflow-local.db


@dataclass
class PredictConfig:
    reference_time: Optional[str] = None  # ISO time with zone; None in `demo` = the hour after the last meter reading
    model: str = "registry"  # "registry" (tracking.model_name@tracking.alias) or a checkpoint path
    out: str = "outputs/forecasts"
    csv: bool = False
    batch_size: int = 4096
    data_from: str = "model"  # model: the data settings recorded with the model (data.dir …) | config: data.*
    keep_memory: bool = True  # keep freed memory in the process for reuse (forecast/memory.py): less kernel time

    def __post_init__(self):
        _zoned_time("predict.reference_time", self.reference_time)
        _choice("predict.data_from", self.data_from, ("model", "config"))


@dataclass
class BacktestConfig:
    """Rolling-origin backtest (forecast/backtest.py); see conf/backtest/default.yaml."""

    start: Optional[str] = None  # first origin (ISO time with zone); None = data.test_weeks before the meter ends
    end: Optional[str] = None  # origins before this time; None = every origin with a full horizon of readings
    every_days: int = 1  # origins every n days at ``at_hour`` UTC
    at_hour: int = 0
    retrain: str = "expanding"  # never | every_k (sliding window_days) | expanding (all data before)
    k: int = 7  # refit every k origin times
    window_days: int = 90
    val_days: int = 0  # 0 = data.val_weeks · 7
    train_every_h: int = 0  # 0 = data.train_every_h
    calibrate: bool = True
    warm_start: bool = False
    max_epochs: int = 0  # 0 = trainer.max_epochs
    ensemble: int = 1  # models per refit (seeds differ), quantiles averaged
    baselines: list[str] = field(default_factory=lambda: ["seasonal_naive_24h", "seasonal_naive_168h", "physics"])
    lightgbm: bool = True
    lightgbm_every_h: int = 12  # stride between LightGBM training origins
    lightgbm_max_rows: int = 60000
    peers: list[str] = field(default_factory=list)  # e.g. [nhits] (needs `pip install .[peers]`)
    report: bool = True

    def __post_init__(self):
        _choice("backtest.retrain", self.retrain, ("never", "every_k", "expanding"))
        for name in ("start", "end"):
            _zoned_time(f"backtest.{name}", getattr(self, name))
        if self.every_days < 1 or self.k < 1 or self.window_days < 1 or self.lightgbm_every_h < 1 or self.ensemble < 1:
            _fail("backtest.k", "every_days, k, window_days, lightgbm_every_h and ensemble must be >= 1")
        if not 0 <= self.at_hour < 24:
            _fail("backtest.at_hour", f"at_hour must be 0..23, got {self.at_hour}")
        from forecast.models.baselines import BASELINES

        bad = [b for b in self.baselines if b not in BASELINES]
        if bad:
            _fail("backtest.baselines", f"unknown baselines {bad}; known: {', '.join(BASELINES)}")
        bad = [p for p in self.peers if p not in ("nhits", "tft")]
        if bad:
            _fail("backtest.peers", f"unknown peers {bad}; known: nhits, tft")


@dataclass
class CorpusConfig:
    """A shard corpus (``forecast.pipeline.corpus``): written by ``forecast corpus``; ``forecast train`` streams it."""

    dir: str = ""  # the shard folder; "" = train on data.dir's series, in memory
    sources: list[str] = field(default_factory=list)  # data folders written into it; empty = the configured data
    series_per_shard: int = 32
    shards_per_epoch: int = 4  # shards a rank loads per epoch (rotating through its own)
    batches_per_epoch: int = 100  # batches per rank per epoch (every rank the same, so DDP ranks stay in step)
    eval_shards: int = 1  # the last shards, never trained on: validation and test windows of unseen series

    def __post_init__(self):
        for key in ("series_per_shard", "shards_per_epoch", "batches_per_epoch", "eval_shards"):
            _at_least(f"corpus.{key}", getattr(self, key), 1)


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    predict: PredictConfig = field(default_factory=PredictConfig)
    backtest: BacktestConfig = field(default_factory=BacktestConfig)
    out_dir: str = "outputs"


@dataclass
class SimulateConfig:
    """``forecast simulate`` (conf/simulate.yaml): the built-in scenario written to ``out``."""

    out: str = "data/scenario"
    scenario: ScenarioConfig = field(default_factory=ScenarioConfig)

    def __post_init__(self):
        _at_least("scenario.days", self.scenario.days, 7)
        if not self.out:
            _fail("out", "no output folder given", "data/scenario")


def register() -> None:
    cs = ConfigStore.instance()
    cs.store(name="forecast_schema", node=Config)
    cs.store(group="data", name="schema", node=DataConfig)
    cs.store(group="model", name="schema", node=ModelConfig)
    cs.store(group="trainer", name="schema", node=TrainerConfig)
    cs.store(group="backtest", name="schema", node=BacktestConfig)
    cs.store(name="simulate_schema", node=SimulateConfig)


register()


def conf_dir() -> Path:
    env = os.environ.get("FORECAST_CONF_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1] / "conf"


def groups_used(primary: Path) -> set[str]:
    """Config groups named in a primary config's defaults list (``- data: scenario`` -> ``data``)."""
    defaults = OmegaConf.to_container(OmegaConf.load(primary)).get("defaults") or []
    names = (k for d in defaults if isinstance(d, dict) for k in d)
    return {n.removeprefix("override ").lstrip("/").partition("@")[0] for n in names}


def compose(overrides: list[str] | None = None, config_name: str = "config") -> DictConfig:
    """Compose conf/<config_name>.yaml with command-line style overrides.

    Hydra reads ``key=value`` as a group choice wherever a folder conf/<key>/ exists, even in a primary
    config that does not use that group (series-bench's ``data=PATH.csv`` beside the power model's
    conf/data/). Such overrides (a top-level key, a group folder this config's defaults do not name) are
    parsed by Hydra's override parser and set after composition, with the same schema type checks."""
    from hydra import compose as hcompose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import OverrideType

    overrides, root = list(overrides or []), conf_dir()
    used = groups_used(root / f"{config_name}.yaml") if (root / f"{config_name}.yaml").exists() else set()
    parsed = OverridesParser.create().parse_overrides(overrides)
    late = [o for o in parsed if o.type == OverrideType.CHANGE and o.package is None and "." not in o.key_or_group
            and o.key_or_group not in used and (root / o.key_or_group).is_dir()]
    if GlobalHydra.instance().is_initialized():
        GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(root), version_base="1.3"):
        cfg = hcompose(config_name=config_name, overrides=[o.input_line for o in parsed if o not in late])
    for o in late:
        OmegaConf.update(cfg, o.key_or_group, o.value(), merge=False)
    return cfg


def to_object(cfg: DictConfig, schema: type[T] = Config) -> T:
    """Typed, validated objects from a composed config (every ``__post_init__`` runs)."""
    obj = OmegaConf.to_object(cfg)
    if not isinstance(obj, schema):
        raise TypeError(f"composed config does not follow the {schema.__name__} schema; check the primary "
                        "config's defaults list (conf/*.yaml)")
    return obj


def load(config_name: str, schema: type[T], overrides: list[str] | None = None) -> T:
    """Compose conf/<config_name>.yaml with ``overrides`` and validate it into ``schema``."""
    return to_object(compose(overrides, config_name), schema)


def to_dict(cfg: DictConfig | Config) -> dict:
    c = cfg if isinstance(cfg, DictConfig) else OmegaConf.structured(cfg)
    return OmegaConf.to_container(c, resolve=True)
