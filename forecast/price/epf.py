"""``forecast epf-bench``: the epftoolbox day-ahead benchmark protocol on any market in its layout.

    forecast epf-bench --data PATH.csv --out DIR [--peer PEER.csv]      (= data=PATH.csv out=DIR peer=PEER.csv)

Config: conf/epf_bench.yaml (:class:`EpfBenchConfig`; the model's settings under ``model.``, e.g.
``--combine equal`` is ``model.combine=equal``).

Test period: the last 728 days of PATH.csv. Each test day d is forecast from
data before d only (prices up to d−1, exogenous day-ahead forecasts up to d);
the models are refitted on a rolling schedule, never with later data.
Quantiles: the point forecast plus per-hour empirical quantiles of the
model's own out-of-sample errors on the last ``model.band_days`` days before d (conformal on recent
errors, forecast.price.combine; the errors start ``--warmup`` days before the test period); pinball
and CRPS (2 × mean pinball over the levels) in metrics.json.
``design=true``: the design procedure of forecast.price.design on the ``val_days`` days before the
test period instead (the test period is not read).

Writes DIR/forecasts.csv (timestamp, price, forecast, p10, p50, p90),
DIR/metrics.json (mae, rmae, smape, n_hours, test_start, test_end, …, exog_roles, peers
with the Diebold–Mariano p-values against each (``dm``, forecast.price.significance), members_mae) and DIR/members.csv (each member's point forecast, for auditing
the combination).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd
from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from forecast.config import ConfigError
from forecast.config import load as load_config
from forecast.errors import ContractError
from forecast.io import atomic_write_text
from forecast.price.lear import TRANSFORMS
from forecast.price.model import COMBINE, PriceModelConfig
from forecast.price.readers import EPFData, read_epf
from forecast.price.roles import check_roles
from forecast.price.protocol import TEST_DAYS, naive_weekly, point_metrics, run_bench  # noqa: F401
from forecast.price.significance import dm_against

def read_peer(path: str | os.PathLike, index: pd.DatetimeIndex) -> pd.DataFrame:
    """The epftoolbox forecasts file: first column timestamps, one column per model; rows must equal ``index``."""
    src = str(path)
    raw = pd.read_csv(path)
    tcol = raw.columns[0]
    ts = pd.to_datetime(raw[tcol], errors="coerce", format="ISO8601")
    if ts.isna().any():
        raise ContractError(src, str(tcol) or "<first column>", "unparseable timestamps", raw[[tcol]][ts.isna()])
    frame = raw.drop(columns=[tcol]).set_index(pd.DatetimeIndex(ts))
    missing = index.difference(frame.index)
    if len(missing):
        raise ContractError(src, str(tcol) or "<first column>",
                            f"{len(missing)} test hours absent from the peer file (first {missing[0]}); it must cover "
                            f"{index[0]} … {index[-1]}")
    frame = frame.loc[index]
    for c in frame.columns:
        vals = pd.to_numeric(frame[c], errors="coerce")
        if vals.isna().any():
            raise ContractError(src, str(c), "missing or non-numeric forecasts in the test period",
                                frame[[c]][vals.isna()].reset_index(drop=True))
        frame[c] = vals.astype("float64")
    return frame


def forecasts_frame(res: dict, levels: tuple[float, ...]) -> pd.DataFrame:
    from forecast.types import quantile_column

    df = pd.DataFrame({"timestamp": pd.DatetimeIndex(res["timestamps"].ravel()), "price": res["y"].ravel(),
                       "forecast": res["point"].ravel()})
    for k, lv in enumerate(levels):
        df[quantile_column(lv)] = res["quantiles"][..., k].ravel()
    return df


def peer_metrics(peer: pd.DataFrame, y: np.ndarray, naive: np.ndarray, source: str,
                 ours: np.ndarray | None = None) -> dict[str, dict]:
    """Metrics of each peer column on the same hours, and with ``ours`` (days, 24) the Diebold–Mariano
    p-values of ours against it (``dm``). A column equal to the actuals is the file's 'real price' and is
    checked against ours instead of scored."""
    out = {}
    yf = y.ravel()
    for c in peer.columns:
        v = peer[c].to_numpy()
        if np.allclose(v, yf, atol=1e-4):
            continue
        if "real" in str(c).lower() and "price" in str(c).lower():
            bad = ~np.isclose(v, yf, atol=1e-4)
            raise ContractError(source, str(c), "the peer file's real prices differ from --data on the test hours",
                                np.flatnonzero(bad).tolist())
        out[str(c)] = point_metrics(yf, v, naive.ravel())
        if ours is not None:
            out[str(c)]["dm"] = dm_against(y, ours, v.reshape(y.shape))
    return out


def table(metrics: dict) -> str:
    """MAE, rMAE, sMAPE of this model and each peer; for a peer the multivariate DM p-values of "this model
    is more accurate" and "the peer is more accurate"."""
    rows = [("this model", metrics)] + list(metrics.get("peers", {}).items())
    lines = [f"{'model':<18} {'MAE':>8} {'rMAE':>7} {'sMAPE%':>8} {'DM p this better':>17} {'DM p peer better':>17}"]

    def p(v):
        return f"{v:17.4f}" if isinstance(v, float) else f"{'-':>17}"

    for name, m in rows:
        dm = m.get("dm", {}) if name != "this model" else {}
        lines.append(f"{name:<18} {m['mae']:8.3f} {m['rmae']:7.3f} {m['smape']:8.2f} "
                     f"{p(dm.get('p_ours_better'))} {p(dm.get('p_peer_better'))}")
    return "\n".join(lines)


