"""What every ledger version records: the manifest (code, config, seeds, inputs, assumptions) and the MLflow run.

The *assumptions* of a version are the config keys that change the money for the same usage (tariff, capacity
market, upgrades, the price curve, φ, new generation, the sites' billing values); the forecast inputs (draw
quantiles, the load forecast, Monte Carlo settings) and the actuals are not assumptions. A true-up compares the
billed and settled versions' assumptions key by key (:func:`assumption_diff`).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from forecast.pledge.curtail import CurtailmentPlan
from forecast.pledge.inputs import Inputs, sha
from forecast.pledge.ledger import Version, code_version
from forecast.pledge.line_items import Accounting

ROUNDING_RULES = ("USD to the cent, ROUND_HALF_EVEN; hourly money rounded to integer cents per (site, hour) by "
                  "numpy.rint(x*100) and summed exactly; energy per hour to integer kWh; quantity × price lines "
                  "rounded once; totals are exact sums of line items; configured inputs as Decimal(repr(float)); "
                  "bands are sample quantiles (numpy 'linear') taken at their exact binary value and rounded.")
@dataclass
class PledgeResult:
    accounting: Accounting | None = None
    plan: CurtailmentPlan | None = None
    versions: list[Version] = field(default_factory=list)
    report_path: Path | None = None
    lines_csv: Path | None = None
    run_id: str | None = None
    trueup: pd.DataFrame | None = None
    zones: dict[str, "PledgeResult"] = field(default_factory=dict)  # a pledge of several zones: each zone's result
    portfolio: dict | None = None  # … and the portfolio across them (forecast.pledge.zones)
    portfolio_path: Path | None = None


ASSUMPTION_KEYS = ("market", "tariff", "upgrades", "backstop", "leases", "price_curve", "shift.phi",
                   "shift.new_generation_mw", "system_load.includes_campus")
SITE_ASSUMPTIONS = ("site_id", "capacity_mw", "plc_mw", "nspl_mw", "contract_demand_mw", "owned")


def _flat(x, prefix: str) -> dict:
    if isinstance(x, dict):
        return {k: v for key, sub in x.items() for k, v in _flat(sub, f"{prefix}.{key}").items()}
    if isinstance(x, list):
        return {k: v for i, sub in enumerate(x) for k, v in _flat(sub, f"{prefix}.{i}").items()}
    return {prefix: x}


def assumptions(resolved: dict) -> dict:
    """The assumption keys of a resolved app config, flattened (``pledge.shift.phi`` -> 1.0)."""
    p = resolved.get("pledge", {})
    out = {}
    for key in ASSUMPTION_KEYS:
        node = p
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        out.update(_flat(node, f"pledge.{key}"))
    for i, s in enumerate(p.get("sites", [])):
        out.update({f"pledge.sites.{i}.{k}": s.get(k) for k in SITE_ASSUMPTIONS})
    return out


def assumption_diff(a: dict, b: dict) -> list[str]:
    """Keys whose values differ between two assumption dicts (either side missing counts as differing)."""
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))


@contextlib.contextmanager
def tracked(app, resolved: dict, name: str):
    """The action's MLflow run (None with ``tracking=false``)."""
    if not app.tracking:
        yield None
        return
    from forecast import tracking

    with tracking.run(resolved, experiment=app.experiment, tracking_uri=app.tracking_uri,
                      run_name=f"pledge-{app.pledge.name}-{name}", tags={"pledge.action": name}) as r:
        yield r


def manifest(app, resolved: dict, run, inp: Inputs | None, extra: dict, response: dict | None = None) -> dict:
    """A version's manifest. ``response``: :func:`forecast.price.response.response_info` of the price response
    used, recorded as input_sources.price_response."""
    sources = {**inp.sources, **({"price_response": response} if response else {})} if inp else {}
    a = assumptions(resolved)
    return {"pledge": app.pledge.name, "code": code_version(), "config": resolved, "config_hash": sha(resolved),
            "assumptions": a, "assumptions_hash": sha(a),
            "mlflow_run_id": getattr(run, "run_id", None), "reason": app.reason,
            "seeds": {"montecarlo": app.pledge.montecarlo.seed, "price_curve": app.pledge.price_curve.seed,
                      "chunk": app.pledge.montecarlo.chunk, "samples": app.pledge.montecarlo.samples},
            "rounding": ROUNDING_RULES, "input_sources": sources,
            "input_hashes": inp.hashes() if inp else {}, **extra}
