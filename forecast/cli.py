"""The ``forecast`` console command. Each subcommand lives in its own module and is
imported only when called, so ``forecast --help`` stays fast."""

from __future__ import annotations

import importlib
import sys

# name -> ("module:function", one-line help). The function takes argv (list[str]) and returns an exit code.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("forecast.train:demo_main", "simulate -> train -> register -> batch forecast on the default scenario"),
    "simulate": ("forecast.data.simulate:main", "write the built-in scenario's input files"),
    "train": ("forecast.train:main", "train the power model (Hydra overrides as arguments)"),
    "predict": ("forecast.predict:main", "batch forecast for an explicit reference time"),
    "epf-bench": ("forecast.price.epf:main", "day-ahead price benchmark (epftoolbox protocol) on a market CSV"),
    "price-curve": ("forecast.price.supply_curve:main", "fit the supply curve S_h(net load) on PJM Data Miner exports"),
    "backtest": ("forecast.backtest:main", "rolling-origin backtest against baselines, MLflow and an HTML report (Hydra overrides)"),
    "series-bench": ("forecast.series_bench:main", "benchmark the forecaster on any meter series in a CSV"),
    "pledge": ("forecast.pledge.cli:main", "cost-pledge ledger, bands, true-up and curtailment plan (Hydra overrides)"),
}


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
    mod, fn = COMMANDS[name][0].split(":")
    return int(getattr(importlib.import_module(mod), fn)(rest) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
