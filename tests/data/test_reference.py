"""Reference-time windows (the batch forecast's input path) equal the training path's windows."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from forecast.config import DataConfig
from forecast.data.features import site_metas
from forecast.data.reference import reference_windows
from forecast.data.windows import FUT_CHANNELS, HIST_CHANNELS, WindowStore

L, H = 72, 24
HOUR = pd.Timedelta(hours=1)


def _store_windows(sc, t: pd.Timestamp, use_temperature: bool):
    """The slow, per-site path: site_series -> WindowStore -> gather at issue time t."""
    from forecast.data.inputs import Inputs, site_series

    inp = Inputs(sc.sites, sc.jobs, sc.meter[sc.meter.ts < t], sc.grid[sc.grid.ts < t], {}, site_metas(sc.sites))
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
