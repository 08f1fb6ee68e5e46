"""The learned day-ahead price model as a price response (``pledge.price_curve.kind: model``).

What it is: the LEAR members of :class:`forecast.price.model.DayAheadModel` (one LASSO per
calibration window and variance-stabilising transform, :mod:`forecast.price.lear`; the members
``PriceModelConfig.lear_members`` lists), each fitted once on the days of an epftoolbox-layout
market file (:func:`forecast.price.readers.read_epf`) before the issue day. The last day with a
known price before the issue time is d0 − 1; the model's horizon is the day ahead, d0.

What moves and what is held. The price of a target day's hour is the members' forecast of that
day with
- moved: the target day's system-load input (exogenous column ``load_input``, the file's first,
  a day-ahead system load forecast): its 24 local hours are the load passed to :meth:`price`;
- the target day's own day-of-week dummy;
- held fixed at their last known values: the prices of days d0−1, d0−2, d0−3 and d0−7; every
  exogenous input of days d0−1 and d0−7 (the lagged load forecasts); the target day's other
  exogenous inputs (the file's values for d0 when it has that day, else those of d0−1); the
  fitted coefficients and transforms.
Over the horizon this is the model's own forecast of d0 with the day's load input moved by the
change, so ΔP = S(L) − S(L − D + G) is the model's price response to the campus draw.

Beyond the horizon the lagged prices are unknown. With ``beyond="error"`` :meth:`price` refuses
such hours and says what to use instead; with ``beyond="hold_last_days"`` every day is priced with
the same held context (the prices and load forecasts of the last known days d0−1 … d0−7) and its
own load and day of week: the model applied day by day, so a billing month can be priced. Its
price level is that of the days before d0; its response to load is the model's.

Monotone in load, also in a uniform shift: each LEAR member is non-decreasing in every hour's load
of the target day (coefficients >= 0 on those columns, non-decreasing input transforms and inverse
price transform), so raising all 24 hours together never lowers any hour's price, and the mean of
the members keeps that. The other inputs are fitted with the signs of their roles
(forecast.price.roles: a supply input, wind, solar or generation, with coefficients <= 0) and held,
so the response is monotone in net load (load − supply) too. Roles: ``exog_roles`` when given, else
inferred from the column names; the ``load_input`` column is load-like by declaration (an error if
its name or the given roles say supply or free), a held column whose role cannot be inferred is
free (its sign does not touch the response to load). The network member is excluded: it reads the other hours' loads with
weights of either sign (:mod:`forecast.models.price_net`), so a uniform shift of the day's load
can lower some hour's price. N-PIT members are flat beyond the loads their window has seen (the
empirical distribution is flat there); asinh members keep rising.

Hours and days: hours map to the market's local days (``timezone``) and local hour of day. The
model takes 24 inputs a day: on a 25-hour day the repeated hour's input is the mean of its two
loads and both hours get its price; a day's hours absent from ``ts`` (the 23-hour day's skipped
hour, a partial day) take the input linearly interpolated between the day's given hours (held
at the ends). These weights are non-negative, so monotonicity carries over.

Draws: the members are the draws (``n_draws`` = number of members, ``draw=i`` member i); the
central curve is their equal-weight mean (the error weights of DayAheadModel need a history of
daily refits, which this response does not run).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecast.price import lear
from forecast.price.model import PriceModelConfig
from forecast.price.readers import EPFData, read_epf
from forecast.price.response import params_sha256, utc_index
from forecast.price.roles import check_roles, infer_role

BEYOND = ("error", "hold_last_days")
MIN_TRAIN_DAYS = 28


@dataclass(frozen=True)
class DayPlan:
    """How the hours ``ts`` map to model days: day of each hour (T,), local hour (T,), the days' dates and
    day-of-week (Dd,), and per day the (24, n_d) non-negative weights from its given hours to 24 inputs."""

    day_of_hour: np.ndarray
    hour: np.ndarray
    dates: pd.DatetimeIndex
    dow: np.ndarray
    positions: list[np.ndarray]
    weights: list[np.ndarray]

    @classmethod
    def of(cls, ts: pd.DatetimeIndex, timezone: str) -> DayPlan:
        local = utc_index(ts).tz_convert(timezone)
        date = local.tz_localize(None).normalize()
        codes, dates = pd.factorize(date, sort=True)
        hour = local.hour.to_numpy()
        positions, weights = [], []
        for j in range(len(dates)):
            pos = np.flatnonzero(codes == j)
            hrs = hour[pos]
            uniq = np.unique(hrs)
            avg = (hrs[None, :] == uniq[:, None]).astype(np.float64)
            avg /= avg.sum(axis=1, keepdims=True)  # (n_u, n_d): the mean of a repeated hour's loads
            interp = np.stack([np.interp(np.arange(24), uniq, e) for e in np.eye(len(uniq))], axis=1)  # (24, n_u)
            positions.append(pos)
            weights.append(interp @ avg)
        return cls(codes, hour, pd.DatetimeIndex(dates), pd.DatetimeIndex(dates).day_of_week.to_numpy(), positions,
                   weights)

    def to_days(self, load: np.ndarray) -> np.ndarray:
        """(..., T) hourly load -> (..., Dd, 24) model inputs."""
        out = np.empty(load.shape[:-1] + (len(self.dates), 24))
        for j, (pos, w) in enumerate(zip(self.positions, self.weights)):
            out[..., j, :] = load[..., pos] @ w.T
        return out

    def to_hours(self, day_prices: np.ndarray) -> np.ndarray:
        """(..., Dd, 24) -> (..., T): each hour gets its day's price at its local hour."""
        return day_prices[..., self.day_of_hour, self.hour]


