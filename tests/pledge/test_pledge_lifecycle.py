"""Life cycle of a month's forecast: draft → billed → settled → trued up; restatements; one ledger per pledge;
two writers at once."""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
from decimal import Decimal

import pandas as pd
import pytest

from forecast.cli import main as forecast_main
from forecast.pledge import api
from forecast.pledge.config_checks import PledgeConfigError
from forecast.pledge.ledger import Ledger, LedgerError
from forecast.pledge.trueup import interest


def _app(worked, tmp_path, phi=1.0, **kw):
    app, resolved = worked
    p = app.pledge
    p = dataclasses.replace(p, montecarlo=dataclasses.replace(p.montecarlo, samples=50),
                            shift=dataclasses.replace(p.shift, phi=phi))
    res = {**resolved, "pledge": {**resolved["pledge"], "shift": {**resolved["pledge"]["shift"], "phi": phi}}}
    return dataclasses.replace(app, pledge=p, out_dir=str(tmp_path), report=False, **kw), res


def test_trueup_is_against_the_billed_version_not_the_latest(worked, tmp_path):
    app1, r1 = _app(worked, tmp_path)
    billed = api.forecast_run(app1, r1).versions[0]
    with pytest.raises(PledgeConfigError, match="no billed forecast version of 2026-07"):
        api.trueup_run(app1, r1)
    bill = api.bill_run(dataclasses.replace(app1, version=1, approver="j.doe"), r1).versions[0]
    man = bill.manifest()
    assert bill.kind == "billed" and man["forecast_version"] == "v0001" and man["approver"] == "j.doe"
    assert man["billed_at"] and man["assumptions"]["pledge.shift.phi"] == 1.0
    app2, r2 = _app(worked, tmp_path, phi=0.5, reason="half the others' load hedged")
    later = api.forecast_run(app2, r2).versions[0]
    assert later.number == 2 and later.manifest()["reason"] == "half the others' load hedged"
    settled = api.settle_run(app1, r1).versions[0]
    res = api.trueup_run(app1, r1)
    tu_man = res.versions[0].manifest()
    assert tu_man["forecast_version"] == "v0001" and tu_man["billed_record"] == "v0001"
    f = {r["line_id"]: r["amount_usd"] for _, r in billed.lines().iterrows()}
    s = {r["line_id"]: r["amount_usd"] for _, r in settled.lines().iterrows()}
    for _, r in res.trueup.iterrows():
        diff = s[r["line_id"]] - f[r["line_id"]]
        assert r["forecast_usd"] == f[r["line_id"]] and r["settled_usd"] == s[r["line_id"]]
        assert r["trueup_usd"] == diff + interest(diff, 0.05, 60)
    assert Decimal(tu_man["forecast_usd"]) == Decimal(billed.manifest()["total_usd"])


def test_trueup_refuses_other_assumptions_naming_the_key(worked, tmp_path):
    app1, r1 = _app(worked, tmp_path)
    api.forecast_run(app1, r1)
    api.bill_run(dataclasses.replace(app1, version=1, approver="j.doe"), r1)
    app2, r2 = _app(worked, tmp_path, phi=0.5)
    api.settle_run(app2, r2)
    with pytest.raises(PledgeConfigError, match=r"pledge\.shift\.phi.*settled v0001 of 2026-07 rests on other "
                                                r"assumptions than the billed v0001.*1\.0 billed, 0\.5"):
        api.trueup_run(app1, r1)
    assert not Ledger(tmp_path / "ledger" / "worked_example", "trueup").months()  # nothing booked


def test_restatement_needs_a_reason_and_duplicates_are_refused(worked, tmp_path):
    app, r = _app(worked, tmp_path)
    api.forecast_run(app, r)
    with pytest.raises(LedgerError, match="identical to v0001"):
        api.forecast_run(dataclasses.replace(app, reason="again"), r)
    app2, r2 = _app(worked, tmp_path, phi=0.5)
    with pytest.raises(LedgerError, match="a restatement needs a reason"):
        api.forecast_run(app2, r2)
    assert [v.number for v in Ledger(tmp_path / "ledger" / "worked_example", "forecast").versions("2026-07")] == [1]


def test_each_pledge_has_its_own_ledger(worked, tmp_path):
    app, r = _app(worked, tmp_path)
    api.forecast_run(app, r)
    other = Ledger(tmp_path / "ledger" / "worked_example", "forecast")
    with pytest.raises(LedgerError, match="holds pledge 'worked_example'.*not 'pjm_portfolio'"):
        other.append("2026-07", pd.DataFrame({"line_id": ["x"]}), {"pledge": "pjm_portfolio", "reason": "r"})


def _writer(args):
    root, who, n = args
    led, out = Ledger(root, "forecast"), []
    for i in range(n):
        v = led.append("2026-07", pd.DataFrame({"line_id": [f"{who}-{i}"], "amount_usd": ["1.00"]}),
                       {"pledge": "p", "reason": f"{who} {i}"})
        out.append((v.number, f"{who}-{i}"))
    return out


def _same(args):
    root, _ = args
    try:
        return Ledger(root, "forecast").append("2026-07", pd.DataFrame({"line_id": ["same"]}),
                                               {"pledge": "p", "reason": "r"}).number
    except LedgerError as e:
        return str(e)


def test_two_processes_never_lose_merge_or_duplicate_a_version(tmp_path):
    ctx = mp.get_context("spawn")
    with ctx.Pool(2) as pool:
        got = [x for part in pool.map(_writer, [(tmp_path, "a", 8), (tmp_path, "b", 8)]) for x in part]
        same = pool.map(_same, [(tmp_path / "s", 0), (tmp_path / "s", 1)])
    versions = Ledger(tmp_path, "forecast").versions("2026-07")
    assert [v.number for v in versions] == list(range(1, 17))  # none lost, no number taken twice
    assert sorted(n for n, _ in got) == list(range(1, 17))
    for n, content in got:  # each version holds exactly the lines its writer wrote
        assert list(versions[n - 1].lines()["line_id"]) == [content]
    assert sorted(map(str, same))[0] == "1" and "identical to v0001" in sorted(map(str, same))[1]


def test_bill_needs_a_version_and_an_approver(tmp_path, capsys):
    base = ["pledge", "pledge=worked_example", f"out_dir={tmp_path}", "tracking=false", "action=bill"]
    assert forecast_main(base + ["version=1"]) == 2
    assert forecast_main(base + ["approver=j.doe", "version=3"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "approver" in err[0] and "no forecast version v0003 of 2026-07" in err[1]
    assert "Traceback" not in "".join(err)
