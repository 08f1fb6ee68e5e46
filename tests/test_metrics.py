"""Metrics against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from forecast.evaluation import metrics as m


def test_point_metrics_by_hand():
    y = np.array([1.0, 2.0, 4.0])
    f = np.array([2.0, 2.0, 1.0])
    assert m.mae(y, f) == pytest.approx(4 / 3)
    assert m.rmse(y, f) == pytest.approx(np.sqrt(10 / 3))
    assert m.smape(y, f) == pytest.approx(100 * (2 / 3 + 0 + 6 / 5) / 3)
    assert m.mase(y, f, scale=2.0) == pytest.approx(2 / 3)


def test_pinball_and_coverage_by_hand():
    y = np.array([0.0, 10.0])
    q = np.array([[-1.0, 0.0, 1.0], [0.0, 5.0, 20.0]])
    lv = [0.1, 0.5, 0.9]
    # y=0: 0.1*1, 0, (0.9-1)*(-1) ; y=10: 0.1*10, 0.5*5, (0.9-1)*(-10)
    assert m.pinball(y, q, lv) == pytest.approx((0.1 + 0 + 0.1 + 1.0 + 2.5 + 1.0) / 6)
    assert m.crps_from_quantiles(y, q, lv) == pytest.approx(2 * m.pinball(y, q, lv))
    assert m.coverage(y, q[:, 0], q[:, 2]) == 1.0
    assert m.coverage(np.array([5.0, 30.0]), q[:, 0], q[:, 2]) == 0.0


def test_top_share_uses_the_highest_actual_hours():
    y = np.arange(100, dtype=float)
    f = y.copy()
    f[-5:] += 10.0  # errors only on the top 5 hours
    assert m.top_share_mae(y, f, 0.05) == pytest.approx(10.0)
    assert m.mae(y, f) == pytest.approx(0.5)


def test_nan_is_an_error_not_skipped():
    with pytest.raises(ValueError, match="NaN"):
        m.mae(np.array([1.0, np.nan]), np.array([1.0, 1.0]))
