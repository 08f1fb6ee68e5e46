"""Simulator invariants: determinism, physics bounds, energy bookkeeping, contract-valid output."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from forecast.data import contracts as c
from forecast.data.gpus import gpu_spec
from forecast.data.simulate import simulate


def test_same_seed_same_scenario_other_seed_differs(small_scenario):
    cfg, sc = small_scenario
    again = simulate(cfg)
    pd.testing.assert_frame_equal(sc.meter, again.meter)
    pd.testing.assert_frame_equal(sc.jobs, again.jobs)
    other = simulate(dataclasses.replace(cfg, seed=cfg.seed + 1))
    assert not np.allclose(other.meter["power_mw"], sc.meter["power_mw"])


def test_power_never_exceeds_installed_capacity_times_pue(small_scenario):
    _, sc = small_scenario
    m = sc.meter.merge(sc.truth[["site_id", "ts", "bound_mw", "pue"]], on=["site_id", "ts"])
    assert (m["power_mw"] <= m["bound_mw"]).all()
    assert (m["power_mw"] > 0).all()
    # the capacity declared in the sites table bounds every reading
    cap = sc.sites.groupby("site_id")["capacity_mw"].first()
    assert (sc.meter["power_mw"] <= sc.meter["site_id"].map(cap)).all()


def test_facility_power_is_pue_times_it_plus_base(small_scenario):
    cfg, sc = small_scenario
    base = {s.site_id: s.base_load_mw for s in cfg.sites}
    t = sc.truth
    np.testing.assert_allclose(t["power_mw"], t["pue"] * t["it_mw"] + t["site_id"].map(base), rtol=1e-12)
    host = {s.site_id: s.host_ratio for s in cfg.sites}
    np.testing.assert_allclose(t["it_mw"], t["gpu_mw"] * (1 + t["site_id"].map(host)), rtol=1e-12)


def test_energy_equals_sum_of_power(small_scenario):
    """Σ_t hourly GPU power × 1 h = idle energy of every installed GPU + Σ_jobs energy above idle (per-job books)."""
    cfg, sc = small_scenario
    for site in cfg.sites:
        t = sc.truth[sc.truth.site_id == site.site_id]
        runs = sc.runs[sc.runs.site_id == site.site_id]
        idle_mwh = sum(f.n_gpus * gpu_spec(f.gpu_type).idle_w for f in site.fleet) / 1e6 * len(t)
        booked = idle_mwh + runs["dyn_energy_in_window_mwh"].sum()
        assert runs["dyn_energy_in_window_mwh"].sum() > 0.1 * idle_mwh  # jobs really ran
        assert t["gpu_mw"].sum() == pytest.approx(booked, rel=1e-9)
    # per job: energy booked >= idle floor of its GPUs over its run, <= TDP × hours
    r = sc.runs[sc.runs.actual_start.notna()].merge(sc.jobs.drop_duplicates("job_id")[["job_id", "n_gpus", "gpu_type"]], on="job_id")
    hours = (r.actual_end - r.actual_start).dt.total_seconds() / 3600
    tdp = r.gpu_type.map(lambda g: gpu_spec(g).tdp_w)
    idle = r.gpu_type.map(lambda g: gpu_spec(g).idle_w)
    assert (r.gpu_energy_mwh <= r.n_gpus * tdp * hours / 1e6 + 1e-9).all()
    assert (r.gpu_energy_mwh >= r.n_gpus * idle * hours / 1e6 - 1e-9).all()
    assert (r.dyn_energy_in_window_mwh <= r.gpu_energy_mwh + 1e-9).all()


def test_allocation_matches_runs_and_fleet(small_scenario):
    """GPUs allocated each hour = Σ n_gpus of the jobs running then, never above the fleet."""
    cfg, sc = small_scenario
    site = cfg.sites[0]
    t = sc.truth[sc.truth.site_id == site.site_id]
    runs = sc.runs[(sc.runs.site_id == site.site_id) & sc.runs.actual_start.notna()]
    runs = runs.merge(sc.jobs.drop_duplicates("job_id")[["job_id", "n_gpus"]], on="job_id")
    ts = t["ts"].reset_index(drop=True)
    alloc = np.zeros(len(t))
    for start, end, n in zip(runs.actual_start, runs.actual_end, runs.n_gpus):
        alloc += ((ts >= start) & (ts < end)).to_numpy() * n
    np.testing.assert_array_equal(alloc, t["allocated_gpus"].to_numpy())
    assert (t["allocated_gpus"] <= site.fleet[0].n_gpus).all()
    assert t["allocated_gpus"].mean() > 0.3 * site.fleet[0].n_gpus


def test_pue_rises_with_temperature(small_scenario):
    cfg, sc = small_scenario
    t = sc.truth.merge(sc.grid[["ts", "temperature_c"]], on="ts")
    for site in cfg.sites:
        s = t[t.site_id == site.site_id].sort_values("temperature_c")
        assert np.all(np.diff(s["pue"].to_numpy()) >= -1e-12)
        assert s["pue"].min() >= site.pue_min


def test_flop_budget_matches_gpu_hours_formula(small_scenario):
    _, sc = small_scenario
    j = sc.jobs.drop_duplicates("job_id")
    hours = (j.planned_end - j.planned_start).dt.total_seconds() / 3600
    peak = np.array([gpu_spec(g).peak_flops(p) for g, p in zip(j.gpu_type, j.precision)])
    mfu = j.flop_budget / (j.n_gpus * peak * 3600 * hours)
    assert mfu.between(0.35 - 1e-9, 0.45 + 1e-9).all()


def test_plans_are_known_before_they_start_and_revisions_supersede(small_scenario):
    _, sc = small_scenario
    first = sc.jobs.sort_values("known_at").drop_duplicates("job_id")
    assert (first.known_at <= first.planned_start).all()
    revised = sc.jobs[sc.jobs.duplicated("job_id", keep=False)]
    assert len(revised) > 0, "the scenario should contain announced slips"


def test_outputs_pass_the_contracts(small_scenario, tmp_path):
    _, sc = small_scenario
    paths = sc.write(tmp_path)
    assert len(c.load_sites(paths["sites"])) == len(sc.sites)
    assert len(c.load_jobs(paths["jobs"])) == len(sc.jobs)
    m = c.load_meter(paths["meter"])
    assert len(m) == len(sc.meter) == 60 * 24 * 2
    g = c.load_grid(paths["grid"])
    assert (g["load_mw"] > 0).all() and g["price"].notna().all()


def test_grid_price_rises_with_load(small_scenario):
    _, sc = small_scenario
    g = sc.grid
    hi = g["load_mw"] > g["load_mw"].quantile(0.9)
    lo = g["load_mw"] < g["load_mw"].quantile(0.1)
    assert g.loc[hi, "price"].mean() > g.loc[lo, "price"].mean()


def test_quiet_spells_leave_out_the_arrivals_of_quiet_hours():
    """Busy and quiet spells alternate with the given mean lengths; no job of a stream with spells arrives in a
    quiet hour, and a steady stream (None) draws exactly the arrivals it drew before spells existed."""
    from forecast.data.job_stream import arrivals, busy_hours
    from forecast.data.scenario_config import JobStreamConfig

    busy = busy_hours((48.0, 120.0), 200_000, np.random.default_rng(3))
    edges = np.flatnonzero(np.diff(busy.astype(np.int8))) + 1
    runs = np.diff(np.concatenate([[0], edges, [len(busy)]]))
    first = busy[np.concatenate([[0], edges])]  # the state of each run
    assert runs.min() >= 1 and (first[1:] != first[:-1]).all()  # runs alternate
    assert abs(runs[1:-1][first[1:-1]].mean() - 48) < 5 and abs(runs[1:-1][~first[1:-1]].mean() - 120) < 12
    assert abs(busy.mean() - 48 / 168) < 0.03

    steady = arrivals(4096, 0.6, JobStreamConfig(), 5000, np.random.default_rng(9))
    again = arrivals(4096, 0.6, JobStreamConfig(quiet_spells_h=None), 5000, np.random.default_rng(9))
    assert steady == again and len(steady) > 50
    rng = np.random.default_rng(9)
    spelled = arrivals(4096, 0.6, JobStreamConfig(quiet_spells_h=(48.0, 120.0)), 5000, rng)
    assert 0 < len(spelled) < len(steady) and set(spelled) <= set(steady)  # the same draws, thinned
    rng = np.random.default_rng(9)
    arrivals(4096, 0.6, JobStreamConfig(), 5000, rng)
    quiet = ~busy_hours((48.0, 120.0), 5000, rng)  # the spells that stream drew after its arrivals
    assert not any(quiet[t] for t, *_ in spelled)
    # a stream whose arrivals all fall in quiet spells keeps its first job (a site is planned with jobs)
    lone = arrivals(8, 0.3, JobStreamConfig(quiet_spells_h=(1.0, 1e9)), 5000, np.random.default_rng(9))
    assert lone == arrivals(8, 0.3, JobStreamConfig(), 5000, np.random.default_rng(9))[:1]
    from forecast.errors import UsageError

    for bad in ((48.0, 0.0), (-1.0, 5.0), (48.0,)):
        with pytest.raises(UsageError, match="jobs.quiet_spells_h"):
            JobStreamConfig(quiet_spells_h=bad)


def test_a_scenario_with_quiet_spells_idles_for_days():
    """Jobs in spells: an 8-GPU server's allocation drops to zero for whole days between its busy spells."""
    from forecast.data.scenario_config import FleetConfig, JobStreamConfig, ScenarioConfig, SiteConfig, ZoneConfig

    site = SiteConfig("s0", "Z", [FleetConfig("H100", 64)], occupancy=0.8, base_load_mw=0.0)
    cfg = ScenarioConfig(seed=4, days=60, sites=[site], zones=[ZoneConfig("Z")])
    steady = simulate(cfg).truth["allocated_gpus"].to_numpy()
    spelled = simulate(dataclasses.replace(cfg, jobs=JobStreamConfig(quiet_spells_h=(48.0, 120.0)))).truth
    idle = spelled["allocated_gpus"].to_numpy() == 0
    longest = max((len(r) for r in np.split(idle, np.flatnonzero(np.diff(idle.astype(np.int8))) + 1) if r[0]),
                  default=0)
    assert longest >= 48 and idle.mean() > (steady == 0).mean() + 0.1
