"""Windows: shapes, alignment, no look-ahead, and the compact known future equal to the materialised one."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from forecast.data.features import SCHEDULE_CHANNELS, SiteMeta, schedule_covariates, site_metas
from forecast.data.plan_events import KnownFuture
from forecast.data.windows import FUT_CHANNELS, HIST_CHANNELS, SeriesArrays, WindowStore, build_series, series_of

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
    C = len(SCHEDULE_CHANNELS)
    for row, (kk, ii) in enumerate(zip(k, i)):
        s = series[kk]
        meta, jobs = parts[kk][0], parts[kk][1]
        np.testing.assert_allclose(b["y"][row].numpy(), s.y[ii:ii + H])  # target = hours i … i+H−1
        np.testing.assert_allclose(b["x_hist"][row, :, 0].numpy(), s.y[ii - L:ii])  # history ends at i−1
        planned = schedule_covariates(jobs, meta, s.ts[ii:ii + 1], H)[0]  # schedule as planned at i
        np.testing.assert_allclose(b["x_fut"][row, :, :C].numpy(), planned, atol=1e-6)
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


# ------------------------------------------------------------------ compact known future == materialised
T0 = pd.Timestamp("2025-03-01T00:00Z")
HOUR = pd.Timedelta(hours=1)
RAND_METAS = [SiteMeta("a", "Z", 80.0, 1.2, 2.0, 0.3, {"H100": 1000, "B200": 400}),
              SiteMeta("b", "Z", 40.0, 1.4, 1.0, 0.2, {"A100": 600}),
              SiteMeta("c", "Z", 60.0, 1.3, 1.5, 0.25, {"H100": 500, "A100": 300})]
RAND_HOURS = (500, 380, 450)  # hours per series: different lengths


def random_jobs(seed: int, n_jobs: int = 70) -> pd.DataFrame:
    """Jobs with 1–4 versions each: revisions known at sub-hour times (some in the same hour), moves between
    sites, FP8 and BF16, with and without FLOP budgets, plans before, across and after the series."""
    rng = np.random.default_rng(seed)
    rows = []
    for jid in range(n_jobs):
        known = T0 + pd.Timedelta(minutes=int(rng.integers(-300 * 60, 520 * 60)))
        for _ in range(int(rng.integers(1, 5))):
            meta = RAND_METAS[int(rng.integers(len(RAND_METAS)))]
            gpu = str(rng.choice(sorted(meta.fleet)))
            start = known.floor("h") + HOUR * int(rng.integers(-40, 120)) + pd.Timedelta(minutes=int(rng.choice([0, 0, 30])))
            rows.append(dict(job_id=f"j{jid}", site_id=meta.site_id, known_at=known, planned_start=start,
                             planned_end=start + HOUR * int(rng.integers(1, 150)), n_gpus=int(rng.integers(1, 200)),
                             gpu_type=gpu, flop_budget=float(rng.choice([np.nan, 1e21, 5e21])),
                             precision=str(rng.choice(["bf16", "fp8"])), curtailable=False))
            known = known + pd.Timedelta(minutes=int(rng.choice([10, 45, 60 * int(rng.integers(1, 60))])))
    df = pd.DataFrame(rows)
    for col in ("known_at", "planned_start", "planned_end"):
        df[col] = pd.to_datetime(df[col], utc=True)
    df.loc[df.index[-1], "planned_end"] = pd.NaT  # a job without an end: both paths read it the same way
    return df


def random_series(jobs: pd.DataFrame, horizon: int, seed: int = 0) -> list[SeriesArrays]:
    """One series per site; the last has 30 forecast-only hours (NaN targets) after its meter readings."""
    rng = np.random.default_rng(seed)
    out = []
    for n, (meta, hours) in enumerate(zip(RAND_METAS, RAND_HOURS)):
        ts = pd.date_range(T0 + HOUR * n, periods=hours, freq="h")
        power = pd.Series(rng.uniform(10, 30, hours), index=ts)
        temp = pd.Series(rng.normal(10, 5, hours), index=ts)
        last = n == len(RAND_METAS) - 1
        out.append(build_series(meta, jobs, power.iloc[:-30] if last else power, temp, horizon, ts))
    return out


def valid_origins(store: WindowStore) -> list[np.ndarray]:
    """Per series: every issue index with a full history, forecast-only ones included."""
    return [store.origins(k, need_target=False) for k in range(len(store.series))]


@pytest.mark.parametrize("seed,horizon", [(0, 48), (1, 24), (2, 96)])
def test_compact_gather_equals_materialised_gather(seed, horizon):
    jobs = random_jobs(seed)
    series = random_series(jobs, horizon, seed)
    compact = WindowStore(series, L, horizon)
    dense = WindowStore(series, L, horizon, compact=False)
    assert compact.compact and not dense.compact and len(compact.ev_tau) > 0
    rng = np.random.default_rng(seed)
    per = valid_origins(compact)
    # random issue times of every series, and the last hours of each (leads past the series' end)
    g = np.concatenate([np.concatenate([rng.choice(o, 60), o[-horizon - 2:]]) for o in per])
    a, b = compact.gather(torch.from_numpy(g)), dense.gather(torch.from_numpy(g))
    for key in ("x_hist", "y", "scale"):
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, equal_nan=True)
    torch.testing.assert_close(a["x_fut"], b["x_fut"], rtol=0, atol=1e-6)
    # the schedule against the materialised reference algorithm of features.schedule_covariates
    C = len(SCHEDULE_CHANNELS)
    k_of, i_of = series_of(compact, g)
    for k, s in enumerate(series):
        ref = schedule_covariates(jobs, RAND_METAS[k], s.ts, horizon)  # (T, H, C)
        r = k_of == k
        np.testing.assert_allclose(a["x_fut"][torch.from_numpy(r)][:, :, :C].numpy(), ref[i_of[r]], atol=1e-6)
        np.testing.assert_allclose(s.fut.dense(), ref, atol=1e-6)
        np.testing.assert_allclose(s.hist[:, 1:1 + C], ref[:, 0], atol=1e-6)  # history: lead 0 as planned then


def test_compact_store_memory_does_not_grow_with_the_horizon():
    jobs = random_jobs(3)
    C = len(SCHEDULE_CHANNELS)
    per_hour = 4 * (1 + len(HIST_CHANNELS) + (len(FUT_CHANNELS) - C) + 1 + C)  # y, hist, cal, scale, lead 0
    per_event = 4 * 8 + 4  # τ, lo, hi, channel (int64), weight (float32)
    # each version has ≤ 5 non-zero channel weights (GPUs, FLOP rate, power; starts; ends), each two edges
    event_bound = 2 * 5 * len(jobs)
    base, dense = {}, {}
    for horizon in (24, 336):
        series = random_series(jobs, horizon)
        store = WindowStore(series, L, horizon)
        padding = per_hour * len(series) * horizon + 8 * (L + horizon)  # O(H): padding rows, the offset ranges
        events = per_event * len(store.ev_tau)
        assert len(store.ev_tau) <= event_bound
        base[horizon] = store.nbytes - padding - events
        dense[horizon] = WindowStore(series, L, horizon, compact=False).nbytes
    assert base[24] == base[336] == per_hour * sum(RAND_HOURS)
    T = sum(RAND_HOURS)
    assert dense[336] - dense[24] >= 4 * C * T * (336 - 24)  # the materialised store grows with T × H


def test_materialised_array_round_trips_through_the_compact_form():
    rng = np.random.default_rng(0)
    fut = rng.normal(size=(40, 9, 3)).astype(np.float32)  # any (T, H, C) array, revised at every issue
    kf = KnownFuture.from_dense(fut)
    np.testing.assert_allclose(kf.dense(), fut, atol=1e-5)
    np.testing.assert_allclose(kf.at(np.array([39, 0, 17])), fut[[39, 0, 17]], atol=1e-5)
    col = rng.normal(size=(49, 2)).astype(np.float32)  # a known-future column never revised: no events
    never = np.stack([col[h:h + 40] for h in range(9)], axis=1)  # (T, H, C): col[i + h] at issue i
    sa = SeriesArrays("s", pd.date_range(T0, periods=40, freq="h"), np.ones(40, np.float32),
                      np.zeros((40, 1), np.float32), never, np.zeros((49, 0), np.float32), 1.0)
    assert isinstance(sa.fut, KnownFuture) and len(sa.fut.tau) == 0
    store = WindowStore([sa], 4, 9)
    g = torch.arange(4, 40)
    np.testing.assert_array_equal(store.gather(g)["x_fut"].numpy(), never[4:40])


def test_store_rejects_a_known_future_shorter_than_its_horizon():
    series = random_series(random_jobs(4, n_jobs=5), 24)
    with pytest.raises(ValueError, match="horizon 48"):
        WindowStore(series, L, 48)
    shorter = WindowStore(series, L, 12)  # a longer plan serves a shorter horizon
    g = torch.from_numpy(np.concatenate(valid_origins(shorter)))
    torch.testing.assert_close(shorter.gather(g)["x_fut"], WindowStore(series, L, 12, compact=False).gather(g)["x_fut"])
