"""Coincident peaks and the obligations they set, from metered load (DOMAIN.md §3, §6).

Rules (``tariff.plc_peaks`` / ``tariff.nspl_peaks``, :class:`forecast.pledge.tariff_config.PeakRuleCfg`):

- ``daily_peaks`` (PJM 5CP): each local day's highest system hour within ``months``; the ``n_peaks`` highest of
  those days. So the five peaks always fall on five different days.
- ``monthly_peaks`` (ERCOT 4CP): the single highest system hour of each month in ``months``.

A site's obligation is its mean metered load in the peak hours (MW, rounded half-even to 0.001 MW). Which
year sets which bill: the PLC of delivery year Y/Y+1 (June Y – May Y+1) is set by the peaks of summer Y − 1;
the NSPL (transmission) of calendar year Y by the peaks of year Y − 1 (PJM zonal 1CP, ERCOT 4CP).

Intervals: the grid and meter contracts are hourly, so a peak is the system's highest *hour* and the site's
load there its metered hour average: the hourly proxy of a 15-minute interval peak (ERCOT's 4CP are 15-minute
intervals), stated in every line and manifest that uses it. Ties go to the earlier hour. Nothing is filled in:
a missing hour of system load or meter in the setting window is an error naming the file and the hours.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.errors import ContractError
from forecast.pledge.calendar import BillingMonth, billing_months, hourly_index
from forecast.pledge.money import dec, mwh

PROXY = "hourly proxy: the system's peak hour and the site's metered hour average in it"
MONTH_ABBR = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def peak_positions(ts: pd.DatetimeIndex, load_mw: np.ndarray, tz: str, rule: str, months: list[int],
                   n_peaks: int) -> np.ndarray:
    """Positions in ``ts`` of the coincident peaks of ``rule`` among the hours of local ``months``, in time
    order. Raises ValueError when the data hold fewer peaks than the rule needs."""
    loc = pd.DatetimeIndex(ts).tz_convert(tz)
    load = np.asarray(load_mw, dtype=np.float64)
    sel = np.flatnonzero(np.isin(loc.month, list(months)))
    month_key = loc.year.to_numpy() * 100 + loc.month.to_numpy()  # (T,) local year-month
    key = month_key * 100 + loc.day.to_numpy() if rule == "daily_peaks" else month_key  # (T,) local day or month
    # highest load first, the earlier hour on ties; the first row of each day / month is its peak
    frame = pd.DataFrame({"key": key[sel], "load": load[sel], "pos": sel})
    frame = frame.sort_values(["load", "pos"], ascending=[False, True], kind="stable")
    best = frame.drop_duplicates("key", keep="first")
    if rule == "daily_peaks":
        if len(best) < n_peaks:
            raise ValueError(f"{len(best)} days with data in months {list(months)}, need {n_peaks} daily peaks")
        best = best.iloc[:n_peaks]
    elif rule == "monthly_peaks":
        if len(best) < len(months):
            raise ValueError(f"{len(best)} of the {len(months)} months {list(months)} have data")
    else:
        raise ValueError(f"unknown coincident-peak rule {rule!r}")
    return np.sort(best["pos"].to_numpy())


def obligation_mw(meter_mw: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """(S,) mean metered load (MW) of each site at the peak ``positions`` of its (S, T) meter."""
    return np.asarray(meter_mw, dtype=np.float64)[:, positions].mean(axis=1)


def setting_hours(year: int, months: list[int], tz: str, step: pd.Timedelta | None = None) -> pd.DatetimeIndex:
    """UTC interval beginnings (hours, or ``step``) of the local ``months`` of ``year`` (the window whose peaks set
    an obligation)."""
    if step is None:
        parts = [hourly_index(billing_months(f"{year}-{m:02d}", 1, tz)) for m in sorted(months)]
    else:
        parts = [pd.date_range(bm.start_utc, bm.end_utc, freq=step, inclusive="left", name="ts")
                 for bm in (billing_months(f"{year}-{m:02d}", 1, tz)[0] for m in sorted(months))]
    return parts[0].append(parts[1:]) if len(parts) > 1 else parts[0]


def read_intervals(path: str, value: str, keys: tuple[str, ...]) -> tuple[pd.DataFrame, pd.Timedelta]:
    """An interval file (``keys``, ts, ``value``; ts with a UTC offset, a step that divides the hour) and its step."""
    from forecast.data.contracts import parse_utc

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file (interval readings)")
    df = pd.read_parquet(p) if p.suffix.lower() == ".parquet" else pd.read_csv(p)
    missing = [c for c in (*keys, "ts", value) if c not in df.columns]
    if missing:
        raise ContractError(path, ", ".join(missing), f"missing from the interval file; found {list(df.columns)}")
    df = df.assign(ts=parse_utc(df["ts"], "ts", path), **{value: pd.to_numeric(df[value], errors="coerce")})
    steps = pd.Series(np.diff(np.unique(df["ts"].to_numpy()))).value_counts()
    step = pd.Timedelta(steps.index[0]) if len(steps) else pd.Timedelta(hours=1)
    if pd.Timedelta(hours=1) % step != pd.Timedelta(0):
        raise ContractError(path, "ts", f"interval of {step} does not divide the hour (15-minute readings, say)")
    dup = df.duplicated([*keys, "ts"], keep=False)
    if dup.any():
        raise ContractError(path, "ts", "repeated intervals", df[dup])
    return df, step


def describe(rule, year: int) -> str:
    ms = sorted(rule.months)
    span = f"{MONTH_ABBR[ms[0] - 1]}–{MONTH_ABBR[ms[-1] - 1]}" if ms == list(range(ms[0], ms[-1] + 1)) else \
        ", ".join(MONTH_ABBR[m - 1] for m in ms)
    if rule.rule == "daily_peaks":
        return f"the {rule.n_peaks} highest daily system peaks of {span} {year}"
    return f"the highest system hour of each month of {span} {year} ({len(ms)} peaks)"


@dataclass
class Obligations:
    """PLC and NSPL per site and billing month (MW, exact decimals) and how each month's were set."""

    plc: list[list[Decimal]]  # [site][month]
    nspl: list[list[Decimal]]
    notes: dict[str, dict[str, str]] = field(default_factory=dict)  # month -> {"plc": text, "nspl": text}
    peaks: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # month -> {"plc": [UTC hours], …}

    def plc_total(self, m: int) -> Decimal:
        return sum((row[m] for row in self.plc), Decimal(0))

    def note(self, kind: str, label: str) -> str:
        return self.notes.get(label, {}).get(kind, "")

    @classmethod
    def configured(cls, sites, months: list[BillingMonth]) -> "Obligations":
        """The sites' typed plc_mw / nspl_mw (NSPL defaults to the PLC) in every month."""
        plc = [[dec(s.plc_mw)] * len(months) for s in sites]
        nspl = [[dec(s.plc_mw if s.nspl_mw is None else s.nspl_mw)] * len(months) for s in sites]
        return cls(plc, nspl)

    def manifest(self, label: str, site_ids: list[str], m: int) -> dict:
        """What a ledger version records about month ``label``'s obligations."""
        return {"plc_mw": {s: str(self.plc[i][m]) for i, s in enumerate(site_ids)},
                "nspl_mw": {s: str(self.nspl[i][m]) for i, s in enumerate(site_ids)},
                "plc_source": self.note("plc", label) or "configured (pledge.sites.N.plc_mw)",
                "nspl_source": self.note("nspl", label) or "configured (pledge.sites.N.nspl_mw, else plc_mw)",
                "peak_hours_utc": self.peaks.get(label, {})}


