"""Leased capacity (DOMAIN.md §6): a lessee's share of a host facility's pledge, netted off the host's own.

Per lease j at host site s, the hourly share of the host's draw is w_jh = lessee draw_jh / host draw_sh, the
lessee's draw being contracted_mw × load_factor (``basis: contract``) or its sub-meter readings (``submeter``),
the host's the ledger's central path (the p50 draw in the forecast, the meter at settlement). The shares of a
host add to at most 1 in every hour (else refused, naming the leases and the hours); the host keeps the rest.
The lessee's share of the host's peak-hour load (the capacity effect) is ``peak_share``, else contracted_mw ×
load_factor / the host's PLC (contract) or its mean hourly share in the billing period's ``cp_hours`` highest
system-load hours (submeter; a proxy of the share at the coincident peaks, stated).

Lines (:mod:`forecast.pledge.book`):

- ``shift_energy:<site>:<lease>`` = Σ_h cents(w_jh · shift_sh): the host's energy price shift by hourly draw
  share; the host's own ``shift_energy:<site>`` = its hourly cents less its leases', so they add up exactly;
- ``shift_capacity:<site>:<lease>`` = cents(peak_share_j × the host's capacity shift); the host keeps the rest;
- ``upgrade:<site>:<id>`` of an upgrade a lease triggered (``leases[].upgrades``) is wholly that lease's.

Who books what: the operator's lines (bill, pledge) are those of its own sites, less its tenants' shares, and
its own leases; a host it does not own (``sites[].owned=false``) keeps its bill lines, its remainder and its
untriggered upgrades as memo lines (the host's own pledge), and a tenant's lease (``lessee_is_operator=false``)
at an operator's site is a memo line. So, per host and item, the host's own + Σ leases = the host's whole
amount to the cent, and nothing is counted twice; a lease of all of a host (share 1 in every hour, peak share 1,
every upgrade triggered) books exactly what owning it books.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.errors import ContractError
from forecast.pledge.config_checks import P, PledgeConfigError
from forecast.pledge.lease_config import LeaseCfg


@dataclass(frozen=True)
class LeaseShare:
    """One lease's shares of its host: hourly draw share ``w`` (T,) and the peak-hour share."""

    lease: LeaseCfg
    s: int  # host site position
    w: np.ndarray  # (T,) share of the host's draw in each hour, in [0, 1]
    peak_share: float | np.ndarray  # share of the host's peak-hour load; (M,) per month at settlement
    basis: str  # how w and peak_share were formed, for formula texts


