"""LightGBM direct multi-horizon quantile baseline.

One LightGBM model per quantile level, trained on a tabular frame with one row
per (origin i, horizon h), h = 1 … H; the target is y[i + h − 1] (horizon 1 is
the hour beginning at the issue time). Features for a row use only:

- the history y[:i] (lags y[i − l], rolling means over the last 24 / 168 h,
  the same hour one day and one week before the target, taken from the last
  available day / week);
- the horizon h and the calendar of the target hour (hour of day, day of week
  from ``calendar_start``, or the index phase mod 24 / 168 without it);
- known-future covariates at the target hour, known[i + h − 1] for a (T, K)
  array, or known[i, h − 1] for a (T, H, K) array of covariates as planned at
  each origin (a schedule that is revised over time).

Targets are modelled relative to the mean of the last 24 h (``relative=True``)
so that trees, which cannot extrapolate, follow level shifts. Quantile crossing
is removed by sorting each forecast's quantiles. NaN in the history are passed
to LightGBM as missing; rows with a NaN target are not trained on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np
import pandas as pd

DEFAULT_LAGS: tuple[int, ...] = (1, 2, 3, 6, 12, 24, 48, 168)
DEFAULT_PARAMS: dict = {
    "n_estimators": 300, "learning_rate": 0.05, "num_leaves": 31, "min_child_samples": 20,
    "subsample": 0.8, "subsample_freq": 1, "colsample_bytree": 0.9, "num_threads": 1,
    "deterministic": True, "force_row_wise": True, "verbose": -1,
}


@dataclass
class GBMForecaster:
    """Direct multi-horizon quantile regression with LightGBM.

    ``fit(y, known, origins)`` then ``predict(y, known, origins)`` →
    (n_origins, horizon, Q) array. A forecast at origin index i reads y[:i]
    and known[i : i + horizon] only; this is enforced by slicing, not trust.
    """

    quantiles: tuple[float, ...] = (0.1, 0.5, 0.9)
    horizon: int = 168
    lags: tuple[int, ...] = DEFAULT_LAGS
    rolling: tuple[int, ...] = (24, 168)
    params: dict = field(default_factory=dict)
    relative: bool = True
    calendar_start: pd.Timestamp | None = None
    max_train_rows: int = 200_000
    seed: int = 0
    models_: list = field(default_factory=list, init=False, repr=False)

    def __post_init__(self):
        q = tuple(float(v) for v in self.quantiles)
        if not q or any(not 0 < v < 1 for v in q) or list(q) != sorted(set(q)):
            raise ValueError(f"quantiles must be strictly increasing in (0, 1), got {self.quantiles}")
        self.quantiles = q
        if self.horizon < 1:
            raise ValueError(f"horizon must be ≥ 1, got {self.horizon}")
        if any(l < 1 for l in self.lags) or any(w < 1 for w in self.rolling):
            raise ValueError("lags and rolling windows must be ≥ 1")

    @property
    def min_history(self) -> int:
        """Fewest history points an origin needs (longest lag, window or seasonal look-back)."""
        return max([*self.lags, *self.rolling, 168 if self.horizon <= 168 else 24, 24])

    # ------------------------------------------------------------------ features
    def _features(self, y: np.ndarray, known: np.ndarray | None, i: int, h_max: int) -> tuple[np.ndarray, float]:
        """Feature rows for origin i, horizons 1 … h_max: (h_max, F) and the reference level. Reads y[:i] only."""
        past = y[:i]  # the only view of the target this function touches
        H = h_max
        h = np.arange(1, H + 1)  # (H,)
        t = i + h - 1  # target indices
        ref = _mean(past[-24:]) if self.relative else 0.0
        if not np.isfinite(ref):  # a whole day missing: fall back to the absolute target
            ref = 0.0
        cols = [h.astype(float)]
        for l in self.lags:
            cols.append(np.full(H, past[-l] - ref))
        for w in self.rolling:
            cols.append(np.full(H, _mean(past[-w:]) - ref))
        for period in (24, 168):
            back = period * np.ceil(h / period).astype(int)  # ≥ h, so t − back ≤ i − 1
            idx = t - back
            cols.append(np.where(idx >= 0, past[np.clip(idx, 0, i - 1)] - ref, np.nan))
        if self.calendar_start is not None:
            ts = pd.DatetimeIndex(self.calendar_start + pd.to_timedelta(t, unit="h"))
            cols += [ts.hour.to_numpy(float), ts.dayofweek.to_numpy(float)]
        else:
            cols += [(t % 24).astype(float), (t % 168).astype(float)]
        X = np.column_stack(cols)  # (H, F_y)
        if known is not None:
            kf = known[i, :H] if known.ndim == 3 else known[i: i + H]  # (H, K) as known at origin i
            X = np.hstack([X, kf])  # (H, F_y + K)
        return X, float(ref)

    def _check(self, y, known, origins, need_target: bool):
        y = np.asarray(y, dtype=np.float64)
        if y.ndim != 1:
            raise ValueError(f"y must be 1-D (T,), got shape {y.shape}")
        if known is not None:
            known = np.asarray(known, dtype=np.float64)
            if known.ndim == 1:
                known = known[:, None]
            if known.ndim not in (2, 3):
                raise ValueError(f"known must be (T, K) or (T, H, K) (as planned at each origin), got shape {known.shape}")
            if known.ndim == 3 and known.shape[1] < self.horizon:
                raise ValueError(f"known (T, H, K) covers {known.shape[1]} leads, horizon is {self.horizon}")
        origins = np.asarray(origins, dtype=np.int64).ravel()
        if origins.size == 0:
            raise ValueError("no origins given")
        low = origins < self.min_history
        if low.any():
            raise ValueError(f"origins need ≥ {self.min_history} hours of history; first bad origins {origins[low][:5].tolist()}")
        if need_target and (origins + self.horizon > y.size).any():
            bad = origins[origins + self.horizon > y.size]
            raise ValueError(f"training origins need targets up to i + horizon ≤ {y.size}; first bad {bad[:5].tolist()}")
        reach = origins + (1 if known is not None and known.ndim == 3 else self.horizon)
        if known is not None and (reach > known.shape[0]).any():
            bad = origins[reach > known.shape[0]]
            raise ValueError(f"known-future covariates must cover i … i + horizon − 1; first bad origins {bad[:5].tolist()}")
        if known is not None and not need_target and self.n_known_ != known.shape[-1]:
            raise ValueError(f"fitted with {self.n_known_} known columns, got {known.shape[-1]}")
        return y, known, origins

    # ------------------------------------------------------------------ API
    def fit(self, y_hist: np.ndarray, known: np.ndarray | None, origins: np.ndarray) -> "GBMForecaster":
        """Train on origins (each needs targets y[i : i + horizon]). Returns self."""
        y, known, origins = self._check(y_hist, known, origins, need_target=True)
        self.n_known_ = 0 if known is None else known.shape[-1]
        rng = np.random.default_rng(self.seed)
        per = self.horizon
        if origins.size * per > self.max_train_rows:  # keep training time bounded
            origins = np.sort(rng.choice(origins, self.max_train_rows // per, replace=False))
        Xs, ys = [], []
        for i in origins:
            X, ref = self._features(y, known, int(i), per)
            Xs.append(X)
            ys.append(y[i: i + per] - ref)
        X = np.vstack(Xs)  # (n_origins · H, F)
        target = np.concatenate(ys)
        ok = np.isfinite(target)
        if ok.sum() < 50:
            raise ValueError(f"only {int(ok.sum())} finite training targets")
        params = {**DEFAULT_PARAMS, **self.params}
        self.models_ = []
        for q in self.quantiles:
            m = lgb.LGBMRegressor(objective="quantile", alpha=q, random_state=self.seed, **params)
            m.fit(X[ok], target[ok])
            self.models_.append(m)
        self.n_train_rows_ = int(ok.sum())
        return self

    def predict(self, y_hist: np.ndarray, known: np.ndarray | None, origins: np.ndarray) -> np.ndarray:
        """Quantile forecasts (n_origins, horizon, Q), sorted along Q (no crossing)."""
        if not self.models_:
            raise RuntimeError("call fit() before predict()")
        y, known, origins = self._check(y_hist, known, origins, need_target=False)
        Xs, refs = [], []
        for i in origins:
            X, ref = self._features(y, known, int(i), self.horizon)
            Xs.append(X)
            refs.append(ref)
        X = np.vstack(Xs)  # (n_origins · H, F)
        out = np.stack([m.predict(X) for m in self.models_], axis=-1)  # (n_origins · H, Q)
        out = out.reshape(origins.size, self.horizon, len(self.quantiles))  # (N, H, Q)
        out = out + np.asarray(refs)[:, None, None]
        return np.sort(out, axis=-1)


def _mean(x: np.ndarray) -> float:
    """Mean of the finite values; NaN when there are none (no warning)."""
    ok = np.isfinite(x)
    return float(x[ok].mean()) if ok.any() else float("nan")
