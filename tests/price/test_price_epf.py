"""Day-ahead price model and the epf-bench protocol: metrics by hand, no look-ahead, monotone in load."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from forecast.cli import main as forecast_main
from forecast.cli import translate
from forecast.errors import ContractError
from forecast.models.price_net import PriceNet
from forecast.price import epf, lear
from forecast.price.model import DayAheadModel, PriceModelConfig
from forecast.price.readers import read_epf

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def synthetic_market(n_days: int = 90, seed: int = 0):
    """Prices that rise with load (plus weekly and daily shape and noise); two load forecasts."""
    rng = np.random.default_rng(seed)
    h = np.arange(24)
    day = np.arange(n_days)
    shape = 1 + 0.25 * np.sin((h - 7) / 24 * 2 * np.pi)  # (24,)
    level = 1 + 0.1 * np.sin(day / 7 * 2 * np.pi)  # (D,)
    load = 80_000 * level[:, None] * shape[None, :] * (1 + 0.03 * rng.standard_normal((n_days, 24)))
    zonal = load * 0.12 * (1 + 0.02 * rng.standard_normal((n_days, 24)))
    price = 5 + 4e-4 * load + 2 * rng.standard_normal((n_days, 24))
    exog = np.stack([load, zonal], axis=-1)  # (D, 24, 2)
    dow = (day + 1) % 7
    return price, exog, dow


def write_epf_csv(path: Path, price, exog) -> Path:
    ts = pd.date_range("2020-01-01", periods=price.size, freq="h")
    pd.DataFrame({"": ts.strftime("%Y-%m-%d %H:%M:%S"), "price": price.ravel(), "load a": exog[..., 0].ravel(),
                  "load b": exog[..., 1].ravel()}).to_csv(path, index=False)
    return path


# both LEAR transforms and one network, so that every member kind is in play at a small cost
SMALL = dict(windows=(28, 56), transforms=("asinh", "npit"), asinh_min_window=0, net_window=56, net_epochs=2,
             net_seeds=1, net_every=7, net_transforms=("npit",), batch_size=16, accelerator="cpu")


# ---------------------------------------------------------------------------- metrics by hand
def test_point_metrics_by_hand():
    y = np.array([[10.0, 20.0, 30.0, 40.0]])
    f = np.array([[12.0, 18.0, 30.0, 44.0]])
    naive = np.array([[8.0, 25.0, 20.0, 40.0]])
    m = epf.point_metrics(y, f, naive)
    assert m["mae"] == pytest.approx((2 + 2 + 0 + 4) / 4)
    assert m["rmae"] == pytest.approx(2.0 / ((2 + 5 + 10 + 0) / 4))
    assert m["smape"] == pytest.approx(100 * (4 / 22 + 4 / 38 + 0 + 8 / 84) / 4)


def test_naive_is_same_hour_one_week_earlier():
    price = np.arange(20 * 24, dtype=float).reshape(20, 24)
    out = epf.naive_weekly(price, np.array([7, 12]))
    assert np.array_equal(out, price[[0, 5]])


# ---------------------------------------------------------------------------- protocol
@pytest.mark.parametrize("net", [False, True])
def test_no_lookahead(net):
    """Day d's forecast is the same whatever the prices of d and later, and the exogenous data after d
    (run over 15 days so that the error-based member weights are in play)."""
    price, exog, dow = synthetic_market()
    d = 70
    cfg = PriceModelConfig(**{**SMALL, "net": net})

    def run(p, e):
        m = DayAheadModel(p, e, dow, cfg)
        out = [m.forecast_day(k) for k in range(d - 14, d + 1)]
        return m, out[-1]

    m, clean = run(price, exog)
    assert m.weights(d) is not None and m.weights(d).shape == (len(cfg.windows) * 2 + net, 24)
    p2, e2 = price.copy(), exog.copy()
    p2[d:] = 1e6
    e2[d + 1:] = -1e6
    _, poisoned = run(p2, e2)
    np.testing.assert_allclose(poisoned, clean, rtol=0, atol=1e-9)
    # the poison would show if it were read: changing day d-1's prices does move the forecast
    p3 = price.copy()
    p3[d - 1] += 50
    assert not np.allclose(run(p3, exog)[1], clean)


def test_refit_schedule_uses_only_past_days():
    price, exog, dow = synthetic_market()
    m = DayAheadModel(price, exog, dow, PriceModelConfig(**{**SMALL, "net": False, "lear_every": 3}))
    m.forecast_day(60)
    first = m._lear["lear-npit_28"].coef.copy()
    m.forecast_day(61)
    assert np.array_equal(m._lear["lear-npit_28"].coef, first)  # not yet due
    m.forecast_day(63)
    assert not np.array_equal(m._lear["lear-npit_28"].coef, first) and m._lear_day == 63
    assert sorted(m._lear) == ["lear-npit_28", "lear-npit_56", "lear_28", "lear_56"]


def test_network_fine_tuned_between_refits_from_past_days_only():
    """Between retrainings the network is fine-tuned every net_tune_every days, in place, on its own scale;
    a fine-tuned forecast of day d reads no price of d or later and stays monotone in each hour's load."""
    price, exog, dow = synthetic_market()
    cfg = PriceModelConfig(**{**SMALL, "windows": (28,), "net_every": 20, "net_tune_every": 3, "net_tune_epochs": 1})

    def weights(m):
        return [t.detach().clone() for t in m._nets[0][0].parameters()]

    m = DayAheadModel(price, exog, dow, cfg)
    m.forecast_day(56)
    net, scaler = m._nets[0]
    w0 = weights(m)
    m.forecast_day(57), m.forecast_day(58)
    assert all(torch.equal(a, b) for a, b in zip(weights(m), w0))  # not yet due
    m.forecast_day(59)
    assert (m._net_day, m._tune_day) == (56, 59)
    assert m._nets[0][0] is net and m._nets[0][1] is scaler  # tuned in place, on the scale of its training
    assert not all(torch.equal(a, b) for a, b in zip(weights(m), w0))

    def run(p, e, d=65):
        mm = DayAheadModel(p, e, dow, cfg)
        return mm, [mm.forecast_day(k) for k in range(56, d + 1)][-1]

    m, clean = run(price, exog)
    assert m._tune_day == 65 and m._net_day == 56
    p2, e2 = price.copy(), exog.copy()
    p2[65:] = 1e6
    e2[66:] = -1e6
    np.testing.assert_allclose(run(p2, e2)[1], clean, rtol=0, atol=1e-9)
    base = m.members(65)["net_0"]
    for h in (0, 12, 23):
        e3 = exog[65].copy()
        e3[h, 0] += 5.0
        assert (m.members(65, e3)["net_0"][h] >= base[h] - 1e-9).all()


