"""Curtailment planner: which hours to cut, and how deep, within a budget of hours a year.

Budget: round(budget_frac × 8,760) hours per **plan year** (0.25–1% of a year): the 12 local months from
``year_start_month`` (1: the calendar year) that hold a billing month. The budget is spent on the hours of the
whole plan year with the highest value (the draw and system-load forecasts of every hour of it are read), and
a billing month gets only the chosen hours that fall in it, so a one-month ledger never spends the year's
budget by itself and the months of a year add up to the budget. ``budget_hours`` instead gives the billing
period its own budget (hours the operator set aside for it), planned inside the period.

Value of cutting x MW of the central campus draw D_h in hour h (central curve):
- price shift:  φ·O_h·[S_h(O_h + D_h) − S_h(O_h + D_h − x)]       (less Shift_E in hour h's month)
- capacity:     x · p_h / n_cp · P_cap · 365, with p_h the chance that h is one of
                the n_cp coincident peaks (one per local day, the highest daily
                system peaks of cp_months in the plan year), estimated from ``samples``
                AR(1) samples of system load; P_cap the price of the delivery year that
                PLC sets (summer Y -> (Y+1)/(Y+2), from the next June), or the latest configured
- cost:         x · cost_usd_per_mwh (value of compute lost, in hour h's month)
Depths: x_j = (Σ_s curtailable_frac_s · D_sh) · j / depth_steps, j = 1..steps; at a host the operator does not own,
D_sh is only its leases' share of the host's draw.

Each hour takes its best depth (largest net value); the hours are ranked by it and the top budget hours with
positive net value are chosen. The objective is a sum over hours (PLC is a mean over the peak hours, so its
expectation is linear in each hour's cut), so this choice is optimal for it; event lengths are not imposed.

Every saving is stated for one period (:func:`memo_lines`, :meth:`CurtailmentPlan.summary`): the price-shift
saving and the cost in the billing month of the cut hours; the capacity saving on the bill of the delivery
year that PLC sets (12 months from the next June). The net value per hour ranks hours and is never reported
as a saving of one period.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import pandas as pd

from forecast.errors import ContractError
from forecast.pledge.calendar import delivery_year, hour_ending_label
from forecast.pledge.config import PledgeConfig
from forecast.pledge.config_checks import P, PledgeConfigError
from forecast.pledge.inputs import Inputs, build_inputs, sha
from forecast.pledge.line_items import LineItem
from forecast.pledge.money import cents
from forecast.pledge.sampling import others_samples
from forecast.price.response import PriceResponse

HOURS_PER_YEAR = 8760
COLUMNS = ("ts", "hour_ending_local", "system_load_mw", "draw_mw", "depth_mw", "p_cp", "value_shift_usd",
           "value_capacity_usd", "cost_usd", "net_usd", "capacity_delivery_year")


@dataclass
class CurtailmentPlan:
    budget_hours: int
    hours: pd.DataFrame  # the billing period's chosen hours: COLUMNS
    cut_mw: np.ndarray  # (S, T) MW cut per site and hour of the billing period (pro rata to curtailable draw)
    p_cp: np.ndarray  # (T,) chance that each hour of the billing period is a coincident peak
    shift_saving_usd: Decimal  # central Σ value_shift over the period's chosen hours (saved in the period)
    capacity_saving_usd: Decimal  # expected capacity-charge saving of the period's cuts (in the delivery years)
    plc_reduction_mw: float  # expected reduction of the PLC those cuts set
    curtailed_mwh: float
    budget_period: str = "billing period"  # what the budget is for
    cost_usd: Decimal = Decimal("0.00")  # Σ cost over the period's chosen hours (in the period)
    plan_years: list[dict] = field(default_factory=list)  # per plan year: hours used in all of it, and in the period

    def summary(self) -> dict:
        dys = sorted(set(self.hours.loc[self.hours["p_cp"] > 0, "capacity_delivery_year"])) if len(self.hours) else []
        return {"budget_hours": self.budget_hours, "budget_period": self.budget_period,
                "hours_used": int(len(self.hours)), "curtailed_mwh": round(self.curtailed_mwh, 3),
                "plc_reduction_mw": round(self.plc_reduction_mw, 3),
                "shift_saving_usd": str(self.shift_saving_usd), "cost_usd": str(self.cost_usd),
                "shift_saving_period": "the billing period (each month its own hours)",
                "capacity_saving_usd": str(self.capacity_saving_usd),
                "capacity_saving_period": ("delivery year " + ", ".join(dys) + " (12 months from June, 365 days)")
                if dys else "none (no cut hour can be a coincident peak)",
                "plan_years": self.plan_years}


def budget(cfg: PledgeConfig) -> int:
    c = cfg.curtailment
    return int(c.budget_hours) if c.budget_hours is not None else int(round(c.budget_frac * HOURS_PER_YEAR))


def peak_probability(cfg: PledgeConfig, inp: Inputs, system_mw: np.ndarray, n_cp: int, months: list[int],
                     samples: int, seed: int) -> np.ndarray:
    """(T,) chance that each hour is one of the n_cp coincident peaks (daily peaks of months ``months``)."""
    loc = inp.ts.tz_convert(cfg.market.timezone)
    in_season = np.isin(loc.month, months)
    T = len(inp.ts)
    if not in_season.any():
        return np.zeros(T)
    sl = cfg.system_load
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xC9]))
    sims = np.array(others_samples(rng, samples, system_mw, sl.sigma_frac, sl.rho))  # (N, T)
    sims[:, ~in_season] = -np.inf
    day = pd.factorize(loc.normalize())[0]  # local day index per hour
    n_days = day.max() + 1
    pos = np.arange(T)
    order = np.lexsort((pos, day))
    starts = np.searchsorted(day[order], np.arange(n_days))
    width = np.diff(np.append(starts, T)).max()
    grid = np.full((n_days, width), -1)
    rank = pos - starts[day]  # position within the day (hours are in time order)
    grid[day, rank] = pos
    vals = np.where(grid[None] >= 0, sims[:, np.maximum(grid, 0)], -np.inf)  # (N, days, ≤25)
    arg = vals.argmax(axis=2)  # (N, days) hour of the daily peak
    dmax = np.take_along_axis(vals, arg[..., None], axis=2)[..., 0]  # (N, days)
    k = min(n_cp, int(np.isfinite(dmax[0]).sum()))
    if k == 0:
        return np.zeros(T)
    top = np.argpartition(-dmax, k - 1, axis=1)[:, :k]  # (N, k) peak days
    hours = grid[top, np.take_along_axis(arg, top, axis=1)]  # (N, k)
    return np.bincount(hours.ravel(), minlength=T) / samples


def hour_values(cfg: PledgeConfig, inp: Inputs, curve: PriceResponse) -> dict[str, np.ndarray]:
    """Per hour of ``inp``: candidate depths ``x`` (J, T) MW, their values ``v_shift``, ``v_cap``, ``cost`` and
    ``net`` (J, T) USD, the best depth ``best`` (T,), ``p_cp``, system load and campus draw (T,), site shares
    of the cut (S, T)."""
    c = cfg.curtailment
    d_s = inp.median  # (S, T)
    d = d_s.sum(axis=0)
    frac = np.array([s.curtailable_frac for s in cfg.sites])[:, None] * operator_part(cfg, inp)  # (S, T)
    cut_max = (frac * d_s).sum(axis=0)  # (T,) curtailable MW
    steps = np.arange(1, c.depth_steps + 1) / c.depth_steps
    x = steps[:, None] * cut_max[None, :]  # (J, T)
    load = inp.others_mw + d
    p_full = curve.price(load, inp.ts)  # (T,)
    p_cut = curve.price(load[None, :] - x, inp.ts)  # (J, T)
    v_shift = cfg.shift.phi * inp.others_mw[None, :] * (p_full[None, :] - p_cut)
    p_cp = peak_probability(cfg, inp, load, c.cp_hours, list(c.cp_months), c.samples, cfg.montecarlo.seed)
    v_cap = x * (p_cp * next_capacity_price(cfg, inp) * 365.0 / c.cp_hours)[None, :]
    cost = x * c.cost_usd_per_mwh
    net = v_shift + v_cap - cost  # (J, T)
    share = np.divide(frac * d_s, cut_max, out=np.zeros_like(d_s), where=cut_max > 0)  # (S, T)
    return {"x": x, "v_shift": v_shift, "v_cap": v_cap, "cost": cost, "net": net, "best": net.argmax(axis=0),
            "p_cp": p_cp, "load": load, "d": d, "share": share}


def operator_part(cfg: PledgeConfig, inp: Inputs) -> np.ndarray:
    """(S, T) the share of each site's draw the operator can cut: all of its own sites, and at a host it does not
    own only its leases' hourly share (forecast.pledge.leases)."""
    part = np.array([1.0 if s.owned else 0.0 for s in cfg.sites])[:, None] * np.ones((1, len(inp.ts)))
    for ls in inp.lease_shares:
        if not cfg.sites[ls.s].owned and ls.lease.lessee_is_operator:
            part[ls.s] += ls.w
    return part


