"""The one-sided Diebold–Mariano test of epftoolbox (``epftoolbox.evaluation.DM``) on day × 24-hour errors.

For forecasts f1, f2 of prices y, all (N days, 24), with norm 1 (absolute errors) or 2 (squared):
- ``univariate``: per hour h, d_t = |y − f1|_{t,h} − |y − f2|_{t,h} over the N days: 24 tests;
- ``multivariate``: d_t = mean_h |y − f1|_{t,h} − mean_h |y − f2|_{t,h}, the daily mean: one test.
Statistic DM = mean(d) / sqrt(var(d) / N), var with ddof 0 (the one-step Diebold–Mariano statistic of
:mod:`forecast.evaluation.significance`, without the small-sample correction, as epftoolbox computes it);
p-value = 1 − Φ(DM). A small p-value
rejects H0 "f2 is not more accurate than f1": f2 is significantly more accurate. A constant
loss differential (e.g. equal forecasts) gives 0/0: NaN (None in :func:`dm_against`).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm as normal

from forecast.evaluation.significance import dm_statistic

VERSIONS = ("univariate", "multivariate")


def dm_test(y: np.ndarray, f1: np.ndarray, f2: np.ndarray, norm: int = 1,
            version: str = "univariate") -> float | np.ndarray:
    """p-value(s) of H0 "f2 is not more accurate than f1": (24,) for univariate, a float for multivariate."""
    y, f1, f2 = (np.asarray(a, dtype=np.float64) for a in (y, f1, f2))
    if not y.shape == f1.shape == f2.shape or y.ndim != 2 or y.shape[1] < 2:
        raise ValueError(f"dm_test: y, f1 and f2 must share one (days, hours) shape, got {y.shape}, {f1.shape}, "
                         f"{f2.shape}")
    if norm not in (1, 2):
        raise ValueError(f"dm_test: norm must be 1 or 2, got {norm}")
    if version not in VERSIONS:
        raise ValueError(f"dm_test: version must be one of {', '.join(VERSIONS)}, got {version!r}")
    loss1, loss2 = np.abs(y - f1) ** norm, np.abs(y - f2) ** norm
    d = loss1 - loss2 if version == "univariate" else loss1.mean(1) - loss2.mean(1)
    p = 1.0 - normal.cdf(dm_statistic(d, 1))
    return float(p) if version == "multivariate" else p


def dm_against(y: np.ndarray, ours: np.ndarray, peer: np.ndarray) -> dict:
    """Both one-sided tests (norm 1) of our forecast against a peer's, days × 24 each:
    ``p_ours_better`` (H0: ours is not more accurate) and ``p_peer_better``, multivariate (one value) and
    univariate (24 values, hour 0 … 23)."""
    def plain(p):  # JSON-ready: None where the loss differential is constant (0/0)
        vals = [None if np.isnan(v) else float(v) for v in np.atleast_1d(p)]
        return vals[0] if np.ndim(p) == 0 else vals

    out = {}
    for version in VERSIONS:
        key = "" if version == "multivariate" else "_by_hour"
        out[f"p_ours_better{key}"] = plain(dm_test(y, peer, ours, 1, version))
        out[f"p_peer_better{key}"] = plain(dm_test(y, ours, peer, 1, version))
    return out
