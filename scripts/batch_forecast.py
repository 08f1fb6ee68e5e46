#!/usr/bin/env python
"""Batch forecast job (cron/Airflow/SLURM): the same as `forecast predict`.

    python scripts/batch_forecast.py --reference-time 2026-01-01T00:00Z [--model registry|PATH] [--csv] \
        [--out DIR] [hydra overrides, e.g. data.dir=/srv/data tracking.uri=http://mlflow:5000]

The flags are aliases of overrides (--reference-time T is predict.reference_time=T; `forecast predict
--help` lists them); a config error is one line on stderr and exit code 2.

Loads the model by registry alias (tracking.model_name@tracking.alias) or a checkpoint,
forecasts every site from what was known at the reference time, and writes
<out>/forecast_<time>_<model>-v<version>.parquet atomically; rerunning the same reference time and model
gives the same file, and a file is never overwritten with other values.
"""

import sys

from forecast.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["predict", *sys.argv[1:]]))