def choose(v: dict[str, np.ndarray], budget_hours: int) -> np.ndarray:
    """Positions (sorted) of the ``budget_hours`` hours with the highest positive best net value (earlier on ties)."""
    cols = np.arange(v["net"].shape[1])
    best_net = v["net"][v["best"], cols]
    top = np.argsort(-best_net, kind="stable")[:budget_hours]
    return np.sort(top[best_net[top] > 0])


def plan_years(cfg: PledgeConfig, months) -> list[str]:
    """First months (YYYY-MM) of the plan years that hold the billing ``months``, in order."""
    s = cfg.curtailment.year_start_month
    out = []
    for m in months:
        y, mm = int(m.label[:4]), int(m.label[5:7])
        label = f"{y if mm >= s else y - 1}-{s:02d}"
        if label not in out:
            out.append(label)
    return out


def _year_inputs(cfg: PledgeConfig, inp: Inputs, start: str) -> Inputs:
    """The forecast inputs of the plan year from ``start`` (``inp`` itself when the period is that year)."""
    if len(inp.months) == 12 and inp.months[0].label == start:
        return inp
    try:
        return build_inputs(cfg, "forecast", (start, 12))
    except (ContractError, ValueError) as e:
        raise PledgeConfigError(f"{P}.curtailment.budget_hours", None, f"the annual curtailment budget is spent "
                                f"across the plan year from {start} (pledge.curtailment.year_start_month), which "
                                f"needs the draw and system load of every hour of it: {e}",
                                "<hours set aside for this billing period>") from None


