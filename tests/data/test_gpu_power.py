"""GPU power curves: Cornell reader quirks, fitting, quantile matching, facility power."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecast.data.gpu_power import (PowerCurve, calibrate, cdf_quantile, compare_with_defaults, facility_power_mw,
                                     fit_power_curve, match_quantiles, read_cornell_usage, read_power_cdf)
from forecast.errors import ContractError

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "clusters"
REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "gpu_power"


def test_cornell_reader_handles_bom_order_and_footer():
    df, rep = read_cornell_usage(FIX / "cornell_usage.txt")
    assert list(df.columns[:3]) == ["name", "ts", "powerave"]  # BOM stripped from the first header
    assert len(df) == 8 and df["ts"].is_monotonic_increasing  # newest-first input, oldest-first output
    assert df["ts"].iloc[0] == pd.Timestamp("2025-10-31T05:00Z")  # 01:00 EDT
    assert df["powerave"].iloc[-1] == 44.64 and df["utilave"].iloc[1] == 95
    assert rep.flagged["gaps_in_hourly_index"] == 1  # 05:00 local is absent and not filled


def test_cornell_footer_count_mismatch_is_an_error(tmp_path):
    txt = (FIX / "cornell_usage.txt").read_text(encoding="utf-8-sig").replace("(8 rows affected)", "(9 rows affected)")
    f = tmp_path / "u.txt"
    f.write_text(txt, encoding="utf-8-sig")
    with pytest.raises(ContractError, match="footer says 9 rows but 8 were read"):
        read_cornell_usage(f)


def test_fit_recovers_a_known_curve():
    true = PowerCurve("A100", 400.0, 50.0, 380.0, gamma=1.3, busy_floor=0.1)
    rng = np.random.default_rng(0)
    u = np.concatenate([np.zeros(200), rng.uniform(0.01, 1.0, 800)])
    p = true.power_w(u) + rng.normal(0, 2.0, u.size)
    fit = fit_power_curve(u * 100, p, "A100", 400.0)
    c = fit.curve
    assert c.p_idle_w == pytest.approx(50, abs=1) and c.p_max_w == pytest.approx(380, abs=3)
    assert c.gamma == pytest.approx(1.3, abs=0.1) and c.busy_floor == pytest.approx(0.1, abs=0.02)
    assert fit.r2 > 0.99 and fit.mae_w < 2.5 and fit.n == 1000


def test_curve_shape_and_scaling():
    c = PowerCurve("H100", 350.0, 50.0, 330.0, gamma=1.0, busy_floor=0.1)
    np.testing.assert_allclose(c.power_w([0.0, 1.0, 0.5]), [50.0, 330.0, 50 + 280 * (0.1 + 0.9 * 0.5)])
    assert np.all(np.diff(c.power_w(np.linspace(0, 1, 50))) >= 0)
    s = c.scaled(700.0)
    assert s.p_idle_w == 100.0 and s.p_max_w == 660.0 and s.gamma == c.gamma
    with pytest.raises(ValueError, match="p_idle_w ≤ p_max_w"):
        PowerCurve("A100", 400.0, 300.0, 200.0)


def test_match_quantiles_uses_the_distribution(tmp_path):
    f = tmp_path / "cdf.csv"
    cdf_pct = np.linspace(0, 100, 11)
    f.write_text("cdf_percent,w\n" + "\n".join(f"{c},{60 + 4 * c}" for c in cdf_pct) + "\n")
    cdf = read_power_cdf(f)
    assert cdf_quantile(cdf, "w", 0.25) == pytest.approx(160.0)
    c = match_quantiles(PowerCurve("A100", 400.0, 45.0, 250.0, 1.2, 0.1), cdf, "w")
    assert c.p_idle_w == pytest.approx(100.0) and c.p_max_w == pytest.approx(420.0) and c.gamma == 1.2
    bad = tmp_path / "bad.csv"
    bad.write_text("cdf_percent,w\n0,10\n50,30\n100,20\n")
    with pytest.raises(ContractError, match="column 'w': CDF not non-decreasing"):
        read_power_cdf(bad)


def test_facility_power_arithmetic_and_missing_hours():
    c = PowerCurve("A100", 400.0, 50.0, 450.0)
    mw = facility_power_mw([0.5, 0.0, np.nan], 1000, c, pue=1.2)
    # half the GPUs at 450 W, half idle at 50 W → 250 kW IT → 0.3 MW with PUE 1.2
    assert mw[0] == pytest.approx(0.3) and mw[1] == pytest.approx(1.2 * 1000 * 50 / 1e6)
    assert np.isnan(mw[2])
    with pytest.raises(ValueError, match="occupancy outside"):
        facility_power_mw([1.2], 10, c)
    with pytest.raises(ValueError, match="PUE"):
        facility_power_mw([0.5], 10, c, pue=0.9)


def test_calibration_on_real_data():
    if not (REAL / "cbsugpu07_usage_stats.txt").exists():
        pytest.skip(f"{REAL} not available")
    cal = calibrate(REAL)
    for fit in cal.fits.values():
        assert fit.r2 > 0.85 and fit.mae_w < 25 and fit.n > 10_000
    acme = read_power_cdf(REAL / "gpu_power_cdf.csv")
    a = cal.curves["A100"]
    assert a.p_idle_w == pytest.approx(cdf_quantile(acme, "gpu_power_W_kalos", 0.1))
    assert a.gamma == cal.fits["A100_cornell"].curve.gamma
    assert cal.curves["H100"].tdp_w == 700.0
    table = compare_with_defaults(cal.curves)
    assert set(table["gpu_type"]) == {"A100", "H100"}
    assert (table["idle_w_calibrated"] < table["max_w_calibrated"]).all()