class DayAheadResponse:
    """The LEAR members of the day-ahead price model as S_h(gross system load); see the module docstring."""

    kind = "model"
    basis = "gross"

    def __init__(self, data: EPFData, d0: int, members: dict[str, lear.LinearFit], load_input: int = 0,
                 timezone: str = "America/New_York", beyond: str = "error", where: str = "price_curve",
                 source: str = ""):
        if beyond not in BEYOND:
            raise ValueError(f"{where}.beyond_day_ahead={beyond!r}: must be one of {', '.join(BEYOND)}")
        if not 0 <= load_input < data.exog.shape[2]:
            raise ValueError(f"{where}.load_input={load_input}: the file has {data.exog.shape[2]} exogenous inputs "
                             f"({', '.join(data.exog_names)}); give 0 … {data.exog.shape[2] - 1}")
        self.members, self.load_input, self.timezone = members, load_input, timezone
        self.beyond, self.where, self.source = beyond, where, source
        self.horizon_day = data.dates[d0] if d0 < data.n_days else data.dates[-1] + pd.Timedelta(days=1)
        # the context of day d0: history up to d0 − 1 plus d0's exogenous row (the file's, else d0 − 1's)
        self._exog_d0 = (data.exog[d0] if d0 < data.n_days else data.exog[d0 - 1]).astype(np.float64)  # (24, K)
        price = np.concatenate([data.price[:d0], np.zeros((1, 24))])
        exog = np.concatenate([data.exog[:d0], self._exog_d0[None]])
        dow = np.append(data.dates[:d0].day_of_week.to_numpy(), self.horizon_day.dayofweek)
        self._x0 = {name: lear.design(price, exog, dow, np.array([d0]), fit.scaler)[0] for name, fit in members.items()}
        lay = lear.feature_layout(data.exog.shape[2])
        self._load_cols, self._dow_cols = lay[f"exog{load_input}_d-0"], lay["dow"]
        self._plan: tuple[bytes, DayPlan] | None = None

    @property
    def n_draws(self) -> int:
        return len(self.members)

    def day_plan(self, ts: pd.DatetimeIndex) -> DayPlan:
        """The hours-to-days map of ``ts`` (cached for the last ``ts``), checked against the horizon."""
        ts = utc_index(ts)
        key = ts.asi8.tobytes()
        if self._plan is None or self._plan[0] != key:
            plan = DayPlan.of(ts, self.timezone)
            other = plan.dates[plan.dates != self.horizon_day]
            if self.beyond == "error" and len(other):
                raise ValueError(
                    f"{self.where}.kind=model forecasts the day ahead only, {self.horizon_day:%Y-%m-%d} (the day after "
                    f"the last known price before the issue time); {len(other)} other day(s) asked for "
                    f"({other[0]:%Y-%m-%d} … {other[-1]:%Y-%m-%d}): set {self.where}.beyond_day_ahead=hold_last_days "
                    f"to apply the model day by day with the lagged prices of the last known days, or use "
                    f"{self.where}.kind=fitted (a supply curve valid for any hour)")
            self._plan = (key, plan)
        return self._plan[1]

    def member_prices(self, name: str, day_load: np.ndarray, dow: np.ndarray) -> np.ndarray:
        """Member ``name``'s prices (..., Dd, 24) $/MWh for day loads (..., Dd, 24) and days' weekdays (Dd,)."""
        fit = self.members[name]
        lead = day_load.shape[:-1]
        rows = day_load.reshape(-1, 24)
        exog = np.broadcast_to(self._exog_d0, (len(rows),) + self._exog_d0.shape).copy()  # (R, 24, K)
        exog[..., self.load_input] = rows
        X = np.repeat(self._x0[name][None], len(rows), axis=0)
        X[:, self._load_cols] = fit.scaler.exog(exog)[..., self.load_input]
        X[:, self._dow_cols] = np.eye(7)[np.broadcast_to(dow, lead).reshape(-1)]
        return fit.scaler.inverse_price(fit.predict_z(X)).reshape(lead + (24,))

    def price(self, load_mw: np.ndarray, ts: pd.DatetimeIndex, draw: np.ndarray | None = None) -> np.ndarray:
        """$/MWh at gross system load ``load_mw`` (..., T) for hours ``ts`` (T,); see PriceResponse."""
        load = np.asarray(load_mw, dtype=np.float64)
        plan = self.day_plan(ts)
        if load.shape[-1] != len(plan.hour):
            raise ValueError(f"load has {load.shape[-1]} hours on its last axis but ts has {len(plan.hour)}")
        day_load = plan.to_days(load)  # (..., Dd, 24)
        names = list(self.members)
        if draw is None:
            return plan.to_hours(np.mean([self.member_prices(n, day_load, plan.dow) for n in names], axis=0))
        idx = np.asarray(draw, dtype=np.int64)
        if idx.ndim != 1 or (idx.size and (idx.min() < 0 or idx.max() >= self.n_draws)):
            raise IndexError(f"draw indices must be 1-d in [0, {self.n_draws}), got shape {idx.shape}")
        if load.ndim >= 2 and load.shape[0] not in (1, idx.size):
            raise ValueError(f"load leading axis {load.shape[0]} does not match {idx.size} draws")
        day_load = np.broadcast_to(day_load, (idx.size,) + (day_load.shape[1:] if load.ndim >= 2 else day_load.shape))
        out = np.empty(day_load.shape)
        for m in np.unique(idx):
            rows = idx == m
            out[rows] = self.member_prices(names[m], day_load[rows], plan.dow)
        return plan.to_hours(out)

    def params_sha256(self) -> str:
        """sha256 of every member's coefficients, centring and transforms, the held context and the settings."""
        parts: list = ["model", str(self.horizon_day), self.load_input, self.beyond, self.timezone, self._exog_d0]
        for name, fit in self.members.items():
            sc = fit.scaler
            parts += [name, fit.coef, fit.x_mean, fit.y_mean, sc.p_med, sc.p_mad, sc.e_med, sc.e_mad, self._x0[name]]
            for cdf in (sc.p_cdf, sc.e_cdf):
                if cdf is not None:
                    parts += [*cdf.values, *cdf.probs]
        return params_sha256(*parts)


