"""Baseline quantiles: a seasonal naive's median is its lagged value exactly; the physics baseline's median
is its point plus its own median residual."""

import numpy as np
import pytest
import torch

from forecast.models.baselines import CENTER, ResidualQuantiles, seasonal_naive

LEVELS = (0.1, 0.5, 0.9)


def test_naive_median_is_the_lagged_value_even_when_every_residual_is_positive():
    """Residuals all > 0 (a rising series): sorting the quantiles used to move 0 to P10 and a residual
    quantile into the median; now the median is the point forecast bit for bit and P10 ≤ P50 ≤ P90."""
    rng = np.random.default_rng(1)
    L, H = 200, 24
    hist = torch.from_numpy(np.cumsum(rng.uniform(0.5, 1.5, (64, L)), axis=1)[..., None])  # (B, L, 1), rising
    point = seasonal_naive(hist, H, 24).numpy()  # (B, H)
    y = point + rng.uniform(1.0, 3.0, point.shape)  # every residual positive
    rq = ResidualQuantiles(LEVELS, CENTER["seasonal_naive_24h"]).fit(point, y)
    new_point = seasonal_naive(hist + 7.25, H, 24).numpy()
    q = rq.apply(new_point)
    np.testing.assert_array_equal(q[..., 1], new_point)  # exactly the lagged value
    np.testing.assert_array_equal(q[..., 0], new_point)  # P10 residual quantile > 0 is cut to 0, not swapped in
    assert (q[..., 2] > q[..., 1]).all()
    np.testing.assert_allclose(q[..., 2] - new_point, np.broadcast_to(np.quantile(y - point, 0.9, axis=0), q.shape[:2]), rtol=1e-9)


def test_physics_median_offset_is_its_median_residual():
    rng = np.random.default_rng(2)
    point = rng.uniform(10, 20, (500, 6))
    y = point * 1.1 + rng.normal(0, 0.5, point.shape)  # the design PUE is 10% low: a biased point forecast
    rq = ResidualQuantiles(LEVELS, CENTER["physics"]).fit(point, y)
    med = np.median(y - point, axis=0)
    assert (med > 0.5).all()
    np.testing.assert_allclose(rq.q[:, 1], med, rtol=1e-12)
    q = rq.apply(point[:3])
    np.testing.assert_allclose(q[..., 1], point[:3] + med, rtol=1e-12)
    assert (np.diff(q, axis=-1) >= 0).all()


def test_bad_center_is_refused():
    with pytest.raises(ValueError, match="center must be one of exact, residual"):
        ResidualQuantiles(LEVELS, "mean")