def test_one_network_per_transform():
    """net_transforms: one network per transform, in that order, each on its own scale, all in the "net" group."""
    price, exog, dow = synthetic_market()
    m = DayAheadModel(price, exog, dow, PriceModelConfig(**{**SMALL, "windows": (28,), "net_transforms": ("npit", "asinh")}))
    m.forecast_day(60)
    assert [sc.p_cdf is not None for _, sc in m._nets] == [True, False]  # N-PIT, then asinh
    members = m.members(60)
    assert [k for k in members if k.startswith("net")] == ["net_0", "net_1"]
    assert not np.allclose(members["net_0"], members["net_1"])
    with pytest.raises(ValueError, match="net_transforms"):
        PriceModelConfig(net_transforms=("log",))
    with pytest.raises(ValueError, match="net_transforms"):
        PriceModelConfig(net_transforms=())


# ---------------------------------------------------------------------------- monotone in load
def test_price_net_monotone_in_each_hours_own_load():
    """Random large weights, 3 members: raising hour h's load (either input) never lowers any quantile of
    hour h, in every member; quantiles never cross; the other hours' loads are free to act either way."""
    torch.manual_seed(0)
    net = PriceNet(n_free=40, n_exog=2, levels=(0.1, 0.5, 0.9), hidden=32, context=16, mono_units=4,
                   members=3).eval()
    for p in net.parameters():  # monotonicity must not depend on training
        torch.nn.init.normal_(p, std=1.0)
    xf, xl = torch.randn(64, 40), torch.randn(64, 24, 2)
    with torch.no_grad():
        base = net(xf, xl)
        assert base.shape == (3, 64, 24, 3)
        assert (base[..., 0] <= base[..., 1]).all() and (base[..., 1] <= base[..., 2]).all()
        assert torch.allclose(net.predict(xf, xl), base.mean(0))
        fell_elsewhere = False
        for h in range(24):
            for k in range(2):
                up = xl.clone()
                up[:, h, k] += 0.5
                new = net(xf, up)
                assert (new[:, :, h] >= base[:, :, h] - 1e-5).all(), (h, k)
                fell_elsewhere |= bool((new < base - 1e-3).any())
        assert fell_elsewhere  # cross-hour effects are not forced positive


