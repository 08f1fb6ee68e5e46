"""Line items for the utility: CSV and JSON under one documented schema (the data dictionary below).

``<tag>_lines.csv`` has one row per line item with the columns of :data:`DATA_DICTIONARY`, in that order;
``<tag>_lines.json`` holds ``{"schema": SCHEMA, "data_dictionary": [...], "pledge", "ledger", "lines": [...]}``
with the same rows as objects (money and quantities as decimal strings, never floats). Both written atomically.
"""

from __future__ import annotations

import json
from pathlib import Path

from forecast.io import atomic_write, atomic_write_text

SCHEMA = "forecast.pledge.line_items/1"

# column, type, unit, meaning
DATA_DICTIONARY: tuple[tuple[str, str, str, str], ...] = (
    ("month", "string YYYY-MM", "", "local billing month (the market's prevailing time)"),
    ("line_id", "string", "", "<item>:<site>[:<upgrade or lease>], unique within a month"),
    ("category", "string", "", "bill (tariff charge), pledge (the operator's pledge) or memo (shown, never added)"),
    ("item", "string", "", "energy, demand, capacity, transmission, upgrade, backstop, shift_energy, "
                           "shift_capacity, or a curtailment memo"),
    ("site_id", "string", "", "the site the line belongs to (ALL for portfolio-wide memo lines)"),
    ("hour_start_utc", "ISO 8601 time", "UTC", "first hour of the month, hour-beginning, inclusive"),
    ("hour_end_utc", "ISO 8601 time", "UTC", "end of the month, exclusive"),
    ("hours", "integer", "h", "hours in the local month (743/745 in DST months)"),
    ("quantity", "decimal string", "see quantity_unit", "the quantity the price applies to"),
    ("quantity_unit", "string", "", "unit of quantity (MWh, MW, MW-day, month …)"),
    ("price", "decimal string", "see price_unit", "the price or rate applied"),
    ("price_unit", "string", "", "unit of price (USD/MWh, USD/MW-day …)"),
    ("amount_usd", "decimal string", "USD", "the booked amount, to the cent (half-even); the forecast's is the mean "
                                            "of the joint samples"),
    ("p10_usd", "decimal string or empty", "USD", "10th percentile of the line's joint samples (forecast ledger)"),
    ("p50_usd", "decimal string or empty", "USD", "median of the line's joint samples"),
    ("p90_usd", "decimal string or empty", "USD", "90th percentile of the line's joint samples"),
    ("formula", "string", "", "how the amount was computed, with its inputs"),
    ("inputs_hash", "hex string", "", "sha256 (16 hex) of the inputs the line was computed from"),
)
COLUMNS = tuple(c for c, *_ in DATA_DICTIONARY)


def rows(acc) -> list[dict]:
    """The line items as dictionary rows, columns in :data:`COLUMNS` order."""
    return [{c: r[c] for c in COLUMNS} for r in (ln.as_row() for ln in acc.lines)]


def write_csv(path: str | Path, acc) -> Path:
    import pandas as pd

    df = pd.DataFrame(rows(acc), columns=list(COLUMNS))
    return atomic_write(path, lambda p: df.to_csv(p, index=False))


def write_json(path: str | Path, acc, pledge: str, ledger: dict | None = None) -> Path:
    body = {"schema": SCHEMA, "data_dictionary": [dict(zip(("column", "type", "unit", "meaning"), d))
                                                  for d in DATA_DICTIONARY],
            "pledge": pledge, "ledger": ledger or {}, "lines": rows(acc)}
    return atomic_write_text(path, json.dumps(body, indent=2, ensure_ascii=False))
