"""``forecast series-bench``'s config (conf/series_bench.yaml; the protocol in forecast/evaluation/series_bench.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from hydra.core.config_store import ConfigStore

from forecast.config import at_least, choice, fail


@dataclass
class BenchConfig:
    """``forecast series-bench`` (conf/series_bench.yaml; protocol in forecast/evaluation/series_bench.py)."""

    data: str  # CSV file
    timestamp: str  # timestamp column
    target: str  # target column
    known_future: list[str] = field(default_factory=list)  # columns known ahead (e.g. a plan)
    horizon: int = 24
    out: str = "outputs/series-bench"
    history: int = 168
    at_hour: int = 0
    retrain: str = "expanding"  # never | every_k | expanding
    refit_days: int = 7
    window_days: int = 90
    val_days: int = 0  # fixed validation days; 0 = max(val_min_days, val_share × the hours before each refit)
    val_share: float = 0.2
    val_min_days: float = 2.0
    calibrate: bool = True  # split-conformal P10/P90 for every contender on the same validation windows
    clamp_nonnegative: bool = True  # pre-test readings all >= 0: every contender's quantiles clamped at 0
    epochs: int = 15
    ensemble: int = 1  # models per refit (different seeds), quantiles averaged
    model_history: int = 0  # hours of history the learned model reads (0 = history); baselines keep ``history``
    hidden: int = 128
    dropout: float = 0.1
    lr: float = 2e-3
    batch_size: int = 256
    lightgbm: bool = True
    lightgbm_params: dict = field(default_factory=dict)  # overrides of forecast.models.gbm.DEFAULT_PARAMS
    peers: list[str] = field(default_factory=list)  # optional peers (pip install '.[peers]'): nhits, tft, autoets, mstl
    peer_steps: int = 0  # NeuralForecast training steps per refit; 0 = the learned model's budget
    report: bool = True
    seed: int = 0
    init: str = "pretrained"  # pretrained: the learned model starts from the shipped weights (fine-tuned) | scratch
    weights: str = ""  # pretrained weights ("" = those shipped, forecast/models/weights/power_tide_h24.pt)
    zero_shot: bool = True  # the pretrained weights as they are, as a contender
    select: bool = True  # the headline forecast: per refit the validated choice among the contenders
    select_top: int = 3  # ... the pointwise median of the select_top with the lowest validation MAE (1: the best)
    assume_tz: str = ""  # timestamps without an offset are refused unless this says their zone (e.g. UTC)

    def __post_init__(self):
        self.known_future = [str(c).strip() for c in self.known_future if str(c).strip()]
        if not 1 <= self.horizon <= 336:
            fail("horizon", f"must be in 1..336, got {self.horizon}", "24")
        if not 24 <= self.history <= 24 * 60:
            fail("history", f"must be in 24..1440, got {self.history}", "168")
        if not (self.model_history == 0 or 24 <= self.model_history <= self.history):
            fail("model_history", f"must be 0 or in 24..history={self.history}, got {self.model_history}", "48")
        if not 0 <= self.at_hour < 24:
            fail("at_hour", f"must be 0..23, got {self.at_hour}", "0")
        choice("retrain", self.retrain, ("expanding", "never", "every_k"))
        choice("init", self.init, ("pretrained", "scratch"))
        for name in ("refit_days", "window_days", "epochs", "ensemble", "hidden", "batch_size", "select_top"):
            at_least(name, getattr(self, name), 1)
        at_least("val_days", self.val_days, 0)
        at_least("peer_steps", self.peer_steps, 0)
        at_least("val_min_days", self.val_min_days, 1 / 24)
        if not 0 <= self.val_share < 0.9 or (self.val_days == 0 and self.val_share == 0):
            fail("val_share", f"must be in (0, 0.9) when val_days=0, got {self.val_share}", "0.2")
        if not 0 < self.lr < 1:
            fail("lr", f"must be in (0, 1), got {self.lr}", "0.002")
        if not 0 <= self.dropout < 1:
            fail("dropout", f"must be in [0, 1), got {self.dropout}", "0.1")
        bad = [p for p in self.peers if p not in ("nhits", "tft", "autoets", "mstl")]
        if bad:
            fail("peers", f"unknown peers {bad}; known: nhits, tft, autoets, mstl", "[nhits]")


ConfigStore.instance().store(name="series_bench_schema", node=BenchConfig)
