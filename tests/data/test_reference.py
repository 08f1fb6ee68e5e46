"""Reference-time windows (the batch forecast's input path) equal the training path's windows."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from forecast.config import DataConfig
from forecast.data.asof import schedule_as_of
from forecast.data.features import SCHEDULE_CHANNELS, SiteMeta, site_metas
from forecast.data.reference import reference_windows, schedule_at
from forecast.data.windows import FUT_CHANNELS, HIST_CHANNELS, WindowStore

L, H = 72, 24
HOUR = pd.Timedelta(hours=1)


def _store_windows(sc, t: pd.Timestamp, use_temperature: bool, jobs: pd.DataFrame | None = None):
    """The slow, per-site path: site_series -> WindowStore -> gather at issue time t."""
    from forecast.data.inputs import Inputs, site_series

    jobs = sc.jobs if jobs is None else jobs
    inp = Inputs(sc.sites, jobs, sc.meter[sc.meter.ts < t], sc.grid[sc.grid.ts < t], {}, site_metas(sc.sites))
    dc = dataclasses.replace(DataConfig(), history_h=L, horizon_h=H, use_temperature=use_temperature)
    series = site_series(inp, dc, start=t - L * HOUR, end=t + HOUR)
    store = WindowStore(series, L, H)
    b = store.gather(torch.from_numpy(store.offsets + L))
    return store.ids, b


@pytest.mark.parametrize("hours_in", [24 * 20, 24 * 33 + 7])
@pytest.mark.parametrize("use_temperature", [True, False])
def test_reference_windows_equal_gathered_windows(small_scenario, hours_in, use_temperature):
    _, sc = small_scenario
    t = sc.meter.ts.min() + hours_in * HOUR
    ids, b = _store_windows(sc, t, use_temperature)
    rw = reference_windows(site_metas(sc.sites), sc.jobs, sc.meter, sc.grid, t, L, H, use_temperature)
    assert rw.series_ids == ids
    assert rw.x_hist.shape == (len(ids), L, len(HIST_CHANNELS)) and rw.x_fut.shape == (len(ids), H, len(FUT_CHANNELS))
    np.testing.assert_allclose(rw.x_hist, b["x_hist"].numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(rw.x_fut, b["x_fut"].numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(rw.scale, b["scale"].numpy(), rtol=1e-6)
    assert rw.meter_hours.all()
    # the schedule channels carry information: not all zero, and they differ between hours
    sched = rw.x_fut[..., : len(FUT_CHANNELS) - 6]
    assert np.abs(np.diff(sched, axis=1)).max() > 0


def test_rows_at_or_after_t_are_not_used(small_scenario):
    _, sc = small_scenario
    t = sc.meter.ts.min() + 24 * 25 * HOUR
    metas = site_metas(sc.sites)
    base = reference_windows(metas, sc.jobs, sc.meter, sc.grid, t, L, H)
    meter, grid, jobs = sc.meter.copy(), sc.grid.copy(), sc.jobs.copy()
    meter.loc[meter.ts >= t, "power_mw"] *= 5.0
    grid.loc[grid.ts >= t, "temperature_c"] += 30.0
    jobs.loc[jobs.known_at > t, "n_gpus"] *= 2  # versions published after t
    later = reference_windows(metas, jobs, meter, grid, t, L, H)
    np.testing.assert_array_equal(base.x_hist, later.x_hist)
    np.testing.assert_array_equal(base.x_fut, later.x_fut)


def test_missing_meter_hours_are_reported_not_filled(small_scenario):
    _, sc = small_scenario
    t = sc.meter.ts.min() + 24 * 25 * HOUR
    gap = t - 5 * HOUR
    meter = sc.meter[~((sc.meter.site_id == "s2") & (sc.meter.ts == gap))]
    rw = reference_windows(site_metas(sc.sites), sc.jobs, meter, sc.grid, t, L, H)
    missing = np.argwhere(~rw.meter_hours)
    assert missing.tolist() == [[rw.series_ids.index("s2"), L - 5]]


def test_revision_known_at_half_past_reaches_schedule_at_from_the_next_hour():
    """A revision known at 10:30: invisible to the forecast issued at 10:00, visible to the one at 11:00."""
    meta = SiteMeta("a", "Z", capacity_mw=100.0, pue_design=1.2, base_load_mw=2.0, host_ratio=0.3, fleet={"H100": 1000})
    t10 = pd.Timestamp("2025-01-01T10:00Z")
    row = dict(job_id="j1", site_id="a", n_gpus=400, gpu_type="H100", flop_budget=None, precision="bf16",
               curtailable=False)
    jobs = pd.DataFrame([{**row, "known_at": t10 - 50 * HOUR, "planned_start": t10 + 10 * HOUR,
                          "planned_end": t10 + 20 * HOUR},
                         {**row, "known_at": t10 + pd.Timedelta(minutes=30), "planned_start": t10 + 4 * HOUR,
                          "planned_end": t10 + 20 * HOUR}])
    col = SCHEDULE_CHANNELS.index("gpus_H100")
    _, fut10 = schedule_at(jobs, [meta], t10, 12, 24)
    hist11, fut11 = schedule_at(jobs, [meta], t10 + HOUR, 12, 24)
    assert np.flatnonzero(fut10[0, :, col]).tolist() == list(range(10, 20))  # the old plan: hours 20..29
    assert np.flatnonzero(fut11[0, :, col]).tolist() == list(range(3, 19))  # the revision: hours 14..29
    assert fut11[0, 3, col] == pytest.approx(0.4)
    # history at 11:00: each hour as planned then; neither plan has j1 running before 14:00
    assert hist11[0, :, col].max() == 0.0


def test_half_past_revision_reference_windows_and_window_store_agree(small_scenario):
    """The same 10:30-style revision in a real scenario: both input paths ignore it at t and use it at t + 1 h."""
    _, sc = small_scenario
    t = sc.meter.ts.min() + 24 * 25 * HOUR
    plan = schedule_as_of(sc.jobs, t)
    soon = plan[(plan.site_id == "s1") & (plan.planned_start > t + 2 * HOUR) & (plan.planned_start < t + 20 * HOUR)]
    rev = soon.iloc[[0]].assign(known_at=t + pd.Timedelta(minutes=30), n_gpus=lambda d: d.n_gpus // 2)
    jobs = pd.concat([sc.jobs, rev], ignore_index=True)
    metas = site_metas(sc.sites)
    for when, changed in ((t, False), (t + HOUR, True)):
        base = reference_windows(metas, sc.jobs, sc.meter, sc.grid, when, L, H)
        rw = reference_windows(metas, jobs, sc.meter, sc.grid, when, L, H)
        assert (not np.array_equal(base.x_fut, rw.x_fut)) is changed, when
        np.testing.assert_array_equal(base.x_hist, rw.x_hist)  # lead 0 of hours before t + 1 h: the old plan
        ids, b = _store_windows(sc, when, True, jobs)
        assert rw.series_ids == ids
        np.testing.assert_allclose(rw.x_hist, b["x_hist"].numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(rw.x_fut, b["x_fut"].numpy(), rtol=1e-5, atol=1e-6)
    s1 = rw.series_ids.index("s1")
    np.testing.assert_array_equal(base.x_fut[1 - s1], rw.x_fut[1 - s1])  # the other site is untouched


def test_schedule_built_while_loading_gives_the_same_windows(small_scenario, tmp_path):
    """load_inputs(prepare=reference_schedule(...)) and the meter rows' site positions it returns give exactly
    the windows built from the tables alone."""
    from forecast.data.inputs import load_inputs
    from forecast.data.reference import reference_inputs, reference_schedule

    _, sc = small_scenario
    sc.write(tmp_path)
    t = sc.meter.ts.min() + 24 * 30 * HOUR
    dc = dataclasses.replace(DataConfig(), source="files", dir=str(tmp_path), history_h=L, horizon_h=H)
    inp = load_inputs(dc, meter_window=(t - L * HOUR, t), prepare=reference_schedule(t, L, H))
    assert inp.meter_site is not None and len(inp.meter_site) == len(inp.meter) and (inp.meter_site >= 0).all()
    fast = reference_inputs(inp.metas, inp.jobs, inp.meter, inp.grid, t, L, H, True, inp.prepared, inp.meter_site)
    plain = reference_windows(site_metas(sc.sites), sc.jobs, sc.meter, sc.grid, t, L, H)
    x_hist, x_fut = fast.windows()
    np.testing.assert_array_equal(x_hist, plain.x_hist)
    np.testing.assert_array_equal(x_fut, plain.x_fut)
    with pytest.raises(ValueError, match="H=12"):
        reference_inputs(inp.metas, inp.jobs, inp.meter, inp.grid, t, L, 12, True, inp.prepared)
    with pytest.raises(ValueError, match="meter_site has 3 rows"):
        reference_inputs(inp.metas, inp.jobs, inp.meter, inp.grid, t, L, H, True, None, inp.meter_site[:3])
