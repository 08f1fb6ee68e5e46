"""How series-bench's headline rule scores on development cuts: the best-validated contender alone, or the
pointwise median of the best k, or inverse-MAE weights, on 35-day cuts that end before the panel's reported ones.

    python scripts/bench_choice.py [--data ../shared/data] [--work /tmp/forecast-choice] [--days 35]
                                   [--shifts 35,70,...,385] [--series philly,venus,...] [--out FILE.json]

Each series of ``bench_panel`` is cut to ``--days`` days ending ``shift`` days before its end, for every shift
that leaves at least 30 days, and run once through ``forecast series-bench`` with its defaults. The rules are
then scored from what series-bench writes: every contender's median per origin (``forecasts.csv``) and every
contender's validation MAE per refit (``metrics.json`` → ``selection.per_refit``). Ratio = MAE / the better
seasonal naive's MAE; the table gives the geometric mean, median and worst over the cuts, and a Wilcoxon
signed-rank test of each rule against the best alone on the paired log ratios.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import wilcoxon

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_panel import SERIES, cut_series, read_series, run_one, write_csv  # noqa: E402

from forecast.io import atomic_write_text  # noqa: E402

NAIVES = ("seasonal_naive_24h", "seasonal_naive_168h")
RULES = ("best", "median:2", "median:3", "median:4", "median:5", "inverse:1", "inverse:2", "inverse:4")


def medians(out: Path) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """({contender: (N, H) median}, (N, H) actuals, (N,) refit id) from a series-bench folder."""
    fc = pd.read_csv(out / "forecasts.csv").sort_values(["model", "origin", "horizon_h"])
    H = int(fc["horizon_h"].max())
    q = {m: g["p50"].to_numpy().reshape(-1, H) for m, g in fc.groupby("model")}
    head = fc[fc["model"] == "model"]  # the headline's rows carry the refit ids
    return q, head["actual"].to_numpy().reshape(-1, H), head["refit_id"].to_numpy().reshape(-1, H)[:, 0]


def rule_median(q: dict[str, np.ndarray], scores: dict[str, float], rule: str) -> np.ndarray:
    """The median forecast of one rule for one refit's origins, from the contenders' validation MAEs."""
    kind, _, arg = rule.partition(":")
    names = sorted(scores, key=scores.get)
    if kind == "best":
        return q[names[0]]
    if kind == "median":
        return np.median(np.stack([q[c] for c in names[: int(arg)]]), axis=0)
    w = np.array([scores[c] for c in names]) ** -float(arg)
    return np.tensordot(w / w.sum(), np.stack([q[c] for c in names]), axes=1)


def ratios(out: Path) -> dict[str, float]:
    """MAE / best seasonal naive MAE of every rule on one run."""
    q, y, refit = medians(out)
    m = json.loads((out / "metrics.json").read_text())
    per = m["selection"]["per_refit"]
    naive = min(float(np.mean(np.abs(q[n] - y))) for n in NAIVES)
    res = {}
    for rule in RULES:
        p = np.full_like(y, np.nan)
        for j, r in enumerate(per):
            seg = refit == j
            scores = {c: v for c, v in r["val_mae"].items() if c in q and c != "model"}
            p[seg] = rule_median({c: q[c][seg] for c in scores}, scores, rule)
        res[rule] = float(np.mean(np.abs(p - y))) / naive
    res["headline"] = m["mae"] / min(m["baselines"][n]["mae"] for n in NAIVES)  # series-bench's own, as a check
    return res


def table(rows: list[dict]) -> list[str]:
    base = np.log([r["ratios"]["best"] for r in rows])
    lines = ["| rule | geometric mean | median | worst | cuts > 1 | lower than best alone | Wilcoxon p |",
             "|---|---|---|---|---|---|---|"]
    for rule in RULES:
        v = np.array([r["ratios"][rule] for r in rows])
        d = np.log(v) - base
        p = wilcoxon(d[d != 0]).pvalue if (d != 0).sum() > 1 else float("nan")
        lines.append(f"| {rule} | {np.exp(np.log(v).mean()):.3f} | {np.median(v):.3f} | {v.max():.3f} | "
                     f"{int((v > 1).sum())} | {int((d < 0).sum())} of {len(v)} | {p:.3g} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "data"))
    ap.add_argument("--work", default="/tmp/forecast-choice")
    ap.add_argument("--days", type=int, default=35)
    ap.add_argument("--shifts", default=",".join(str(s) for s in range(35, 386, 35)))
    ap.add_argument("--series", default=",".join(SERIES))
    ap.add_argument("--out", default="")
    a = ap.parse_args(argv)
    rows = []
    for name in a.series.split(","):
        df = read_series(name, Path(a.data))
        for shift in (int(s) for s in a.shifts.split(",")):
            tag = f"{name}_{a.days}_shift{shift}"
            part = cut_series(df, a.days, shift)
            if len(part) < 24 * 30:
                break  # the earlier shifts leave even less
            run_one(write_csv(part, Path(a.work) / f"{tag}.csv"), Path(a.work) / tag, [])
            rows.append({"series": name, "shift_days": shift, "dir": str(Path(a.work) / tag),
                         "ratios": ratios(Path(a.work) / tag)})
            print(tag, " ".join(f"{k} {v:.3f}" for k, v in rows[-1]["ratios"].items()), flush=True)
    print(f"\n{len(rows)} cuts of {a.days} days\n" + "\n".join(table(rows)))
    top = json.loads((Path(rows[-1]["dir"]) / "metrics.json").read_text())["selection"]["top"]
    same = all(np.isclose(r["ratios"]["headline"], r["ratios"][f"median:{top}"], rtol=1e-6) for r in rows)
    print(f"series-bench's headline (select_top={top}) equals the rule median:{top} on every cut: {same}")
    if a.out:
        atomic_write_text(Path(a.out), json.dumps({"rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
