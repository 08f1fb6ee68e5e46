"""Cost-pledge accounting: pre-computed monthly bill adjustments with bands, an auditable ledger, true-up.

An operator pays (1) its grid upgrades through its own bill and (2) the
wholesale price increase its draw causes for others, and (3) curtails at grid
peaks (DOMAIN.md §2–§5). From hourly draw quantiles, a system-load forecast and
a :class:`forecast.price.response.PriceResponse`, this package books per site
and local month: bill lines (energy, demand, capacity, transmission) and pledge
lines (amortised upgrades, energy price shift Σ ΔP·(L − D)·φ, capacity shift
with the auction cap), in exact decimals, with P10/P50/P90 from joint samples.

Modules: config (Hydra schemas; tariff_config, settings_config, lease_config), calendar (local
billing months over UTC hours), inputs, sampling (Gaussian-copula joint paths), bands (Monte Carlo,
booked means), accounting (compute; formulas, book: the line items), peaks (coincident peaks and
the PLC / NSPL they set, for settlement), backstop (the reliability backstop line), leases (leased
capacity), zones (several zones and the portfolio), money (rounding rules), ledger (append-only
versions), lifecycle, records, trueup, curtail (planner across the year), report (HTML), exports
(CSV + JSON line items, data dictionary), api (Python entry points), cli.
Console: ``forecast pledge pledge=worked_example``.
"""