def test_price_net_members_train_independently():
    """The loss averaged over members gives each member its own gradient: member 0's gradient is the
    same whether or not member 1 exists (same initial weights)."""
    torch.manual_seed(0)
    two = PriceNet(n_free=10, hidden=8, context=4, mono_units=2, dropout=0.0, members=2)
    one = PriceNet(n_free=10, hidden=8, context=4, mono_units=2, dropout=0.0, members=1)
    with torch.no_grad():
        for (n1, p1), (_, p2) in zip(one.named_parameters(), two.named_parameters()):
            p1.copy_(p2[:1])
    xf, xl, y = torch.randn(16, 10), torch.randn(16, 24, 2), torch.randn(16, 24)
    lv = torch.tensor([0.1, 0.5, 0.9])
    from forecast.models.quantile import pinball_loss

    (pinball_loss(two(xf, xl), y, lv) * 2).backward()  # mean over 2 members -> x2 = sum
    pinball_loss(one(xf, xl), y, lv).backward()
    for (n, p1), (_, p2) in zip(one.named_parameters(), two.named_parameters()):
        torch.testing.assert_close(p1.grad, p2.grad[:1], msg=n)


def test_model_monotone_in_each_hours_load():
    price, exog, dow = synthetic_market()
    m = DayAheadModel(price, exog, dow, PriceModelConfig(**SMALL))
    d = 75
    for k in range(d - 10, d):
        m.forecast_day(k)
    assert m.weights(d) is not None and (m.weights(d) >= 0).all()
    base = m.forecast_day(d)
    for h in range(24):
        up = exog[d].copy()
        up[h] *= 1.05
        assert m.forecast_day(d, up)[h] >= base[h] - 1e-9, h
    # and the effect is real: a load rise in every hour raises prices on this load-driven market
    assert (m.forecast_day(d, exog[d] * 1.05) > base).mean() > 0.5


def test_inverse_mae_weights_favour_the_better_member():
    price, exog, dow = synthetic_market()
    m = DayAheadModel(price, exog, dow, PriceModelConfig(**{**SMALL, "net": False}, combine="inverse_mae",
                                                         weight_power=1.0))
    for k in range(60, 70):
        m._history[k] = np.stack([price[k] + 1.0, price[k] + 3.0])  # member errors 1 and 3 in every hour
    w = m.weights(70)
    np.testing.assert_allclose(w[:, 5], [0.75, 0.25])
    assert m.weights(65) is None  # only 5 earlier days: equal weights


def test_weights_two_levels_groups_then_members():
    """LEAR members with errors 1 and 3 share their group 0.75/0.25 (group error 1.5); the network (error 2)
    and the LEAR group split by 1/MAE: 4/7 and 3/7. Seven LEAR windows do not outvote one network."""
    price, exog, dow = synthetic_market()
    m = DayAheadModel(price, exog, dow, PriceModelConfig(**{**SMALL, "net": False}, combine="inverse_mae",
                                                         weight_power=1.0))
    for k in range(60, 70):
        m._history[k] = np.stack([price[k] + 1.0, price[k] + 3.0, price[k] - 2.0])
    w = m.weights(70, ["lear", "lear", "net"])
    np.testing.assert_allclose(w[:, 7], [0.75 * 4 / 7, 0.25 * 4 / 7, 3 / 7])
    np.testing.assert_allclose(w.sum(0), 1.0)
    with pytest.raises(ValueError, match="2 group labels for 3 members"):
        m.weights(70, ["lear", "net"])


