"""Backtest report: one self-contained HTML page (PNGs embedded) plus the PNG files beside it.

Contents: the metrics table of the learned model against every baseline, error
by horizon (MAE and P10–P90 coverage), fan charts of sample weeks per series,
the refit table (when and on what each fit was made) and notes.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.io import atomic_write, atomic_write_text
from forecast.evaluation.rolling import RollingResult

TABLE_COLS = ("mae", "rmse", "smape", "mase", "pinball", "crps", "coverage_p10_p90", "top5_mae", "n_origins")
STYLES = {"model": ("C0", "-"), "seasonal_naive_24h": ("C3", "-."), "seasonal_naive_168h": ("C1", ":"),
          "physics": ("C2", "--"), "lightgbm": ("C4", "-")}


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=100, bbox_inches="tight", format="png"))
    plt.close(fig)
    return path


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
    return _save(fig, path)


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
    return _save(fig, path)


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(path.name)}" src="data:image/png;base64,{data}" style="max-width:100%">'


def _table(rows: dict[str, dict[str, float]]) -> str:
    cols = [c for c in TABLE_COLS if any(c in m for m in rows.values())]
    head = "".join(f"<th>{c}</th>" for c in ["model", *cols])
    best = {c: min(m[c] for m in rows.values()) for c in cols if c not in ("coverage_p10_p90", "n_origins")}
    body = []
    for name, m in rows.items():
        cells = []
        for c in cols:
            v = m.get(c, float("nan"))
            txt = f"{v:.0f}" if c == "n_origins" else f"{v:.4g}"
            strong = c in best and np.isfinite(v) and v == best[c]
            cells.append(f"<td>{'<b>' + txt + '</b>' if strong else txt}</td>")
        body.append(f"<tr><td>{html.escape(name)}</td>{''.join(cells)}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def write_report(folder: str | Path, title: str, res: RollingResult, scores: dict, series_ids: list[str],
                 levels: tuple[float, ...], units: str = "MW", refits: pd.DataFrame | None = None,
                 notes: list[str] | None = None) -> Path:
    """Write folder/report.html and its PNGs (error_by_horizon.png, fan_<series>.png); returns the HTML path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    pngs = [plot_by_horizon(scores["per_horizon"], folder / "error_by_horizon.png", units)]
    for k, sid in enumerate(series_ids):
        p = plot_fan(res, k, sid, levels, folder / f"fan_{sid}.png", units)
        if p is not None:
            pngs.append(p)
    parts = [f"<h1>{html.escape(title)}</h1>"]
    parts += [f"<p>{html.escape(n)}</p>" for n in notes or []]
    parts.append(f"<h2>All series ({units}; bold = best)</h2>" + _table(scores["aggregate"]))
    if len(scores["per_series"]) > 1:
        for sid, rows in scores["per_series"].items():
            parts.append(f"<h3>{html.escape(sid)}</h3>" + _table(rows))
    parts.append("<h2>Error by horizon</h2>" + _img(pngs[0]))
    parts.append("<h2>Fan charts: last week of origins</h2>" + "".join(_img(p) for p in pngs[1:]))
    if refits is not None and len(refits):
        parts.append("<h2>Refits (each used only data before its time)</h2>" + refits.to_html(index=False))
    css = ("body{font-family:sans-serif;max-width:1250px;margin:auto}table{border-collapse:collapse;margin:8px 0}"
           "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child{text-align:left}")
    page = f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>{css}</style>" \
           f"</head><body>{''.join(parts)}</body></html>"
    out = folder / "report.html"
    atomic_write_text(out, page)
    return out
