"""The design procedure and the combination code it shares with the live model: the same forecasts, no
look-ahead (into later days, or into the test period), the choice follows the validation figures."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from forecast.config import ConfigError
from forecast.price import combine, design, epf
from forecast.price.model import DayAheadModel, PriceModelConfig
from forecast.price.readers import EPFData
from test_price_epf import SMALL, synthetic_market


@pytest.mark.parametrize("how", [("inverse_mse", 14, 2.0), ("inverse_mae", 7, 1.0), ("equal", 14, 1.0)])
def test_rolling_combination_is_the_live_models(how):
    """Rebuilt from the recorded members, the combination equals what the live model forecast each day."""
    price, exog, dow = synthetic_market()
    c, window, power = how
    cfg = PriceModelConfig(**{**SMALL, "net": False}, combine=c, weight_window=window, weight_power=power)
    m = DayAheadModel(price, exog, dow, cfg)
    days = np.arange(60, 85)
    live = np.stack([m.forecast_day(int(d)) for d in days])
    members = m.member_points(days)
    labels = [n.split("_")[0] for n in members]
    rebuilt = combine.rolling_combination(np.stack(list(members.values()), 1), price[days], labels, c, window,
                                          power, cfg.net_weight)
    np.testing.assert_allclose(rebuilt, live, rtol=0, atol=1e-9)


def test_conformal_quantiles_by_hand_and_past_only():
    y = np.zeros((12, 24))
    point = np.zeros((12, 24))
    y[:10, 3] = np.arange(10)  # errors 0..9 in hour 3 on days 0..9
    q = combine.conformal_quantiles(y, point, (0.1, 0.5, 0.9), window=10)
    # 10th / 90th percentiles of 0..9 are 0.9 and 8.1; the median is the point (0), so P10 is cut to it
    np.testing.assert_allclose(q[10, 3], [0.0, 0.0, 8.1])
    q2 = combine.conformal_quantiles(y - 4.5, point, (0.1, 0.5, 0.9), window=10)
    np.testing.assert_allclose(q2[10, 3], [-3.6, 0.0, 3.6])
    assert (q[:7] == 0).all()  # fewer than 7 past errors: the point alone
    y2 = y.copy()
    y2[10:] = 1e6  # day 10's own and later prices do not enter day 10's band
    np.testing.assert_array_equal(combine.conformal_quantiles(y2, point, (0.1, 0.5, 0.9), 10)[10], q[10])


def market(n_days=200):
    price, exog, dow = synthetic_market(n_days)
    dates = pd.date_range("2020-01-01", periods=n_days, freq="D")
    return EPFData(dates, price, exog, "price", ("load a", "load b"), "/nowhere/SYN.csv")


@pytest.fixture
def small_space(monkeypatch):
    monkeypatch.setattr(design, "WINDOWS", (28, 56))
    monkeypatch.setattr(design, "WINDOW_SETS", {"all": (28, 56), "short": (28,)})
    return PriceModelConfig(**{**SMALL, "net": False, "asinh_min_window": 0})


def test_validation_run_never_reads_the_test_period(small_space, monkeypatch):
    monkeypatch.setattr(design, "superset", lambda cfg: dataclasses.replace(cfg, windows=design.WINDOWS))
    data = market()
    run = design.validation_run(data, small_space, test_days=60, val_days=30, warmup=7)
    poisoned = dataclasses.replace(data, price=data.price.copy(), exog=data.exog.copy())
    poisoned.price[-60:] = 1e6
    poisoned.exog[-60:] = -1e6
    again = design.validation_run(poisoned, small_space, test_days=60, val_days=30, warmup=7)
    np.testing.assert_array_equal(again["points"], run["points"])
    assert run["points"].shape == (37, 4, 24) and run["y"].shape == (37, 24)
    assert run["val_end"] == str(data.dates[-61].date())  # the last day before the test period
    assert sorted(run["names"]) == ["lear-npit_28", "lear-npit_56", "lear_28", "lear_56"]


def fake_run(name: str, good: str, seed: int) -> dict:
    """A validation run whose member ``good`` is close to the price and the others far off."""
    rng = np.random.default_rng(seed)
    y = 30 + 5 * rng.standard_normal((60, 24))
    names = ["lear_364", "lear_56", "lear-npit_56", "lear-npit_1456", "net_0"]
    pts = np.stack([y + (0.2 if n == good else 6.0) * rng.standard_normal(y.shape) for n in names], 1)
    return {"market": name, "names": names, "points": pts, "y": y, "naive": y + 4 * rng.standard_normal(y.shape),
            "warmup": 14, "asinh_min_window": 364}


def test_choose_follows_the_validation_figures(monkeypatch):
    """The member that is good on both markets' validation days is in the chosen design, weighted by its
    errors; the table is sorted by mean rMAE and the settings are PriceModelConfig fields (over a part of
    the combination grid, for time)."""
    monkeypatch.setattr(design, "COMBINATIONS", [design.COMBINATIONS[0], ("inverse_mae", 42, 6.0),
                                                 ("inverse_mse", 28, 2.0)])
    choice = design.choose([fake_run("A", "lear-npit_56", 0), fake_run("B", "lear-npit_56", 1)])
    s = choice["settings"]
    assert 56 in s["windows"] and "npit" in s["transforms"] and s["combine"] != "equal"
    means = [v["mean_rmae"] for v in choice["point"].values()]
    assert means == sorted(means)
    best = choice["point"][choice["chosen"]]
    assert best["mean_rmae"] <= means[0] * (1 + design.TIE_SHARE)  # the best, or one as good with fewer members
    assert all(v["members"] >= best["members"] for v in choice["point"].values()
               if v["mean_rmae"] <= means[0] * (1 + design.TIE_SHARE))
    assert s["band_days"] in design.BAND_DAYS
    PriceModelConfig(**s)  # every chosen key is a model setting
    # a different good member moves the choice: the design is read off the figures, not fixed
    other = design.choose([fake_run("A", "net_0", 0), fake_run("B", "net_0", 1)])["settings"]
    assert other["net"] is True


def test_network_settings_compared_with_the_lear_members_fixed(small_space):
    """network_run: the networks alone over the validation days, never reading the test period, one member
    per transform; with_networks puts them in place of the recorded network members, other members as they were."""
    data = market(130)
    cfg = dataclasses.replace(small_space, net=True, net_every=20, net_tune_every=3, net_tune_epochs=1,
                              net_transforms=("npit", "asinh"))
    nets = design.network_run(data, cfg, test_days=40, val_days=10, warmup=7)
    poisoned = dataclasses.replace(data, price=data.price.copy(), exog=data.exog.copy())
    poisoned.price[-40:] = 1e6
    poisoned.exog[-40:] = -1e6
    again = design.network_run(poisoned, cfg, test_days=40, val_days=10, warmup=7)
    assert list(nets) == list(again) == ["net_0", "net_1"]
    for k in nets:
        np.testing.assert_array_equal(again[k], nets[k])
        assert nets[k].shape == (17, 24) and np.isfinite(nets[k]).all()
    # each network's forecasts are those of a model with that transform alone (a network does not depend on the others)
    alone = design.network_run(data, dataclasses.replace(cfg, net_transforms=("asinh",)), 40, 10, 7)
    np.testing.assert_allclose(alone["net_0"], nets["net_1"], rtol=0, atol=1e-9)
    run = fake_run("A", "lear_56", 0)
    new = {"net_0": np.full_like(run["y"], 7.0), "net_1": np.full_like(run["y"], 8.0)}
    spliced = design.with_networks(run, new)
    assert spliced["names"] == ["lear_364", "lear_56", "lear-npit_56", "lear-npit_1456", "net_0", "net_1"]
    np.testing.assert_array_equal(spliced["points"][:, 4:], np.stack(list(new.values()), 1))
    np.testing.assert_array_equal(spliced["points"][:, :4], run["points"][:, :4])
    assert run["points"].shape[1] == 5  # the recorded run is not changed
    with pytest.raises(ValueError, match="net_0"):
        design.with_networks(run, {"net_0": new["net_0"][:5]})


def test_load_run_names_the_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="design=true"):
        design.load_run(tmp_path)
    run = fake_run("A", "lear_56", 0)
    design.save_run(run, tmp_path / "A")
    back = design.load_run(tmp_path / "A")
    np.testing.assert_array_equal(back["points"], run["points"]) and back["names"] == run["names"]


def test_bench_metrics_have_pinball_and_crps():
    price, exog, dow = synthetic_market(110)
    data = market(110)
    res = epf.run_bench(data, PriceModelConfig(**{**SMALL, "net": False}), test_days=14, warmup=14)
    m = res["metrics"]
    assert m["crps"] == pytest.approx(2 * m["pinball"]) and m["crps"] > 0
    q = res["quantiles"]
    assert (q[..., 0] <= q[..., 1]).all() and (q[..., 1] <= q[..., 2]).all()


def test_defaults_are_the_designs_choice():
    """The frozen defaults: what the design procedure chose on PJM and DE validation days (README)."""
    c = PriceModelConfig()
    assert c.windows == design.WINDOW_SETS["all"] and c.transforms == design.TRANSFORM_SETS["npit"] and c.net
    assert (c.combine, c.weight_window, c.weight_power, c.band_days) == ("inverse_mae", 42, 6.0, 91)
    assert ("inverse_mae", 42, 6.0) in design.COMBINATIONS
    # the networks, by the same choice over network settings (scripts/bench_epf.py --tune)
    assert (c.net_transforms, c.net_every, c.net_tune_every, c.net_tune_epochs, c.net_tune_lr) == \
        (("asinh",), 112, 7, 4, 3e-4)


def test_val_days_error_names_the_key():
    with pytest.raises(ConfigError, match="val_days"):
        epf.EpfBenchConfig(data="x.csv", val_days=3)


def test_too_short_history_for_validation_names_val_days(small_space):
    with pytest.raises(ConfigError, match="val_days"):
        design.validation_run(market(120), small_space, test_days=60, val_days=50, warmup=7)
