"""Known-future covariates: exactly the schedule as planned at issue time, nothing later."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecast.data import contracts as c
from forecast.data.asof import schedule_as_of
from forecast.data.features import PHYS, SCHEDULE_CHANNELS, SiteMeta, calendar, schedule_covariates
from forecast.data.gpus import gpu_spec

META = SiteMeta("a", "Z", capacity_mw=100.0, pue_design=1.2, base_load_mw=2.0, host_ratio=0.3,
                fleet={"H100": 1000, "B200": 500})
T0 = pd.Timestamp("2025-01-01T00:00Z")


def J(job_id, known, start, end, n, gpu="H100", flops=None):
    h = lambda x: (T0 + pd.Timedelta(hours=x)).isoformat()  # noqa: E731
    return dict(job_id=job_id, site_id="a", known_at=h(known), planned_start=h(start), planned_end=h(end), n_gpus=n,
                gpu_type=gpu, flop_budget=flops, precision="bf16", curtailable=False)


@pytest.fixture
def jobs():
    rows = [J("j1", -100, 5, 20, 400), J("j2", 10, 30, 40, 200, "B200", 1e21),
            J("j1", 8, 12, 27, 400),  # j1 slips: revision known at hour 8
            J("j3", 0, 0, 3, 100)]
    return c.validate(pd.DataFrame(rows), "jobs", "jobs")


def brute(jobs, t_h, H, channel):
    """Reference: the schedule as of t, evaluated hour by hour."""
    t = T0 + pd.Timedelta(hours=t_h)
    s = schedule_as_of(jobs, t)
    out = np.zeros(H)
    for h in range(H):
        hour = t + pd.Timedelta(hours=h)
        act = s[(s.planned_start <= hour) & (s.planned_end > hour)]
        if channel.startswith("gpus_"):
            out[h] = act.loc[act.gpu_type == channel[5:], "n_gpus"].sum() / META.n_gpus
        elif channel == "starts":
            out[h] = s.loc[s.planned_start == hour, "n_gpus"].sum() / META.n_gpus
        elif channel == "ends":
            out[h] = s.loc[s.planned_end == hour, "n_gpus"].sum() / META.n_gpus
    return out


def test_matches_brute_force_as_of_schedule(jobs):
    issue = pd.date_range(T0 - pd.Timedelta(hours=2), periods=45, freq="h")
    cov = schedule_covariates(jobs, META, issue, 24)
    assert cov.shape == (45, 24, len(SCHEDULE_CHANNELS))
    for n, t in enumerate(issue):
        th = int((t - T0) / pd.Timedelta(hours=1))
        for ch in ("gpus_H100", "gpus_B200", "starts", "ends"):
            np.testing.assert_allclose(cov[n, :, SCHEDULE_CHANNELS.index(ch)], brute(jobs, th, 24, ch), atol=1e-6,
                                       err_msg=f"{ch} at issue {t}")


def test_revision_known_later_does_not_leak_into_earlier_issues(jobs):
    issue = pd.date_range(T0, periods=12, freq="h")
    cov = schedule_covariates(jobs, META, issue, 24)
    h100 = cov[:, :, SCHEDULE_CHANNELS.index("gpus_H100")]
    # issued at hour 7 (before the slip is known): j1 planned for hours 5..19 -> leads 0..12 busy
    assert h100[7, 0] == pytest.approx(0.4 / 1.5)
    # issued at hour 8 (slip known): j1 now 12..26 -> lead 0 (hour 8) free, lead 4 (hour 12) busy
    assert h100[8, 0] == pytest.approx(0.0)
    assert h100[8, 4] == pytest.approx(0.4 / 1.5)
    # j2 is known from hour 10 only
    b200 = cov[:, :, SCHEDULE_CHANNELS.index("gpus_B200")]
    assert b200[9].max() == 0.0 and b200[10, 20] == pytest.approx(200 / 1500)


def test_revision_known_at_half_past_is_invisible_at_the_hour_before():
    """Known at 10:30: the forecast issued at 10:00 still sees the old plan, the one issued at 11:00 the new."""
    rows = [J("j1", -50, 20, 30, 400), {**J("j1", 0, 14, 30, 400), "known_at": "2025-01-01T10:30:00+00:00"}]
    jobs = c.validate(pd.DataFrame(rows), "jobs", "jobs")
    issue = pd.date_range(T0 + pd.Timedelta(hours=9), periods=4, freq="h")  # 09:00 … 12:00
    h100 = schedule_covariates(jobs, META, issue, 24)[:, :, SCHEDULE_CHANNELS.index("gpus_H100")]
    busy = 400 / 1500
    # issued at 10:00: j1 still planned for hours 20..29 -> hour 14 (lead 4) free, hour 20 (lead 10) busy
    assert h100[1, 4] == 0.0 and h100[1, 10] == pytest.approx(busy)
    # issued at 11:00: the revision (hours 14..29) is known -> hour 14 (lead 3) busy
    assert h100[2, 3] == pytest.approx(busy) and h100[2, 2] == 0.0
    np.testing.assert_array_equal(h100[0, 1:], h100[1, :-1])  # 09:00 and 10:00 see the same plan
    starts = schedule_covariates(jobs, META, issue, 24)[:, :, SCHEDULE_CHANNELS.index("starts")]
    assert np.flatnonzero(starts[1]).tolist() == [10] and np.flatnonzero(starts[2]).tolist() == [3]


def test_job_moved_to_another_site_leaves_the_first():
    """A revision that moves a job to site b supersedes it at site a from the hour it is known."""
    meta_b = SiteMeta("b", "Z", capacity_mw=50.0, pue_design=1.2, base_load_mw=1.0, host_ratio=0.3, fleet={"H100": 800})
    rows = [J("j1", -10, 5, 20, 400), {**J("j1", 3, 5, 20, 400), "site_id": "b"}]
    jobs = c.validate(pd.DataFrame(rows), "jobs", "jobs")
    issue = pd.date_range(T0, periods=5, freq="h")
    col = SCHEDULE_CHANNELS.index("gpus_H100")
    at_a = schedule_covariates(jobs, META, issue, 24)[:, :, col]
    at_b = schedule_covariates(jobs, meta_b, issue, 24)[:, :, col]
    assert at_a[2, 5] == pytest.approx(400 / 1500) and at_a[3:].max() == 0.0  # gone from a once the move is known
    assert at_b[:3].max() == 0.0 and at_b[3, 2] == pytest.approx(400 / 800)


def test_single_issue_time_equals_row_of_the_batch(jobs):
    issue = pd.date_range(T0 - pd.Timedelta(hours=3), periods=40, freq="h")
    cov = schedule_covariates(jobs, META, issue, 30)
    for n in (0, 11, 39):
        one = schedule_covariates(jobs, META, issue[n:n + 1], 30)
        np.testing.assert_array_equal(one[0], cov[n])


def test_physics_channel_is_idle_plus_dynamic_power(jobs):
    issue = pd.DatetimeIndex([T0 + pd.Timedelta(hours=9)])
    cov = schedule_covariates(jobs, META, issue, 40)[0]
    h100, b200 = gpu_spec("H100"), gpu_spec("B200")
    idle_mw = 1.2 * 1.3 * (1000 * h100.idle_w + 500 * b200.idle_w) / 1e6 + 2.0
    dyn_j1 = 1.2 * 1.3 * 400 * (h100.train_w - h100.idle_w) / 1e6
    mw = cov[:, PHYS] * META.capacity_mw
    assert mw[0] == pytest.approx(idle_mw, rel=1e-5)  # hour 9: nothing planned (j1 slipped to 12)
    assert mw[3] == pytest.approx(idle_mw + dyn_j1, rel=1e-5)  # hour 12: j1
    flop = cov[:, SCHEDULE_CHANNELS.index("flop_rate")]
    assert flop[25] == 0.0  # hour 34: j2 runs then, but at hour 9 it is not yet known
    later = schedule_covariates(jobs, META, pd.DatetimeIndex([T0 + pd.Timedelta(hours=10)]), 40)[0]
    peak = 1500 * b200.peak_flops("bf16")  # j2 runs on B200 at BF16: the site's 1,500 GPUs at that peak
    rate = later[:, SCHEDULE_CHANNELS.index("flop_rate")]
    assert rate[24] == pytest.approx(1e21 / (10 * 3600) / peak, rel=1e-5)  # hour 34, issued at 10
    assert rate[19] == 0.0  # hour 29: before j2 starts; j1 has no FLOP budget


def test_calendar_channels():
    cal = calendar(pd.date_range("2025-01-06T00:00Z", periods=48, freq="h"))  # a Monday
    assert cal.shape == (48, 6) and cal.dtype == np.float32
    np.testing.assert_allclose(cal[0, :2], [0.0, 1.0], atol=1e-6)  # midnight
    np.testing.assert_allclose(cal[6, :2], [1.0, 0.0], atol=1e-6)  # 06:00
    np.testing.assert_allclose(cal[24, :2], cal[0, :2], atol=1e-6)  # daily period
    assert np.abs(cal).max() <= 1.0