def read_submeter(path: str, lease_id: str, ts: pd.DatetimeIndex) -> np.ndarray:
    """(T,) sub-metered draw (MW) of ``lease_id`` on ``ts`` from a file (lease_id, ts, power_mw); every hour needed."""
    from forecast.data.contracts import parse_utc

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file (a lease's sub-meter readings)")
    df = pd.read_parquet(p) if p.suffix.lower() == ".parquet" else pd.read_csv(p)
    missing = [c for c in ("lease_id", "ts", "power_mw") if c not in df.columns]
    if missing:
        raise ContractError(path, ", ".join(missing), f"missing from the sub-meter file; found {list(df.columns)}")
    df = df[df["lease_id"].astype(str) == lease_id].assign(ts=lambda d: parse_utc(d["ts"], "ts", path))
    dup = df.duplicated("ts", keep=False)
    if dup.any():
        raise ContractError(path, "ts", f"lease {lease_id!r}: repeated hours", df[dup])
    x = pd.to_numeric(df.set_index("ts")["power_mw"], errors="coerce").reindex(ts).to_numpy(dtype=np.float64)
    bad = ~np.isfinite(x) | (x < 0)
    if bad.any():
        raise ContractError(path, "power_mw", f"lease {lease_id!r}: no reading, or a negative one, in {int(bad.sum())} "
                            "hours of the billing period (a missing reading is never zero power)",
                            pd.DataFrame({"lease_id": lease_id, "ts": ts[bad]}))
    return x


def _lessee_mw(ls: LeaseCfg, kind: str, ts: pd.DatetimeIndex) -> tuple[np.ndarray, str]:
    if ls.basis == "contract":
        mw = float(ls.contracted_mw) * float(ls.load_factor)
        return np.full(len(ts), mw), f"contracted {ls.contracted_mw} MW × load factor {ls.load_factor}"
    path = (ls.actual_submeter_path or ls.submeter_path) if kind == "settled" else ls.submeter_path
    return read_submeter(path, ls.lease_id, ts), f"sub-metered ({path})"


def lease_shares(cfg, kind: str, ts: pd.DatetimeIndex, host_mw: np.ndarray, system_mw: np.ndarray) -> list[LeaseShare]:
    """The shares of every lease, from the hosts' central draw ``host_mw`` (S, T) and the system load (T,)."""
    pos = {s.site_id: i for i, s in enumerate(cfg.sites)}
    top = np.argsort(-system_mw, kind="stable")[:cfg.curtailment.cp_hours]  # the period's highest system hours
    out, total = [], np.zeros_like(host_mw)
    for j, ls in enumerate(cfg.leases):
        s = pos[ls.site_id]
        mw, how = _lessee_mw(ls, kind, ts)
        host = host_mw[s]
        no_host = (host <= 0) & (mw > 0)
        if no_host.any():
            raise PledgeConfigError(f"{P}.leases.{j}.site_id", ls.site_id, f"lease {ls.lease_id!r} draws "
                                    f"{mw[no_host][0]} MW in {int(no_host.sum())} hours where the host draws nothing (first "
                                    f"{ts[no_host][0]:%Y-%m-%d %H:%M} UTC)")
        w = np.divide(mw, host, out=np.zeros_like(host), where=host > 0)  # (T,)
        total[s] += w
        if ls.peak_share is not None:
            peak, pnote = float(ls.peak_share), f"peak share {ls.peak_share} (configured)"
        elif ls.basis == "contract":
            plc = cfg.sites[s].plc_mw
            peak, pnote = mw[0] / plc, f"peak share {mw[0]:g} / PLC {plc:g}"
        else:
            peak = float(w[top].mean())
            pnote = f"peak share {peak:.6f}: mean hourly share in the period's {len(top)} highest system hours (proxy)"
        out.append(LeaseShare(ls, s, w, peak, f"{how} / host draw; {pnote}"))
    over = total > 1 + 1e-9
    if over.any():
        s, t = np.argwhere(over)[0]
        names = [ls.lease_id for ls in cfg.leases if pos[ls.site_id] == s]
        raise PledgeConfigError(f"{P}.leases", names, f"the leases at {cfg.sites[s].site_id!r} draw more than the host "
                                f"in {int(over[s].sum())} hours (shares add to {total[s, t]:.4f} at "
                                f"{ts[t]:%Y-%m-%d %H:%M} UTC); the host's draw must hold its tenants'")
    return out


def operator_books(cfg, s: int, lease: LeaseCfg | None = None) -> bool:
    """Whether a line of site ``s`` (of ``lease``, else the host's own) is the operator's (else a memo line)."""
    return lease.lessee_is_operator if lease is not None else cfg.sites[s].owned


def triggered_by(cfg, upgrade_id: str) -> LeaseCfg | None:
    """The lease that triggered an upgrade, if any."""
    return next((ls for ls in cfg.leases if upgrade_id in ls.upgrades), None)


def settled_peak_shares(cfg, inp, obligations) -> list[LeaseShare]:
    """The leases' shares of their hosts' peak-hour load at settlement, per month, where the obligations are
    metered and a lease has no configured ``peak_share``: its load at the host's PLC peak hours (contracted ×
    load factor, or the actual sub-meter readings there) over the host's metered PLC. Others unchanged."""
    if not obligations.peaks:
        return inp.lease_shares
    out, months = [], inp.months
    for ls in inp.lease_shares:
        if ls.lease.peak_share is not None:
            out.append(ls)
            continue
        shares = np.zeros(len(months))
        for m, bm in enumerate(months):
            plc = float(obligations.plc[ls.s][m])
            hours = pd.DatetimeIndex(obligations.peaks.get(bm.label, {}).get("plc", []))
            if plc <= 0 or len(hours) == 0:
                continue
            mw, _ = _lessee_mw(ls.lease, "settled", hours)
            shares[m] = float(mw.mean()) / plc
        out.append(dataclasses.replace(ls, peak_share=shares, basis=f"{ls.basis.split('; ')[0]}; peak share: its "
                                       "load at the host's metered PLC peak hours / the host's metered PLC"))
    for s in {ls.s for ls in out}:
        tot = sum(np.broadcast_to(ls.peak_share, len(months)) for ls in out if ls.s == s)
        if (tot > 1 + 1e-9).any():
            raise PledgeConfigError(f"{P}.leases", [ls.lease.lease_id for ls in out if ls.s == s], "the leases at "
                                    f"{cfg.sites[s].site_id!r} carried more than its load at the coincident peaks "
                                    f"(shares add to {float(tot.max()):.4f}); check the sub-meter or contracted_mw")
    return out
