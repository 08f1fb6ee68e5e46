"""LightGBM quantile baseline: shapes, no quantile crossing, no look-ahead, uses known-future covariates."""

import numpy as np
import pytest

from forecast.models.gbm import GBMForecaster

H = 24
FAST = {"n_estimators": 60, "num_leaves": 15}


def _series(T=24 * 60, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(T)
    known = (rng.random(T) < 0.3).astype(float)[:, None]  # (T, 1) e.g. a planned job on/off
    y = 10 + 2 * np.sin(2 * np.pi * t / 24) + 5 * known[:, 0] + rng.normal(0, 0.2, T)
    return y, known


@pytest.fixture(scope="module")
def fitted():
    y, known = _series()
    m = GBMForecaster(horizon=H, params=FAST)
    train = np.arange(m.min_history, 24 * 45, 6)
    m.fit(y, known, train)
    return m, y, known


def test_shape_and_sorted_quantiles(fitted):
    m, y, known = fitted
    origins = np.arange(24 * 50, 24 * 58, 24)
    f = m.predict(y, known, origins)
    assert f.shape == (origins.size, H, 3)
    assert np.all(np.diff(f, axis=-1) >= 0)


def test_future_only_signal_is_not_used(fitted):
    m, y, known = fitted
    origins = np.array([24 * 50, 24 * 50 + 7, 24 * 55])
    base = m.predict(y, known, origins)
    for i in origins:  # plant a huge signal at and after the origin only
        y2 = y.copy()
        y2[i:] += 1000.0 * np.sign(np.sin(np.arange(y.size - i)))
        np.testing.assert_array_equal(m.predict(y2, known, [i]), base[origins == i])
        k2 = known.copy()
        k2[i + H:] = 1 - k2[i + H:]  # covariates beyond the horizon are not read either
        np.testing.assert_array_equal(m.predict(y, k2, [i]), base[origins == i])


def test_known_future_covariates_are_used_and_beat_seasonal_naive(fitted):
    m, y, known = fitted
    origins = np.arange(24 * 46, 24 * 59, 24)
    f = m.predict(y, known, origins)
    actual = np.stack([y[i: i + H] for i in origins])
    naive = np.stack([y[i - 24: i - 24 + H] for i in origins])
    mae_gbm = np.abs(f[..., 1] - actual).mean()
    mae_naive = np.abs(naive - actual).mean()
    assert mae_gbm < 0.5 * mae_naive  # naive cannot know the planned on/off steps
    cover = np.mean((actual >= f[..., 0]) & (actual <= f[..., 2]))
    assert 0.5 < cover <= 1.0
    flipped = known.copy()
    i = origins[0]
    flipped[i: i + H] = 1 - flipped[i: i + H]
    assert not np.allclose(m.predict(y, flipped, [i]), f[:1])


def test_misuse_is_rejected():
    y, known = _series(T=24 * 20)
    m = GBMForecaster(horizon=H, params=FAST)
    with pytest.raises(RuntimeError, match="call fit"):
        m.predict(y, known, [300])
    with pytest.raises(ValueError, match="hours of history"):
        m.fit(y, known, [10])
    with pytest.raises(ValueError, match="targets up to"):
        m.fit(y, known, [y.size - 5])
    with pytest.raises(ValueError, match="strictly increasing"):
        GBMForecaster(quantiles=(0.9, 0.1))
