"""A configured parametric supply curve: the stand-in price response until a fitted one exists.

Merit-order form (DOMAIN.md §2: increasing and convex in system load), per hour h:

    S_h(L) = min(cap, base + adder[local_hour(h)] + a·(L − L_ref) + c·exp(k·(L − L_ref)))

with L and L_ref in GW, ``a`` in $/MWh per GW, ``c`` in $/MWh and ``k`` per GW.
Non-decreasing in L because a, c, k >= 0 (checked); ``min(cap, ·)`` keeps it so.
The hour-of-day adder (local prevailing time) moves the price level only; it
cancels in ΔP = S(L) − S(L − D + G) unless the cap binds.

Parameter uncertainty: ``n_draws`` joint draws of (a, c, k), each scaled by an
independent median-one log-normal factor exp(σ·z) from a seeded generator, so
draws are reproducible and the central curve is their median. ``price(…, draw=idx)``
evaluates the draws ``idx`` with load broadcast as (N, ..., T).

It implements :class:`forecast.price.response.PriceResponse`; the fitted curve
implements the same protocol, so callers never depend on this class.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

MW_PER_GW = 1000.0


@dataclass(frozen=True)
class SupplyCurveParams:
    """Values of the configured curve (units in the field names)."""

    base_usd_per_mwh: float = 30.0
    ref_load_gw: float = 100.0
    linear_usd_per_mwh_per_gw: float = 0.0
    exp_coef_usd_per_mwh: float = 12.0
    exp_rate_per_gw: float = 0.05
    cap_usd_per_mwh: float = 2000.0
    hour_adders_usd_per_mwh: tuple[float, ...] = ()  # 24 values by local hour-beginning, or empty
    timezone: str = "America/New_York"
    n_draws: int = 200
    sigma_linear: float = 0.0  # log-sd of the multiplicative draw factor on a
    sigma_exp_coef: float = 0.0  # … on c
    sigma_exp_rate: float = 0.0  # … on k
    seed: int = 0
    where: str = field(default="price_curve", compare=False)  # config path, for error messages

    def __post_init__(self):
        w = self.where
        for name in ("linear_usd_per_mwh_per_gw", "exp_coef_usd_per_mwh", "exp_rate_per_gw",
                     "sigma_linear", "sigma_exp_coef", "sigma_exp_rate"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v >= 0):
                raise ValueError(f"{w}.{name}={v}: must be finite and >= 0 so price never falls as load rises; "
                                 f"fix with {w}.{name}=<value >= 0>")
        if not self.ref_load_gw > 0:
            raise ValueError(f"{w}.ref_load_gw={self.ref_load_gw}: must be > 0")
        if not self.cap_usd_per_mwh > self.base_usd_per_mwh:
            raise ValueError(f"{w}.cap_usd_per_mwh={self.cap_usd_per_mwh}: must exceed "
                             f"{w}.base_usd_per_mwh={self.base_usd_per_mwh}")
        if self.hour_adders_usd_per_mwh and len(self.hour_adders_usd_per_mwh) != 24:
            raise ValueError(f"{w}.hour_adders_usd_per_mwh has {len(self.hour_adders_usd_per_mwh)} values; "
                             f"give 24 (local hour 0..23) or [] for none")
        if self.n_draws < 1:
            raise ValueError(f"{w}.n_draws={self.n_draws}: must be >= 1")
        object.__setattr__(self, "hour_adders_usd_per_mwh", tuple(float(x) for x in self.hour_adders_usd_per_mwh))


class ConfiguredSupplyCurve:
    """Parametric S_h(L) with seeded parameter draws; see the module docstring."""

    def __init__(self, params: SupplyCurveParams):
        self.params = params
        p = params
        rng = np.random.default_rng(np.random.SeedSequence([p.seed, 0x5C]))
        z = rng.standard_normal((3, p.n_draws))  # (3, N): a, c, k factors
        self._a = p.linear_usd_per_mwh_per_gw * np.exp(p.sigma_linear * z[0])
        self._c = p.exp_coef_usd_per_mwh * np.exp(p.sigma_exp_coef * z[1])
        self._k = p.exp_rate_per_gw * np.exp(p.sigma_exp_rate * z[2])
        self._adders = np.asarray(p.hour_adders_usd_per_mwh or (0.0,) * 24, dtype=np.float64)

    @classmethod
    def from_config(cls, cfg, where: str = "price_curve", **override) -> ConfiguredSupplyCurve:
        """Build from any object with the :class:`SupplyCurveParams` field names (e.g. a Hydra node);
        ``override`` sets fields directly (e.g. ``timezone=`` the market's)."""
        names = [f for f in SupplyCurveParams.__dataclass_fields__ if f != "where"]
        kw = {n: getattr(cfg, n) for n in names if hasattr(cfg, n)}
        kw.update(override)
        if "hour_adders_usd_per_mwh" in kw:
            kw["hour_adders_usd_per_mwh"] = tuple(kw["hour_adders_usd_per_mwh"] or ())
        return cls(SupplyCurveParams(**kw, where=where))

    @property
    def n_draws(self) -> int:
        return self.params.n_draws

    def scaled(self, factor: float) -> ConfiguredSupplyCurve:
        """The same curve with its load-dependent part (a, c) scaled: a slope sensitivity."""
        p = self.params
        out = ConfiguredSupplyCurve.__new__(ConfiguredSupplyCurve)
        out.params = SupplyCurveParams(**{**p.__dict__, "linear_usd_per_mwh_per_gw": p.linear_usd_per_mwh_per_gw * factor,
                                          "exp_coef_usd_per_mwh": p.exp_coef_usd_per_mwh * factor})
        out._a, out._c, out._k, out._adders = self._a * factor, self._c * factor, self._k, self._adders
        return out

    def _level(self, ts: pd.DatetimeIndex) -> np.ndarray:
        """base + hour-of-day adder, (T,)."""
        ts = pd.DatetimeIndex(ts)
        if ts.tz is None:
            raise ValueError("price(): ts must be timezone-aware (UTC)")
        hours = ts.tz_convert(self.params.timezone).hour.to_numpy()
        return self.params.base_usd_per_mwh + self._adders[hours]

    def price(self, load_mw: np.ndarray, ts: pd.DatetimeIndex, draw: np.ndarray | None = None) -> np.ndarray:
        """$/MWh for system load ``load_mw`` (..., T) at hours ``ts`` (T,); see PriceResponse."""
        p = self.params
        load = np.asarray(load_mw, dtype=np.float64)
        x = load / MW_PER_GW - p.ref_load_gw  # GW above the reference load
        level = self._level(ts)  # (T,)
        if load.shape[-1] != level.shape[0]:
            raise ValueError(f"load has {load.shape[-1]} hours on its last axis but ts has {level.shape[0]}")
        if draw is None:
            a, c, k = p.linear_usd_per_mwh_per_gw, p.exp_coef_usd_per_mwh, p.exp_rate_per_gw
        else:
            idx = np.asarray(draw, dtype=np.int64)
            if idx.ndim != 1 or (idx.size and (idx.min() < 0 or idx.max() >= p.n_draws)):
                raise IndexError(f"draw indices must be 1-d in [0, {p.n_draws}), got shape {idx.shape}")
            shape = (idx.size,) + (1,) * max(load.ndim - 1, 1)  # (N, 1, …, 1) against (N, ..., T)
            if load.ndim >= 2 and load.shape[0] not in (1, idx.size):
                raise ValueError(f"load leading axis {load.shape[0]} does not match {idx.size} draws")
            a, c, k = (v[idx].reshape(shape) for v in (self._a, self._c, self._k))
        out = level + a * x + c * np.exp(k * x)
        return np.minimum(out, p.cap_usd_per_mwh)
