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
        assert f"zone {zone}" in pr["source"]
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
