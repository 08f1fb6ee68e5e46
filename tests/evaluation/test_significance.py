"""Diebold–Mariano with the Harvey–Leybourne–Newbold correction against hand-computed cases, and the
price benchmark's epftoolbox test built on the same core."""

import math

import numpy as np
import pytest

from forecast.evaluation.significance import dm_hln, dm_statistic, hln_factor, long_run_variance


def t5_cdf(t: float) -> float:
    """Student t CDF with 5 degrees of freedom in closed form (odd ν), independent of scipy."""
    th = math.atan(t / math.sqrt(5))
    return 0.5 + (th + math.sin(th) * math.cos(th) * (1 + 2 / 3 * math.cos(th) ** 2)) / math.pi


def test_one_step_case_by_hand():
    # d = |e1| − |e2| = [2, 0, 1, 3, −1, 1]: mean 1, γ0 = 10/6, V = γ0/6, DM = 6/√10,
    # HLN factor √(5/6): DM* = √3; p = 2(1 − F_t5(√3))
    d = np.array([2.0, 0.0, 1.0, 3.0, -1.0, 1.0])
    e1, e2 = np.where(d > 0, d, 0.0), np.where(d < 0, -d, 0.0)
    assert long_run_variance(d, 1) == pytest.approx(10 / 36, rel=1e-12)
    assert dm_statistic(d, 1) == pytest.approx(6 / math.sqrt(10), rel=1e-12)
    r = dm_hln(e1, e2, h=1)
    assert r.statistic == pytest.approx(math.sqrt(3), rel=1e-12)
    assert r.p_value == pytest.approx(2 * (1 - t5_cdf(math.sqrt(3))), rel=1e-9)
    assert (r.n, r.h, r.mean_loss_diff) == (6, 1, pytest.approx(1.0))
    assert r.verdict() == "level"  # p ≈ 0.144: e2 is not significantly better
    assert dm_hln(e2, e1).statistic == pytest.approx(-math.sqrt(3), rel=1e-12)


def test_two_step_case_by_hand_and_fallback():
    # d = [3, 1, 2, 0, −1, 1]: mean 1, γ0 = 10/6, γ1 = 1/6, V = (γ0 + 2γ1)/6 = 1/3, DM = √3;
    # HLN factor at n = 6, h = 2: √((6 + 1 − 4 + 2/6)/6) = √5/3, DM* = √15/3
    d = np.array([3.0, 1.0, 2.0, 0.0, -1.0, 1.0])
    assert long_run_variance(d, 2) == pytest.approx(1 / 3, rel=1e-12)
    assert hln_factor(6, 2) == pytest.approx(math.sqrt(5) / 3, rel=1e-12)
    r = dm_hln(np.maximum(d, 0), np.maximum(-d, 0), h=2)
    assert r.statistic == pytest.approx(math.sqrt(15) / 3, rel=1e-12)
    assert r.p_value == pytest.approx(2 * (1 - t5_cdf(math.sqrt(15) / 3)), rel=1e-9)
    # [2, 0, 1, 3, −1, 1] at h = 2: γ1 = −5/6 makes V = 0, so the one-step variance is used: 6/√10 · √5/3 = √2
    r0 = dm_hln(np.array([2.0, 0, 1, 3, 0, 1]), np.array([0.0, 0, 0, 0, 1, 0]), h=2)
    assert r0.statistic == pytest.approx(math.sqrt(2), rel=1e-12)


def test_errors_per_lead_are_averaged_and_clear_winner_is_significant():
    rng = np.random.default_rng(0)
    e2 = rng.normal(0, 1, (40, 24))
    e1 = e2 * 3  # three times the error at every lead
    r = dm_hln(e1, e2, h=1)
    assert r.mean_loss_diff == pytest.approx(2 * np.abs(e2).mean(), rel=1e-12)
    assert r.p_value < 1e-6 and r.verdict() == "better"
    assert dm_hln(e2, e1).verdict() == "worse"


def test_untestable_cases_are_level():
    same = np.ones((10, 3))
    r = dm_hln(same, same)
    assert math.isnan(r.p_value) and r.verdict() == "level"  # equal forecasts: 0/0
    assert math.isnan(dm_hln(np.ones(2), np.zeros(2)).p_value)  # n < 3
    with pytest.raises(ValueError, match="share one"):
        dm_hln(np.ones(3), np.ones(4))
