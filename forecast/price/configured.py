"""A configured parametric supply curve: the hand-typed price response (``pledge.price_curve.kind: configured``).

Merit-order form (DOMAIN.md §2: increasing and convex in system load), per hour h:

    f_h(L) = base + adder[local_hour(h)] + a·(L − L_ref) + c·exp(k·(L − L_ref))

with L and L_ref in GW, ``a`` in $/MWh per GW, ``c`` in $/MWh and ``k`` per GW.
Non-decreasing in L because a, c, k >= 0 (checked). The hour-of-day adder (local
prevailing time) moves the price level only; it cancels in ΔP = S(L) − S(L − D + G)
while both loads are below the cap's load.

The cap. ``cap_usd_per_mwh`` is where the exponential hands over to a quadratic, not a
ceiling: at the load x* where f_h(x*) = cap the curve continues as

    S_h(x) = cap + s·(x − x*) + ½·q·(x − x*)²,   s = f'(x*) = a + c·k·e^{k x*},  q = f''(x*) = c·k²·e^{k x*}

so it is continuous with a continuous slope at x*, strictly increasing and convex beyond
it (strictly convex when c·k > 0; linear with slope a when c·k = 0), never flat, and grows
quadratically instead of exponentially. Below x* S_h = f_h (≤ cap). A curve with a = c·k = 0
is flat by configuration and never reaches the cap. x* is solved per (draw, local hour) by
Newton's method on the convex increasing f_h − cap.

Parameter uncertainty: ``n_draws`` joint draws of (a, c, k), each scaled by an
independent median-one log-normal factor exp(σ·z) from a seeded generator, so
draws are reproducible and the central curve is their median. ``price(…, draw=idx)``
evaluates the draws ``idx`` with load broadcast as (N, ..., T).

It implements :class:`forecast.price.response.PriceResponse` on gross system load
(``basis = "gross"``); callers never depend on this class.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forecast.price.response import params_sha256, utc_index

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
        top = self.base_usd_per_mwh + max(self.hour_adders_usd_per_mwh, default=0.0)
        if not self.cap_usd_per_mwh > top:
            raise ValueError(f"{w}.cap_usd_per_mwh={self.cap_usd_per_mwh}: must exceed base + the largest hour "
                             f"adder ({top}); fix with {w}.cap_usd_per_mwh=<value above {top}>")
        if self.n_draws < 1:
            raise ValueError(f"{w}.n_draws={self.n_draws}: must be >= 1")
        object.__setattr__(self, "hour_adders_usd_per_mwh", tuple(float(x) for x in self.hour_adders_usd_per_mwh))


def cap_load_gw(level: np.ndarray, a: np.ndarray, c: np.ndarray, k: np.ndarray, cap: float) -> np.ndarray:
    """x* (GW above L_ref) where level + a·x + c·exp(k·x) = cap, elementwise (broadcast); +inf where the
    curve never gets there (a = c·k = 0). Exact when c·k = 0 (a line); otherwise Newton's method from
    x0 = ln((cap − level)/c)/k, where the slope is at least k·(cap − level) > 0: f is convex and
    increasing, so the iterates reach x* from the right after at most one step."""
    level, a, c, k = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (level, a, c, k)))
    room = cap - level  # > 0 by the config check
    live = c * k > 0
    safe_c, safe_k, safe_a = (np.where(m, v, 1.0) for m, v in ((live, c), (live, k), (a > 0, a)))
    line = np.where(a > 0, (room - c) / safe_a, np.inf)  # c·k = 0: level + c + a·x = cap
    x = np.where(live, np.log(room / safe_c) / safe_k, 0.0)
    for _ in range(200):
        e = np.exp(np.minimum(safe_k * x, 700.0))
        step = np.where(live, (level + a * x + c * e - cap) / (a + safe_c * safe_k * e), 0.0)
        x = x - step
        if np.all(np.abs(step) <= 1e-13 * np.maximum(1.0, np.abs(x))):
            break
    return np.where(live, x, line)


class ConfiguredSupplyCurve:
    """Parametric S_h(L) with seeded parameter draws; see the module docstring."""

    kind = "configured"
    basis = "gross"

    def __init__(self, params: SupplyCurveParams, source: str = "configured parametric curve"):
        self.params = params
        p = params
        rng = np.random.default_rng(np.random.SeedSequence([p.seed, 0x5C]))
        z = rng.standard_normal((3, p.n_draws))  # (3, N): a, c, k factors
        self._a = p.linear_usd_per_mwh_per_gw * np.exp(p.sigma_linear * z[0])
        self._c = p.exp_coef_usd_per_mwh * np.exp(p.sigma_exp_coef * z[1])
        self._k = p.exp_rate_per_gw * np.exp(p.sigma_exp_rate * z[2])
        self._adders = np.asarray(p.hour_adders_usd_per_mwh or (0.0,) * 24, dtype=np.float64)
        self.source = source
        self._set_handover()

    def _set_handover(self) -> None:
        """x* (GW above L_ref) where the exponential reaches the cap: central (24,), draws (N, 24) by local hour."""
        p = self.params
        lv = p.base_usd_per_mwh + self._adders  # (24,)
        self._xs = cap_load_gw(lv, p.linear_usd_per_mwh_per_gw, p.exp_coef_usd_per_mwh, p.exp_rate_per_gw,
                               p.cap_usd_per_mwh)
        self._xs_draws = cap_load_gw(lv[None], self._a[:, None], self._c[:, None], self._k[:, None],
                                     p.cap_usd_per_mwh)

    def params_sha256(self) -> str:
        """sha256 of the curve as used: level, reference, cap, time zone, adders and every draw of (a, c, k)."""
        p = self.params
        return params_sha256("configured", p.base_usd_per_mwh, p.ref_load_gw, p.linear_usd_per_mwh_per_gw,
                             p.exp_coef_usd_per_mwh, p.exp_rate_per_gw, p.cap_usd_per_mwh, p.timezone,
                             self._adders, self._a, self._c, self._k)

    @classmethod
    def from_config(cls, cfg, where: str = "price_curve", source: str = "configured parametric curve",
                    **override) -> ConfiguredSupplyCurve:
        """Build from any object with the :class:`SupplyCurveParams` field names (e.g. a Hydra node);
        ``override`` sets fields directly (e.g. ``timezone=`` the market's)."""
        names = [f for f in SupplyCurveParams.__dataclass_fields__ if f != "where"]
        kw = {n: getattr(cfg, n) for n in names if hasattr(cfg, n)}
        kw.update(override)
        if "hour_adders_usd_per_mwh" in kw:
            kw["hour_adders_usd_per_mwh"] = tuple(kw["hour_adders_usd_per_mwh"] or ())
        return cls(SupplyCurveParams(**kw, where=where), source)

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
        out.source = f"{self.source}, slope × {factor:g}"
        out._set_handover()
        return out

    def handover_load_gw(self, ts: pd.DatetimeIndex) -> np.ndarray:
        """Central x* (GW above L_ref) where each hour's curve reaches the cap, (T,)."""
        return self._xs[self._hours(ts)]

    def _hours(self, ts: pd.DatetimeIndex) -> np.ndarray:
        """Local hour of day (T,)."""
        return utc_index(ts).tz_convert(self.params.timezone).hour.to_numpy()

    def price(self, load_mw: np.ndarray, ts: pd.DatetimeIndex, draw: np.ndarray | None = None) -> np.ndarray:
        """$/MWh for system load ``load_mw`` (..., T) at hours ``ts`` (T,); see PriceResponse."""
        p = self.params
        load = np.asarray(load_mw, dtype=np.float64)
        x = load / MW_PER_GW - p.ref_load_gw  # GW above the reference load
        hours = self._hours(ts)
        level = p.base_usd_per_mwh + self._adders[hours]  # (T,)
        if load.shape[-1] != level.shape[0]:
            raise ValueError(f"load has {load.shape[-1]} hours on its last axis but ts has {level.shape[0]}")
        if draw is None:
            a, c, k = p.linear_usd_per_mwh_per_gw, p.exp_coef_usd_per_mwh, p.exp_rate_per_gw
            xs = self._xs[hours]  # (T,)
        else:
            idx = np.asarray(draw, dtype=np.int64)
            if idx.ndim != 1 or (idx.size and (idx.min() < 0 or idx.max() >= p.n_draws)):
                raise IndexError(f"draw indices must be 1-d in [0, {p.n_draws}), got shape {idx.shape}")
            shape = (idx.size,) + (1,) * max(load.ndim - 1, 1)  # (N, 1, …, 1) against (N, ..., T)
            if load.ndim >= 2 and load.shape[0] not in (1, idx.size):
                raise ValueError(f"load leading axis {load.shape[0]} does not match {idx.size} draws")
            a, c, k = (v[idx].reshape(shape) for v in (self._a, self._c, self._k))
            xs = self._xs_draws[idx][:, hours].reshape((idx.size,) + (1,) * max(load.ndim - 2, 0) + (len(hours),))
        return continue_past_cap(x, xs, level, a, c, k, p.cap_usd_per_mwh)


def continue_past_cap(x, xs, level, a, c, k, cap: float) -> np.ndarray:
    """level + a·x + c·e^{kx} up to x* = ``xs``, then cap + s·u + ½·q·u² with u = x − x*, s and q the
    slope and curvature at x* (see the module docstring). All arguments broadcast."""
    below = x <= xs
    xe = np.minimum(x, xs)
    f = level + a * xe + c * np.exp(np.minimum(k * xe, 700.0))
    xs_f = np.where(np.isfinite(xs), xs, 0.0)
    e = np.exp(np.minimum(k * xs_f, 700.0))
    s, q = a + c * k * e, c * k * k * e
    u = np.where(below, 0.0, x - xs_f)
    return np.where(below, f, cap + s * u + 0.5 * q * u * u)
