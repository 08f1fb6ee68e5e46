"""Point and probabilistic forecast metrics, vectorised over any leading shape.

Conventions: ``y`` has shape (...,); point forecasts the same shape; quantile
forecasts (..., Q) with levels ``q`` (Q,). NaNs in ``y`` are an error, never skipped.
"""

from __future__ import annotations

import numpy as np


def _check(y: np.ndarray, f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=np.float64)
    f = np.asarray(f, dtype=np.float64)
    if y.shape != f.shape[: y.ndim]:
        raise ValueError(f"shape mismatch: actuals {y.shape} vs forecasts {f.shape}")
    if np.isnan(y).any() or np.isnan(f).any():
        raise ValueError("metrics got NaN actuals or forecasts")
    return y, f


def mae(y, f) -> float:
    y, f = _check(y, f)
    return float(np.mean(np.abs(y - f)))


def rmse(y, f) -> float:
    y, f = _check(y, f)
    return float(np.sqrt(np.mean((y - f) ** 2)))


def smape(y, f) -> float:
    """Symmetric MAPE in percent: mean 2|y−f| / (|y|+|f|) × 100 (terms with 0/0 count as 0)."""
    y, f = _check(y, f)
    den = np.abs(y) + np.abs(f)
    ratio = np.divide(2.0 * np.abs(y - f), den, out=np.zeros_like(den), where=den > 0)
    return float(100.0 * np.mean(ratio))


def mase(y, f, scale: float) -> float:
    """MAE divided by ``scale`` (the in-sample MAE of a seasonal naive forecast)."""
    if not scale > 0:
        raise ValueError(f"MASE scale must be positive, got {scale}")
    return mae(y, f) / scale


def pinball(y, fq, q) -> float:
    """Mean pinball (quantile) loss over all points and quantile levels."""
    y, fq = _check(y, fq)
    q = np.asarray(q, dtype=np.float64)
    if fq.shape[-1] != q.shape[0]:
        raise ValueError(f"{fq.shape[-1]} quantile columns but {q.shape[0]} levels")
    diff = y[..., None] - fq  # (..., Q)
    return float(np.mean(np.maximum(q * diff, (q - 1.0) * diff)))


def crps_from_quantiles(y, fq, q) -> float:
    """CRPS approximated as 2 × mean pinball over the quantile levels (exact as levels fill (0,1))."""
    return 2.0 * pinball(y, fq, q)


def coverage(y, lo, hi) -> float:
    """Share of actuals inside [lo, hi]."""
    y, lo = _check(y, lo)
    _, hi = _check(y, hi)
    return float(np.mean((y >= lo) & (y <= hi)))


def top_share_mae(y, f, share: float = 0.05) -> float:
    """MAE on the hours whose actual value is in the top ``share`` (the hours that set capacity charges)."""
    y, f = _check(y, f)
    yf, ff = y.ravel(), f.ravel()
    k = max(1, int(np.ceil(share * yf.size)))
    idx = np.argpartition(-yf, k - 1)[:k]
    return float(np.mean(np.abs(yf[idx] - ff[idx])))


def summary(y, fq, q, median_index: int | None = None, lo_index: int = 0, hi_index: int = -1) -> dict[str, float]:
    """The standard set for a quantile forecast: MAE/RMSE/sMAPE of the median, pinball, CRPS, coverage."""
    q = np.asarray(q, dtype=np.float64)
    fq = np.asarray(fq, dtype=np.float64)
    mi = int(np.argmin(np.abs(q - 0.5))) if median_index is None else median_index
    med = fq[..., mi]
    return {
        "mae": mae(y, med),
        "rmse": rmse(y, med),
        "smape": smape(y, med),
        "pinball": pinball(y, fq, q),
        "crps": crps_from_quantiles(y, fq, q),
        "coverage_p10_p90": coverage(y, fq[..., lo_index], fq[..., hi_index]),
        "top5_mae": top_share_mae(y, med),
    }