def response_roles(names: tuple[str, ...], load_input: int, given: tuple[str, ...] = (),
                   where: str = "price_curve") -> tuple[str, ...]:
    """Roles of the inputs for :func:`fit_model_response`: ``given`` (one per column) or inferred from the
    names, held columns without an inferable role free; the moved column ``load_input`` must be load-like."""
    if given:
        roles = check_roles(given, f"{where}.exog_roles")
        if len(roles) != len(names):
            raise ValueError(f"{where}.exog_roles: {len(roles)} roles for {len(names)} exogenous columns "
                             f"({', '.join(names)})")
        role = roles[load_input]
    else:
        role = "supply" if infer_role(names[load_input]) == "supply" else "load"
        roles = tuple(role if j == load_input else infer_role(n) or "free" for j, n in enumerate(names))
    if role != "load":
        raise ValueError(f"{where}.load_input={load_input}: column {names[load_input].strip()!r} is {role}, not a load "
                         f"forecast; the response moves a load input (choose the system load column)")
    return roles


def issue_day_index(data: EPFData, issue_time: str | pd.Timestamp | None, timezone: str) -> int:
    """d0: the first file day on or after the issue time's local date (the file's length when past its end);
    None = after the file's last day."""
    if issue_time is None:
        return data.n_days
    t = pd.Timestamp(issue_time)
    if t.tz is None:
        raise ValueError(f"issue_time={issue_time!r} has no UTC offset; add one, e.g. 2018-07-01T00:00-04:00")
    day = t.tz_convert(timezone).tz_localize(None).normalize()
    return int(np.searchsorted(data.dates.values, day.to_datetime64()))


