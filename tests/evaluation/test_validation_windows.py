"""Validation windows before a refit scale with the history available (a share of it, with a floor),
instead of a fixed number of days that can leave a short series almost no training windows."""

import numpy as np
import pandas as pd
import pytest

from forecast.evaluation.rolling import Policy, val_span, windows_before
from forecast.evaluation.series_bench import prepare

H, L = 24, 168


def _store(days: int):
    ts = pd.date_range("2025-01-01", periods=24 * days, freq="h", tz="UTC")
    y = 5 + np.sin(np.arange(len(ts)) * 2 * np.pi / 24)
    return prepare(pd.DataFrame({"y": y}, index=ts), "y", [], H, L).store


@pytest.mark.parametrize("days", [25, 50, 100])
def test_validation_is_a_share_of_the_history_before_the_refit(days):
    store = _store(days)
    policy = Policy(val_share=0.2, val_min_days=2)
    t0 = store.series[0].ts[0] + pd.Timedelta(days=days - 5)
    tr, va, _ = windows_before(store, t0, policy)
    available_h = 24 * (days - 5)
    assert val_span(store, t0, policy) == round(0.2 * available_h)
    assert len(va) == round(0.2 * available_h) + 1  # one validation issue time per hour of the span, both ends
    ts = store.series[0].ts
    assert ts[va.max()] + pd.Timedelta(hours=H) <= t0  # validation targets end before the refit
    assert ts[tr.max()] + pd.Timedelta(hours=H) <= ts[va.min()]  # training targets end before validation starts
    # the training set keeps most of the history: 80% of it minus the windows' own history and horizons
    assert len(tr) == available_h - round(0.2 * available_h) - L - 2 * H + 1


def test_short_history_gets_the_stated_minimum_and_fixed_days_still_work():
    store = _store(14)
    t0 = store.series[0].ts[0] + pd.Timedelta(days=12)
    assert val_span(store, t0, Policy(val_share=0.2, val_min_days=3)) == 72  # 0.2 × 288 h = 58 h < 3 days
    assert val_span(store, t0, Policy(val_days=4)) == 96  # val_share 0: the fixed days, as before
    slid = Policy(retrain="every_k", window_days=10, val_share=0.25, val_min_days=1)
    assert val_span(store, t0, slid) == 60  # every_k: a share of the sliding window's 240 h


def test_bad_share_is_refused_with_the_keys_to_fix():
    with pytest.raises(ValueError, match="val_share must be in"):
        Policy(val_share=1.5)


def test_series_bench_defaults_scale_validation_and_refuse_a_zero_share():
    from forecast.config import ConfigError
    from forecast.evaluation.series_bench import BenchConfig

    c = BenchConfig("x.csv", "t", "y")
    assert (c.val_days, c.val_share, c.val_min_days) == (0, 0.2, 2.0)  # no fixed 14 days by default
    with pytest.raises(ConfigError, match="val_share") as e:
        BenchConfig("x.csv", "t", "y", val_share=0.0)
    assert e.value.key == "val_share"
    assert BenchConfig("x.csv", "t", "y", val_days=5, val_share=0.0).val_days == 5  # fixed days still possible


def test_too_short_for_training_names_what_to_lower():
    from forecast.config import OptimizerConfig, TrainerConfig
    from forecast.evaluation.rolling import rolling
    from forecast.models.device import resolve

    store = _store(20)  # the first origin after 10 days: 240 h < 168 h history + 2 × 24 h horizons + 48 h validation
    origins = store.origins(0, start=store.series[0].ts[0] + pd.Timedelta(days=10), at_hour=0)
    with pytest.raises(ValueError, match=r"0 training and .* h of validation\); start later or lower the "
                                         r"validation \(val_days / val_share\) or the history"):
        rolling(store, origins, Policy(val_share=0.2, val_min_days=2), lambda: None, (0.1, 0.5, 0.9),
                OptimizerConfig(), TrainerConfig(accelerator="cpu", devices=1, precision="32-true"),
                resolve("cpu", "32-true"), baselines=())