def _rows(cfg: PledgeConfig, inp: Inputs, v: dict, pos: np.ndarray) -> pd.DataFrame:
    b = v["best"][pos]
    ts = inp.ts[pos]
    loc_year = ts.tz_convert(cfg.market.timezone).year
    vs, vc, co = (v[k][b, pos] for k in ("v_shift", "v_cap", "cost"))
    return pd.DataFrame({"ts": ts, "hour_ending_local": hour_ending_label(ts, cfg.market.timezone),
                         "system_load_mw": v["load"][pos], "draw_mw": v["d"][pos], "depth_mw": v["x"][b, pos],
                         "p_cp": v["p_cp"][pos], "value_shift_usd": vs, "value_capacity_usd": vc, "cost_usd": co,
                         "net_usd": vs + vc - co,
                         "capacity_delivery_year": [delivery_year(f"{y + 1}-06") for y in loc_year]},
                        columns=list(COLUMNS))


def plan(cfg: PledgeConfig, inp: Inputs, curve: PriceResponse) -> CurtailmentPlan:
    """The billing period's curtailment: its share of each plan year's budget (or its own ``budget_hours``)."""
    B = budget(cfg)
    S, T = inp.median.shape
    cut, p_cp, frames, years = np.zeros((S, T)), np.zeros(T), [], []
    if cfg.curtailment.budget_hours is not None:  # the period's own budget, planned inside it
        segments, what = [(inp, np.arange(T))], f"billing period {inp.months[0].label} … {inp.months[-1].label}"
    else:
        segments = []
        for start in plan_years(cfg, inp.months):
            y_inp = _year_inputs(cfg, inp, start)
            segments.append((y_inp, y_inp.ts.get_indexer(inp.ts)))  # (T,) period hour -> year position, −1 outside
        what = "plan year " + ", ".join(f"{y.months[0].label} … {y.months[-1].label}" for y, _ in segments)
    for y_inp, at in segments:
        v = hour_values(cfg, y_inp, curve)
        chosen = choose(v, B)
        here = np.flatnonzero(at >= 0)  # period hours inside this segment
        p_cp[here] = v["p_cp"][at[here]]
        mine = here[np.isin(at[here], chosen)]  # period hours chosen
        depth = v["x"][v["best"][at[mine]], at[mine]]
        cut[:, mine] = v["share"][:, at[mine]] * depth[None, :]
        frames.append(_rows(cfg, y_inp, v, at[mine]))
        years.append({"plan_year": f"{y_inp.months[0].label} … {y_inp.months[-1].label}",
                      "hours_used_in_year": int(len(chosen)), "hours_in_billing_period": int(len(mine))})
    hours = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(COLUMNS))
    n_cp = cfg.curtailment.cp_hours
    return CurtailmentPlan(budget_hours=B, hours=hours, cut_mw=cut, p_cp=p_cp,
                           shift_saving_usd=cents(float(hours["value_shift_usd"].sum())),
                           capacity_saving_usd=cents(float(hours["value_capacity_usd"].sum())),
                           plc_reduction_mw=float((hours["p_cp"] * hours["depth_mw"]).sum() / n_cp),
                           curtailed_mwh=float(hours["depth_mw"].sum()), budget_period=what,
                           cost_usd=cents(float(hours["cost_usd"].sum())), plan_years=years)


