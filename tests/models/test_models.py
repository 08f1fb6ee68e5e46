"""One harness for every model: shapes, non-crossing quantiles, loss falls on a learnable toy problem."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from forecast.config import ModelConfig, OptimizerConfig
from forecast.models import registry
from forecast.models.baselines import ResidualQuantiles, seasonal_naive
from forecast.models.quantile import monotone_quantiles, pinball_loss
from forecast.models.tide import TiDE

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA"))]


def test_pinball_matches_hand_computation():
    y = torch.tensor([[1.0, 2.0]])
    pred = torch.tensor([[[0.0, 1.0, 3.0], [2.0, 2.0, 2.0]]])
    lv = torch.tensor([0.1, 0.5, 0.9])
    # point 1: diffs 1, 0, -2 -> 0.1, 0, 0.2 ; point 2: all zero
    assert pinball_loss(pred, y, lv).item() == pytest.approx((0.1 + 0.0 + 0.2) / 6)


def test_monotone_quantiles_never_cross():
    raw = torch.randn(64, 10, 5) * 10
    q = monotone_quantiles(raw, 2)
    assert (q.diff(dim=-1) > 0).all()
    torch.testing.assert_close(q[..., 2], raw[..., 2])


@pytest.mark.parametrize("device", DEVICES)
def test_tide_shapes_and_no_crossing(device):
    m = TiDE(history=48, horizon=12, n_hist=5, n_fut=3, n_quantiles=5, median_index=2, hidden=32).to(device)
    q = m(torch.randn(7, 48, 5, device=device), torch.randn(7, 12, 3, device=device))
    assert q.shape == (7, 12, 5)
    assert (q.diff(dim=-1) > 0).all()


@pytest.mark.parametrize("device", DEVICES)
def test_tide_learns_a_toy_problem(device):
    """Target = known-future covariate + level: the loss must fall well below its start."""
    torch.manual_seed(0)
    B, L, H = 256, 48, 12
    x_fut = torch.rand(B, H, 2, device=device)
    level = torch.rand(B, 1, device=device)
    y = level + x_fut[..., 0]
    hist = torch.cat([level.expand(B, L).unsqueeze(-1), torch.zeros(B, L, 1, device=device)], -1)
    m = TiDE(L, H, 2, 2, 3, 1, hidden=64, dropout=0.0).to(device)
    opt = torch.optim.Adam(m.parameters(), 3e-3)
    lv = torch.tensor([0.1, 0.5, 0.9], device=device)
    losses = []
    for _ in range(150):
        loss = pinball_loss(m(hist, x_fut), y, lv)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0]


def test_registry_round_trip(tmp_path):
    cfg = ModelConfig(hidden=32, optimizer=OptimizerConfig())
    m = registry.build(cfg, 48, 12).eval()
    p = registry.save(tmp_path / "m.pt", m, cfg, 48, 12, extra={"run_id": "abc"})
    m2, meta = registry.load(p)
    assert meta["run_id"] == "abc" and meta["history_h"] == 48
    from forecast.data.windows import FUT_CHANNELS, HIST_CHANNELS

    xh, xf = torch.randn(3, 48, len(HIST_CHANNELS)), torch.randn(3, 12, len(FUT_CHANNELS))
    torch.testing.assert_close(m(xh, xf), m2(xh, xf))


def test_seasonal_naive_indexing():
    L, H = 48, 30
    y = torch.arange(L, dtype=torch.float32).reshape(1, L, 1)
    p24 = seasonal_naive(y, H, 24)[0].numpy()
    # lead h targets hour L+h; 24 h earlier is L+h-24 (for h < 24), 48 h earlier for 24 <= h < 48
    np.testing.assert_array_equal(p24[:24], np.arange(24, 48))
    np.testing.assert_array_equal(p24[24:30], np.arange(24, 30))
    with pytest.raises(ValueError, match="exceeds the history"):
        seasonal_naive(y, H, 168)


def test_residual_quantiles_fit_only_what_they_see():
    rng = np.random.default_rng(0)
    point = np.zeros((4000, 3))
    y = rng.normal(0, 2.0, (4000, 3))
    rq = ResidualQuantiles((0.1, 0.5, 0.9)).fit(point, y)
    q = rq.apply(np.ones((2, 3)))
    assert q.shape == (2, 3, 3)
    np.testing.assert_allclose(q[..., 1], 1.0)
    assert q[0, 0, 2] - 1 == pytest.approx(2.0 * 1.2816, rel=0.08)


def test_power_model_quantiles_are_bounded_by_construction():
    """Every quantile of the shipped power model lies in [0, capacity] (capacity units), for any input."""
    from forecast.data.windows import FUT_CHANNELS, HIST_CHANNELS

    torch.manual_seed(0)
    m = registry.build(ModelConfig(hidden=16, temporal_hidden=8), 48, 12).eval()
    assert m.bounds == (0.0, 1.0)
    x_hist = torch.randn(64, 48, len(HIST_CHANNELS)) * 50  # far outside the training range
    x_fut = torch.randn(64, 12, len(FUT_CHANNELS)) * 50
    with torch.no_grad():
        q = m(x_hist, x_fut)  # (B, H, Q)
    assert q.shape == (64, 12, 3)
    assert float(q.min()) == 0.0 and float(q.max()) == 1.0  # the bounds are reached, never passed
    assert (q >= 0).all() and (q <= 1).all()
    assert (torch.diff(q, dim=-1) >= 0).all()  # still non-crossing
    with pytest.raises(ValueError, match="low < high"):
        TiDE(48, 12, 5, 3, bounds=(1.0, 0.0))
