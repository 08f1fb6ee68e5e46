"""The report a CFO and a regulator read: stylised inputs named first, a summary of the month billed next (each
line in words, amount, P10–P90, change from the last version), formatted money, units on every money column,
sources in words, a sign-off block; line items as CSV and JSON under one documented schema."""

from __future__ import annotations

import dataclasses
import json
import re
from decimal import Decimal

import pandas as pd
import pytest

from forecast.pledge import api
from forecast.pledge.exports import COLUMNS, DATA_DICTIONARY, SCHEMA
from forecast.pledge.money import fmt_usd


@pytest.fixture(scope="module")
def two_versions(worked, tmp_path_factory):
    d = tmp_path_factory.mktemp("report")
    app, resolved = worked
    app = dataclasses.replace(app, out_dir=str(d), pledge=dataclasses.replace(
        app.pledge, montecarlo=dataclasses.replace(app.pledge.montecarlo, samples=50)))
    v1 = api.forecast_run(app, resolved)
    half = dataclasses.replace(app, reason="half hedged", pledge=dataclasses.replace(
        app.pledge, shift=dataclasses.replace(app.pledge.shift, phi=0.5)))
    v2 = api.forecast_run(half, {**resolved, "pledge": {**resolved["pledge"], "shift": {
        **resolved["pledge"]["shift"], "phi": 0.5}}})
    return v1, v2


def _sections(doc: str) -> list[str]:
    return re.findall(r"<h2>([^<]+)</h2>", doc)


def test_the_report_opens_with_stylised_inputs_and_the_summary(two_versions):
    _, v2 = two_versions
    doc = v2.report_path.read_text()
    first = re.search(r"<p class='lead'>([^<]+)</p>", doc).group(1)
    assert first.startswith("Stylised inputs") and "draw" in first and "price curve" in first
    heads = _sections(doc)
    assert heads[0] == "Summary: 2026-07" and heads.index("Line items") > heads.index("Totals by month")
    assert heads[-3:] == ["Data dictionary", "Sign-off", "Provenance (machine-readable)"] and "Sources" in heads
    assert "agreed by (utility)" in doc and "reviewed by (operator)" in doc


def test_the_summary_shows_each_line_and_its_change_from_the_last_version(two_versions):
    v1, v2 = two_versions
    doc = v2.report_path.read_text()
    summary = doc.split("<h2>Summary: 2026-07</h2>")[1].split("</section>")[0]
    assert "change from v0001 (USD)" in summary
    before = {ln.line_id: ln.amount for ln in v1.accounting.lines}
    for ln in v2.accounting.lines:
        if ln.category == "memo":
            assert ln.line_id not in summary
            continue
        assert fmt_usd(ln.amount) in summary and fmt_usd(ln.amount - before[ln.line_id]) in summary
    assert fmt_usd(v2.accounting.total("2026-07") - v1.accounting.total("2026-07")) in summary
    assert "wholesale energy price increase" in summary  # the line in words


def test_money_is_formatted_and_money_columns_carry_their_unit(two_versions):
    doc = two_versions[1].report_path.read_text()
    tables = re.sub(r"<pre>.*?</pre>", "", doc, flags=re.S)
    assert not re.search(r">-?\d{5,}\.\d{2}<", tables)  # no unformatted money in any cell
    assert re.search(r">\$\d{1,3}(,\d{3})+\.\d{2}<", tables)
    for head in re.findall(r"<th class='[a-z]+'>([^<]+)</th>", tables):
        if head in ("amount", "P10", "P90", "total P10", "pledge P90"):
            pytest.fail(f"money column without its unit: {head}")


def test_line_items_as_csv_and_json_under_one_schema(two_versions):
    res = two_versions[1]
    csv = pd.read_csv(res.lines_csv, dtype=str, keep_default_na=False)
    body = json.loads(res.lines_csv.with_suffix(".json").read_text())
    assert body["schema"] == SCHEMA and [d["column"] for d in body["data_dictionary"]] == list(COLUMNS)
    assert list(csv.columns) == list(COLUMNS) == [c for c, *_ in DATA_DICTIONARY]
    assert [{k: str(v) for k, v in r.items()} for r in body["lines"]] == csv.to_dict("records")
    assert all(isinstance(r["hours"], int) for r in body["lines"])  # integer, as the dictionary says
    booked = sum(Decimal(r["amount_usd"]) for r in body["lines"] if r["category"] != "memo")
    assert booked == Decimal(res.versions[0].manifest()["total_usd"]) and body["ledger"] == {"2026-07": "v0002"}
    assert all(isinstance(r["amount_usd"], str) for r in body["lines"])