def test_inverse_mse_weights_by_hand():
    """Weights ∝ MSE^-2, here over the last 14 days (66-79). LEAR errors alternate ±1 and stay at 3 (MSE 1
    and 9): inner weights 81/82 and 1/82. The network's error is 2 on days 60-65, outside the window, and 0.5
    since: MSE 0.25. The LEAR group's error is the inner-weighted sum of its members' errors. Then the
    default, MAE^-6: inner weights ∝ 1 and 3^-6."""
    price, exog, dow = synthetic_market()
    cfg = PriceModelConfig(**{**SMALL, "net": False}, combine="inverse_mse", weight_window=14, weight_power=2.0)
    m = DayAheadModel(price, exog, dow, cfg)
    for k in range(60, 80):
        sign = 1.0 if k % 2 else -1.0
        m._history[k] = np.stack([price[k] + sign, price[k] + 3.0, price[k] + (2.0 if k < 66 else 0.5)])
    w = m.weights(80, ["lear", "lear", "net"])
    inner = np.array([1.0, 1 / 81]) / (1 + 1 / 81)  # MSE 1 and 9, power 2
    resid = np.array([inner[0] * (1.0 if k % 2 else -1.0) + inner[1] * 3.0 for k in range(66, 80)])
    mse_lear, mse_net = (resid ** 2).mean(), 0.25
    outer = np.array([mse_lear ** -2, mse_net ** -2]) / (mse_lear ** -2 + mse_net ** -2)
    np.testing.assert_allclose(w[:, 3], [outer[0] * inner[0], outer[0] * inner[1], outer[1]])
    np.testing.assert_allclose(w.sum(0), 1.0)
    default = PriceModelConfig(**{**SMALL, "net": False}, weight_window=14)
    assert (default.combine, default.weight_power) == ("inverse_mae", 6.0)
    m2 = DayAheadModel(price, exog, dow, default)
    m2._history = m._history
    w = m2.weights(80, ["lear", "lear", "net"])
    inner = np.array([1.0, 3.0 ** -6]) / (1 + 3.0 ** -6)  # MAE 1 and 3, power 6
    resid = np.array([inner[0] * (1.0 if k % 2 else -1.0) + inner[1] * 3.0 for k in range(66, 80)])
    mae_lear, mae_net = np.abs(resid).mean(), 0.5
    outer = np.array([mae_lear ** -6, mae_net ** -6]) / (mae_lear ** -6 + mae_net ** -6)
    np.testing.assert_allclose(w[:, 3], [outer[0] * inner[0], outer[0] * inner[1], outer[1]])
    with pytest.raises(ValueError, match="weight_power > 0"):
        PriceModelConfig(weight_power=0.0)
    with pytest.raises(ValueError, match="combine must be one of equal, inverse_mae, inverse_mse"):
        PriceModelConfig(combine="median")


@pytest.mark.skipif(not (DATA / "epf" / "PJM.csv").exists(), reason="real epftoolbox data not present")
def test_monotone_on_real_pjm():
    d_ = read_epf(DATA / "epf" / "PJM.csv")
    dow = d_.dates.day_of_week.to_numpy()
    cfg = PriceModelConfig(windows=(364, 1456), net_epochs=2, net_seeds=1, accelerator="cpu")
    m = DayAheadModel(d_.price, d_.exog, dow, cfg)
    for d in (d_.n_days - 728, d_.n_days - 200):  # a winter and a summer day of the test period
        base = m.forecast_day(d)
        for h in range(24):
            for factor in (1.02, 1.10):
                up = d_.exog[d].copy()
                up[h] *= factor
                new = m.forecast_day(d, up)
                assert new[h] >= base[h] - 1e-9, (d, h, factor)


