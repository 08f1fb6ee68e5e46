"""Ledger: append-only versions, forecast and settled books apart, restatement, true-up with interest, MLflow."""

from __future__ import annotations

import dataclasses
import json

from decimal import Decimal

import pandas as pd
import pytest

from forecast.pledge import api
from forecast.pledge.ledger import Ledger
from forecast.pledge.trueup import interest, true_up


def _app(worked, tmp_path, **kw):
    app, resolved = worked
    pledge = app.pledge
    pledge = dataclasses.replace(pledge, montecarlo=dataclasses.replace(pledge.montecarlo, samples=50))
    return dataclasses.replace(app, pledge=pledge, out_dir=str(tmp_path), report=False, **kw), resolved


def test_versions_are_append_only_and_books_are_apart(worked, tmp_path):
    app, resolved = _app(worked, tmp_path)
    v1 = api.forecast_run(app, resolved).versions[0]
    before = {p.name: p.read_bytes() for p in v1.path.iterdir()}
    app2 = dataclasses.replace(app, reason="load forecast revised",
                               pledge=dataclasses.replace(app.pledge, sites=[dataclasses.replace(
                                   app.pledge.sites[0], p50_mw=860.0)]))
    v2 = api.forecast_run(app2, resolved).versions[0]
    assert (v1.number, v2.number) == (1, 2)
    assert {p.name: p.read_bytes() for p in v1.path.iterdir()} == before  # the old version is untouched
    m2 = v2.manifest()
    assert m2["supersedes"] == "v0001" and m2["reason"] == "load forecast revised"
    assert m2["code"]["forecast_version"] and "git_commit" in m2["code"]
    assert m2["config"]["pledge"]["name"] == "worked_example" and "mlflow_run_id" in m2
    assert m2["input_hashes"] and m2["seeds"]["montecarlo"] == app.pledge.montecarlo.seed
    s = api.settle_run(app, resolved).versions[0]
    assert s.path.parent.parent.name == "settled" and v1.path.parent.parent.name == "forecast"
    root = tmp_path / "ledger" / "worked_example"  # each pledge name has its own ledger
    assert Ledger(root, "settled").latest("2026-07").number == 1
    assert Ledger(root, "forecast").latest("2026-07").number == 2
    # no temp folders left behind; lines carry hour range, quantity, price, formula and input hash
    assert not [p for p in v1.path.parent.iterdir() if p.name.startswith(".tmp")]
    lines = v2.lines()
    for col in ("hour_start_utc", "hour_end_utc", "quantity", "price", "formula", "inputs_hash", "amount_usd"):
        assert lines[col].astype(str).str.len().min() > 0
    assert isinstance(lines["amount_usd"].iloc[0], Decimal)


def test_trueup_interest_convention(worked, tmp_path):
    app, resolved = _app(worked, tmp_path)
    billed = api.forecast_run(app, resolved).accounting
    api.bill_run(dataclasses.replace(app, version=1, approver="a.auditor"), resolved)
    api.settle_run(app, resolved)
    res = api.trueup_run(app, resolved)
    tu = res.trueup
    assert set(tu["bill_date"]) == {"2026-08-01"} and set(tu["trueup_date"]) == {"2026-09-30"}
    assert set(tu["interest_days"]) == {60}
    for _, r in tu.iterrows():
        assert r["difference_usd"] == r["settled_usd"] - r["forecast_usd"]
        assert r["interest_usd"] == (r["difference_usd"] * Decimal("0.05") * 60 / 365).quantize(Decimal("0.01"))
        assert r["trueup_usd"] == r["difference_usd"] + r["interest_usd"]
    energy = tu[tu["line_id"] == "energy:campus-1"].iloc[0]
    # metered 862 MW × 744 h × $55 against the booked (expected) energy of the billed version: a surcharge
    booked = billed.amount("energy")
    assert energy["settled_usd"] == Decimal(862 * 744 * 55) and energy["forecast_usd"] == booked
    assert energy["difference_usd"] == Decimal(862 * 744 * 55) - booked > 0
    cap = tu[tu["line_id"] == "capacity:campus-1"].iloc[0]
    assert cap["difference_usd"] == 0 and cap["interest_usd"] == 0
    v = res.versions[0]
    assert v.kind == "trueup" and v.manifest()["forecast_version"] == "v0001"


def test_interest_rounds_half_even_to_the_cent():
    assert interest(Decimal("365.00"), 0.01, 1) == Decimal("0.01")
    assert interest(Decimal("-1000.00"), 0.05, 73) == Decimal("-10.00")
    assert interest(Decimal("0.50"), 0.05, 365) == Decimal("0.02")  # 0.025 -> 0.02 (half-even)


def test_trueup_matches_lines_missing_in_one_book():
    f = pd.DataFrame([{"month": "2026-07", "line_id": "a", "category": "bill", "item": "energy", "site_id": "s",
                       "amount_usd": Decimal("10.00")}])
    s = pd.DataFrame([{"month": "2026-07", "line_id": "b", "category": "pledge", "item": "upgrade", "site_id": "s",
                       "amount_usd": Decimal("4.00")}])
    tu = true_up(f, s, "2026-07", 0.0, explicit_date="2026-08-01")
    assert dict(zip(tu["line_id"], tu["difference_usd"])) == {"a": Decimal("-10.00"), "b": Decimal("4.00")}
    with pytest.raises(ValueError, match="pledge.trueup.date"):
        true_up(f, s, "2026-07", 0.0, explicit_date="2026-07-15")


def test_trueup_without_a_settled_book_says_what_to_run(worked, tmp_path):
    app, resolved = _app(worked, tmp_path)
    api.forecast_run(app, resolved)
    api.bill_run(dataclasses.replace(app, version=1, approver="a.auditor"), resolved)
    with pytest.raises(FileNotFoundError, match="action=settle"):
        api.trueup_run(app, resolved)


def test_run_is_recorded_in_mlflow(worked, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app, resolved = _app(worked, tmp_path, tracking=True, tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    res = api.forecast_run(app, resolved)
    assert res.run_id
    assert res.versions[0].manifest()["mlflow_run_id"] == res.run_id
    from forecast.tracking import run_metrics

    m = run_metrics(res.run_id, app.tracking_uri)
    assert m["total_usd"] == pytest.approx(float(res.accounting.total()))
    assert json.loads((res.versions[0].path / "manifest.json").read_text())["config_hash"]