def _choice(key: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(key, f"{value!r} is not one of {', '.join(allowed)}", allowed[0])


@dataclass
class PriceModelSchema(PriceModelConfig):
    """:class:`PriceModelConfig` as the ``model`` node of conf/epf_bench.yaml: the same fields, with errors
    that name the override (``model.<field>``)."""

    def __post_init__(self):
        _choice("model.combine", self.combine, COMBINE)
        for t in self.net_transforms:
            _choice("model.net_transforms", t, tuple(TRANSFORMS))
        self.exog_roles = check_roles(self.exog_roles)
        for t in self.transforms:
            _choice("model.transforms", t, tuple(TRANSFORMS))
        try:
            super().__post_init__()
        except ValueError as e:
            msg = str(e).removeprefix("price model: ")
            # the field named first; of names starting there the longest ("net_tune_every", not "net")
            named = [(msg.find(f), -len(f), f) for f in PriceModelConfig.__dataclass_fields__ if f in msg]
            raise ConfigError(f"model.{min(named)[2]}" if named else "model", msg) from None


@dataclass
class EpfBenchConfig:
    """``forecast epf-bench`` (conf/epf_bench.yaml)."""

    data: str = MISSING  # CSV in the epftoolbox layout: timestamp, price, exogenous forecasts
    out: str = "outputs/epf-bench"  # output folder (created)
    peer: Optional[str] = None  # epftoolbox forecasts file of the same test period, scored side by side
    test_days: int = TEST_DAYS
    warmup: int = 56  # days forecast before the test period to seed the error quantiles
    quiet: bool = False  # no progress lines
    # design=true: run the rolling protocol on the val_days days before the test period only (forecast.price.design),
    # write DIR/validation.{json,npz} and DIR/design.json (every candidate's validation figures, the chosen settings)
    design: bool = False
    val_days: int = 364
    track: bool = True  # record the run in MLflow
    tracking_uri: Optional[str] = None
    model: PriceModelSchema = field(default_factory=PriceModelSchema)

    def __post_init__(self):
        if self.test_days < 1:
            raise ConfigError("test_days", f"must be >= 1, got {self.test_days}", str(TEST_DAYS))
        if self.val_days < 28:
            raise ConfigError("val_days", f"must be >= 28, got {self.val_days}", "364")
        if self.warmup < 0:
            raise ConfigError("warmup", f"must be >= 0, got {self.warmup}", "56")


ConfigStore.instance().store(name="epf_bench_schema", node=EpfBenchConfig)


def load(overrides: list[str] | None = None) -> EpfBenchConfig:
    """conf/epf_bench.yaml composed with ``overrides``, validated."""
    return load_config("epf_bench", EpfBenchConfig, overrides)


def bench(cfg: EpfBenchConfig) -> dict:
    """The benchmark: forecasts, metrics (and the peers'), files in ``cfg.out``, an MLflow run.
    Returns {"metrics", "out", "run_id"}."""
    data = read_epf(cfg.data)
    if cfg.design:
        return design_bench(cfg, data)
    res = run_bench(data, cfg.model, test_days=cfg.test_days, warmup=cfg.warmup, log_every=0 if cfg.quiet else 28)
    m = res["metrics"]
    if cfg.peer:
        peer = read_peer(cfg.peer, pd.DatetimeIndex(res["timestamps"].ravel()))
        m["peers"] = peer_metrics(peer, res["y"], naive_weekly(data.price, res["days"]), cfg.peer, res["point"])
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "forecasts.csv", forecasts_frame(res, cfg.model.levels).to_csv(index=False,
                                                                                          float_format="%.4f"))
    atomic_write_text(out / "metrics.json", json.dumps(m, indent=2))
    if res["members"]:  # each member's point forecast, for auditing the combination
        mem = pd.DataFrame({"timestamp": pd.DatetimeIndex(res["timestamps"].ravel())})
        for name, v in res["members"].items():
            mem[name] = v.ravel()
        atomic_write_text(out / "members.csv", mem.to_csv(index=False, float_format="%.4f"))
    return {"metrics": m, "out": out, "run_id": track(cfg, m, out) if cfg.track else None}