# ---------------------------------------------------------------------------- the command
def test_epf_bench_command(tmp_path, capsys):
    price, exog, dow = synthetic_market(n_days=80)
    csv = write_epf_csv(tmp_path / "market.csv", price, exog)
    # a peer file: the naive forecast and a perfect one
    ts = pd.date_range("2020-01-01", periods=price.size, freq="h")
    test_rows = slice((80 - 7) * 24, None)
    peer = pd.DataFrame({"": ts[test_rows].strftime("%Y-%m-%d %H:%M:%S"), "Real price": price.ravel()[test_rows],
                         "Naive": price[73 - 7:80 - 7].ravel()})
    peer.to_csv(tmp_path / "peer.csv", index=False)
    out = tmp_path / "out"
    rc = forecast_main(["epf-bench", "--data", str(csv), "--out", str(out), "--peer", str(tmp_path / "peer.csv"),
                        "--test-days", "7", "--windows", "28", "--transforms", "asinh", "--asinh-min-window", "0",
                        "--warmup", "14", "--no-net", "--no-track", "--quiet"])
    assert rc == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["n_hours"] == 7 * 24
    assert m["test_start"] == "2020-03-14 00:00:00" and m["test_end"] == "2020-03-20 23:00:00"
    fc = pd.read_csv(out / "forecasts.csv")
    assert list(fc.columns) == ["timestamp", "price", "forecast", "p10", "p50", "p90"]
    assert len(fc) == 168 and (fc["p10"] <= fc["p50"]).all() and (fc["p50"] <= fc["p90"]).all()
    assert m["mae"] == pytest.approx(np.abs(fc["price"] - fc["forecast"]).mean(), abs=1e-3)
    assert m["peers"]["Naive"]["rmae"] == pytest.approx(1.0)
    assert "Real price" not in m["peers"]
    assert m["rmae"] == pytest.approx(m["mae"] / m["peers"]["Naive"]["mae"], rel=1e-3)
    mem = pd.read_csv(out / "members.csv")
    assert list(mem.columns) == ["timestamp", "lear_28"] and len(mem) == 168
    # one member: the combination is that member
    np.testing.assert_allclose(mem["lear_28"], fc["forecast"], atol=1e-3)
    assert m["members_mae"]["lear_28"] == pytest.approx(m["mae"], abs=1e-3)
    printed = capsys.readouterr().out
    assert "this model" in printed and "Naive" in printed


def test_peer_file_must_cover_test_hours(tmp_path):
    idx = pd.date_range("2020-01-01", periods=48, freq="h")
    pd.DataFrame({"": idx[:40].strftime("%Y-%m-%d %H:%M:%S"), "M": 1.0}).to_csv(tmp_path / "p.csv", index=False)
    with pytest.raises(ContractError, match="8 test hours absent from the peer file"):
        epf.read_peer(tmp_path / "p.csv", idx)


def test_too_short_for_the_protocol(tmp_path):
    price, exog, _ = synthetic_market(n_days=30)
    csv = write_epf_csv(tmp_path / "short.csv", price, exog)
    with pytest.raises(ContractError, match="too short"):
        epf.bench(epf.load(translate("epf-bench", ["--data", str(csv), "--out", str(tmp_path / "o"), "--no-track",
                                                   "--quiet"])))


def test_epf_bench_is_tracked(tmp_path):
    from forecast import tracking

    price, exog, _ = synthetic_market(n_days=40)
    csv = write_epf_csv(tmp_path / "m.csv", price, exog)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    rc = forecast_main(["epf-bench", "--data", str(csv), "--out", str(tmp_path / "o"), "--test-days", "3",
                        "--windows", "14", "--warmup", "8", "--no-net", "--quiet", "--tracking-uri", uri])
    assert rc == 0
    import mlflow

    mlflow.set_tracking_uri(uri)
    runs = mlflow.search_runs(experiment_names=["epf-bench"])
    assert len(runs) == 1
    got = tracking.run_metrics(runs["run_id"].iloc[0], tracking_uri=uri)
    saved = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert got["mae"] == pytest.approx(saved["mae"]) and got["n_hours"] == 72


