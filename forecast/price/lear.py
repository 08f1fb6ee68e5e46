"""LEAR-style day-ahead price model: a LASSO per hour on lagged prices and load forecasts.

Features of day d (one row per day, shared by the 24 hourly targets):
prices of d−1, d−2, d−3, d−7 (4×24), each exogenous forecast of d, d−1, d−7
(3×24 each) and 7 day-of-week dummies. Prices and exogenous inputs go through a
variance-stabilising transform fitted per hour on the calibration window only:
- "asinh": asinh((x − median) / MAD);
- "npit": the normal probability integral transform Φ⁻¹(F̂(x)), F̂ the window's
  empirical distribution function (linear between its points; flat beyond the
  window's range, so forecasts stay inside the prices the window has seen).
Targets get the same transform; the forecast is its inverse (Uniejewski, Weron
and Ziel, "Variance stabilizing transformations for electricity spot price
forecasting", IEEE Trans. Power Syst. 33, 2018).

Signs by role (forecast.price.roles): the coefficients on day d's forecasts of a load-like input
are constrained to be >= 0, those of a supply-like input (wind, solar, generation) <= 0, a free
input's are unconstrained; the transform of each input is non-decreasing and so is the inverse
transform of the output, so raising any hour's load forecast of day d never lowers any hour's price
forecast, and raising any hour's supply forecast never raises one.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri

PRICE_LAGS = (1, 2, 3, 7)
EXOG_LAGS = (0, 1, 7)
MAX_LAG = 7
MAD_FLOOR = 1e-6
TRANSFORMS = ("asinh", "npit")


def feature_layout(n_exog: int) -> dict[str, slice]:
    """Column blocks of the day-level design matrix (24 columns each, then 7 dummies)."""
    out, k = {}, 0
    for lag in PRICE_LAGS:
        out[f"price_d-{lag}"] = slice(k, k + 24)
        k += 24
    for e in range(n_exog):
        for lag in EXOG_LAGS:
            out[f"exog{e}_d-{lag}"] = slice(k, k + 24)
            k += 24
    out["dow"] = slice(k, k + 7)
    return out


def n_features(n_exog: int) -> int:
    return 24 * (len(PRICE_LAGS) + n_exog * len(EXOG_LAGS)) + 7


def own_exog_columns(n_exog: int) -> np.ndarray:
    """(F,) input index e on the columns that carry day d's forecasts of exogenous input e, −1 elsewhere."""
    m = np.full(n_features(n_exog), -1, dtype=np.int64)
    lay = feature_layout(n_exog)
    for e in range(n_exog):
        m[lay[f"exog{e}_d-0"]] = e
    return m


def coef_signs(roles) -> np.ndarray:
    """(F,) sign constraint of each design column: +1 (coefficient >= 0) on day d's load-like inputs, −1
    (<= 0) on day d's supply-like inputs, 0 (free) elsewhere; ``roles`` one of forecast.price.roles.ROLES
    per exogenous input."""
    from forecast.price.roles import signs

    per_input = signs(roles)
    own = own_exog_columns(len(per_input))
    out = np.zeros(len(own), dtype=np.int8)
    out[own >= 0] = per_input[own[own >= 0]]
    return out