def design_bench(cfg: EpfBenchConfig, data: EPFData) -> dict:
    """``design=true``: the validation run of one market (its test period unread) and the design it alone
    would choose; scripts/bench_epf.py --design chooses over several markets' runs."""
    from forecast.price import design

    run = design.validation_run(data, cfg.model, cfg.test_days, cfg.val_days, log_every=0 if cfg.quiet else 28)
    out = Path(cfg.out)
    design.save_run(run, out)
    choice = design.choose([run])
    atomic_write_text(out / "design.json", json.dumps(choice, indent=2, default=str))
    return {"metrics": {"design": choice, "runtime_s": run["runtime_s"], "val_start": run["val_start"],
                        "val_end": run["val_end"]}, "out": out, "run_id": None}


def track(cfg: EpfBenchConfig, m: dict, out: Path) -> str:
    """Record a finished benchmark (config, scalar metrics, peers', files) in MLflow; returns the run id."""
    from forecast import tracking

    conf = {"data": str(cfg.data), "test_days": cfg.test_days, "warmup": cfg.warmup,
            "model": dataclasses.asdict(cfg.model)}
    with tracking.run(conf, experiment="epf-bench", tracking_uri=cfg.tracking_uri,
                      run_name=f"epf-bench {Path(cfg.data).stem}") as run:
        flat = {k: v for k, v in m.items() if isinstance(v, (int, float))}
        for name, pm in m.get("peers", {}).items():
            flat.update({f"peer.{name}.{k}": v for k, v in pm.items() if isinstance(v, (int, float))})
            flat.update({f"peer.{name}.dm_{k}": v for k, v in pm.get("dm", {}).items() if isinstance(v, float)})
        run.log_metrics({k.replace(" ", "_"): v for k, v in flat.items()})
        run.log_artifact(out / "metrics.json")
        run.log_artifact(out / "forecasts.csv")
        return run.run_id


def main(overrides: list[str]) -> int:
    """``forecast epf-bench``: the command over :func:`bench` (flags are translated by forecast.cli)."""
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="lightning")
    cfg = load(overrides)
    res = bench(cfg)
    m = res["metrics"]
    if cfg.design:
        from forecast.price.design import report

        print(f"{Path(cfg.data).name}: validation {m['val_start']} … {m['val_end']}, {m['runtime_s']:.0f} s")
        print(report(m["design"]))
        return 0
    print(f"{Path(cfg.data).name}: test {m['test_start']} … {m['test_end']}, {m['n_hours']} hours, "
          f"{m['runtime_s']:.0f} s")
    print(table(m))
    if res["run_id"]:
        print(f"MLflow run {res['run_id']}")
    return 0


if __name__ == "__main__":
    from forecast.cli import main as cli_main

    raise SystemExit(cli_main(["epf-bench", *sys.argv[1:]]))