class MeteredPeaks:
    """Obligations from the meter file at the system's peaks in the grid file (read once, cut per window)."""

    def __init__(self, meter_path: str, grid_path: str, zone: str | None, site_ids: list[str], tz: str,
                 intervals: bool = False):
        """``intervals``: the files are an interval meter and the system's interval load (read_intervals), not
        the hourly contracts."""
        from forecast.data.contracts import load_grid, load_meter

        self.meter_path, self.grid_path, self.site_ids, self.tz = meter_path, grid_path, site_ids, tz
        self.step = None
        if intervals:
            g, self.step = read_intervals(grid_path, "load_mw", ("zone",))
            self.meter, meter_step = read_intervals(meter_path, "power_mw", ("site_id",))
            if meter_step != self.step:
                raise ContractError(meter_path, "ts", f"intervals of {meter_step}, the system load's are {self.step}")
        else:
            g, self.meter = load_grid(grid_path), load_meter(meter_path)
        if zone is not None:
            g = g[g["zone"] == zone]
        elif g["zone"].nunique() > 1:
            raise ContractError(grid_path, "zone", f"several zones {sorted(g['zone'].unique())[:5]}; pick the "
                                "system whose peaks set the obligations with pledge.actuals.zone=<zone>")
        self.load = g.set_index("ts")["load_mw"]
        self.cache: dict[tuple, tuple[list[Decimal], str, list[str]]] = {}

    def _window(self, rule, year: int, what: str) -> tuple[pd.DatetimeIndex, np.ndarray, np.ndarray]:
        ts = setting_hours(year, list(rule.months), self.tz, self.step)
        load = self.load.reindex(ts).to_numpy(dtype=np.float64)
        fix = "give files that cover it, or settle on the typed values with pledge.actuals.obligations=configured"
        gap = np.isnan(load)
        unit = "hours" if self.step is None else f"{self.step.seconds // 60}-minute intervals"
        if gap.any():
            raise ContractError(self.grid_path, "load_mw", f"no system load in {int(gap.sum())} {unit} of "
                                f"{describe(rule, year)}, which set the {what}; {fix}", pd.DataFrame({"ts": ts[gap]}))
        meter = np.empty((len(self.site_ids), len(ts)))
        for s, sid in enumerate(self.site_ids):  # one pass per site
            sub = self.meter[self.meter["site_id"] == sid].set_index("ts")["power_mw"].reindex(ts).to_numpy()
            miss = np.isnan(sub)
            if miss.any():
                raise ContractError(self.meter_path, "power_mw", f"no meter reading for site {sid!r} in "
                                    f"{int(miss.sum())} {unit} of {describe(rule, year)}, which set the {what} (a "
                                    f"missing reading is never zero power); {fix}",
                                    pd.DataFrame({"site_id": sid, "ts": ts[miss]}))
            meter[s] = sub
        return ts, load, meter

    def obligation(self, rule, year: int, what: str) -> tuple[list[Decimal], str, list[str]]:
        """(per-site MW, how they were set, the peak hours in UTC) of ``rule`` in ``year``."""
        key = (rule.rule, rule.n_peaks, tuple(sorted(rule.months)), year)
        if key not in self.cache:
            ts, load, meter = self._window(rule, year, what)
            try:
                pos = peak_positions(ts, load, self.tz, rule.rule, list(rule.months), rule.n_peaks)
            except ValueError as e:
                raise ContractError(self.grid_path, "load_mw", f"{describe(rule, year)}: {e}") from None
            hours = [f"{t:%Y-%m-%dT%H:%MZ}" for t in ts[pos]]
            how = PROXY if self.step is None else (f"interval metered: {self.step.seconds // 60}-minute intervals "
                                                   "of the system load and the meter")
            note = (f"metered: mean of {self.meter_path} at {describe(rule, year)} in {self.grid_path} "
                    f"({', '.join(hours)}); {how}")
            self.cache[key] = ([mwh(x) for x in obligation_mw(meter, pos)], note, hours)
        return self.cache[key]


