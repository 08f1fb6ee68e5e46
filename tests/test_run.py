"""End to end, from the job schedule to next month's pledge ledger: `forecast run` on a small scenario."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from forecast.config import compose, to_object
from forecast.pipeline.run import RunConfig

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    from forecast.pipeline.run import run

    work = tmp_path_factory.mktemp("run")
    cfg = to_object(compose(["experiment=quick", "data.scenario.days=100", f"data.dir={work / 'data'}",
                             f"out_dir={work / 'out'}", f"predict.out={work / 'fc'}", f"run.out_dir={work / 'run'}",
                             f"tracking.uri=sqlite:///{work / 'mlflow.db'}", "run.load_samples=40",
                             "run.pledge_overrides=['pledge.montecarlo.samples=100','pledge.price_curve.n_draws=5']"],
                            "run"), RunConfig)
    return cfg, run(cfg), work


def test_the_ledger_covers_the_next_billing_month_and_names_its_sources(ran):
    cfg, res, work = ran
    # 100 days from 2024-01-01: the meter ends 2024-04-09; the next local month is May 2024 (744 h)
    assert res.draw.issued_at == pd.Timestamp("2024-04-10T00:00Z") and res.month.label == "2024-05"
    assert sorted(res.zones) == ["COMED", "DOM"]
    assert sorted(s for z in res.zones.values() for s in z.sites) == ["site-a", "site-b", "site-c", "site-d"]
    for zone, z in res.zones.items():
        v = z.pledge.versions[0]
        man = json.loads((v.path / "manifest.json").read_text())
        assert man["hours"] == res.month.hours == 744
        src = man["input_sources"]
        assert str(res.draw.path) in src["draw"] and "stylised" not in src["draw"]
        assert str(z.system_load_path) in src["system_load"] and "40 joint sample paths" in src["system_load"]
        pr = src["price_response"]
        assert pr["kind"] == "fitted" and pr["basis"] == "net" and len(pr["params_sha256"]) >= 16
        assert f"zone {zone}" in pr["source"] and "hours before 2024-04-10 00:00 UTC" in pr["source"]  # no look-ahead
        hourly = pd.read_csv(v.path / "hourly.csv")
        assert hourly["ts_utc"].nunique() == 744 and hourly.groupby("site_id").size().eq(744).all()  # every hour
        assert man["config"]["pledge"]["sites"][0]["site_id"] in z.sites  # the sites table, not a second list


def test_money_has_bands_and_the_system_load_paths_reach_them(ran):
    cfg, res, work = ran
    m = res.month.label
    for z in res.zones.values():
        acc = z.pledge.accounting
        lo, mid, hi = acc.bands[(m, "total")]
        assert lo < hi and lo <= mid <= hi
        paths = pd.read_parquet(z.system_load_path)
        assert paths["sample"].nunique() == 40 and (paths["load_mw"] > 0).all()
        wide = paths.pivot(index="sample", columns="ts", values="load_mw").to_numpy()
        assert np.std(wide.mean(axis=1)) > 0  # the paths differ: uncertainty in the system load
    assert res.total() == sum(z.pledge.accounting.total(m) for z in res.zones.values())


def test_every_stage_is_a_child_of_one_mlflow_run(ran):
    import mlflow

    cfg, res, work = ran
    client = mlflow.MlflowClient(cfg.tracking.uri)
    exp = client.get_experiment_by_name(cfg.tracking.experiment)
    children = client.search_runs([exp.experiment_id], f"tags.mlflow.parentRunId = '{res.run_id}'")
    assert len(children) >= 3  # train + one pledge ledger per zone
    parent = client.get_run(res.run_id)
    assert parent.data.metrics["total_usd"] == pytest.approx(float(res.total()))


def test_plc_is_the_metered_load_at_five_daily_peaks_of_the_summer_before_the_delivery_year():
    from forecast.data.features import site_metas
    from forecast.data.inputs import Inputs
    from forecast.pipeline.run import coincident_peak_plc
    from forecast.pledge.calendar import billing_months

    ts = pd.date_range("2024-06-01T04:00Z", "2024-10-01T04:00Z", freq="h", inclusive="left")
    load = np.full(len(ts), 10_000.0)
    hot = [ts[100], ts[101], ts[600], ts[1200], ts[1800], ts[2400], ts[2500]]  # two hot hours on one day
    for i, h in enumerate(hot):
        load[ts.get_loc(h)] = 20_000.0 - 100 * i
    grid = pd.DataFrame({"zone": "Z", "ts": ts, "load_mw": load})
    meter = pd.DataFrame({"site_id": "s1", "ts": ts, "power_mw": np.arange(len(ts), dtype=float)})
    sites = pd.DataFrame({"site_id": ["s1"], "zone": ["Z"], "gpu_type": ["H100"], "n_gpus": [1000],
                          "pue_design": [1.2], "capacity_mw": [2.0], "base_load_mw": [0.1]})
    inp = Inputs(sites, pd.DataFrame(), meter, grid, {}, site_metas(sites))
    jan = billing_months("2026-01", 1, "America/New_York")[0]  # delivery year 2025/26: set by summer 2024
    plc, how = coincident_peak_plc(inp, "Z", ["s1"], jan, "America/New_York")
    peaks = [hot[0], hot[2], hot[3], hot[4], hot[5]]  # hot[1] shares hot[0]'s day; hot[6] is the sixth day
    assert plc["s1"] == pytest.approx(np.mean([ts.get_loc(h) for h in peaks]))
    assert "summer 2024" in how
    jul = billing_months("2025-07", 1, "America/New_York")[0]  # delivery year 2025/26 too
    assert coincident_peak_plc(inp, "Z", ["s1"], jul, "America/New_York")[0] == plc
    later = billing_months("2026-07", 1, "America/New_York")[0]  # 2026/27: summer 2025 is not in the data
    assert coincident_peak_plc(inp, "Z", ["s1"], later, "America/New_York") == (
        {"s1": 0.0}, "summer 2025 not in the data: PLC 0 (no forecast of it yet)")


def test_an_issue_time_inside_the_training_data_is_refused(ran):
    from forecast.config import ConfigError
    from forecast.pipeline.run import check_issue_time

    cfg, res, work = ran
    import dataclasses

    early = dataclasses.replace(cfg, run=dataclasses.replace(cfg.run, issue_time="2024-03-01T00:00Z"))
    with pytest.raises(ConfigError, match=r"before the meter ends.*override `run.issue_time=...`"):
        check_issue_time(early)
    check_issue_time(dataclasses.replace(early, run=dataclasses.replace(early.run, train=False)))  # allowed


def test_the_monte_carlo_correlations_are_fitted_with_the_draw_and_reach_the_ledger(ran):
    cfg, res, work = ran
    dep = res.draw.dependence
    assert dep is not None and dep.window_h == res.month.hours
    for z in res.zones.values():
        man = json.loads((z.pledge.versions[0].path / "manifest.json").read_text())
        mc = man["config"]["pledge"]["montecarlo"]
        if dep.rho_time is None:  # too few past windows: the configured values, and the output says so
            assert "as configured" in z.correlation_source
        else:
            assert (mc["rho_time"], mc["rho_sites"]) == (dep.rho_time, dep.rho_sites)
            assert "fitted on" in z.correlation_source


def test_the_same_chain_on_user_files_gives_the_same_ledger_to_the_cent(ran):
    """`forecast run data=files` on the files the simulated run wrote, with the model it registered."""
    from forecast.pipeline.run import run

    cfg, res, work = ran
    model = "registry" if res.train.promoted else str(res.train.checkpoint)  # the model the first run served
    files = to_object(compose(["experiment=quick", "data=files", f"data.dir={work / 'data'}", "run.train=false",
                               f"predict.model={model}",
                               f"predict.out={work / 'fc-files'}", f"run.out_dir={work / 'run-files'}",
                               f"out_dir={work / 'out-files'}", f"tracking.uri={cfg.tracking.uri}", "run.load_samples=40",
                               "run.pledge_overrides=['pledge.montecarlo.samples=100','pledge.price_curve.n_draws=5']"],
                              "run"), RunConfig)
    again = run(files)
    assert again.train is None and again.month.label == res.month.label
    assert sorted(again.zones) == sorted(res.zones)
    m = res.month.label
    for zone, z in res.zones.items():
        a, b = z.pledge.accounting, again.zones[zone].pledge.accounting
        assert b.total(m) == a.total(m)  # Decimal cents
        assert b.bands[(m, "total")] == a.bands[(m, "total")]
        assert again.zones[zone].sites == z.sites