def fit_model_response(path: str, issue_time: str | pd.Timestamp | None = None,
                       windows: tuple[int, ...] = (364, 728, 1092, 1456),
                       transforms: tuple[str, ...] = ("asinh",), load_input: int = 0,
                       timezone: str = "America/New_York", beyond: str = "error",
                       where: str = "price_curve", exog_roles: tuple[str, ...] = ()) -> DayAheadResponse:
    """Fit the LEAR members on the days of ``path`` before the issue day (each window capped by the data
    there) and return them as a :class:`DayAheadResponse`. Default: the asinh members on 364 … 1456 days (N-PIT
    members, ``transforms=("asinh", "npit")``, are flat beyond the loads their window saw, so their ΔP is 0 in
    the highest-load hours)."""
    data = read_epf(path)
    if not 0 <= load_input < data.exog.shape[2]:
        raise ValueError(f"{where}.load_input={load_input}: {path} has {data.exog.shape[2]} exogenous inputs "
                         f"({', '.join(data.exog_names)}); give 0 … {data.exog.shape[2] - 1}")
    d0 = issue_day_index(data, issue_time, timezone)
    if d0 - lear.MAX_LAG < MIN_TRAIN_DAYS:
        raise ValueError(f"{where}.issue_time={issue_time}: only {max(d0, 0)} days of {path} before it; the model "
                         f"needs at least {MIN_TRAIN_DAYS + lear.MAX_LAG}")
    cfg = PriceModelConfig(windows=tuple(windows), transforms=tuple(transforms), net=False)
    roles = response_roles(data.exog_names, load_input, exog_roles, where)
    signs = lear.coef_signs(roles)
    dow = data.dates.day_of_week.to_numpy()
    members = {}
    for name, (t, w) in cfg.lear_members().items():
        days = np.arange(max(lear.MAX_LAG, d0 - w), d0)
        members[name] = lear.fit_window(data.price, data.exog, dow, days, lear.make_lasso(cfg.alpha(w, t)), signs, t)
    first = data.dates[max(lear.MAX_LAG, d0 - max(windows))]
    source = (f"{path}: LEAR members {', '.join(members)} (network excluded) fitted on {first:%Y-%m-%d} … "
              f"{data.dates[d0 - 1]:%Y-%m-%d}; load input {data.exog_names[load_input]!r}; roles "
              f"{', '.join(f'{n.strip()}={r}' for n, r in zip(data.exog_names, roles))}; beyond the day ahead: "
              f"{beyond}")
    return DayAheadResponse(data, d0, members, load_input, timezone, beyond, where, source)
