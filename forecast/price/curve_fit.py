"""``forecast price-curve``: fit the supply curve on market data and write it (supply_curve.json, slopes.csv),
and the reader of the data a curve is fitted on (PJM Data Miner exports or a grid-contract file)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pandas as pd
from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from forecast.config import ConfigError
from forecast.config import load as load_config
from forecast.io import atomic_write_text
from forecast.price.supply_curve import FittedSupplyCurve, slope_table


def read_fit_frame(fit_on: str | Path, zone: str | None = None, where: str = "price_curve") -> tuple[pd.DataFrame, str]:
    """The frame to fit on and a description of it: a PJM Data Miner folder (da_hrl_lmps.csv, hrl_load_metered.csv,
    solar_gen.csv, wind_gen.csv; ``zone`` labels it, default PJM-RTO) or a grid-contract file (zone, ts, price,
    load_mw [, solar_mw, wind_mw]) or a folder holding grid.parquet / grid.csv; ``zone`` picks one zone.
    ``where``: the config prefix of ``fit_on`` and ``zone`` in error messages."""
    from forecast.data.contracts import load_grid
    from forecast.errors import ContractError
    from forecast.price.readers import read_pjm_rto

    p = Path(fit_on)
    if not p.exists():
        raise FileNotFoundError(f"{where}.fit_on={p}: no such file or folder")
    if p.is_dir() and (p / "da_hrl_lmps.csv").exists():
        read = read_pjm_rto(p, zone=zone or "PJM-RTO")
        return read.frame, f"PJM Data Miner exports in {p} ({len(read.frame)} h)"
    if p.is_dir():
        found = [p / n for n in ("grid.parquet", "grid.csv") if (p / n).exists()]
        if not found:
            raise FileNotFoundError(f"{where}.fit_on={p}: holds neither PJM Data Miner exports (da_hrl_lmps.csv, "
                                    "…) nor grid.parquet / grid.csv")
        p = found[0]
    g = load_grid(p)
    zones = sorted(g["zone"].unique())
    if zone is None and len(zones) > 1:
        raise ContractError(str(p), "zone", f"several zones {zones[:5]}; pick one with {where}.zone=<zone>")
    if zone is not None:
        g = g[g["zone"] == zone]
        if g.empty:
            raise ContractError(str(p), "zone", f"no rows for {where}.zone={zone!r} (zones: {', '.join(zones[:10])})")
    g = g.reset_index(drop=True)
    return g, f"grid file {p}, zone {g['zone'].iloc[0]} ({len(g)} h)"


@dataclass
class PriceCurveConfig:
    """``forecast price-curve`` (conf/price_curve.yaml)."""

    data: str = MISSING  # folder with da_hrl_lmps.csv, hrl_load_metered.csv, solar_gen.csv, wind_gen.csv
    out: str = "outputs/price-curve"
    draws: int = 100  # bootstrap draws over days
    seed: int = 0
    track: bool = True  # record the run in MLflow
    tracking_uri: Optional[str] = None

    def __post_init__(self):
        if self.draws < 1:
            raise ConfigError("draws", f"must be >= 1, got {self.draws}", "100")


ConfigStore.instance().store(name="price_curve_schema", node=PriceCurveConfig)


@dataclass
class CurveFit:
    curve: FittedSupplyCurve
    slopes: pd.DataFrame  # slope_table
    hours: int  # hours fitted
    read_report: str  # what the reader found (missing hours, DST days)
    out: Path
    run_id: Optional[str]


def load(overrides: list[str] | None = None) -> PriceCurveConfig:
    """conf/price_curve.yaml composed with ``overrides``, validated."""
    return load_config("price_curve", PriceCurveConfig, overrides)


def fit(cfg: PriceCurveConfig) -> CurveFit:
    """Fit on PJM Data Miner exports; write out/supply_curve.json and out/slopes.csv; track in MLflow."""
    from forecast.price.readers import read_pjm_rto

    read = read_pjm_rto(cfg.data)
    curve = FittedSupplyCurve.fit(read.frame, n_draws=cfg.draws, seed=cfg.seed)
    tab = slope_table(curve, read.frame)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "supply_curve.json", json.dumps(curve.to_dict()))
    atomic_write_text(out / "slopes.csv", tab.to_csv(index=False, float_format="%.4f"))
    run_id = None
    if cfg.track:
        from forecast import tracking

        with tracking.run({"data": cfg.data, "draws": cfg.draws, "seed": cfg.seed}, experiment="price-curve",
                          tracking_uri=cfg.tracking_uri, run_name="price-curve") as run:
            run.log_metrics({f"slope_{i}": v for i, v in enumerate(tab["slope"])})
            run.log_artifact(out / "supply_curve.json")
            run.log_artifact(out / "slopes.csv")
            run_id = run.run_id
    return CurveFit(curve, tab, len(read.frame), read.report(), out, run_id)


def main(overrides: list[str]) -> int:
    """``forecast price-curve --data DIR --out DIR``: the command over :func:`fit` (flags translated by
    forecast.cli)."""
    res = fit(load(overrides))
    print(res.read_report)
    pd.set_option("display.width", 160)
    print(f"{res.hours} hours fitted; slopes in $/MWh per GW (p10–p90 over {res.curve.n_draws} bootstrap draws):")
    print(res.slopes.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if res.run_id:
        print(f"MLflow run {res.run_id}")
    return 0

