"""demo(cfg): simulate -> train -> register -> batch forecast -> report, on the built-in scenario by default."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from forecast.evaluation import reportkit as kit
from forecast.evaluation.holdout import format_summary
from forecast.evaluation.report import metrics_table
from forecast.pipeline.predict import PredictOutput
from forecast.pipeline.run import RunConfig, RunResult, run
from forecast.pipeline.train import TrainResult

METRIC_COLS = ("mae", "rmse", "smape", "pinball", "coverage_p10_p90", "top5_mae", "mae_h1_24", "mae_h145_168")


@dataclass
class DemoResult:
    train: TrainResult | None  # None on ranks other than 0
    forecast: PredictOutput | None  # None on ranks other than 0
    seconds: float
    report: Path | None = None  # <out_dir>/report.html, rank 0 only
    run: RunResult | None = None  # the money chain: draw forecast, system load, price response, ledgers


def demo(cfg: RunConfig) -> DemoResult:
    """``run`` (train and register, draw forecast to the end of the next billing month, the pledge ledger per
    zone), then the demo report on the learned model and its batch forecast."""
    t0 = time.perf_counter()
    res = run(cfg)
    if res is None:
        return DemoResult(None, None, time.perf_counter() - t0)
    out = res.draw.learned
    report = write_demo_report(Path(cfg.out_dir) / "report.html", res.train, out, cfg.data.horizon_h)
    return DemoResult(res.train, out, time.perf_counter() - t0, report, res)


def write_demo_report(path: str | Path, tr: TrainResult, out: PredictOutput, horizon_h: int) -> Path:
    """The held-out metrics (model vs baselines, MW), the training plots and where the batch forecast is."""
    summary = format_summary(tr.metrics)
    page = kit.Page("Power forecast demo", lead=[
        f"Held-out test weeks: forecasts issued daily, horizons 1–{horizon_h} h, facility power in MW; the learned "
        "model and every baseline are scored on the same issue times.",
        summary[:1].upper() + summary[1:] + "."])
    page.section("Held-out metrics (bold = best)", metrics_table(tr.metrics, "MW", METRIC_COLS))
    page.section("Plots", *(kit.embed_png(p, Path(p).stem) for p in tr.plots if Path(p).is_file()))
    files = f"Written to {kit.code(str(out.path))}" + (f" and {kit.code(str(out.csv_path))}" if out.csv_path else "")
    what = f"{out.rows:,} rows issued {out.issued_at} by model version {out.model_version} (MLflow run {out.run_id})."
    page.section("Batch forecast", kit.paragraph(what), f"<p>{files}.</p>")
    return page.write(path)
