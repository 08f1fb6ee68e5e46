"""series-bench: outputs and protocol on a small synthetic meter CSV, no look-ahead, and the real
Philly series when the shared data is present."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecast.cli import translate
from forecast.config import ConfigError, OptimizerConfig, TrainerConfig
from forecast.models.device import resolve
from forecast.errors import ContractError
from forecast.evaluation.rolling import Policy, rolling
from forecast.evaluation.series_bench import BenchConfig, load, prepare, run_bench

DATA = Path("/work/shared/data/clusters/philly_node_sequence_hourly_mean.csv")
FAST = dict(epochs=2, hidden=16, history=168, val_days=3, refit_days=4, report=False,
            lightgbm_params={"n_estimators": 40, "num_leaves": 15})


def _csv(tmp_path: Path, days: int = 36, step_min: int = 15, seed: int = 0) -> Path:
    """A 15-minute meter with a daily cycle and a planned on/off load that is known ahead."""
    rng = np.random.default_rng(seed)
    ts = pd.date_range("2024-03-01", periods=days * 24 * 60 // step_min, freq=f"{step_min}min", tz="UTC")
    hours = np.arange(len(ts)) * step_min / 60
    blocks = rng.random(days * 4 + 1) < 0.35  # 6-hour blocks, on at random: not predictable from history
    plan = blocks[(hours // 6).astype(int)].astype(float)
    y = 50 + 10 * np.sin(2 * np.pi * hours / 24) + 30 * plan + rng.normal(0, 1, len(ts))
    p = tmp_path / "meter.csv"
    pd.DataFrame({"time": ts.strftime("%Y-%m-%dT%H:%M:%S+00:00"), "mw": y, "plan": plan}).to_csv(p, index=False)
    return p


@pytest.mark.parametrize("known", [[], ["plan"]])
def test_outputs_and_protocol(tmp_path, known):
    p = _csv(tmp_path)
    out = tmp_path / "out"
    m = run_bench(BenchConfig(str(p), "time", "mw", known, horizon=24, out=str(out), **FAST))
    saved = json.loads((out / "metrics.json").read_text())
    for k in ("mae", "rmse", "smape", "pinball", "coverage_p10_p90", "n_origins"):
        assert k in saved and np.isfinite(saved[k])
    # hidden=16 does not fit the pretrained weights: the learned model starts from scratch and says why
    assert saved["protocol"]["start"]["init"] == "scratch" and saved["protocol"]["start"]["reason"]
    assert set(saved["baselines"]) == {"learned", "seasonal_naive_24h", "seasonal_naive_168h", "lightgbm"}
    for b in saved["baselines"].values():
        assert {"mae", "rmse", "smape", "pinball", "coverage_p10_p90", "n_origins"} <= set(b)
    # last 20% of 36·24 = 864 hours: test from hour 691 -> daily origins at 00:00 on days 29 … 35 with 24 h after
    hours = pd.date_range("2024-03-01", periods=864, freq="h", tz="UTC")
    expected = [t for t in hours[691:864 - 23] if t.hour == 0]
    assert saved["n_origins"] == len(expected) == m["n_origins"]
    fc = pd.read_csv(out / "forecasts.csv", parse_dates=["origin", "ts"])
    assert list(fc.columns[:8]) == ["origin", "ts", "horizon_h", "actual", "p10", "p50", "p90", "model"]
    assert set(fc["model"]) == {"model", "learned", "seasonal_naive_24h", "seasonal_naive_168h", "lightgbm"}
    assert len(fc) == 5 * len(expected) * 24
    # the headline is, per refit, the median of the three contenders with the lowest validation MAE
    assert saved["selection"]["top"] == 3
    for r in saved["selection"]["per_refit"]:
        assert r["combined"] == sorted(r["val_mae"], key=r["val_mae"].get)[:3]
        assert r["chosen"] == "median(" + ", ".join(r["combined"]) + ")"
    assert sum(saved["selection"]["chosen"].values()) == saved["n_origins"]
    assert (fc["origin"] >= hours[691]).all()
    assert ((fc["ts"] - fc["origin"]) == pd.to_timedelta(fc["horizon_h"] - 1, unit="h")).all()
    assert (fc["p10"] <= fc["p50"]).all() and (fc["p50"] <= fc["p90"]).all()
    # actuals are the hourly means of the 15-minute readings
    raw = pd.read_csv(p, parse_dates=["time"]).set_index("time")["mw"].resample("h").mean()
    row = fc[fc["model"] == "model"].iloc[5]
    assert row["actual"] == pytest.approx(raw.loc[row["ts"]])
    refits = saved["protocol"]["refits"]
    assert len(refits) == int(np.ceil(len(expected) / 4))
    assert all(pd.Timestamp(r["train_to"]) <= pd.Timestamp(r["at"]) for r in refits)


def test_known_future_column_helps(tmp_path):
    """The planned load is worth 30 MW: with it the learned model's MAE must be clearly lower than without."""
    p = _csv(tmp_path, days=40)
    cfg = dict(FAST, epochs=8, hidden=32, batch_size=64)
    without = run_bench(BenchConfig(str(p), "time", "mw", [], out=str(tmp_path / "a"), **{**cfg, "lightgbm": False}))
    with_ = run_bench(BenchConfig(str(p), "time", "mw", ["plan"], out=str(tmp_path / "b"), **{**cfg, "lightgbm": False}))
    assert with_["baselines"]["learned"]["mae"] < 0.7 * without["baselines"]["learned"]["mae"]


