"""The price-response interface the pledge accounting uses (DOMAIN.md §2).

A price response is S_h(L): the hourly price ($/MWh) as a function of system
load L (MW), which may depend on the hour (time of day, season) and carries
parameter uncertainty as a set of joint draws. Implementations: the configured
parametric supply curve (:mod:`forecast.price.configured`), the curve fitted on
market data (:mod:`forecast.price.supply_curve`) and the learned day-ahead
price model (:mod:`forecast.price.model_response`). All are non-decreasing in
load.

    ΔP_h = S_h(L_h) − S_h(L_h − D_h + G_h)

Load basis. Each response declares in ``basis`` which load it takes: ``"gross"``
(system load, what the pledge passes) or ``"net"`` (load − solar − wind, what
the fitted curve is fitted on). :class:`NetLoadResponse` is the one adapter
that turns a net-load response into a gross-load one: it subtracts the hour's
renewables (a :class:`RenewablesProfile`) before calling the curve.

Provenance. ``kind`` (``configured`` | ``fitted`` | ``model``), ``source`` (a
file or a description) and ``params_sha256()`` (sha256 of the exact bytes of
the parameters actually used) are recorded in the ledger by
:func:`response_info`.
"""

from __future__ import annotations

import hashlib
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

LOAD_BASES = ("gross", "net")


@runtime_checkable
class PriceResponse(Protocol):
    def price(self, load_mw: np.ndarray, ts: pd.DatetimeIndex, draw: np.ndarray | None = None) -> np.ndarray:
        """Price in $/MWh for system load ``load_mw`` of shape (..., T) at hours ``ts`` (T,).

        ``draw``: None for the central curve, or int indices (N,) into the
        parameter draws, in which case ``load_mw`` must broadcast against
        (N, ..., T) and the result has that shape. Non-decreasing in load.
        """
        ...

    @property
    def n_draws(self) -> int:
        """How many joint parameter draws ``price`` accepts (>= 1)."""
        ...


def delta_price(curve: PriceResponse, load_mw: np.ndarray, draw_mw: np.ndarray, ts: pd.DatetimeIndex,
                new_gen_mw: np.ndarray | float = 0.0, draw: np.ndarray | None = None) -> np.ndarray:
    """ΔP = S(L) − S(L − D + G) per hour, $/MWh; zero where D = G."""
    load_mw = np.asarray(load_mw, dtype=np.float64)
    without = load_mw - np.asarray(draw_mw, dtype=np.float64) + np.asarray(new_gen_mw, dtype=np.float64)
    return curve.price(load_mw, ts, draw) - curve.price(without, ts, draw)


def load_basis(curve) -> str:
    """The load a response takes: its ``basis`` attribute, "gross" when it declares none."""
    basis = getattr(curve, "basis", "gross")
    if basis not in LOAD_BASES:
        raise ValueError(f"{type(curve).__name__}.basis={basis!r}: must be one of {', '.join(LOAD_BASES)}")
    return basis


def params_sha256(*parts) -> str:
    """sha256 (64 hex) of parameters: arrays by dtype, shape and exact C-order bytes; other values by repr."""
    h = hashlib.sha256()
    for p in parts:
        if isinstance(p, np.ndarray):
            a = np.ascontiguousarray(p)
            h.update(f"{a.dtype.str}{a.shape}".encode())
            h.update(a.tobytes())
        else:
            h.update(repr(p).encode())
        h.update(b"\x00")
    return h.hexdigest()


def response_info(curve) -> dict:
    """What the ledger records of the response actually used: kind, basis (the load the kind's curve takes:
    "net" for a fitted curve reached through :class:`NetLoadResponse`), params_sha256, source."""
    digest = curve.params_sha256() if hasattr(curve, "params_sha256") else None
    inner = curve.curve if isinstance(curve, NetLoadResponse) else curve
    return {"kind": getattr(curve, "kind", type(curve).__name__), "basis": load_basis(inner),
            "params_sha256": digest, "source": getattr(curve, "source", "") or f"{type(curve).__name__} (in memory)"}


def utc_index(ts) -> pd.DatetimeIndex:
    """``ts`` as a DatetimeIndex in UTC; timezone-naive times are refused."""
    ts = pd.DatetimeIndex(ts)
    if ts.tz is None:
        raise ValueError("price(): ts must be timezone-aware (UTC)")
    return ts.tz_convert("UTC")


