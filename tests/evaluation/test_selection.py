"""Validated model choice: per refit the contender with the lowest validation MAE, its quantiles unchanged, or the
pointwise median of the best few; the pretrained start is used only where the weights fit, and is a copy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from forecast.evaluation.rolling import Refit, RollingResult
from forecast.evaluation.selection import select, validation_table


def result(n_refits: int = 3, per: int = 2) -> RollingResult:
    N, H, Q = n_refits * per, 4, 3
    refit_of = np.repeat(np.arange(n_refits), per)
    refits = [Refit(j, f"2025-01-0{j + 1} 00:00:00+00:00", "", "", "", 10, 5, per, 1, 0.1, val_mae=[0.5, 0.2, 0.9][j])
              for j in range(n_refits)]
    q = {name: np.full((N, H, Q), float(k)) for k, name in enumerate(["learned", "naive", "gbm"])}
    return RollingResult(np.arange(N), pd.DatetimeIndex(pd.date_range("2025-01-01", periods=N, freq="D", tz="UTC")),
                         np.zeros(N, int), np.zeros((N, H)), np.ones(N), q, refit_of, refits)


def test_each_refit_takes_the_lowest_validation_mae_and_ties_go_to_the_earlier_candidate():
    res = result()
    others = [{"at": res.refits[0].at, "model": "naive", "val_mae": 0.3},  # refit 0: naive (0.3 < 0.5)
              {"at": res.refits[1].at, "model": "naive", "val_mae": 0.2},  # refit 1: a tie, learned first
              {"at": res.refits[2].at, "model": "gbm", "val_mae": 0.4},  # refit 2: gbm
              {"at": res.refits[2].at, "model": "naive", "val_mae": float("nan")}]  # unscored: not a candidate
    table = validation_table(res, "learned", others)
    picked = select(res, ["learned", "naive", "gbm"], table)
    assert [p["chosen"] for p in picked] == ["naive", "learned", "gbm"]
    assert [p["n_origins"] for p in picked] == [2, 2, 2] and "naive" not in picked[2]["val_mae"]
    np.testing.assert_array_equal(res.quantiles["model"][:2], res.quantiles["naive"][:2])
    np.testing.assert_array_equal(res.quantiles["model"][2:4], res.quantiles["learned"][2:4])
    np.testing.assert_array_equal(res.quantiles["model"][4:], res.quantiles["gbm"][4:])


def test_the_median_of_the_best_three_per_refit_is_pointwise_and_keeps_quantiles_ordered():
    rng = np.random.default_rng(3)
    res = result(2, per=3)
    names = ["learned", "naive", "gbm", "lgb2"]
    for k in names:  # random non-crossing quantiles per candidate
        res.quantiles[k] = np.cumsum(rng.exponential(1.0, size=(6, 4, 3)), axis=-1) + rng.normal(0, 2, (6, 4, 1))
    table = {res.refits[0].at: {"learned": 0.5, "naive": 0.1, "gbm": 0.3, "lgb2": 0.2},
             res.refits[1].at: {"learned": 0.4, "naive": 0.9}}  # only two scored: their mean
    picked = select(res, names, table, top=3)
    assert picked[0]["combined"] == ["naive", "lgb2", "gbm"] and picked[0]["chosen"] == "median(naive, lgb2, gbm)"
    assert picked[1]["combined"] == ["learned", "naive"]
    q = res.quantiles
    for i, j, lv in [(0, 1, 0), (2, 3, 2), (1, 0, 1)]:  # origin 0..2 belong to refit 0
        want = sorted([q["naive"][i, j, lv], q["lgb2"][i, j, lv], q["gbm"][i, j, lv]])[1]
        assert q["model"][i, j, lv] == want
    np.testing.assert_allclose(q["model"][3:], (q["learned"][3:] + q["naive"][3:]) / 2)
    assert (np.diff(q["model"], axis=-1) >= 0).all()
    with pytest.raises(ValueError, match="top must be at least 1"):
        select(res, names, table, top=0)


def test_a_refit_without_any_score_is_an_error():
    res = result(1)
    with pytest.raises(ValueError, match="no candidate has a validation score"):
        select(res, ["naive"], {res.refits[0].at: {}})


def test_pretrained_start_only_where_the_weights_fit_and_fine_tuning_starts_from_a_copy(tmp_path):
    from forecast.evaluation.pretrained_start import fine_tune_start, pretrained_start
    from forecast.models import pretrained

    spec = pretrained.Spec(hidden=16)
    torch.manual_seed(0)
    path = pretrained.save(tmp_path / "w.pt", spec.build(), spec, {"commit": "abc"})
    ok = pretrained_start("pretrained", str(path), True, 168, 24, 0, (0.1, 0.5, 0.9), 16, 0.1)
    assert ok.init == "pretrained" and ok.reason == "" and ok.record()["weights_commit"] == "abc"
    m = fine_tune_start(ok)
    for (k, a), b in zip(m.state_dict().items(), ok.model.state_dict().values()):
        assert torch.equal(a, b), k
    next(m.parameters()).data.add_(1.0)  # training the copy leaves the loaded weights alone
    assert not torch.equal(next(m.parameters()), next(ok.model.parameters()))
    wide = pretrained_start("pretrained", str(path), True, 168, 24, 0, (0.1, 0.5, 0.9), 128, 0.1)
    assert wide.init == "scratch" and wide.model is None and "hidden 16" in wide.reason
    known = pretrained_start("pretrained", str(path), True, 168, 24, 2, (0.1, 0.5, 0.9), 16, 0.1)
    assert known.init == "scratch" and "n_known 0 (not 2)" in known.reason
    none = pretrained_start("pretrained", str(tmp_path / "none.pt"), True, 168, 24, 0, (0.1, 0.5, 0.9), 16, 0.1)
    assert none.init == "scratch" and "no pretrained weights" in none.reason
    assert pretrained_start("scratch", str(path), False, 168, 24, 0, (0.1, 0.5, 0.9), 16, 0.1).init == "scratch"
