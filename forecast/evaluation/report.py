"""Backtest and series-bench report, built with :mod:`forecast.evaluation.reportkit`: one self-contained
HTML page (PNGs embedded) plus the PNG files beside it.

Contents: the metrics table of the learned model against every baseline, error
by horizon (MAE and P10–P90 coverage), fan charts of sample weeks per series,
the refit table (when and on what each fit was made) and notes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from forecast.evaluation import reportkit as kit
from forecast.evaluation.rolling import RollingResult

TABLE_COLS = ("mae", "rmse", "smape", "mase", "pinball", "crps", "coverage_p10_p90", "top5_mae", "n_origins")
#: metric -> (header label, unit ("{u}": the target's units), format); sMAPE is already in percent
METRIC_COLUMNS = {
    "mae": ("MAE", "{u}", kit.fixed(3)), "rmse": ("RMSE", "{u}", kit.fixed(3)),
    "smape": ("sMAPE", "%", kit.fixed(2)), "mase": ("MASE", None, kit.fixed(3)),
    "pinball": ("pinball", "{u}", kit.fixed(3)), "crps": ("CRPS", "{u}", kit.fixed(3)),
    "coverage_p10_p90": ("P10–P90 coverage", None, kit.percent(1)),
    "top5_mae": ("top-5% MAE", "{u}", kit.fixed(3)), "mae_h1_24": ("MAE h 1–24", "{u}", kit.fixed(3)),
    "mae_h145_168": ("MAE h 145–168", "{u}", kit.fixed(3)), "n_origins": ("origins", None, kit.integer()),
}
LOWER_IS_BETTER = ("mae", "rmse", "smape", "mase", "pinball", "crps", "top5_mae", "mae_h1_24", "mae_h145_168")
STYLES = {"model": ("C0", "-"), "seasonal_naive_24h": ("C3", "-."), "seasonal_naive_168h": ("C1", ":"),
          "physics": ("C2", "--"), "lightgbm": ("C4", "-")}


def plot_by_horizon(per_h: dict, path: Path, units: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    for name, m in per_h.items():
        c, ls = STYLES.get(name, (None, "-"))
        h = np.arange(1, len(m["mae"]) + 1)
        axes[0].plot(h, m["mae"], ls, color=c, label=name, lw=2 if name == "model" else 1.2)
        axes[1].plot(h, m["coverage_p10_p90"], ls, color=c, label=name, lw=2 if name == "model" else 1.2)
    axes[0].set(xlabel="horizon (h)", ylabel=f"MAE ({units})", title="MAE by horizon")
    axes[1].axhspan(0.7, 0.9, color="0.9")
    axes[1].axhline(0.8, color="0.5", lw=0.8)
    axes[1].set(xlabel="horizon (h)", ylabel="share inside P10–P90", title="P10–P90 coverage by horizon", ylim=(0, 1))
    axes[0].legend(fontsize=8)
    return kit.save_figure(fig, path, dpi=100)


def plot_fan(res: RollingResult, k: int, sid: str, levels: tuple[float, ...], path: Path, units: str,
             days: int = 7) -> Path | None:
    """About the last ``days`` of origins of series k (one origin for a week-long horizon): the learned model's P10–P90 fan and median per origin, actuals,
    and the best baselines' medians."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = np.flatnonzero(res.series == k)
    if not len(rows):
        return None
    rows = rows[-max(1, days * 24 // res.y.shape[1]):]  # about a week of forecasts, not overlapping
    mi = list(levels).index(0.5)
    H = res.y.shape[1]
    fig, ax = plt.subplots(figsize=(12, 4))
    for n, r in enumerate(rows):
        ts = res.issued_at[r] + pd.to_timedelta(np.arange(H), unit="h")
        s = res.scale[r]
        q = res.quantiles["model"][r] * s
        ax.fill_between(ts, q[:, 0], q[:, -1], color="C0", alpha=0.2, lw=0, label="model P10–P90" if n == 0 else None)
        ax.plot(ts, q[:, mi], color="C0", lw=1.5, label="model P50" if n == 0 else None)
        for name in ("seasonal_naive_24h", "lightgbm", "physics"):
            if name in res.quantiles:
                c, ls = STYLES[name]
                ax.plot(ts, res.quantiles[name][r][:, mi] * s, ls, color=c, lw=1, label=name if n == 0 else None)
        ax.plot(ts, res.y[r] * s, color="k", lw=1.1, label="actual" if n == 0 else None)
        ax.axvline(res.issued_at[r], color="0.8", lw=0.6)
    what = (f"forecast issued {res.issued_at[rows[0]]:%Y-%m-%d %H:%M} UTC" if len(rows) == 1
            else f"forecasts issued at the last {len(rows)} origins (grey lines)")
    ax.set(ylabel=units, title=f"{sid}: {what}, 1–{H} h ahead")
    ax.legend(fontsize=8, ncol=3, loc="upper left")
    fig.autofmt_xdate()
    return kit.save_figure(fig, path, dpi=100)


def metrics_table(rows: dict[str, dict[str, float]], units: str, cols: tuple[str, ...] = TABLE_COLS) -> str:
    """Model name -> metric dict as a kit table: units in the headers, lowest error in bold."""
    cols = tuple(c for c in cols if any(c in m for m in rows.values()))
    df = pd.DataFrame([{"model": name, **{c: m.get(c, float("nan")) for c in cols}} for name, m in rows.items()],
                      columns=["model", *cols])
    return kit.table(df, labels={c: METRIC_COLUMNS[c][0] for c in cols if c in METRIC_COLUMNS},
                     units={c: METRIC_COLUMNS[c][1].format(u=units) for c in cols
                            if c in METRIC_COLUMNS and METRIC_COLUMNS[c][1]},
                     formats={c: METRIC_COLUMNS[c][2] for c in cols if c in METRIC_COLUMNS},
                     best_min=[c for c in cols if c in LOWER_IS_BETTER])


def refits_table(refits: pd.DataFrame) -> str:
    return kit.table(refits, units={"seconds": "s"}, labels={"seconds": "fit time"},
                     formats={"seconds": kit.fixed(1), "calib_lo": kit.fixed(3), "calib_hi": kit.fixed(3),
                              "n_train": kit.integer(), "n_val": kit.integer(), "n_origins": kit.integer()})


def write_report(folder: str | Path, title: str, res: RollingResult, scores: dict, series_ids: list[str],
                 levels: tuple[float, ...], units: str = "MW", refits: pd.DataFrame | None = None,
                 notes: list[str] | None = None) -> Path:
    """Write folder/report.html and its PNGs (error_by_horizon.png, fan_<series>.png); returns the HTML path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    by_h = plot_by_horizon(scores["per_horizon"], folder / "error_by_horizon.png", units)
    fans = [p for k, sid in enumerate(series_ids)
            if (p := plot_fan(res, k, sid, levels, folder / f"fan_{sid}.png", units)) is not None]
    page = kit.Page(title, lead=list(notes or []))
    page.section("All series (bold = best)", metrics_table(scores["aggregate"], units))
    if len(scores["per_series"]) > 1:
        for sid, rows in scores["per_series"].items():
            page.section(sid, metrics_table(rows, units), level=3)
    page.section("Error by horizon", kit.embed_png(by_h, "MAE and P10–P90 coverage by horizon"))
    page.section("Fan charts: last week of origins", *(kit.embed_png(p, p.stem) for p in fans))
    if refits is not None and len(refits):
        page.section("Refits (each used only data before its time)", refits_table(refits))
    return page.write(folder / "report.html")