@pytest.mark.slow
def test_forecasts_ignore_data_after_their_origin(tmp_path):
    """Plant absurd readings from one test origin on: every forecast issued at or before it is unchanged
    (learned model with refits, the seasonal naives and LightGBM, calibrated), and a later one does change."""
    from forecast.data.series import load_hourly_series
    from forecast.evaluation.contenders import Ledger
    from forecast.evaluation.selection import select, validation_table
    from forecast.evaluation.series_bench import contenders_extra
    from forecast.models.tide import TiDE

    df, _ = load_hourly_series(_csv(tmp_path), "time", "mw", ["plan"])
    policy = Policy(retrain="expanding", k=2, val_days=3, max_epochs=2)
    tc = TrainerConfig(accelerator="cpu", devices=1, precision="32-true", max_epochs=2, batch_size=128, progress=False)

    def run(frame):
        p = prepare(frame, "mw", ["plan"], 24, 168)
        mk = lambda: TiDE(168, 24, n_hist=8, n_fut=7, hidden=16, temporal_hidden=8)  # noqa: E731
        ledger = Ledger()
        ex = contenders_extra(BenchConfig("x.csv", "time", "mw", ["plan"], **FAST), p, policy, ledger)
        res = rolling(p.store, p.origins, policy, mk, (0.1, 0.5, 0.9), OptimizerConfig(), tc, resolve("cpu", "32-true"),
                      baselines=(), extra=ex)
        res.quantiles["learned"] = res.quantiles.pop("model")
        picked = select(res, list(res.quantiles), validation_table(res, "learned", ledger.validation))
        return p, res, picked

    p, base, picked = run(df)
    cut = base.issued_at[2]  # the third origin: refits happen at origins 0, 2, 4 …
    planted = df.copy()
    planted.loc[planted.index >= cut, "mw"] = 1e6
    _, alt, picked_alt = run(planted)
    before = base.issued_at <= cut
    # the validated choice for the refits up to the cut is made on the same pre-origin windows: the same
    assert [r for r in picked if r["at"] <= str(cut)] == [r for r in picked_alt if r["at"] <= str(cut)]
    assert len([r for r in picked if r["at"] <= str(cut)]) == 2
    assert before.sum() == 3 and (~before).sum() >= 2
    for name in base.quantiles:
        np.testing.assert_array_equal(base.quantiles[name][before], alt.quantiles[name][before], err_msg=name)
    # once the planted hours are history, the forecasts do see them
    assert not np.allclose(base.quantiles["seasonal_naive_24h"][~before], alt.quantiles["seasonal_naive_24h"][~before])
    assert not np.allclose(base.quantiles["model"][~before], alt.quantiles["model"][~before])


def test_bad_input_names_file_and_column(tmp_path):
    p = _csv(tmp_path, days=3)
    with pytest.raises(ContractError, match="meter.csv.*'mw'.*readings before the test period"):
        run_bench(BenchConfig(str(p), "time", "mw", out=str(tmp_path / "o"), **FAST))
    with pytest.raises(ContractError, match="'nope'"):
        run_bench(BenchConfig(str(p), "time", "mw", ["nope"], out=str(tmp_path / "o"), **FAST))


def test_cli_arguments():
    c = load(translate("series-bench", ["--data", "x.csv", "--timestamp", "t", "--target", "y", "--known-future", "a, b",
                                        "--out", "d"]))
    assert (c.known_future, c.horizon, c.retrain, c.refit_days) == (["a", "b"], 24, "expanding", 7)
    assert (c.data, c.timestamp, c.target, c.out) == ("x.csv", "t", "y", "d")
    with pytest.raises(ConfigError, match="must be in 1..336, got 0") as e:
        load(translate("series-bench", ["--data", "x.csv", "--timestamp", "t", "--target", "y", "--out", "d",
                                        "--horizon", "0"]))
    assert e.value.key == "horizon"


@pytest.mark.slow
def test_philly_runs_when_data_present(tmp_path):
    if not DATA.exists():
        pytest.skip("shared data not present")
    with pytest.raises(ContractError, match="timestamps without a UTC offset"):  # the raw trace's times are naive
        run_bench(BenchConfig(str(DATA), "time", "active", out=str(tmp_path / "x"), **FAST))
    m = run_bench(BenchConfig(str(DATA), "time", "active", out=str(tmp_path / "o"), assume_tz="UTC",
                              **{**FAST, "lightgbm": False, "refit_days": 7}))
    assert m["n_origins"] >= 10
    assert m["protocol"]["hours"] > 1700


@pytest.mark.slow
def test_neuralforecast_peer_on_the_same_origins(tmp_path):
    from forecast.evaluation import peers

    if not peers.available():
        pytest.skip("NeuralForecast not installed (optional extra: pip install '.[peers]')")
    out = tmp_path / "o"
    m = run_bench(BenchConfig(str(_csv(tmp_path)), "time", "mw", ["plan"], out=str(out),
                              **{**FAST, "lightgbm": False, "peers": ["nhits"], "peer_steps": 10}))
    nh = m["baselines"]["nhits"]
    assert nh["n_origins"] == m["n_origins"] and np.isfinite(nh["mae"])
    fc = pd.read_csv(out / "forecasts.csv")
    assert (fc.loc[fc["model"] == "nhits", "p10"] <= fc.loc[fc["model"] == "nhits", "p90"]).all()