# ---------------------------------------------------------------------------- N-PIT transform
def test_empirical_cdf_by_hand():
    """Window values 10, 20, 20, 40 in one column: plotting positions 1/5, (2/5 + 3/5)/2 for the tie, 4/5;
    linear in between, flat beyond the range; the inverse maps back."""
    from scipy.special import ndtri

    cdf = lear.EmpiricalCDF(np.array([[40.0], [20.0], [10.0], [20.0]]))
    z = cdf.normal(np.array([[5.0], [10.0], [15.0], [20.0], [30.0], [40.0], [99.0]]))
    u = np.array([0.2, 0.2, 0.35, 0.5, 0.65, 0.8, 0.8])
    np.testing.assert_allclose(z[:, 0], ndtri(u))
    np.testing.assert_allclose(cdf.inverse(z)[1:6, 0], [10.0, 15.0, 20.0, 30.0, 40.0])
    # beyond the range the inverse stays at the window's extremes
    np.testing.assert_allclose(cdf.inverse(np.array([[-9.0], [9.0]]))[:, 0], [10.0, 40.0])
    with pytest.raises(ValueError, match=r"columns \(2,\) do not match the fit's \(1,\)"):
        cdf.normal(np.zeros((3, 2)))


def test_npit_scaler_round_trip_and_monotone_per_hour():
    rng = np.random.default_rng(3)
    price = rng.gamma(3.0, 10.0, size=(200, 24)).round(2)  # ties from rounding, a long right tail
    exog = rng.normal(100.0, 10.0, size=(200, 24, 2))
    sc = lear.Scaler.fit(price, exog, "npit")
    np.testing.assert_allclose(sc.inverse_price(sc.price(price)), price, atol=1e-9)
    grid = np.linspace(price.min() - 5, price.max() + 5, 400)[:, None].repeat(24, 1)
    assert (np.diff(sc.price(grid), axis=0) >= 0).all() and (np.diff(sc.inverse_price(np.linspace(-4, 4, 400)[:, None]
                                                                                      .repeat(24, 1)), axis=0) >= 0).all()
    z = sc.exog(exog)
    assert z.shape == exog.shape and abs(z.mean()) < 0.05 and 0.9 < z.std() < 1.05  # about standard normal
    with pytest.raises(ValueError, match="transform must be one of asinh, npit, got 'log'"):
        lear.Scaler.fit(price, exog, "log")
    with pytest.raises(ValueError, match="transforms and net_transforms must be non-empty subsets of asinh, npit"):
        PriceModelConfig(transforms=("asinh", "boxcox"))


def test_default_lear_members_and_penalties():
    """N-PIT on every window by default; with both transforms asinh on the long windows only; N-PIT penalties
    fall as 364/window."""
    assert list(PriceModelConfig().lear_members()) == ["lear-npit_56", "lear-npit_84", "lear-npit_182", "lear-npit_364",
                                                       "lear-npit_728", "lear-npit_1092", "lear-npit_1456"]
    cfg = PriceModelConfig(transforms=("asinh", "npit"))
    assert list(cfg.lear_members()) == ["lear_364", "lear_728", "lear_1092", "lear_1456", "lear-npit_56", "lear-npit_84",
                                        "lear-npit_182", "lear-npit_364", "lear-npit_728", "lear-npit_1092",
                                        "lear-npit_1456"]
    assert cfg.alpha(56, "npit") == cfg.alpha(56, "asinh") == cfg.alpha_short
    assert cfg.alpha(1456, "asinh") == cfg.alpha_long
    assert cfg.alpha(1456, "npit") == pytest.approx(cfg.alpha_long / 4)
    assert list(PriceModelConfig(windows=(56, 84)).lear_members()) == ["lear-npit_56", "lear-npit_84"]
    with pytest.raises(ValueError, match="no LEAR member: asinh takes only windows >= asinh_min_window=364"):
        PriceModelConfig(windows=(56, 84), transforms=("asinh",))