def metered_obligations(cfg, months: list[BillingMonth]) -> Obligations:
    """PLC and NSPL of every site in every month from ``pledge.actuals``' meter and grid files: the PLC of a month
    in delivery year Y/Y+1 from ``tariff.plc_peaks`` in summer Y − 1, its NSPL from ``tariff.nspl_peaks`` in
    calendar year (month's year) − 1. Refuses an obligation above the site's capacity_mw. Only what a tariff bills
    is computed: no capacity prices, no PLC (0); no transmission rate, the typed NSPL (it bills nothing)."""
    a, t = cfg.actuals, cfg.tariff
    interval = bool(a.interval_meter_path)
    src = MeteredPeaks(a.interval_meter_path if interval else a.meter_path,
                       a.interval_grid_path if interval else a.grid_path, a.zone or cfg.system_load.zone,
                       cfg.site_ids(), cfg.market.timezone, intervals=interval)
    S = len(cfg.sites)
    out = Obligations([[Decimal(0)] * len(months) for _ in range(S)], [[Decimal(0)] * len(months) for _ in range(S)])
    typed = Obligations.configured(cfg.sites, months)
    unbilled = ([Decimal(0)] * S, "", [])  # an obligation no tariff bills is not computed
    for m, bm in enumerate(months):
        y_plc = int(bm.delivery_year.split("/")[0]) - 1
        y_nspl = int(bm.label[:4]) - 1
        plc, plc_note, plc_hours = src.obligation(t.plc_peaks, y_plc, f"PLC of delivery year {bm.delivery_year}") \
            if t.capacity else unbilled
        nspl, nspl_note, nspl_hours = src.obligation(t.nspl_peaks, y_nspl, f"NSPL of {bm.label[:4]}") \
            if t.transmission_usd_per_mw_day > 0 else ([row[m] for row in typed.nspl], "", [])
        for s, site in enumerate(cfg.sites):
            for name, v in (("PLC", plc[s]), ("NSPL", nspl[s])):
                if v > dec(site.capacity_mw):
                    raise ContractError(a.meter_path, "power_mw", f"metered {name} {v} MW of site {site.site_id!r} "
                                        f"is above its capacity_mw = {site.capacity_mw}; check the meter or "
                                        f"pledge.sites.{s}.capacity_mw")
            out.plc[s][m], out.nspl[s][m] = plc[s], nspl[s]
        out.notes[bm.label] = {"plc": plc_note, "nspl": nspl_note}
        out.peaks[bm.label] = {"plc": plc_hours, "nspl": nspl_hours}
    return out


