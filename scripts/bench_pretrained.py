"""The pretrained power model zero-shot on simulated sites it never saw, against a model trained on each site's
own history.

    python scripts/bench_pretrained.py [--sites 6] [--days 730] [--seed 4242] [--epochs 15] [--out FILE.json]

Sites: the facility-power series of ``forecast.data.synthetic_series`` scenarios drawn with ``--seed`` (the
pretraining used seeds 0 and 1,000,003 by default; its card says which), without the corpus' augmentations,
``--days`` long. Each is cut by the series benchmark's rule (``evaluation.series_bench.prepare``: test = the
last 20% of hours, daily origins at 00 UTC). Contenders on the same origins:

- own: the series benchmark's learned model (the pretrained architecture, random initial weights) trained once
  on the site's own hours before the test period (``rolling``, retrain=never, the last 20% of them held out
  for early stopping), ``--epochs`` epochs;
- zero_shot: the pretrained weights as they are;
- seasonal_naive_24h: for scale.

Prints MAE (MW) per site and the ratio zero_shot / own, with its median; the figure the model card quotes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from forecast.config import OptimizerConfig, TrainerConfig
from forecast.data.synthetic_series import SeriesSpec, synthetic_series
from forecast.evaluation.rolling import Policy, rolling
from forecast.evaluation.series_bench import prepare
from forecast.io import atomic_write_text
from forecast.models import pretrained
from forecast.models.device import resolve
from forecast.models.inference import predict_windows


def bench_site(name: str, s, model, spec: pretrained.Spec, epochs: int, seed: int) -> dict:
    p = prepare(s.to_frame("y"), "y", [], spec.horizon, spec.history, source=name)
    rt = resolve("cpu", "32-true")
    t0 = time.perf_counter()
    res = rolling(p.store, p.origins, Policy(retrain="never", val_share=0.2, val_days=0, calibrate=False),
                  spec.build, spec.levels, OptimizerConfig(), TrainerConfig(accelerator="cpu", max_epochs=epochs,
                                                                            batch_size=256, seed=seed, progress=False),
                  rt, baselines=("seasonal_naive_24h",),
                  extra=lambda t, g: {"zero_shot": predict_windows(model, p.store, g, rt)}, seed=seed)
    mi = list(spec.levels).index(0.5)
    mae = {k: float(np.nanmean(np.abs(q[..., mi] - res.y)) * p.scale) for k, q in res.quantiles.items()}
    return {"series": name, "hours": len(p.frame), "origins": len(res.origins), "mae_own": mae["model"],
            "mae_zero_shot": mae["zero_shot"], "mae_seasonal_naive_24h": mae["seasonal_naive_24h"],
            "ratio_zero_shot_to_own": mae["zero_shot"] / mae["model"], "seconds": round(time.perf_counter() - t0, 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sites", type=int, default=6)
    ap.add_argument("--days", type=int, default=730)
    ap.add_argument("--seed", type=int, default=4242)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--weights", default=str(pretrained.DEFAULT))
    ap.add_argument("--out", default="")
    a = ap.parse_args(argv)
    model, spec, card = pretrained.load(a.weights)
    used = {card.get("corpus", {}).get(k, {}).get("seed") for k in ("train", "validation")}
    if a.seed in used:
        print(f"--seed {a.seed} is a seed the pretraining used; pick another", file=sys.stderr)
        return 2
    rows = []
    gen = synthetic_series(SeriesSpec(scenarios=a.sites, days=(a.days, a.days), seed=a.seed, p_level_shift=0.0,
                                      p_dropout=0.0, p_noise=0.0))
    for name, s in gen:
        if name.endswith("/facility") and len(rows) < a.sites:
            rows.append(bench_site(name, s, model, spec, a.epochs, a.seed))
            r = rows[-1]
            print(f"{r['series']:<28} {r['hours']:>6} h {r['origins']:>4} origins  own {r['mae_own']:.4g}  zero-shot "
                  f"{r['mae_zero_shot']:.4g}  naive24 {r['mae_seasonal_naive_24h']:.4g}  ratio "
                  f"{r['ratio_zero_shot_to_own']:.3f}  ({r['seconds']} s)", flush=True)
    med = float(np.median([r["ratio_zero_shot_to_own"] for r in rows]))
    print(f"\nmedian MAE zero-shot / own-site model over {len(rows)} unseen sites: {med:.3f} "
          f"(within 5%: {'yes' if med <= 1.05 else 'no'})")
    if a.out:
        atomic_write_text(Path(a.out), json.dumps({"sites": rows, "median_ratio": med, "weights": a.weights,
                                                   "epochs": a.epochs, "seed": a.seed}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
