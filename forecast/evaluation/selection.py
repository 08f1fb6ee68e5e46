"""Validated model choice: at every refit the contender with the lowest validation MAE forecasts that refit's
origins.

The validation windows of a refit at t0 have targets that end before t0 (``rolling.windows_before``), so the
choice for the origins from t0 on uses only what was known before them. Every candidate is scored on its
median (the calibration step does not move it). The chosen forecast is the candidate's own calibrated
quantiles, unchanged; which was chosen, and each candidate's validation MAE, are recorded per refit.
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


def select(res: RollingResult, candidates: list[str], table: dict[str, dict[str, float]],
           name: str = "model") -> list[dict]:
    """Add ``res.quantiles[name]``: per refit, the quantiles of the candidate with the lowest validation MAE
    (ties: the earlier in ``candidates``). Returns one record per refit: time, chosen, the scores."""
    some = res.quantiles[candidates[0]]
    out = np.full_like(some, np.nan)
    chosen = []
    for r in res.refits:
        scores = {c: table[r.at][c] for c in candidates if c in table[r.at] and c in res.quantiles}
        if not scores:
            raise ValueError(f"refit at {r.at}: no candidate has a validation score")
        best = min(scores, key=lambda c: (scores[c], candidates.index(c)))
        seg = res.refit_of == r.refit_id
        out[seg] = res.quantiles[best][seg]
        chosen.append({"at": r.at, "chosen": best, "val_mae": {k: round(v, 6) for k, v in scores.items()},
                       "n_origins": int(seg.sum())})
    res.quantiles[name] = out
    return chosen
