"""The ``forecast`` console command. Each subcommand is a few lines over a stage function ``f(cfg)``;
stages are imported only when called, so ``forecast --help`` stays fast."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

# name -> ("module:function", one-line help). The function takes argv (list[str]) and returns an exit code.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("forecast.cli:demo_main", "simulate -> train -> register -> batch forecast on the default scenario"),
    "simulate": ("forecast.data.simulate:main", "write the built-in scenario's input files"),
    "train": ("forecast.cli:train_main", "train the power model (Hydra overrides as arguments)"),
    "predict": ("forecast.cli:predict_main", "batch forecast for an explicit reference time"),
    "epf-bench": ("forecast.price.epf:main", "day-ahead price benchmark (epftoolbox protocol) on a market CSV"),
    "price-curve": ("forecast.price.supply_curve:main", "fit the supply curve S_h(net load) on PJM Data Miner exports"),
    "backtest": ("forecast.evaluation.backtest:main", "rolling-origin backtest against baselines, MLflow and an HTML report (Hydra overrides)"),
    "series-bench": ("forecast.evaluation.series_bench:main", "benchmark the forecaster on any meter series in a CSV"),
    "pledge": ("forecast.pledge.cli:main", "cost-pledge ledger, bands, true-up and curtailment plan (Hydra overrides)"),
}


def setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    for noisy in ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def train_main(argv: list[str]) -> int:
    """forecast train [hydra overrides]"""
    from forecast.config import compose, to_object
    from forecast.evaluation.holdout import format_table
    from forecast.pipeline.train import train

    res = train(to_object(compose(argv)))
    if res.is_global_zero:
        print(format_table(res.metrics))
        print(f"\nMLflow run {res.run_id} ({res.tracking_uri}); model version {res.model_version}; "
              f"checkpoint {res.checkpoint}")
    return 0


def demo_main(argv: list[str]) -> int:
    """forecast demo [hydra overrides]: simulate -> train -> register -> batch forecast."""
    from forecast.config import compose, to_object
    from forecast.evaluation.holdout import format_summary, format_table
    from forecast.pipeline.demo import demo

    cfg = to_object(compose(argv))
    res = demo(cfg)
    if res.forecast is None:
        return 0
    tr, out = res.train, res.forecast
    print("\nHeld-out test weeks (forecasts issued daily, horizons 1–%d h, MW):" % cfg.data.horizon_h)
    print(format_table(tr.metrics))
    print("\n" + format_summary(tr.metrics))
    print(f"training: {tr.throughput['train_windows_per_s']:.0f} windows/s, {tr.throughput['epoch_s_median']:.1f} s/epoch")
    print(f"\nbatch forecast: {out.path} ({out.rows} rows, issued {out.issued_at}, model version {out.model_version})")
    print(f"MLflow: run {tr.run_id} in experiment '{cfg.tracking.experiment}' at {tr.tracking_uri}")
    print(f"plots: {', '.join(str(p) for p in tr.plots)}")
    print(f"report: {res.report}")
    print(f"total {res.seconds:.0f} s")
    return 0


def predict_main(argv: list[str]) -> int:
    """forecast predict --reference-time 2025-12-01T00:00Z [--model registry|PATH] [--csv] [hydra overrides]"""
    from forecast.config import compose, to_object
    from forecast.pipeline.predict import predict

    ap = argparse.ArgumentParser(prog="forecast predict", description="batch forecast for an explicit reference time")
    ap.add_argument("--reference-time", required=True, help="issue time, ISO 8601 with zone (e.g. 2025-12-01T00:00Z)")
    ap.add_argument("--model", default=None, help="'registry' (name@alias from the config) or a checkpoint path")
    ap.add_argument("--out", default=None, help="output folder (default: predict.out)")
    ap.add_argument("--csv", action="store_true", help="also write CSV")
    a, overrides = ap.parse_known_args(argv)
    ov = list(overrides) + [f"predict.reference_time={a.reference_time}"]
    ov += [f"predict.model={a.model}"] * bool(a.model) + [f"predict.out={a.out}"] * bool(a.out)
    ov += ["predict.csv=true"] * a.csv
    res = predict(to_object(compose(ov)))
    print(f"{res.path}: {res.rows} rows, issued {res.issued_at}, model {res.model_version} (run {res.run_id})")
    if res.csv_path:
        print(res.csv_path)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print("usage: forecast <command> [args]\n\ncommands:")
        for name, (_, desc) in COMMANDS.items():
            print(f"  {name:<14} {desc}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"forecast: unknown command {name!r}; run 'forecast --help'", file=sys.stderr)
        return 2
    setup_logging()
    mod, fn = COMMANDS[name][0].split(":")
    return int(getattr(importlib.import_module(mod), fn)(rest) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