def _robust(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Median and MAD over axis 0 (MAD floored so the transform stays invertible)."""
    med = np.median(x, axis=0)
    mad = np.median(np.abs(x - med), axis=0)
    return med, np.maximum(mad, MAD_FLOOR)


class EmpiricalCDF:
    """Per-column empirical distribution of a window, x (n, *cols): F̂ rises linearly between the distinct
    values (ties share their mean plotting position i/(n+1)), and is flat beyond them. ``normal`` maps
    x -> Φ⁻¹(F̂(x)); ``inverse`` maps back, so inverse(normal(x)) == x inside the window's range. Both are
    non-decreasing."""

    def __init__(self, x: np.ndarray):
        n = x.shape[0]
        self.shape = x.shape[1:]
        cols = x.reshape(n, -1)
        pos = np.arange(1, n + 1) / (n + 1)
        self.values, self.probs = [], []
        for j in range(cols.shape[1]):
            v, inv, counts = np.unique(np.sort(cols[:, j]), return_inverse=True, return_counts=True)
            self.values.append(v)
            self.probs.append(np.bincount(inv, weights=pos) / counts)  # mean plotting position of each value

    def _columns(self, x: np.ndarray) -> np.ndarray:
        if x.shape[-len(self.shape):] != self.shape:
            raise ValueError(f"EmpiricalCDF: columns {x.shape[-len(self.shape):]} do not match the fit's {self.shape}")
        return x.reshape(-1, int(np.prod(self.shape)))

    def normal(self, x: np.ndarray) -> np.ndarray:
        xf = self._columns(x)
        u = np.empty(xf.shape)
        for j, (v, p) in enumerate(zip(self.values, self.probs)):
            u[:, j] = np.interp(xf[:, j], v, p)
        return ndtri(u).reshape(x.shape)

    def inverse(self, z: np.ndarray) -> np.ndarray:
        uf = ndtr(self._columns(z))
        out = np.empty(uf.shape)
        for j, (v, p) in enumerate(zip(self.values, self.probs)):
            out[:, j] = np.interp(uf[:, j], p, v)
        return out.reshape(z.shape)


@dataclass
class Scaler:
    """Per-hour variance-stabilising transform for prices (24,) and each exogenous input (24, K):
    "asinh" (asinh((x − median) / MAD)) or "npit" (Φ⁻¹ of the window's empirical CDF)."""

    p_med: np.ndarray
    p_mad: np.ndarray
    e_med: np.ndarray
    e_mad: np.ndarray
    p_cdf: EmpiricalCDF | None = None
    e_cdf: EmpiricalCDF | None = None

    @classmethod
    def fit(cls, price: np.ndarray, exog: np.ndarray, kind: str = "asinh") -> Scaler:
        """price (D, 24), exog (D, 24, K) from the calibration window only."""
        if kind not in TRANSFORMS:
            raise ValueError(f"transform must be one of {', '.join(TRANSFORMS)}, got {kind!r}")
        pm, pd_ = _robust(price)
        em, ed = _robust(exog)
        if kind == "npit":
            return cls(pm, pd_, em, ed, EmpiricalCDF(price), EmpiricalCDF(exog))
        return cls(pm, pd_, em, ed)

    def price(self, p: np.ndarray) -> np.ndarray:
        if self.p_cdf is not None:
            return self.p_cdf.normal(p)
        return np.arcsinh((p - self.p_med) / self.p_mad)

    def exog(self, e: np.ndarray) -> np.ndarray:
        if self.e_cdf is not None:
            return self.e_cdf.normal(e)
        return np.arcsinh((e - self.e_med) / self.e_mad)

    def inverse_price(self, z: np.ndarray) -> np.ndarray:
        if self.p_cdf is not None:
            return self.p_cdf.inverse(z)
        return np.sinh(z) * self.p_mad + self.p_med


def design(price: np.ndarray, exog: np.ndarray, dow: np.ndarray, days: np.ndarray, scaler: Scaler) -> np.ndarray:
    """Design matrix (len(days), F) for target days ``days`` (indices >= 7).

    Row i uses price rows days[i]−{1,2,3,7}, exog rows days[i]−{0,1,7}: nothing
    of day d's prices enters the row of day d.
    """
    days = np.asarray(days)
    if days.size and days.min() < MAX_LAG:
        raise ValueError(f"target days need {MAX_LAG} days of history; got day index {days.min()}")
    blocks = [scaler.price(price[days - lag]) for lag in PRICE_LAGS]  # (N, 24) each
    ze = {lag: scaler.exog(exog[days - lag]) for lag in EXOG_LAGS}  # (N, 24, K) each
    for e in range(exog.shape[2]):
        blocks += [ze[lag][:, :, e] for lag in EXOG_LAGS]
    blocks.append(np.eye(7)[dow[days]])
    return np.concatenate(blocks, axis=1)  # (N, F)


def make_lasso(alpha: float, tol: float = 1e-3):
    """A warm-startable LASSO (scikit-learn) for the sign-split problem of :func:`fit_window`."""
    from sklearn.linear_model import Lasso

    return Lasso(alpha=alpha, fit_intercept=False, positive=True, precompute=True, tol=tol, max_iter=5000,
                 warm_start=True, selection="cyclic")


@dataclass
class LinearFit:
    """A fitted LEAR model for one calibration window: coefficients on the transformed scale."""

    scaler: Scaler
    coef: np.ndarray  # (F, 24)
    x_mean: np.ndarray  # (F,)
    y_mean: np.ndarray  # (24,)

    def predict_z(self, X: np.ndarray) -> np.ndarray:
        return (X - self.x_mean) @ self.coef + self.y_mean  # (N, 24)


def fit_window(price: np.ndarray, exog: np.ndarray, dow: np.ndarray, train_days: np.ndarray, lasso,
               signs: np.ndarray, transform: str = "asinh") -> LinearFit:
    """Fit the 24 hourly LASSOs on target days ``train_days`` (features reach back 7 days).

    Sign constraints (``signs`` (F,), :func:`coef_signs`; a boolean mask reads as +1 / 0) through a
    split: a free column x (0) enters as x and −x, both with coefficients >= 0; a +1 column enters
    only as x, a −1 column only as −x. ``lasso`` is a :func:`make_lasso` estimator, reused across
    calls as a warm start.
    """
    lo = int(train_days.min()) - MAX_LAG
    hi = int(train_days.max()) + 1
    scaler = Scaler.fit(price[lo:hi], exog[lo:hi], transform)
    X = design(price, exog, dow, train_days, scaler)  # (N, F)
    Y = scaler.price(price[train_days])  # (N, 24)
    xm, ym = X.mean(0), Y.mean(0)
    sg = np.asarray(signs).astype(np.int8)
    flip = np.where(sg < 0, -1.0, 1.0)  # a −1 column enters as −x
    free = sg == 0
    Xc = (X - xm) * flip
    Z = np.concatenate([Xc, -Xc[:, free]], axis=1)  # (N, F + free)
    # Gram of Z from that of Xc (3x cheaper than Z'Z): the split columns only flip signs
    G = Xc.T @ Xc  # (F, F)
    GZ = np.block([[G, -G[:, free]], [-G[free], G[np.ix_(free, free)]]])  # (F + free, F + free)
    lasso.set_params(precompute=GZ)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a rare ConvergenceWarning at max_iter: the warm start carries on next day
        lasso.fit(Z, Y - ym)
    W = lasso.coef_.T  # (F + free, 24)
    F = X.shape[1]
    B = W[:F] * flip[:, None]
    B[free] -= W[F:]
    return LinearFit(scaler, B, xm, ym)
