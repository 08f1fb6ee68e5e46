"""Joint samples reproduce the forecast quantiles hour by hour and carry temporal/site correlation."""

from __future__ import annotations

import numpy as np
import pytest

from forecast.pledge.sampling import ar1_normals, draw_samples, quantile_map


def test_ar1_is_stationary_unit_variance_with_lag_one_correlation():
    z = ar1_normals(np.random.default_rng(0), (400, 500), 0.9)
    assert z.std() == pytest.approx(1.0, abs=0.03)
    assert z[:, 0].std() == pytest.approx(1.0, abs=0.1)
    r = np.mean(z[:, 1:] * z[:, :-1])
    assert r == pytest.approx(0.9, abs=0.02)


def test_samples_reproduce_the_quantiles():
    T = 24
    q = np.stack([np.tile([[800.0, 850.0, 880.0]], (T, 1)), np.tile([[10.0, 50.0, 200.0]], (T, 1))])  # (S, T, K)
    d = draw_samples(np.random.default_rng(1), 4000, q, np.array([0.1, 0.5, 0.9]), np.array([1000.0, 1000.0]),
                     0.9, 0.5)
    assert d.shape == (4000, 2, T)
    emp = np.quantile(d, [0.1, 0.5, 0.9], axis=0)  # (3, S, T)
    np.testing.assert_allclose(emp[:, 0, :].mean(axis=1), [800, 850, 880], rtol=0.01)
    np.testing.assert_allclose(emp[:, 1, :].mean(axis=1), [10, 50, 200], rtol=0.08)
    assert d.min() >= 0 and d.max() <= 1000  # clipped to [0, capacity]
    c = np.corrcoef(d[:, 0, 0], d[:, 1, 0])[0, 1]
    assert c > 0.3  # sites share the common factor


def test_zero_score_gives_the_median_and_tails_are_linear():
    q = np.array([[[1.0, 2.0, 4.0]]])  # (1, 1, 3)
    lv = np.array([0.1, 0.5, 0.9])
    z = np.array([[[0.0]], [[1.2815515655446004]], [[-1.2815515655446004]], [[2 * 1.2815515655446004]]])
    v = quantile_map(z, q, lv)[:, 0, 0]
    np.testing.assert_allclose(v, [2.0, 4.0, 1.0, 6.0])


def test_general_levels_interpolate_in_normal_score_space():
    lv = np.array([0.05, 0.25, 0.5, 0.75, 0.95])
    q = np.array([[[0.0, 5.0, 10.0, 20.0, 40.0]]])  # (1, 1, 5)
    from scipy.stats import norm

    zk = norm.ppf(lv)
    v = quantile_map(zk[:, None, None, None] * np.ones((5, 1, 1, 1)), q, lv)  # at the knots
    np.testing.assert_allclose(v.ravel(), q.ravel(), atol=1e-12)
    mid = quantile_map(np.array([[[(zk[2] + zk[3]) / 2]]]), q, lv)
    assert mid.item() == pytest.approx(15.0)
    d = draw_samples(np.random.default_rng(2), 20000, np.repeat(q, 3, axis=1), lv, np.array([100.0]), 0.5, 1.0)
    np.testing.assert_allclose(np.quantile(d[:, 0, 0], lv[1:4]), [5, 10, 20], rtol=0.05)
