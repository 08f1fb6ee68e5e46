"""Exogenous inputs by role (load, supply, free): inference and its errors, the sign of the fitted
coefficients, the sign of a trained model's response per role, the pledge response; the Diebold–Mariano
test of epftoolbox on a hand-computed case and in the epf-bench output."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecast.cli import main as forecast_main
from forecast.config import ConfigError
from forecast.price import lear
from forecast.price.model import DayAheadModel, PriceModelConfig, day_tensors
from forecast.price.readers import read_epf
from forecast.price.roles import infer_role, resolve_roles
from forecast.price.significance import dm_against, dm_test

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
SMALL = dict(windows=(28, 56), transforms=("asinh", "npit"), asinh_min_window=0, net_window=56, net_epochs=2,
             net_seeds=1, net_every=7, net_transforms=("npit",), batch_size=16, accelerator="cpu")


def wind_market(n_days: int = 90, seed: int = 0):
    """Prices that rise with load and fall with wind (plus weekly and daily shape and noise)."""
    rng = np.random.default_rng(seed)
    h, day = np.arange(24), np.arange(n_days)
    shape = 1 + 0.25 * np.sin((h - 7) / 24 * 2 * np.pi)
    level = 1 + 0.1 * np.sin(day / 7 * 2 * np.pi)
    load = 60_000 * level[:, None] * shape[None, :] * (1 + 0.03 * rng.standard_normal((n_days, 24)))
    wind = 15_000 * np.clip(rng.gamma(2.0, 0.5, (n_days, 1)) + 0.2 * rng.standard_normal((n_days, 24)), 0.05, None)
    price = 10 + 8e-4 * (load - wind) + 1.5 * rng.standard_normal((n_days, 24))
    return price, np.stack([load, wind], axis=-1), (day + 1) % 7


def write_csv(path: Path, price, exog, names=("Load Forecast", "Wind power forecast")) -> Path:
    ts = pd.date_range("2020-01-01", periods=price.size, freq="h")
    cols = {"": ts.strftime("%Y-%m-%d %H:%M:%S"), "price": price.ravel()}
    cols.update({n: exog[..., k].ravel() for k, n in enumerate(names)})
    pd.DataFrame(cols).to_csv(path, index=False)
    return path


# ---------------------------------------------------------------------------- inference and errors
@pytest.mark.parametrize("name, role", [
    (" System load forecast", "load"), (" Zonal COMED load foecast", "load"), ("Ampirion Load Forecast", "load"),
    ("Grid load forecast", "load"), ("demand (MW)", "load"), ("PV+Wind Forecast", "supply"),
    ("Wind power forecast", "supply"), (" Generation forecast", "supply"), ("solar_mw", "supply"),
    ("Renewables", "supply"), ("Temperature", None), ("wind load", None), ("downloaded", None)])
def test_role_inferred_from_the_column_name(name, role):
    assert infer_role(name) == role


def test_roles_given_or_inferred_and_their_errors():
    assert resolve_roles(["load a", "PV+Wind"]) == ("load", "supply")
    assert resolve_roles(["load a", "temperature"], ["load", "FREE"]) == ("load", "free")
    with pytest.raises(ConfigError, match="column 'temperature' cannot be inferred") as e:
        resolve_roles(["load a", "temperature"])
    assert e.value.key == "model.exog_roles" and e.value.example == "[load,free]"
    with pytest.raises(ConfigError, match="1 roles given for 2 exogenous columns"):
        resolve_roles(["load a", "wind"], ["load"])
    with pytest.raises(ConfigError, match="role 'demand' is not one of load, supply, free"):
        resolve_roles(["load a", "wind"], ["load", "demand"])


def test_uninferable_column_is_a_one_line_error_naming_the_flag(tmp_path, capsys):
    price, exog, _ = wind_market(40)
    csv = write_csv(tmp_path / "m.csv", price, exog, names=("load", "temperature"))
    args = ["epf-bench", "--data", str(csv), "--out", str(tmp_path / "o"), "--no-net", "--no-track", "--quiet"]
    assert forecast_main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "'temperature'" in err and "--exog-roles load,free" in err and "model.exog_roles=[load,free]" in err


# ---------------------------------------------------------------------------- signs of the fit
def test_coefficient_signs_by_role():
    s = lear.coef_signs(("load", "supply", "free"))
    lay = lear.feature_layout(3)
    assert s.shape == (lear.n_features(3),)
    assert (s[lay["exog0_d-0"]] == 1).all() and (s[lay["exog1_d-0"]] == -1).all() and (s[lay["exog2_d-0"]] == 0).all()
    assert int(np.abs(s).sum()) == 48  # lags and prices free


def test_lasso_keeps_the_sign_of_each_role():
    price, exog, dow = wind_market(120)
    lay = lear.feature_layout(2)
    days = np.arange(7, 120)

    def fit(roles):
        return lear.fit_window(price, exog, dow, days, lear.make_lasso(0.01), lear.coef_signs(roles)).coef

    supply = fit(("load", "supply"))
    assert (supply[lay["exog0_d-0"]] >= 0).all() and (supply[lay["exog1_d-0"]] <= 0).all()
    assert supply[lay["exog1_d-0"]].sum() < -0.5  # wind lowers the price: the signal is kept
    wrong = fit(("load", "load"))  # the old constraint: wind's coefficients forced >= 0, so nearly all zero
    assert (wrong[lay["exog1_d-0"]] >= 0).all() and wrong[lay["exog1_d-0"]].sum() < 0.05
    free = fit(("load", "free"))
    assert free[lay["exog1_d-0"]].sum() == pytest.approx(supply[lay["exog1_d-0"]].sum(), abs=0.1)
    assert free[lay["exog1_d-0"]].max() > 0  # free: a coefficient of either sign
    # a boolean mask still reads as >= 0 / free
    mask = lear.own_exog_columns(2) >= 0
    np.testing.assert_array_equal(lear.coef_signs(("load", "load")), mask.astype(np.int8))


def test_network_inputs_by_role():
    price, exog, dow = wind_market(40)
    sc = lear.Scaler.fit(price[:30], exog[:30])
    days = np.array([20, 21])
    X = lear.design(price, exog, dow, days, sc)
    lay = lear.feature_layout(2)
    xf, xl = day_tensors(price, exog, dow, days, sc, ("load", "supply"))
    assert xl.shape == (2, 24, 2) and xf.shape == (2, X.shape[1] - 48)
    np.testing.assert_allclose(xl[:, :, 1].numpy(), -X[:, lay["exog1_d-0"]], rtol=1e-6)  # supply negated
    xf, xl = day_tensors(price, exog, dow, days, sc, ("load", "free"))
    assert xl.shape == (2, 24, 1) and xf.shape == (2, X.shape[1] - 24)  # the free input's day d stays in x_free
    xf, xl = day_tensors(price, exog, dow, days, sc, ("free", "free"))
    assert xl.shape == (2, 24, 1) and float(xl.abs().sum()) == 0.0 and xf.shape == (2, X.shape[1])


# ---------------------------------------------------------------------------- a trained model, per role
def test_trained_model_sign_per_role():
    price, exog, dow = wind_market()
    m = DayAheadModel(price, exog, dow, PriceModelConfig(**SMALL, exog_roles=("load", "supply")))
    d = 75
    for k in range(d - 10, d):
        m.forecast_day(k)
    base = m.forecast_day(d)
    assert sorted(m.members(d)) == ["lear-npit_28", "lear-npit_56", "lear_28", "lear_56", "net_0"]
    for h in range(24):
        for k, sign in ((0, 1), (1, -1)):
            for factor in (1.05, 1.5):
                up = exog[d].copy()
                up[h, k] *= factor
                new = m.forecast_day(d, up)[h]
                assert sign * (new - base[h]) >= -1e-9, (h, k, factor)
    windy = exog[d].copy()
    windy[:, 1] *= 1.5
    assert (m.forecast_day(d, windy) < base).mean() > 0.5  # the supply effect is real


def test_free_role_trains_and_is_recorded(tmp_path):
    price, exog, _ = wind_market(60)
    csv = write_csv(tmp_path / "m.csv", price, exog, names=("load", "temperature"))
    out = tmp_path / "o"
    rc = forecast_main(["epf-bench", "--data", str(csv), "--out", str(out), "--test-days", "3", "--warmup", "7",
                        "--windows", "28", "--exog-roles", "load,free", "--net-every", "28", "--net-epochs", "1",
                        "--accelerator", "cpu", "model.net_window=28", "--no-track", "--quiet"])
    assert rc == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["exog_roles"] == {"load": "load", "temperature": "free"}
    assert m["n_hours"] == 72 and m["mae"] < 10


@pytest.mark.skipif(not (DATA / "epf" / "DE.csv").exists(), reason="real epftoolbox DE data not present")
def test_signs_on_real_de():
    d_ = read_epf(DATA / "epf" / "DE.csv")
    roles = resolve_roles(d_.exog_names)
    assert roles == ("load", "supply")
    cfg = PriceModelConfig(windows=(56, 364), net_window=364, net_epochs=2, accelerator="cpu", exog_roles=roles)
    m = DayAheadModel(d_.price, d_.exog, d_.dates.day_of_week.to_numpy(), cfg)
    d = d_.n_days - 728
    base = m.forecast_day(d)
    for h in range(0, 24, 3):
        for k, sign in ((0, 1), (1, -1)):
            up = d_.exog[d].copy()
            up[h, k] *= 1.10
            assert sign * (m.forecast_day(d, up)[h] - base[h]) >= -1e-9, (h, k)


# ---------------------------------------------------------------------------- the pledge response
def test_model_response_roles(tmp_path):
    from forecast.price.model_response import fit_model_response

    price, exog, _ = wind_market(140)
    csv = write_csv(tmp_path / "m.csv", price, exog, names=("system load", "wind forecast"))
    resp = fit_model_response(str(csv), "2020-05-01T00:00-04:00", windows=(364,), transforms=("asinh",))
    lay = lear.feature_layout(2)
    for fit in resp.members.values():
        assert (fit.coef[lay["exog0_d-0"]] >= 0).all() and (fit.coef[lay["exog1_d-0"]] <= 0).all()
    assert "system load=load, wind forecast=supply" in resp.source
    ts = pd.date_range("2020-05-01", periods=24, freq="h", tz="America/New_York").tz_convert("UTC")
    load = exog[121, :, 0][None] + np.array([0.0, 500.0, 5000.0])[:, None]
    p = resp.price(load, ts)
    assert (np.diff(p, axis=0) >= -1e-9).all() and p[2].mean() > p[0].mean()
    with pytest.raises(ValueError, match="load_input=1: column 'wind forecast' is supply, not a load forecast"):
        fit_model_response(str(csv), "2020-05-01T00:00-04:00", windows=(364,), load_input=1)
    with pytest.raises(ValueError, match="load_input=0: column 'system load' is free"):
        fit_model_response(str(csv), "2020-05-01T00:00-04:00", windows=(364,), exog_roles=("free", "supply"))


# ---------------------------------------------------------------------------- Diebold–Mariano
def test_dm_by_hand():
    """Losses |y − f| with y = 0. Daily means of f1 2, 1, 3, 1 and of f2 1, 2, 1, 1: d = 1, −1, 2, 0, mean 0.5,
    variance (ddof 0) 1.25, DM = 0.5 / sqrt(1.25 / 4) = 0.894427, p = 1 − Φ(0.894427) = 0.185547.
    Hour 0: d = 0, −1, 1, 0, mean 0: p = 0.5. Hour 1: d = 2, −1, 3, 0, mean 1, variance 2.5,
    DM = 1 / sqrt(2.5 / 4) = 1.264911, p = 0.102952."""
    y = np.zeros((4, 2))
    f1 = np.array([[1.0, 3.0], [1.0, 1.0], [2.0, 4.0], [1.0, 1.0]])
    f2 = np.array([[1.0, 1.0], [2.0, 2.0], [1.0, 1.0], [1.0, 1.0]])
    assert dm_test(y, f1, f2, 1, "multivariate") == pytest.approx(0.185547, abs=1e-6)
    np.testing.assert_allclose(dm_test(y, f1, f2, 1, "univariate"), [0.5, 0.102952], atol=1e-6)
    assert dm_test(y, f2, f1, 1, "multivariate") == pytest.approx(1 - 0.185547, abs=1e-6)
    res = dm_against(y, ours=f2, peer=f1)
    assert res["p_ours_better"] == pytest.approx(0.185547, abs=1e-6)
    assert res["p_peer_better"] == pytest.approx(0.814453, abs=1e-6)
    assert res["p_ours_better_by_hour"] == pytest.approx([0.5, 0.102952], abs=1e-6)
    assert dm_against(y, f1, f1)["p_ours_better"] is None  # no difference: no test
    with pytest.raises(ValueError, match="share one"):
        dm_test(y, f1[:3], f2)


def test_dm_in_metrics_and_table(tmp_path, capsys):
    price, exog, _ = wind_market(80)
    csv = write_csv(tmp_path / "m.csv", price, exog)
    ts = pd.date_range("2020-01-01", periods=price.size, freq="h")
    rows = slice((80 - 7) * 24, None)
    pd.DataFrame({"": ts[rows].strftime("%Y-%m-%d %H:%M:%S"), "Real price": price.ravel()[rows],
                  "Naive": price[66:73].ravel()}).to_csv(tmp_path / "peer.csv", index=False)
    out = tmp_path / "o"
    rc = forecast_main(["epf-bench", "--data", str(csv), "--out", str(out), "--peer", str(tmp_path / "peer.csv"),
                        "--test-days", "7", "--warmup", "14", "--windows", "28", "--transforms", "asinh",
                        "--asinh-min-window", "0", "--no-net", "--no-track", "--quiet"])
    assert rc == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["exog_roles"] == {"Load Forecast": "load", "Wind power forecast": "supply"}
    fc = pd.read_csv(out / "forecasts.csv")
    y, f = fc["price"].to_numpy().reshape(7, 24), fc["forecast"].to_numpy().reshape(7, 24)
    naive = price[66:73]
    dm = m["peers"]["Naive"]["dm"]
    assert dm["p_ours_better"] == pytest.approx(dm_test(y, naive, f, 1, "multivariate"), abs=1e-3)
    assert dm["p_peer_better"] == pytest.approx(1 - dm["p_ours_better"], abs=1e-9)
    assert len(dm["p_ours_better_by_hour"]) == 24
    assert dm["p_ours_better"] < 0.05  # a fitted model beats the weekly naive on a load-driven market
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("Naive"))
    assert f"{dm['p_ours_better']:.4f}" in line and f"{dm['p_peer_better']:.4f}" in line
