"""The ``forecast`` commands: each command's function, primary config, schema and flags (aliases of overrides).

``forecast.cli`` translates a command line with this table and runs the command's function.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Flag:
    """A command-line flag that is an alias of one override."""

    key: str  # the override key it sets
    kind: str = "value"  # value: --flag X -> key=X | list: --flag a,b -> key=[a,b] | true, false: --flag -> key=true
    metavar: str = "X"
    help: str = ""


@dataclass(frozen=True)
class Command:
    target: str  # "module:function": takes the Hydra overrides (flags already translated), returns an exit code
    help: str  # one line
    config: str  # primary config: conf/<config>.yaml
    schema: str  # "module" whose import registers the config's schema in Hydra's ConfigStore, or "module:function"
    flags: dict[str, Flag] = field(default_factory=dict)
    actions: tuple[str, ...] = ()  # words allowed as the first argument, each meaning action=<word>


PREDICT_FLAGS = {
    "--reference-time": Flag("predict.reference_time", metavar="T", help="issue time, ISO 8601 with zone"),
    "--model": Flag("predict.model", metavar="registry|PATH", help="registry (name@alias) or a checkpoint"),
    "--out": Flag("predict.out", metavar="DIR", help="output folder"),
    "--csv": Flag("predict.csv", "true", help="also write CSV"),
    "--assume-tz": Flag("data.assume_tz", metavar="ZONE", help="zone of times written without an offset"),
}
SIMULATE_FLAGS = {
    "--out": Flag("out", metavar="DIR", help="output folder"),
    "--seed": Flag("scenario.seed", metavar="N"),
    "--days": Flag("scenario.days", metavar="N", help="days simulated"),
}
SERIES_BENCH_FLAGS = {
    "--data": Flag("data", metavar="PATH.csv", help="CSV file"),
    "--timestamp": Flag("timestamp", metavar="COL", help="timestamp column (ISO 8601; offsets converted to UTC)"),
    "--target": Flag("target", metavar="COL", help="target column"),
    "--known-future": Flag("known_future", "list", "COL,...", "columns known ahead (e.g. a plan)"),
    "--assume-tz": Flag("assume_tz", metavar="ZONE", help="zone of timestamps written without an offset"),
    "--horizon": Flag("horizon", metavar="H", help="hours ahead"),
    "--out": Flag("out", metavar="DIR", help="output folder"),
    "--history": Flag("history", metavar="H", help="hours of history (baselines)"),
    "--model-history": Flag("model_history", metavar="H", help="hours the learned model reads (0 = --history)"),
    "--ensemble": Flag("ensemble", metavar="N", help="models per refit, quantiles averaged"),
    "--at-hour": Flag("at_hour", metavar="H", help="UTC hour of the daily origins"),
    "--retrain": Flag("retrain", metavar="never|every_k|expanding"),
    "--refit-days": Flag("refit_days", metavar="N", help="refit every N origins"),
    "--window-days": Flag("window_days", metavar="N", help="sliding window (retrain=every_k)"),
    "--val-days": Flag("val_days", metavar="N", help="days held out for early stopping and calibration"),
    "--epochs": Flag("epochs", metavar="N"),
    "--hidden": Flag("hidden", metavar="N"),
    "--dropout": Flag("dropout", metavar="P"),
    "--lr": Flag("lr", metavar="LR"),
    "--batch-size": Flag("batch_size", metavar="N"),
    "--seed": Flag("seed", metavar="N"),
    "--peers": Flag("peers", "list", "nhits,tft", "NeuralForecast peers (pip install '.[peers]')"),
    "--no-calibrate": Flag("calibrate", "false", help="no P10/P90 calibration"),
    "--no-lightgbm": Flag("lightgbm", "false", help="no LightGBM baseline"),
    "--no-report": Flag("report", "false", help="no HTML report"),
}
EPF_BENCH_FLAGS = {
    "--data": Flag("data", metavar="PATH.csv", help="CSV in the epftoolbox layout"),
    "--out": Flag("out", metavar="DIR", help="output folder (created)"),
    "--peer": Flag("peer", metavar="PEER.csv", help="epftoolbox forecasts of the same test period"),
    "--test-days": Flag("test_days", metavar="N"),
    "--warmup": Flag("warmup", metavar="N", help="days forecast before the test period (error quantiles)"),
    "--lear-every": Flag("model.lear_every", metavar="K", help="refit the LASSOs every K days"),
    "--net-every": Flag("model.net_every", metavar="K", help="refit the network every K days"),
    "--net-tune-every": Flag("model.net_tune_every", metavar="K",
                             help="fine-tune the network every K days between refits (0: never)"),
    "--net-seeds": Flag("model.net_seeds", metavar="N"), "--net-epochs": Flag("model.net_epochs", metavar="N"),
    "--net-members": Flag("model.net_members", metavar="N", help="members of each batched network ensemble"),
    "--windows": Flag("model.windows", "list", "DAYS,...", "LEAR calibration windows"),
    "--transforms": Flag("model.transforms", "list", "asinh,npit", "LEAR variance-stabilising transforms"),
    "--exog-roles": Flag("model.exog_roles", "list", "load,supply", "exogenous roles: load|supply|free each"),
    "--asinh-min-window": Flag("model.asinh_min_window", metavar="DAYS", help="asinh LEAR only on longer windows"),
    "--net-transforms": Flag("model.net_transforms", "list", "npit,asinh", "one network per transform"),
    "--combine": Flag("model.combine", metavar="equal|inverse_mae|inverse_mse", help="member weights"),
    "--weight-window": Flag("model.weight_window", metavar="DAYS", help="days of past errors behind the weights"),
    "--weight-power": Flag("model.weight_power", metavar="P", help="weights ∝ error^-P"),
    "--accelerator": Flag("model.accelerator", metavar="auto|cpu|cuda"),
    "--no-net": Flag("model.net", "false", help="LEAR ensemble only"),
    "--no-track": Flag("track", "false", help="do not record the run in MLflow"),
    "--tracking-uri": Flag("tracking_uri", metavar="URI"),
    "--quiet": Flag("quiet", "true", help="no progress lines"),
}
PRICE_CURVE_FLAGS = {
    "--data": Flag("data", metavar="DIR", help="folder with the PJM Data Miner exports"),
    "--out": Flag("out", metavar="DIR"),
    "--draws": Flag("draws", metavar="N", help="bootstrap draws"),
    "--seed": Flag("seed", metavar="N"),
    "--no-track": Flag("track", "false", help="do not record the run in MLflow"),
    "--tracking-uri": Flag("tracking_uri", metavar="URI"),
}

TRAIN_FLAGS = {"--force-promote": Flag("tracking.force_promote", "true", help="take the alias even if not better"),
               "--assume-tz": Flag("data.assume_tz", metavar="ZONE", help="zone of times written without an offset")}
SYNC_FLAGS = {"--source": Flag("source", metavar="URI", help="local store"),
              "--target": Flag("target", metavar="URI", help="tracking server"),
              "--experiment": Flag("experiment", metavar="NAME", help="only this experiment")}

INIT_FLAGS = {"--dir": Flag("dir", metavar="DIR", help="the folder to create"), "--days": Flag("days", metavar="N")}
SCHEMA = "forecast.config"
RUN_SCHEMA = "forecast.pipeline.run"  # its import registers run_schema
COMMANDS: dict[str, Command] = {
    "demo": Command("forecast.cli:demo_main", "simulate -> train -> register -> forecast -> next month's pledge ledger "
                    "on the default scenario", "run", RUN_SCHEMA),
    "run": Command("forecast.cli:run_main", "job schedule -> draw forecast to the end of the next billing month -> "
                   "system load and price -> pledge forecast ledger (conf/run.yaml)", "run", RUN_SCHEMA),
    "simulate": Command("forecast.cli:simulate_main", "write the built-in scenario's input files", "simulate", SCHEMA,
                        SIMULATE_FLAGS),
    "train": Command("forecast.cli:train_main", "train the power model (Hydra overrides as arguments)", "config",
                     SCHEMA, TRAIN_FLAGS),
    "corpus": Command("forecast.pipeline.corpus:main", "write the series of data folders to a shard corpus that "
                      "forecast train streams (corpus.dir=DIR corpus.sources=[...])", "config", SCHEMA),
    "pretrain": Command("forecast.pipeline.pretrain:main", "pretrain the global power model on a simulated corpus "
                        "(weights and model card)", "pretrain", "forecast.pipeline.pretrain"),
    "predict": Command("forecast.cli:predict_main", "batch forecast for an explicit reference time", "config", SCHEMA,
                       PREDICT_FLAGS),
    "epf-bench": Command("forecast.price.epf:main", "day-ahead price benchmark (epftoolbox protocol) on a market CSV",
                         "epf_bench", "forecast.price.epf", EPF_BENCH_FLAGS),
    "price-curve": Command("forecast.price.curve_fit:main",
                           "fit the supply curve S_h(net load) on PJM Data Miner exports", "price_curve",
                           "forecast.price.curve_fit", PRICE_CURVE_FLAGS),
    "backtest": Command("forecast.evaluation.backtest:main",
                        "rolling-origin backtest against baselines, MLflow and an HTML report (Hydra overrides)",
                        "config", SCHEMA),
    "series-bench": Command("forecast.evaluation.series_bench:main",
                            "benchmark the forecaster on any meter series in a CSV", "series_bench",
                            "forecast.evaluation.bench_config",
                            SERIES_BENCH_FLAGS),
    "init": Command("forecast.pipeline.onboard:main_init", "write a template data folder that passes validation",
                    "init", "forecast.pipeline.onboard", INIT_FLAGS),
    "validate": Command("forecast.pipeline.onboard:main_validate", "check every table of data.dir, list every "
                        "problem", "config", SCHEMA),
    "tracking-sync": Command("forecast.tracking_sync:main", "copy runs of a local store to the tracking server",
                             "tracking_sync", "forecast.tracking_sync", SYNC_FLAGS),
    "pledge": Command("forecast.pledge.cli:main", "cost-pledge ledger, bands, billing, true-up and curtailment plan",
                      "pledge_app", "forecast.pledge.config:register_configs",
                      actions=("forecast", "bill", "settle", "trueup", "plan")),
}
