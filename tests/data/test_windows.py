"""Windows: shapes, alignment, and no look-ahead."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from forecast.data.features import site_metas
from forecast.data.windows import FUT_CHANNELS, HIST_CHANNELS, WindowStore, build_series, series_of

L, H = 48, 24


@pytest.fixture(scope="module")
def parts(small_scenario):
    _, sc = small_scenario
    metas = site_metas(sc.sites)
    out = []
    for sid, meta in sorted(metas.items()):
        m = sc.meter[sc.meter.site_id == sid]
        power = pd.Series(m.power_mw.to_numpy(), index=pd.DatetimeIndex(m.ts))
        g = sc.grid
        temp = pd.Series(g.temperature_c.to_numpy(), index=pd.DatetimeIndex(g.ts))
        out.append((meta, sc.jobs, power, temp))
    return out


def test_gather_shapes_and_alignment(parts):
    series = [build_series(meta, jobs, power, temp, H) for meta, jobs, power, temp in parts]
    store = WindowStore(series, L, H)
    g = np.concatenate([store.origins(0)[:3], store.origins(1)[-2:]])
    b = store.gather(torch.from_numpy(g))
    assert b["x_hist"].shape == (5, L, len(HIST_CHANNELS))
    assert b["x_fut"].shape == (5, H, len(FUT_CHANNELS))
    assert b["y"].shape == (5, H) and b["scale"].shape == (5,)
    k, i = series_of(store, g)
    for row, (kk, ii) in enumerate(zip(k, i)):
        s = series[kk]
        np.testing.assert_allclose(b["y"][row].numpy(), s.y[ii:ii + H])  # target = hours i … i+H−1
        np.testing.assert_allclose(b["x_hist"][row, :, 0].numpy(), s.y[ii - L:ii])  # history ends at i−1
        np.testing.assert_allclose(b["x_fut"][row, :, :9].numpy(), s.fut[ii])  # schedule as planned at i
        assert b["scale"][row].item() == pytest.approx(s.scale)
    assert not torch.isnan(b["y"]).any()


def test_origins_need_full_history_and_target(parts):
    series = [build_series(meta, jobs, power, temp, H) for meta, jobs, power, temp in parts]
    store = WindowStore(series, L, H)
    o = store.origins(0) - store.offsets[0]
    assert o.min() == L and o.max() == len(series[0].ts) - H
    daily = store.origins(1, at_hour=0) - store.offsets[1]
    assert set(series[1].ts[daily].hour) == {0}


def test_future_meter_values_do_not_change_a_window(parts):
    """Plant a huge signal in every hour from t on: the inputs of a forecast issued at t are unchanged."""
    meta, jobs, power, temp = parts[0]
    t_idx = 500
    base = WindowStore([build_series(meta, jobs, power, temp, H)], L, H)
    poisoned = power.copy()
    poisoned.iloc[t_idx:] += 1e6
    temp2 = temp.copy()
    temp2.iloc[t_idx:] += 500.0
    # a job announced one hour after t
    extra = jobs[jobs.site_id == meta.site_id].iloc[[0]].copy()
    extra["job_id"] = "late"
    extra["known_at"] = power.index[t_idx] + pd.Timedelta(hours=1)
    extra["planned_start"] = power.index[t_idx] + pd.Timedelta(hours=2)
    extra["planned_end"] = power.index[t_idx] + pd.Timedelta(hours=30)
    bad = WindowStore([build_series(meta, pd.concat([jobs, extra]), poisoned, temp2, H)], L, H)
    g = torch.tensor([t_idx])
    a, b = base.gather(g), bad.gather(g)
    torch.testing.assert_close(a["x_hist"], b["x_hist"])
    torch.testing.assert_close(a["x_fut"], b["x_fut"])
    assert not torch.allclose(a["y"], b["y"])  # the target did change: the test would see a leak
    g1 = torch.tensor([t_idx + 2])  # two hours later the announcement is known and the poison is history
    assert not torch.allclose(base.gather(g1)["x_fut"], bad.gather(g1)["x_fut"])
