"""The command line: one way to configure every command (Hydra config + flags that alias overrides),
``--help`` for each, and config/input errors as one line with exit code 2."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from forecast import cli
from forecast.cli import COMMANDS, compose_for, main, translate

# the documented flags (README, scripts/, tests) -> the override each one stands for
DOCUMENTED = {
    "series-bench": {
        "--data": "data", "--timestamp": "timestamp", "--target": "target", "--known-future": "known_future",
        "--assume-tz": "assume_tz",
        "--horizon": "horizon", "--out": "out", "--history": "history", "--model-history": "model_history",
        "--ensemble": "ensemble", "--at-hour": "at_hour", "--retrain": "retrain", "--refit-days": "refit_days",
        "--window-days": "window_days", "--val-days": "val_days", "--epochs": "epochs", "--hidden": "hidden",
        "--dropout": "dropout", "--lr": "lr", "--batch-size": "batch_size", "--seed": "seed", "--peers": "peers",
        "--no-calibrate": "calibrate=false", "--no-lightgbm": "lightgbm=false", "--no-report": "report=false",
    },
    "epf-bench": {
        "--data": "data", "--out": "out", "--peer": "peer", "--test-days": "test_days", "--warmup": "warmup",
        "--lear-every": "model.lear_every", "--net-every": "model.net_every", "--net-seeds": "model.net_seeds",
        "--net-tune-every": "model.net_tune_every",
        "--net-epochs": "model.net_epochs", "--net-members": "model.net_members", "--windows": "model.windows",
        "--exog-roles": "model.exog_roles",
        "--transforms": "model.transforms", "--asinh-min-window": "model.asinh_min_window",
        "--net-transforms": "model.net_transforms", "--combine": "model.combine",
        "--weight-window": "model.weight_window", "--weight-power": "model.weight_power",
        "--accelerator": "model.accelerator", "--tracking-uri": "tracking_uri",
        "--no-net": "model.net=false", "--no-track": "track=false", "--quiet": "quiet=true",
    },
    "price-curve": {"--data": "data", "--out": "out", "--draws": "draws", "--seed": "seed",
                    "--tracking-uri": "tracking_uri", "--no-track": "track=false"},
    "simulate": {"--out": "out", "--seed": "scenario.seed", "--days": "scenario.days"},
    "predict": {"--reference-time": "predict.reference_time", "--model": "predict.model", "--out": "predict.out",
                "--csv": "predict.csv=true", "--assume-tz": "data.assume_tz"},
    "train": {"--force-promote": "tracking.force_promote=true", "--assume-tz": "data.assume_tz"},
}
LIST_FLAGS = {"--exog-roles", "--known-future", "--peers", "--windows", "--transforms", "--net-transforms"}

# a default each command's --help must show
DEFAULTS_SHOWN = {"demo": "out_dir=outputs", "run": "out_dir=outputs", "train": "out_dir=outputs",
                  "predict": "out_dir=outputs",
                  "backtest": "out_dir=outputs", "simulate": "out=data/scenario", "epf-bench": "test_days=728",
                  "price-curve": "draws=100", "series-bench": "horizon=24", "pledge": "action=forecast",
                  "tracking-sync": "experiment=null", "init": "days=31", "validate": "out_dir=outputs",
                  "corpus": "out_dir=outputs", "pretrain": "hidden=128"}


# ---------------------------------------------------------------------------------------------- --help
@pytest.mark.parametrize("name", list(COMMANDS))
def test_help_for_every_command(name, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for word in ("--help", "-h"):
        assert main([name, word]) == 0
        out = capsys.readouterr().out
        assert out.startswith(f"usage: forecast {name}")
        assert COMMANDS[name].help in out
        for flag in COMMANDS[name].flags:
            assert f"  {flag}" in out
        tree = OmegaConf.to_container(compose_for(name, []), throw_on_missing=False)
        for key, value in tree.items():  # every top-level key of the config, with its default
            assert (f"  {key}: " if isinstance(value, dict) else f"  {key}=") in out, key
        assert f"  {DEFAULTS_SHOWN[name]}\n" in out
    assert list(tmp_path.iterdir()) == []  # nothing ran


def test_help_lists_actions_and_groups(capsys):
    assert main(["pledge", "--help"]) == 0
    out = capsys.readouterr().out
    from forecast.config import conf_dir

    options = "|".join(sorted(p.stem for p in (conf_dir() / "pledge").glob("*.yaml")))
    assert "worked_example" in options and "pjm_portfolio" in options
    assert "forecast, bill, settle, trueup, plan" in out and f"pledge={options}" in out
    assert main(["train", "--help"]) == 0
    assert "trainer=cpu|ddp|default|gpu" in capsys.readouterr().out


def test_top_level_help_lists_every_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name, cmd in COMMANDS.items():
        assert f"  {name:<14} {cmd.help}" in out


# ---------------------------------------------------------------------------------------------- flags
@pytest.mark.parametrize("name", list(DOCUMENTED))
def test_documented_flags_map_to_their_overrides(name):
    assert set(COMMANDS[name].flags) == set(DOCUMENTED[name])
    for flag, target in DOCUMENTED[name].items():
        if "=" in target:  # a switch
            assert translate(name, [flag]) == [target]
            continue
        want = f"{target}=['v']" if flag in LIST_FLAGS else f"{target}='v'"
        assert translate(name, [flag, "v"]) == [want], flag
        assert translate(name, [f"{flag}=v"]) == [want], flag


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_flag_names_a_key_of_its_config(name):
    cfg = compose_for(name, [])
    for flag, spec in COMMANDS[name].flags.items():
        parent, _, leaf = spec.key.rpartition(".")
        node = OmegaConf.select(cfg, parent) if parent else cfg
        assert leaf in list(node.keys()), f"{name} {flag} -> {spec.key}"


def test_flags_and_overrides_mix_in_order():
    argv = ["--data", "PATH.csv", "--timestamp", "COL", "--target", "mw", "--known-future", "a, b", "--horizon", "48",
            "epochs=3", "--no-lightgbm", "--", "--out=DIR"]
    assert translate("series-bench", argv) == ["data='PATH.csv'", "timestamp='COL'", "target='mw'",
                                               "known_future=['a','b']", "horizon='48'", "epochs=3", "lightgbm=false",
                                               "out='DIR'"]
    assert translate("pledge", ["settle", "pledge=worked_example"]) == ["action=settle", "pledge=worked_example"]
    assert translate("pledge", ["pledge=worked_example"]) == ["pledge=worked_example"]


def test_flag_values_reach_the_typed_config():
    from forecast.config import SimulateConfig, load
    from forecast.evaluation.bench_config import BenchConfig
    from forecast.price import epf

    odd = "my data/it's, a=b.csv"  # spaces, a quote, a comma and '=' survive the translation
    c = load("series_bench", BenchConfig, translate("series-bench", [
        "--data", odd, "--timestamp", "t", "--target", "y", "--known-future", "a,b", "--horizon=48",
        "--no-calibrate", "--peers", "nhits", "--lr", "1e-3"]))
    assert (c.data, c.known_future, c.horizon, c.calibrate, c.peers, c.lr) == (odd, ["a", "b"], 48, False,
                                                                               ["nhits"], 0.001)
    e = epf.load(translate("epf-bench", ["--data", "m.csv", "--windows", "28,56", "--transforms", "asinh",
                                         "--asinh-min-window", "0", "--no-net", "--no-track", "--quiet",
                                         "--combine", "equal", "--test-days", "7"]))
    assert (e.model.windows, e.model.transforms, e.model.net, e.model.combine) == ((28, 56), ("asinh",), False, "equal")
    assert (e.track, e.quiet, e.test_days, e.model.asinh_min_window) == (False, True, 7, 0)
    s = load("simulate", SimulateConfig, translate("simulate", ["--out", "d", "--seed", "3", "--days", "30"]))
    assert (s.out, s.scenario.seed, s.scenario.days) == ("d", 3, 30)


# ---------------------------------------------------------------------------------------------- errors
def one_error_line(capsys, name: str) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f"forecast {name}: ") and "; fix: " in err[0]
    return err[0]


@pytest.mark.parametrize("argv, named", [
    (["train", "trainer.max_epochz=3"], ["trainer.max_epochz: unknown key", "fix: trainer.max_epochs="]),
    (["train", "trainer.max_epochs=abc"], ["trainer.max_epochs:", "'abc'", "Integer"]),
    (["train", "trainer.batch_size=0"], ["trainer.batch_size:", "batch_size must be >= 1"]),
    (["train", "data=nosuch"], ["train: data: no option 'nosuch'", "data=files or data=scenario"]),
    (["train", "foo"], ["train: foo:"]),
    (["pledge", "pledge=nosuch"], ["pledge: pledge: no option 'nosuch'", "pledge=worked_example"]),
    (["pledge", "pledge=worked_example", "pledge.shift.phi=1.2"], ["pledge.shift.phi: 1.2", "fix: pledge.shift.phi="]),
    (["series-bench", "--data", "x.csv", "--timestamp", "t", "--target", "y", "--horizon", "abc"],
     ["horizon:", "'abc'", "fix: --horizon H or horizon=H"]),
    (["series-bench", "--data", "x.csv", "--timestamp", "t", "--target", "y", "--horizon", "0"],
     ["horizon: must be in 1..336, got 0", "--horizon 24"]),
    (["series-bench", "--data", "x.csv"], ["timestamp: no value given", "fix: --timestamp COL or timestamp=COL"]),
    (["series-bench", "--data"], ["--data: needs a value"]),
    (["series-bench", "--no-report=yes"], ["--no-report: takes no value"]),
    (["epf-bench", "--nope", "1"], ["--nope: unknown flag"]),
    (["epf-bench", "--data", "m.csv", "--combine", "best"], ["model.combine: 'best' is not one of", "--combine equal"]),
    (["epf-bench", "--data", "m.csv", "--windows", "3"], ["model.windows:", "windows must be >= 7"]),
    (["epf-bench", "--data", "m.csv", "--net-tune-every", "-1"],
     ["model.net_tune_every:", "net_tune_every must be >= 0", "fix: --net-tune-every K or model.net_tune_every=K"]),
    (["epf-bench", "--data", "m.csv", "--net-transforms", "log"],
     ["model.net_transforms: 'log' is not one of asinh, npit", "--net-transforms asinh"]),
    (["price-curve"], ["data: no value given", "fix: --data DIR or data=DIR"]),
    (["simulate", "--days", "2"], ["scenario.days: must be >= 7", "--days 7"]),
    (["predict"], ["predict.reference_time:", "--reference-time 2025-12-01T00:00Z"]),
    (["predict", "--reference-time", "2025-12-01"], ["predict.reference_time:", "no timezone"]),
])
def test_config_error_is_one_line_naming_the_key(argv, named, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    line = one_error_line(capsys, argv[0])
    for text in named:
        assert text in line, line
    assert list(tmp_path.iterdir()) == []  # nothing ran


def test_input_errors_from_a_stage_are_one_line(capsys, tmp_path):
    ts = pd.date_range("2025-01-01", periods=72, freq="h", tz="UTC")
    csv = tmp_path / "meter.csv"
    pd.DataFrame({"time": ts.strftime("%Y-%m-%dT%H:%M:%SZ"), "mw": np.arange(72.0)}).to_csv(csv, index=False)
    assert main(["series-bench", "--data", str(csv), "--timestamp", "time", "--target", "mw",
                 "--out", str(tmp_path / "o")]) == 2
    line = one_error_line(capsys, "series-bench")
    assert f"{csv}: column 'mw':" in line and "readings before the test period" in line
    missing = tmp_path / "none.csv"
    assert main(["epf-bench", "--data", str(missing), "--no-track", "--out", str(tmp_path / "e")]) == 2
    assert f"forecast epf-bench: {missing}: " in one_error_line(capsys, "epf-bench")


def test_unknown_command(capsys):
    assert main(["nosuch"]) == 2
    assert "unknown command 'nosuch'" in capsys.readouterr().err


def test_debug_shows_the_traceback(monkeypatch, tmp_path):
    from hydra.errors import ConfigCompositionException

    from forecast.config import ConfigError
    from forecast.errors import ContractError

    with pytest.raises(ConfigCompositionException):
        main(["train", "trainer.max_epochz=3", "--debug"])
    with pytest.raises(ConfigError, match="horizon"):
        main(["series-bench", "--debug", "--data", "x.csv", "--timestamp", "t", "--target", "y", "--horizon", "0"])
    ts = pd.date_range("2025-01-01", periods=48, freq="h", tz="UTC")
    csv = tmp_path / "m.csv"
    pd.DataFrame({"time": ts.strftime("%Y-%m-%dT%H:%M:%SZ"), "mw": 1.0}).to_csv(csv, index=False)
    with pytest.raises(ContractError):
        main(["series-bench", "--data", str(csv), "--timestamp", "time", "--target", "mw", "--debug",
              "--out", str(tmp_path / "o")])
    monkeypatch.setenv("FORECAST_DEBUG", "1")
    with pytest.raises(ConfigCompositionException):
        main(["train", "trainer.max_epochz=3"])


def test_a_bug_is_not_turned_into_a_config_error(monkeypatch):
    def boom(overrides):
        raise RuntimeError("a bug")

    monkeypatch.setattr(cli, "simulate_main", boom)
    with pytest.raises(RuntimeError, match="a bug"):
        main(["simulate", "--days", "30"])


def test_simulate_command_writes_the_scenario(tmp_path, capsys):
    import json

    out = tmp_path / "sc"
    assert main(["simulate", "--out", str(out), "--seed", "3", "--days=10"]) == 0
    assert json.loads((out / "scenario.json").read_text())["days"] == 10
    assert json.loads((out / "scenario.json").read_text())["seed"] == 3
    meter = pd.read_parquet(out / "meter.parquet")
    assert meter["ts"].nunique() == 10 * 24
    assert f"meter: {out / 'meter.parquet'}" in capsys.readouterr().out
