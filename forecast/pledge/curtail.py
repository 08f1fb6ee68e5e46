"""Curtailment planner: which hours to cut, and how deep, within a budget of hours.

Budget: ``budget_hours`` or round(budget_frac × 8,760) hours (0.25–1% of a year;
a horizon shorter than a year may spend the whole year's budget).

Value of cutting x MW of the central campus draw D_h in hour h (central curve):
- price shift:  φ·O_h·[S_h(O_h + D_h) − S_h(O_h + D_h − x)]       (less Shift_E)
- capacity:     x · p_h / n_cp · P_cap · 365, with p_h the chance that h is one of
                the n_cp coincident peaks (one per local day, the highest daily
                system peaks of cp_months), estimated from ``samples`` AR(1)
                samples of system load; P_cap the delivery-year price of the
                year that PLC sets (the next June), or the latest configured
- cost:         x · cost_usd_per_mwh (value of compute lost)
Depths: x_j = (Σ_s curtailable_frac_s · D_sh) · j / depth_steps, j = 1..steps.

Greedy: each hour takes its best depth (largest net value); hours are ranked
by that value and the top ``budget`` hours with positive net value are chosen.
The objective is a sum over hours (PLC is a mean over the peak hours, so its
expectation is linear in each hour's cut), so the greedy choice is optimal for
it; event lengths (e.g. ~2 h events) are not imposed.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd

from forecast.pledge.calendar import delivery_year, hour_ending_label
from forecast.pledge.config import PledgeConfig
from forecast.pledge.inputs import Inputs
from forecast.pledge.money import cents
from forecast.pledge.sampling import others_samples
from forecast.price.response import PriceResponse

HOURS_PER_YEAR = 8760


@dataclass
class CurtailmentPlan:
    budget_hours: int
    hours: pd.DataFrame  # chosen hours: ts, hour_ending_local, depth_mw, value_shift_usd, value_capacity_usd, cost_usd, net_usd, p_cp
    cut_mw: np.ndarray  # (S, T) MW cut per site and hour (pro rata to curtailable draw)
    p_cp: np.ndarray  # (T,) chance that each hour is a coincident peak
    shift_saving_usd: Decimal  # central Σ value_shift over chosen hours
    capacity_saving_usd: Decimal  # expected next-year capacity charge saving
    plc_reduction_mw: float  # expected reduction of next year's PLC
    curtailed_mwh: float

    def summary(self) -> dict:
        return {"budget_hours": self.budget_hours, "hours_used": int(len(self.hours)),
                "curtailed_mwh": round(self.curtailed_mwh, 3), "plc_reduction_mw": round(self.plc_reduction_mw, 3),
                "shift_saving_usd": str(self.shift_saving_usd), "capacity_saving_usd": str(self.capacity_saving_usd)}


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


def plan(cfg: PledgeConfig, inp: Inputs, curve: PriceResponse) -> CurtailmentPlan:
    c = cfg.curtailment
    B = budget(cfg)
    d_s = inp.median  # (S, T)
    d = d_s.sum(axis=0)
    frac = np.array([s.curtailable_frac for s in cfg.sites])[:, None]
    cut_max = (frac * d_s).sum(axis=0)  # (T,) curtailable MW
    steps = np.arange(1, c.depth_steps + 1) / c.depth_steps
    x = steps[:, None] * cut_max[None, :]  # (J, T)
    load = inp.others_mw + d
    p_full = curve.price(load, inp.ts)  # (T,)
    p_cut = curve.price(load[None, :] - x, inp.ts)  # (J, T)
    v_shift = cfg.shift.phi * inp.others_mw[None, :] * (p_full[None, :] - p_cut)
    p_cp = peak_probability(cfg, inp, load, c.cp_hours, list(c.cp_months), c.samples, cfg.montecarlo.seed)
    cap_price = _next_capacity_price(cfg, inp)  # (T,) $/MW-day
    v_cap = x * (p_cp * cap_price * 365.0 / c.cp_hours)[None, :]
    cost = x * c.cost_usd_per_mwh
    net = v_shift + v_cap - cost  # (J, T)
    best = net.argmax(axis=0)
    cols = np.arange(len(inp.ts))
    best_net = net[best, cols]
    order = np.argsort(-best_net, kind="stable")
    chosen = order[:B]
    chosen = np.sort(chosen[best_net[chosen] > 0])
    depth = np.zeros(len(inp.ts))
    depth[chosen] = x[best[chosen], chosen]
    share = np.divide(frac * d_s, cut_max, out=np.zeros_like(d_s), where=cut_max > 0)
    cut = share * depth[None, :]  # (S, T)
    vs, vc, co = (a[best[chosen], chosen] for a in (v_shift, v_cap, cost))
    hours = pd.DataFrame({"ts": inp.ts[chosen], "hour_ending_local": hour_ending_label(inp.ts[chosen], cfg.market.timezone),
                          "system_load_mw": load[chosen], "draw_mw": d[chosen], "depth_mw": depth[chosen],
                          "p_cp": p_cp[chosen], "value_shift_usd": vs, "value_capacity_usd": vc, "cost_usd": co,
                          "net_usd": vs + vc - co})
    plc_red = float((p_cp * depth).sum() / c.cp_hours)
    return CurtailmentPlan(budget_hours=B, hours=hours, cut_mw=cut, p_cp=p_cp,
                           shift_saving_usd=cents(float(vs.sum())), capacity_saving_usd=cents(float(vc.sum())),
                           plc_reduction_mw=plc_red, curtailed_mwh=float(depth.sum()))


def _next_capacity_price(cfg: PledgeConfig, inp: Inputs) -> np.ndarray:
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
