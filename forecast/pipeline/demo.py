"""demo(cfg): simulate -> train -> register -> batch forecast, on the built-in scenario by default."""

from __future__ import annotations

import time
from dataclasses import dataclass

from forecast.config import Config
from forecast.pipeline.predict import PredictOutput, predict
from forecast.pipeline.train import TrainResult, train


@dataclass
class DemoResult:
    train: TrainResult
    forecast: PredictOutput | None  # None on ranks other than 0
    seconds: float


def demo(cfg: Config) -> DemoResult:
    """Train and register the model, then issue the batch forecast with the registered champion."""
    t0 = time.perf_counter()
    res = train(cfg)
    if not res.is_global_zero:
        return DemoResult(res, None, time.perf_counter() - t0)
    out = predict(cfg, model_ref=None)
    return DemoResult(res, out, time.perf_counter() - t0)
