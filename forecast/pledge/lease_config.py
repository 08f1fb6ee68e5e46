"""Pledge config of leased capacity: a lease of part of a host facility's draw (forecast.pledge.leases).

A host facility is a listed site (its whole draw forecast, its PLC, its upgrades). ``sites[].owned = false`` marks
a host the operator does not own (it leases capacity there); on a site it owns, a lease with
``lessee_is_operator = false`` is a tenant's, netted off the operator's pledge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from omegaconf import MISSING

from forecast.pledge.config_checks import P, check, choice, finite

LEASE_BASES = ("contract", "submeter")


@dataclass
class LeaseCfg:
    lease_id: str = MISSING
    site_id: str = MISSING  # the host facility (a listed site)
    lessee: str = MISSING  # who holds the lease (a name, for the ledger)
    lessee_is_operator: bool = True  # true: the operator's lease (its shares booked); false: a tenant's, netted off
    # the lessee's hourly draw: contract = contracted_mw × load_factor every hour | submeter = the readings of
    # submeter_path (lease_id, ts, power_mw), every hour of the billing period
    basis: str = "contract"
    contracted_mw: float = 0.0
    load_factor: float = 1.0
    submeter_path: Optional[str] = None  # the lessee's planned draw for the forecast ledger
    actual_submeter_path: Optional[str] = None  # its readings for the settled ledger (default: submeter_path)
    # the lessee's share of the host's peak-hour load (capacity effect); null = contracted_mw × load_factor / the
    # host's PLC (contract basis) or the sub-metered share in the billing period's cp_hours highest system hours
    peak_share: Optional[float] = None
    upgrades: list[str] = field(default_factory=list)  # upgrade ids at the host that this lease triggered


def check_leases(leases: list[LeaseCfg], sites: list, upgrades: list) -> None:
    """Each lease at a listed site, with a draw basis that fits the host; shares and triggered upgrades that can
    be apportioned without counting anything twice; every host the operator does not own holds a lease of its."""
    by_site = {s.site_id: s for s in sites}
    ups = {u.upgrade_id: u for u in upgrades}
    seen, triggered, peak = set(), {}, {}
    for i, ls in enumerate(leases):
        k = f"{P}.leases.{i}"
        check(bool(str(ls.lease_id).strip()) and ls.lease_id not in seen, f"{k}.lease_id", ls.lease_id,
              "must be non-empty and not listed twice", f"lease-{i + 1}")
        seen.add(ls.lease_id)
        check(ls.site_id in by_site, f"{k}.site_id", ls.site_id, f"not a listed site ({', '.join(sorted(by_site))})")
        host = by_site[ls.site_id]
        choice(f"{k}.basis", ls.basis, LEASE_BASES)
        if ls.basis == "contract":
            check(finite(ls.contracted_mw) and 0 < ls.contracted_mw <= host.capacity_mw, f"{k}.contracted_mw",
                  ls.contracted_mw, f"must be in (0, the host's capacity_mw = {host.capacity_mw}]", "100")
            check(0 < ls.load_factor <= 1, f"{k}.load_factor", ls.load_factor, "must be in (0, 1]", "0.85")
        else:
            check(bool(ls.submeter_path), f"{k}.submeter_path", ls.submeter_path, "basis=submeter needs the "
                  "sub-meter file (lease_id, ts, power_mw)", "path/to/submeter.csv")
        if ls.peak_share is None and ls.basis == "contract":
            check(host.plc_mw > 0, f"{k}.peak_share", None, f"the host {host.site_id!r} has no PLC to take a share "
                  "of; give the lessee's share of its peak-hour load", "0.4")
            share = ls.contracted_mw * ls.load_factor / host.plc_mw
        else:
            share = ls.peak_share or 0.0
        check(ls.peak_share is None or 0 <= ls.peak_share <= 1, f"{k}.peak_share", ls.peak_share, "must be in [0, 1]",
              "0.4")
        peak[ls.site_id] = peak.get(ls.site_id, 0.0) + share
        check(peak[ls.site_id] <= 1 + 1e-12, f"{k}.peak_share" if ls.peak_share is not None else f"{k}.contracted_mw",
              ls.peak_share if ls.peak_share is not None else ls.contracted_mw, f"the leases at {ls.site_id!r} take "
              f"{peak[ls.site_id]:.4f} of its peak-hour load (more than all of it)")
        for j, uid in enumerate(ls.upgrades):
            kk = f"{k}.upgrades.{j}"
            check(uid in ups and ups[uid].site_id == ls.site_id, kk, uid, f"not an upgrade at {ls.site_id!r}")
            check(uid not in triggered, kk, uid, f"already triggered by lease {triggered.get(uid)!r} (an upgrade "
                  "is charged to one lease)")
            triggered[uid] = ls.lease_id
    for i, s in enumerate(sites):
        if not s.owned:
            check(any(ls.site_id == s.site_id and ls.lessee_is_operator for ls in leases), f"{P}.sites.{i}.owned",
                  False, f"site {s.site_id!r} is not the operator's and holds no lease of the operator's "
                  "(list one in pledge.leases, or drop the site)", "true")
