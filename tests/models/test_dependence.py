"""Monte Carlo correlations fitted from normal-score paths: the inverse of the pledge's sampler."""

from __future__ import annotations

import numpy as np
import pytest

from forecast.models.dependence import (MIN_PATHS, ar1_sum_variance, fit_dependence, normal_scores,
                                        rho_for_sum_variance)
from forecast.pledge.sampling import ar1_normals, quantile_map

LEVELS = np.array([0.1, 0.5, 0.9])


@pytest.mark.parametrize("levels", [LEVELS, np.array([0.05, 0.25, 0.5, 0.75, 0.95])])
def test_normal_scores_invert_the_samplers_quantile_map(levels):
    rng = np.random.default_rng(0)
    S, T = 3, 50
    base = rng.uniform(10, 100, (S, T, 1))
    q = base + np.cumsum(rng.uniform(0.5, 5, (S, T, len(levels))), axis=-1)  # (S, T, K) increasing
    z = rng.standard_normal((4, S, T)) * 2.0  # also far in the tails (linear extension)
    x = quantile_map(z, q, levels)  # (4, S, T)
    back = normal_scores(x, np.broadcast_to(q, (4, S, T, len(levels))), levels)
    np.testing.assert_allclose(back, z, atol=1e-9)


def test_normal_scores_of_the_median_are_zero_and_equal_quantiles_do_not_divide_by_zero():
    q = np.array([[5.0, 5.0, 5.0], [1.0, 2.0, 4.0]])
    z = normal_scores(np.array([5.0, 2.0]), q, LEVELS)
    assert np.isfinite(z).all()
    assert z[1] == pytest.approx(0.0)


@pytest.mark.parametrize("rho", [0.0, 0.5, 0.9, 0.99, 0.999])
def test_rho_for_sum_variance_inverts_the_ar1_sum_variance(rho):
    W = 720
    assert rho_for_sum_variance(ar1_sum_variance(rho, W), W) == pytest.approx(rho, abs=1e-6)


def test_sum_variance_matches_simulated_ar1_paths():
    rng = np.random.default_rng(1)
    W, rho = 200, 0.95
    sums = ar1_normals(rng, (4000, W), rho).sum(axis=1)
    assert sums.var() == pytest.approx(ar1_sum_variance(rho, W), rel=0.08)


def test_fit_recovers_the_samplers_correlations():
    """Paths from the pledge's own copula (common factor + site terms, both AR(1)) give back its ρ_t and ρ_s."""
    rng = np.random.default_rng(2)
    O, S, W, rho_t, rho_s = 1500, 4, 168, 0.97, 0.4
    common = ar1_normals(rng, (O, 1, W), rho_t)
    z = np.sqrt(1 - rho_s) * ar1_normals(rng, (O, S, W), rho_t) + np.sqrt(rho_s) * common
    dep = fit_dependence(z)
    assert dep.n_windows == O and dep.window_h == W
    assert dep.rho_time == pytest.approx(rho_t, abs=0.01)
    assert dep.rho_sites == pytest.approx(rho_s, abs=0.06)


def test_persistent_bias_widens_instead_of_hiding_and_incomplete_windows_are_dropped():
    rng = np.random.default_rng(3)
    O, S, W = 200, 2, 100
    z = rng.standard_normal((O, S, W))
    unbiased = fit_dependence(z)
    biased = fit_dependence(z + 0.5)  # every hour half a score high: the window sums are far off
    assert unbiased.rho_time < 0.05
    assert biased.rho_time > 0.5
    z[:5, 0, 3] = np.nan
    assert fit_dependence(z).n_windows == O - 5


def test_too_few_windows_keep_the_configured_values():
    dep = fit_dependence(np.zeros((MIN_PATHS - 1, 2, 24)))
    assert dep.rho_time is None and dep.rho_sites is None
    assert "configured values kept" in dep.note