def next_capacity_price(cfg: PledgeConfig, inp: Inputs) -> np.ndarray:
    """$/MW-day of the delivery year whose PLC an hour helps set (summer Y -> Y+1/Y+2 from next June)."""
    table = {d.delivery_year: d.price_usd_per_mw_day for d in cfg.tariff.capacity}
    if not table:
        return np.zeros(len(inp.ts))
    latest = table[max(table)]
    loc = inp.ts.tz_convert(cfg.market.timezone)
    out = np.empty(len(inp.ts))
    for y in np.unique(loc.year):  # one pass per calendar year
        dy = delivery_year(f"{y + 1}-06")
        out[loc.year == y] = table.get(dy, latest)
    return out


def _memo(m, market: str, item: str, **kw) -> LineItem:
    return LineItem(f"{item}:{market}", month=m.label, category="memo", item=item, site_id="ALL",
                    hour_start_utc=m.start_utc, hour_end_utc=m.end_utc, hours=m.hours, **kw)


def memo_lines(plan: CurtailmentPlan, inp: Inputs, market: str) -> list[LineItem]:
    """The plan's savings per billing month, each for one stated period (memo: shown, never added to totals):
    the month's price-shift saving and cost from its cut hours; the capacity saving those cuts bring on the
    bill of the delivery year their PLC sets (only where a cut hour can be a coincident peak)."""
    out = []
    ts = pd.DatetimeIndex(plan.hours["ts"]) if len(plan.hours) else pd.DatetimeIndex([], tz="UTC")
    for m in inp.months:
        h = plan.hours[np.asarray((ts >= m.start_utc) & (ts < m.end_utc))]
        mwh = Decimal(str(round(float(h["depth_mw"].sum()), 3)))
        hashed = sha(h["depth_mw"].to_numpy())
        out.append(_memo(m, market, "curtailment_shift_saving", quantity=mwh, quantity_unit="MWh cut",
                         price=Decimal(len(h)), price_unit="hours cut in this month",
                         amount=cents(float(h["value_shift_usd"].sum())), inputs_hash=hashed,
                         formula=f"Σ over this month's cut hours of φ·O·[S(L) − S(L − x)]: less energy price shift "
                                 f"in {m.label} ({plan.budget_period}, budget {plan.budget_hours} h)"))
        out.append(_memo(m, market, "curtailment_cost", quantity=mwh, quantity_unit="MWh cut",
                         price=Decimal(len(h)), price_unit="hours cut in this month",
                         amount=cents(float(h["cost_usd"].sum())), inputs_hash=hashed,
                         formula=f"Σ over this month's cut hours of x·cost_usd_per_mwh: compute lost in {m.label}"))
        for dy, g in h[h["p_cp"] > 0].groupby("capacity_delivery_year"):
            out.append(_memo(m, market, f"curtailment_capacity_saving_{dy.replace('/', '_')}",
                             quantity=Decimal(str(round(float((g["p_cp"] * g["depth_mw"]).sum()), 3))),
                             quantity_unit="MW × P(coincident peak), summed over this month's cut hours",
                             price=Decimal(len(g)), price_unit="cut hours that may be a coincident peak",
                             amount=cents(float(g["value_capacity_usd"].sum())), inputs_hash=hashed,
                             formula=f"Σ x·p_cp/n_cp·P_cap·365: expected saving on the {dy} capacity bill (12 months "
                                     f"from June {dy[:4]}) from cuts in {m.label}; not a saving of {m.label}"))
    return out
