"""The pretrained power model: the corpus generator is seeded and physical, `forecast pretrain` writes weights and a
card that load back into the same forecasts, and the layout check names what differs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from forecast.data.synthetic_series import KINDS, SeriesSpec, synthetic_series
from forecast.models import pretrained


def test_corpus_is_seeded_varied_and_never_negative():
    a = list(synthetic_series(SeriesSpec(scenarios=2, seed=5)))
    b = list(synthetic_series(SeriesSpec(scenarios=2, seed=5)))
    assert [n for n, _ in a] == [n for n, _ in b]
    for (_, s), (_, t) in zip(a, b):
        np.testing.assert_array_equal(s.to_numpy(), t.to_numpy())
    assert {n.rsplit("/", 1)[1] for n, _ in a} == set(KINDS)
    for name, s in a:
        v = s.dropna().to_numpy()
        assert len(v) and (v >= 0).all(), name
        assert s.index.tz is not None and (np.diff(s.index.as_unit("ns").asi8) == 3_600_000_000_000).all()
        if name.endswith("occupancy"):
            assert v.max() <= 1.0 + 1e-9
    other = list(synthetic_series(SeriesSpec(scenarios=2, seed=6)))
    assert not np.array_equal(a[0][1].to_numpy(), other[0][1].to_numpy())


@pytest.mark.slow
def test_pretrain_writes_weights_and_a_card_that_load_back(tmp_path):
    from forecast.pipeline.pretrain import PretrainConfig, pretrain

    out = tmp_path / "w.pt"
    path, card = pretrain(PretrainConfig(out=str(out), scenarios=2, val_scenarios=1, epochs=1, windows_per_epoch=512,
                                         batch_size=128, hidden=32, accelerator="cpu"))
    assert path == str(out) and out.stat().st_size < 5_000_000
    on_disk = json.loads(pretrained.card_path(out).read_text())
    assert on_disk["training"]["steps"] == 4 and on_disk["corpus"]["train"]["series"] > 0
    assert on_disk["corpus"]["validation"]["seed"] != on_disk["corpus"]["train"]["seed"]
    z = on_disk["validation_zero_shot"]
    assert z["series_scored"] > 0 and z["median_mae_ratio_vs_seasonal_naive_24h"] > 0
    model, spec, card2 = pretrained.load(out)
    assert spec.hidden == 32 and card2 == on_disk
    x_hist, x_fut = torch.randn(3, spec.history, 7), torch.randn(3, spec.horizon, 6)
    q = model(x_hist, x_fut)
    assert q.shape == (3, 24, 3) and (q[..., 0] <= q[..., 1]).all() and (q[..., 1] <= q[..., 2]).all()


def test_layout_mismatch_is_named():
    spec = pretrained.Spec()
    assert pretrained.matches(spec, 168, 24, 0, (0.1, 0.5, 0.9)) == ""
    why = pretrained.matches(spec, 168, 48, 1, (0.1, 0.5, 0.9))
    assert why == "the pretrained weights have horizon 24 (not 48), n_known 0 (not 1)"
    with pytest.raises(FileNotFoundError, match="forecast pretrain"):
        pretrained.load("/nonexistent/w.pt")


def test_quiet_spells_in_the_corpus_are_optional_and_checked():
    """p_quiet_spells=0 (the default) draws the corpus drawn before spells existed; 1 gives every scenario
    spells (other series); the pretrain key is a share in [0, 1]."""
    from forecast.config import ConfigError
    from forecast.pipeline.pretrain import PretrainConfig

    base = list(synthetic_series(SeriesSpec(scenarios=1, seed=5)))
    zero = list(synthetic_series(SeriesSpec(scenarios=1, seed=5, p_quiet_spells=0.0)))
    spells = list(synthetic_series(SeriesSpec(scenarios=1, seed=5, p_quiet_spells=1.0)))
    for (_, s), (_, t) in zip(base, zero):
        np.testing.assert_array_equal(s.to_numpy(), t.to_numpy())
    assert not all(np.array_equal(s.to_numpy(), t.to_numpy(), equal_nan=True) for (_, s), (_, t) in zip(base, spells))
    with pytest.raises(ConfigError, match="quiet_spells"):
        PretrainConfig(quiet_spells=1.5)
