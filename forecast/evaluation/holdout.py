"""Held-out evaluation of a trained power model: test-period metrics (MW) against every baseline on the
same issue times, fan charts and MAE by horizon, and the printed table."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from forecast.data.inputs import Split
from forecast.data.windows import WindowStore, series_of
from forecast.evaluation import metrics
from forecast.io import atomic_write
from forecast.models.baselines import BASELINES, CENTER, ResidualQuantiles
from forecast.models.device import Runtime
from forecast.models.inference import baseline_points, predict_windows, targets
from forecast.types import Quantiles


def evaluate(model, store: WindowStore, sp: Split, quant: Quantiles, rt: Runtime):
    """Test-period metrics (MW) for the model and every baseline, on the same issue times."""
    y, scale = targets(store, sp.test)
    y_mw = y * scale[:, None]
    out: dict[str, dict[str, float]] = {}
    q_model = predict_windows(model, store, sp.test, rt) * scale[:, None, None]
    out["model"] = metrics.summary(y_mw, q_model, quant.levels)
    curves = {"model": q_model, "actual": y_mw}
    # baselines: residual quantiles fitted on (a sample of) training windows only
    rng = np.random.default_rng(0)
    tr = sp.train if len(sp.train) <= 20000 else np.sort(rng.choice(sp.train, 20000, replace=False))
    y_tr, _ = targets(store, tr)
    pts_tr = baseline_points(store, tr)
    pts = baseline_points(store, sp.test)
    for name in BASELINES:
        rq = ResidualQuantiles(quant.levels, CENTER.get(name, "exact")).fit(pts_tr[name], y_tr)
        qb = rq.apply(pts[name]) * scale[:, None, None]
        out[name] = metrics.summary(y_mw, qb, quant.levels)
        curves[name] = qb
    # error by horizon for the model and the best baselines
    out["model"]["mae_h1_24"] = float(np.abs(q_model[:, :24, quant.median_index] - y_mw[:, :24]).mean())
    out["model"]["mae_h145_168"] = float(np.abs(q_model[:, -24:, quant.median_index] - y_mw[:, -24:]).mean())
    return out, curves


def plot_test(store: WindowStore, sp: Split, curves: dict, quant: Quantiles, folder: Path) -> list[Path]:
    """Fan chart of the last full-week test forecast for each site, with actuals and baselines; MAE by horizon."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    k, i = series_of(store, sp.test)
    paths = []
    lo, mi, hi = 0, quant.median_index, len(quant) - 1
    for s_idx, s in enumerate(store.series):
        rows = np.flatnonzero(k == s_idx)
        if not len(rows):
            continue
        r = rows[-1]
        ts = s.ts[i[r]: i[r] + store.horizon]
        fig, ax = plt.subplots(figsize=(11, 4))
        q = curves["model"][r]
        ax.fill_between(ts, q[:, lo], q[:, hi], alpha=0.25, color="C0", label=f"model {quant.columns[lo]}–{quant.columns[hi]}")
        ax.plot(ts, q[:, mi], color="C0", label="model p50")
        ax.plot(ts, curves["physics"][r][:, mi], color="C2", lw=1, ls="--", label="physics-only")
        ax.plot(ts, curves["seasonal_naive_168h"][r][:, mi], color="C3", lw=1, ls=":", label="seasonal naive 168 h")
        ax.plot(ts, curves["actual"][r], color="k", lw=1.2, label="metered")
        ax.set_title(f"{s.series_id}: forecast issued {s.ts[i[r]]:%Y-%m-%d %H:%M} UTC, 1–{store.horizon} h ahead")
        ax.set_ylabel("facility power (MW)")
        ax.legend(loc="upper left", ncol=3, fontsize=8)
        fig.autofmt_xdate()
        p = folder / f"fan_{s.series_id}.png"
        atomic_write(p, lambda tmp, f=fig: f.savefig(tmp, dpi=110, bbox_inches="tight", format="png"))
        plt.close(fig)
        paths.append(p)
    fig, ax = plt.subplots(figsize=(8, 4))
    h = np.arange(1, store.horizon + 1)
    for name, style in (("model", "-"), ("physics", "--"), ("seasonal_naive_168h", ":"), ("seasonal_naive_24h", "-.")):
        err = np.abs(curves[name][..., mi] - curves["actual"]).mean(axis=0)
        ax.plot(h, err, style, label=name)
    ax.set_xlabel("horizon (h)")
    ax.set_ylabel("MAE (MW)")
    ax.set_title("Test-period MAE by horizon, all sites")
    ax.legend()
    p = folder / "mae_by_horizon.png"
    atomic_write(p, lambda tmp: fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png"))
    plt.close(fig)
    return paths + [p]


def format_table(metrics: dict[str, dict[str, float]]) -> str:
    cols = ["mae", "rmse", "smape", "pinball", "coverage_p10_p90", "top5_mae"]
    lines = [f"{'model':<22}" + "".join(f"{c:>18}" for c in cols)]
    for name, m in metrics.items():
        lines.append(f"{name:<22}" + "".join(f"{m.get(c, float('nan')):>18.4f}" for c in cols))
    return "\n".join(lines)


def format_summary(metrics: dict[str, dict[str, float]]) -> str:
    """One line: the learned model against the best baseline by MAE."""
    m = metrics
    best = min((k for k in m if k != "model"), key=lambda k: m[k]["mae"])
    return (f"learned model vs best baseline ({best}): MAE {m['model']['mae']:.3f} vs {m[best]['mae']:.3f} MW, "
            f"pinball {m['model']['pinball']:.3f} vs {m[best]['pinball']:.3f}; "
            f"P10–P90 coverage {100 * m['model']['coverage_p10_p90']:.1f}%")
