"""Cost-pledge accounting: pre-computed monthly bill adjustments with bands, an auditable ledger, true-up.

An operator pays (1) its grid upgrades through its own bill and (2) the
wholesale price increase its draw causes for others, and (3) curtails at grid
peaks (DOMAIN.md §2–§5). From hourly draw quantiles, a system-load forecast and
a :class:`forecast.price.response.PriceResponse`, this package books per site
and local month: bill lines (energy, demand, capacity, transmission) and pledge
lines (amortised upgrades, energy price shift Σ ΔP·(L − D)·φ, capacity shift
with the auction cap), in exact decimals, with P10/P50/P90 from joint samples.

Modules: config (Hydra schemas), calendar (local billing months over UTC hours),
inputs, sampling (Gaussian-copula joint paths), accounting (the formulas),
money (rounding rules), ledger (append-only versions), trueup, curtail
(planner), report (HTML + CSV), api (Python entry points), cli.
Console: ``forecast pledge pledge=worked_example``.
"""