class RenewablesProfile:
    """Solar + wind (MW) per UTC hour: the exact value where ``hours`` has it, else the mean of the fit
    data for the hour's local month and hour of day (``by_month_hour`` (12, 24), local prevailing time).

    ``hours``: a Series of MW indexed by UTC hour (e.g. a grid file's solar_mw + wind_mw), or None.
    """

    def __init__(self, by_month_hour: np.ndarray | None, timezone: str = "America/New_York",
                 hours: pd.Series | None = None, source: str = ""):
        self.by_month_hour = None if by_month_hour is None else np.asarray(by_month_hour, dtype=np.float64)
        if self.by_month_hour is not None and self.by_month_hour.shape != (12, 24):
            raise ValueError(f"by_month_hour must have shape (12, 24), got {self.by_month_hour.shape}")
        self.timezone = timezone
        self.hours = None
        if hours is not None and len(hours):
            s = pd.Series(np.asarray(hours, dtype=np.float64), index=utc_index(hours.index)).dropna()
            self.hours = s[~s.index.duplicated(keep="last")].sort_index()
        self.source = source

    @staticmethod
    def month_hour_mean(frame: pd.DataFrame, timezone: str) -> np.ndarray:
        """(12, 24) mean of solar_mw + wind_mw by local month and hour (absent columns count as 0;
        a (month, hour) cell with no data takes that month's mean, then the overall mean)."""
        ts = utc_index(frame["ts"]).tz_convert(timezone)
        r = np.zeros(len(frame))
        for c in ("solar_mw", "wind_mw"):
            if c in frame.columns:
                r = r + frame[c].to_numpy(np.float64)
        tab = pd.Series(r).groupby([ts.month.to_numpy() - 1, ts.hour.to_numpy()]).mean()
        out = np.full((12, 24), np.nan)
        for (m, h), v in tab.items():
            out[m, h] = v
        for row in out:  # rows are views: fill a month's empty hours with its mean
            if not np.isnan(row).all():
                row[np.isnan(row)] = np.nanmean(row)
        out[np.isnan(out)] = float(np.mean(r)) if len(r) else 0.0
        return out

    @staticmethod
    def grid_hours(frame: pd.DataFrame) -> pd.Series | None:
        """solar_mw + wind_mw per UTC hour of a grid-contract frame; None without either column."""
        cols = [c for c in ("solar_mw", "wind_mw") if c in frame.columns]
        if not cols:
            return None
        vals = frame[cols].to_numpy(np.float64)
        ok = ~np.isnan(vals).any(axis=1)
        return pd.Series(vals[ok].sum(axis=1), index=utc_index(frame["ts"])[ok])

    def with_hours(self, hours: pd.Series | None, source: str) -> RenewablesProfile:
        """This profile with exact values for ``hours`` (where given) taking precedence."""
        return RenewablesProfile(self.by_month_hour, self.timezone, hours, source)

    def split(self, ts: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
        """(MW (T,), True where the value is the exact hour's)."""
        ts = utc_index(ts)
        exact = np.zeros(len(ts), dtype=bool)
        out = np.full(len(ts), np.nan)
        if self.hours is not None:
            v = self.hours.reindex(ts).to_numpy()
            exact = ~np.isnan(v)
            out[exact] = v[exact]
        if (~exact).any():
            if self.by_month_hour is None:
                raise ValueError(f"no renewables for {int((~exact).sum())} hours (first {ts[~exact][0]}) and no "
                                 "hourly-by-month profile to fall back on")
            loc = ts[~exact].tz_convert(self.timezone)
            out[~exact] = self.by_month_hour[loc.month.to_numpy() - 1, loc.hour.to_numpy()]
        return out, exact

    def at(self, ts: pd.DatetimeIndex) -> np.ndarray:
        """Solar + wind, MW, (T,) at UTC hours ``ts``."""
        return self.split(ts)[0]

    def describe(self, ts: pd.DatetimeIndex) -> str:
        _, exact = self.split(ts)
        n = int(exact.sum())
        if self.hours is None:
            return f"renewables (solar + wind) of all {len(exact)} hours from the hourly-by-month mean of the fit data"
        return (f"renewables (solar + wind) of {n} of {len(exact)} hours from {self.source or 'the given hours'}, "
                f"{len(exact) - n} from the hourly-by-month mean of the fit data")

    def sha_parts(self) -> tuple:
        hrs = () if self.hours is None else (self.hours.index.asi8, self.hours.to_numpy())
        return (self.timezone, *(() if self.by_month_hour is None else (self.by_month_hour,)), *hrs)


class NetLoadResponse:
    """A net-load response (``basis == "net"``) as a gross-load one: S_gross(L, h) = S_net(L − R_h, h),
    R_h = solar + wind of hour h from ``renewables`` (a :class:`RenewablesProfile`, or a Series of MW
    by UTC hour). The pledge passes gross load; this adapter converts it. Non-decreasing in L because
    S_net is and R_h does not depend on L."""

    basis = "gross"

    def __init__(self, curve: PriceResponse, renewables: RenewablesProfile | pd.Series):
        if load_basis(curve) != "net":
            raise ValueError(f"NetLoadResponse wraps a net-load response; {type(curve).__name__} takes "
                             f"{load_basis(curve)} load (use it directly)")
        if isinstance(renewables, pd.Series):
            renewables = RenewablesProfile(None, hours=renewables, source="given hours")
        self.curve, self.renewables = curve, renewables
        self.kind = getattr(curve, "kind", type(curve).__name__)
        self._cache: tuple[bytes, np.ndarray] | None = None
        self.source = getattr(curve, "source", "")

    @property
    def n_draws(self) -> int:
        return self.curve.n_draws

    def renewables_mw(self, ts: pd.DatetimeIndex) -> np.ndarray:
        """R_h (T,), MW; cached for the last ``ts`` (the accounting calls with the same hours many times)."""
        ts = utc_index(ts)
        key = ts.asi8.tobytes()
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, self.renewables.at(ts))
        return self._cache[1]

    def net_load_mw(self, load_mw: np.ndarray, ts: pd.DatetimeIndex) -> np.ndarray:
        return np.asarray(load_mw, dtype=np.float64) - self.renewables_mw(ts)

    def price(self, load_mw: np.ndarray, ts: pd.DatetimeIndex, draw: np.ndarray | None = None) -> np.ndarray:
        """$/MWh at gross load ``load_mw`` (..., T): the net curve at load − renewables."""
        return self.curve.price(self.net_load_mw(load_mw, ts), ts, draw)

    def params_sha256(self) -> str:
        inner = self.curve.params_sha256() if hasattr(self.curve, "params_sha256") else type(self.curve).__name__
        return params_sha256("net-load adapter", inner, *self.renewables.sha_parts())

    def describe(self, ts: pd.DatetimeIndex) -> str:
        return f"{self.source}; gross → net load: {self.renewables.describe(ts)}"
