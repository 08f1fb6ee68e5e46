"""Validated model choice: at every refit the ``top`` contenders with the lowest validation MAE forecast that
refit's origins, combined by their pointwise median (``top=1``: the best one, its quantiles unchanged).

The validation windows of a refit at t0 have targets that end before t0 (``rolling.windows_before``), so the
choice for the origins from t0 on uses only what was known before them. Every candidate is scored on its
median (the calibration step does not move it). The pointwise median of non-crossing quantile vectors is
non-crossing (each level's median is an order statistic, monotone in the level), and of two it is their mean.
Which were combined, and each candidate's validation MAE, are recorded per refit.
"""

from __future__ import annotations

import numpy as np

from forecast.evaluation.rolling import RollingResult


def validation_table(res: RollingResult, learned: str, others: list[dict]) -> dict[str, dict[str, float]]:
    """{refit time: {candidate: validation MAE}} from the learned model's refits and the contenders' entries."""
    table: dict[str, dict[str, float]] = {r.at: {learned: float(r.val_mae)} for r in res.refits}
    for e in others:
        if e["at"] in table and np.isfinite(e["val_mae"]):
            table[e["at"]][e["model"]] = float(e["val_mae"])
    return table


def label(names: list[str]) -> str:
    """How a refit's choice is named: the one candidate, or ``median(a, b, c)``."""
    return names[0] if len(names) == 1 else f"median({', '.join(names)})"


def select(res: RollingResult, candidates: list[str], table: dict[str, dict[str, float]],
           name: str = "model", top: int = 1) -> list[dict]:
    """Add ``res.quantiles[name]``: per refit, the pointwise median of the quantiles of the ``top`` candidates
    with the lowest validation MAE (ties: the earlier in ``candidates``; fewer when fewer are scored). Returns
    one record per refit: time, ``chosen`` (:func:`label`), ``combined`` (best first), the scores."""
    if top < 1:
        raise ValueError(f"top must be at least 1, got {top}")
    some = res.quantiles[candidates[0]]
    out = np.full_like(some, np.nan)
    chosen = []
    for r in res.refits:
        scores = {c: table[r.at][c] for c in candidates if c in table[r.at] and c in res.quantiles}
        if not scores:
            raise ValueError(f"refit at {r.at}: no candidate has a validation score")
        best = sorted(scores, key=lambda c: (scores[c], candidates.index(c)))[:top]
        seg = res.refit_of == r.refit_id
        out[seg] = np.median(np.stack([res.quantiles[c][seg] for c in best]), axis=0)
        chosen.append({"at": r.at, "chosen": label(best), "combined": best,
                       "val_mae": {k: round(v, 6) for k, v in scores.items()}, "n_origins": int(seg.sum())})
    res.quantiles[name] = out
    return chosen