def settled_obligations(cfg, months: list[BillingMonth]) -> Obligations:
    """The settled ledger's PLC and NSPL: metered (``actuals.obligations=metered``: :func:`metered_obligations`)
    or the sites' configured values; refuses metered ones without the files that set them, or in a month whose
    delivery year has no capacity price."""
    from forecast.pledge.config_checks import P, check

    a = cfg.actuals
    if a.obligations == "configured":
        return Obligations.configured(cfg.sites, months)
    check(a.source == "file" and bool(a.meter_path) and bool(a.grid_path), f"{P}.actuals.obligations", a.obligations,
          "PLC / NSPL from metered load need the meter (pledge.actuals.meter_path) and the system load "
          "(pledge.actuals.grid_path) of the peaks that set them; with stylised actuals settle on the typed values",
          "configured")
    obl = metered_obligations(cfg, months)
    dys = {d.delivery_year for d in cfg.tariff.capacity}
    for i, bm in enumerate(months):
        check(obl.plc_total(i) == 0 or bm.delivery_year in dys, f"{P}.tariff.capacity", sorted(dys),
              f"metered PLC {obl.plc_total(i)} MW in {bm.label} but no capacity price for delivery year "
              f"{bm.delivery_year}", f"[{{delivery_year:'{bm.delivery_year}',price_usd_per_mw_day:329.17}}]")
    return obl
