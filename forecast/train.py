"""train(cfg): inputs -> windows -> fit -> evaluate against baselines -> MLflow (params, metrics, plots,
model registered with an alias). ``demo`` chains it with the batch forecast."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from forecast import tracking
from forecast.config import Config, DataConfig, compose, to_dict, to_object
from forecast.data import contracts
from forecast.data.features import SiteMeta, site_metas
from forecast.data.windows import SeriesArrays, WindowStore, build_series, series_of
from forecast.device import Runtime, autocast, resolve
from forecast.errors import ContractError
from forecast.models import registry
from forecast.models.baselines import BASELINES, ResidualQuantiles
from forecast.models.lit import LitForecaster, ShardAudit, WindowData
from forecast.types import Quantiles

log = logging.getLogger("forecast")
HOUR = pd.Timedelta(hours=1)
TABLES = ("sites", "jobs", "meter", "grid")


# ------------------------------------------------------------------------------------------ inputs
@dataclass
class Inputs:
    sites: pd.DataFrame
    jobs: pd.DataFrame
    meter: pd.DataFrame
    grid: pd.DataFrame | None
    paths: dict[str, Path]
    metas: dict[str, SiteMeta] = field(default_factory=dict)


def find_table(folder: Path, name: str, required: bool = True) -> Path | None:
    hits = [folder / f"{name}{ext}" for ext in (".parquet", ".csv") if (folder / f"{name}{ext}").exists()]
    if len(hits) > 1:
        raise ContractError(str(folder), None, f"both {hits[0].name} and {hits[1].name} exist: keep one")
    if not hits:
        if required:
            raise FileNotFoundError(f"{folder}: no {name}.parquet or {name}.csv")
        return None
    return hits[0]


def load_inputs(dc: DataConfig, need_grid: bool | None = None) -> Inputs:
    """Read and validate the four tables from ``dc.dir`` (writing the scenario there first when source=simulate)."""
    folder = Path(dc.dir)
    if dc.source == "simulate":
        from forecast.data.simulate import simulate

        simulate(dc.scenario).write(folder)
    need_grid = dc.use_temperature if need_grid is None else need_grid
    paths = {t: find_table(folder, t, required=(t != "grid" or need_grid)) for t in TABLES}
    sites = contracts.load_sites(paths["sites"])
    jobs = contracts.load_jobs(paths["jobs"])
    meter = contracts.load_meter(paths["meter"])
    grid = contracts.load_grid(paths["grid"]) if paths["grid"] is not None else None
    known = set(sites["site_id"])
    for name, df in (("meter", meter), ("jobs", jobs)):
        bad = ~df["site_id"].isin(known)
        if bad.any():
            raise ContractError(str(paths[name]), "site_id", f"sites not in {paths['sites'].name}", df[bad])
    metas = site_metas(sites)
    pairs = [(s, g) for s, m in metas.items() for g in m.fleet]
    fleet = pd.MultiIndex.from_arrays([[s for s, _ in pairs], [g for _, g in pairs]])
    bad = pd.Series(~pd.MultiIndex.from_arrays([jobs["site_id"].astype(str), jobs["gpu_type"].astype(str)]).isin(fleet),
                    index=jobs.index)  # vectorised: one factorisation, no Python tuples per row
    if bad.any():
        raise ContractError(str(paths["jobs"]), "gpu_type", "GPU type not installed at that site (sites table)",
                            jobs.loc[bad, ["job_id", "site_id", "gpu_type"]])
    if grid is not None and dc.use_temperature:
        if "temperature_c" not in grid.columns:
            raise ContractError(str(paths["grid"]), "temperature_c",
                                "missing; it is needed with data.use_temperature=true (or set it false)")
        zones = {m.zone for m in metas.values()} - set(grid["zone"])
        if zones:
            raise ContractError(str(paths["grid"]), "zone", f"no rows for zones {sorted(zones)} used by the sites table")
    return Inputs(sites, jobs, meter, grid, paths, metas)


def site_series(inp: Inputs, dc: DataConfig, end: pd.Timestamp | None = None,
                start: pd.Timestamp | None = None) -> list[SeriesArrays]:
    """Arrays per site over the meter's hours (or [start, end) with NaN targets beyond the meter)."""
    out = []
    for sid, meta in sorted(inp.metas.items()):
        m = inp.meter[inp.meter["site_id"] == sid]
        if m.empty:
            raise ContractError(str(inp.paths["meter"]), "site_id", f"no meter history for site {sid!r}")
        power = pd.Series(m["power_mw"].to_numpy(), index=pd.DatetimeIndex(m["ts"]))
        temp = None
        if dc.use_temperature and inp.grid is not None:
            g = inp.grid[inp.grid["zone"] == meta.zone]
            temp = pd.Series(g["temperature_c"].to_numpy(), index=pd.DatetimeIndex(g["ts"]))
        ts = None
        if start is not None or end is not None:
            ts = pd.date_range(start if start is not None else power.index[0],
                               end if end is not None else power.index[-1] + HOUR, freq="h", inclusive="left")
            power = power[(power.index >= ts[0])]
            if temp is not None:
                temp = temp[temp.index < ts[-1] + HOUR]
        out.append(build_series(meta, inp.jobs, power, temp, dc.horizon_h, ts))
    return out


@dataclass
class Split:
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    val_start: pd.Timestamp
    test_start: pd.Timestamp
    end: pd.Timestamp


def split(store: WindowStore, dc: DataConfig) -> Split:
    """Time split: targets of training windows end before validation starts, which ends before the test."""
    end = min(s.ts[~np.isnan(s.y)][-1] for s in store.series) + HOUR
    H = pd.Timedelta(hours=dc.horizon_h)
    test_start = end - pd.Timedelta(weeks=dc.test_weeks)
    val_start = test_start - pd.Timedelta(weeks=dc.val_weeks)
    parts = {"train": [], "val": [], "test": []}
    for k in range(len(store.series)):
        parts["train"].append(store.origins(k, end=val_start - H + HOUR, every_h=dc.train_every_h))
        parts["val"].append(store.origins(k, start=val_start, end=test_start - H + HOUR, every_h=dc.val_every_h))
        parts["test"].append(store.origins(k, start=test_start, at_hour=dc.eval_hour))
    sp = Split(*(np.concatenate(parts[p]) for p in ("train", "val", "test")), val_start, test_start, end)
    for name in ("train", "val", "test"):
        if len(getattr(sp, name)) == 0:
            raise ValueError(f"no {name} windows: {len(store.series[0].ts)} h of data is too short for history "
                             f"{dc.history_h} h + horizon {dc.horizon_h} h + {dc.val_weeks}+{dc.test_weeks} weeks "
                             "of validation and test (lower data.test_weeks / data.history_h)")
    return sp


# ------------------------------------------------------------------------------------------ inference
@torch.no_grad()
def predict_windows(model: torch.nn.Module, store: WindowStore, g: np.ndarray, rt: Runtime,
                    batch_size: int = 4096, progress: bool = False) -> np.ndarray:
    """Quantiles (N, H, Q) in model units, fp32 on the CPU side, for global issue indices g."""
    model = model.to(rt.device).eval()
    store.to(rt.device)
    out = []
    it = range(0, len(g), batch_size)
    if progress:
        from tqdm import tqdm

        it = tqdm(it, desc="forecast", unit="batch", file=sys.stderr)
    for i in it:
        b = store.gather(torch.from_numpy(np.asarray(g[i:i + batch_size], dtype=np.int64)))
        with autocast(rt):
            q = model(b["x_hist"], b["x_fut"])
        out.append(q.float().cpu())
    return torch.cat(out).numpy() if out else np.zeros((0, store.horizon, 0), np.float32)


def baseline_points(store: WindowStore, g: np.ndarray, batch_size: int = 8192) -> dict[str, np.ndarray]:
    """Point forecasts (N, H) of every baseline, model units."""
    out = {k: [] for k in BASELINES}
    dev = store.device
    for i in range(0, len(g), batch_size):
        b = store.gather(torch.from_numpy(np.asarray(g[i:i + batch_size], dtype=np.int64)).to(dev))
        for k, f in BASELINES.items():
            out[k].append(f(b, store.horizon).float().cpu())
    return {k: torch.cat(v).numpy() for k, v in out.items()}


def targets(store: WindowStore, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, H) targets in model units and (N,) scales (MW per unit)."""
    b = store.gather(torch.from_numpy(np.asarray(g, dtype=np.int64)).to(store.device))
    return b["y"].cpu().numpy(), b["scale"].cpu().numpy()


def score(y_mw: np.ndarray, q_mw: np.ndarray, levels: tuple[float, ...]) -> dict[str, float]:
    from forecast import metrics

    return metrics.summary(y_mw, q_mw, levels)


# ------------------------------------------------------------------------------------------ train
@dataclass
class TrainResult:
    run_id: str  # "" on ranks other than 0 (only rank 0 talks to MLflow)
    model_version: str | None
    metrics: dict[str, dict[str, float]]  # model name -> metric -> value (test period, MW)
    checkpoint: Path
    plots: list[Path]
    seconds: float
    throughput: dict[str, float]
    tracking_uri: str
    is_global_zero: bool = True


def launch_rank() -> int:
    """This process's global rank as its launcher set it (torchrun: RANK; SLURM: SLURM_PROCID; Lightning's
    own launcher: NODE_RANK/LOCAL_RANK in the processes it starts); 0 for a plain single process.

    Known before any process group exists, so rank-0-only work (writing data, MLflow) is decided up front.
    """
    env = os.environ
    for key in ("RANK", "SLURM_PROCID"):
        if env.get(key, "").isdigit():
            if key == "SLURM_PROCID" and int(env.get("SLURM_NTASKS", "1") or 1) <= 1:
                continue  # a single-task SLURM job: Lightning starts the other processes itself
            return int(env[key])
    local, node = env.get("LOCAL_RANK", "0"), env.get("NODE_RANK", "0")
    local, node = (int(local) if local.isdigit() else 0), (int(node) if node.isdigit() else 0)
    return local if node == 0 else max(1, node) * 10_000 + local  # only "is it 0" matters here


def _seed(seed: int) -> None:
    import lightning as L

    L.seed_everything(seed, workers=True, verbose=False)


def train(cfg: Config) -> TrainResult:
    """Fit the power model on the configured data and record everything in MLflow."""
    import lightning as L
    from lightning.pytorch.callbacks import ModelCheckpoint

    t0 = time.perf_counter()
    dc, tc = cfg.data, cfg.trainer
    if tc.num_threads:
        torch.set_num_threads(tc.num_threads)
    _seed(tc.seed)
    rt = resolve(tc.accelerator, tc.precision)
    quant = Quantiles(tuple(cfg.model.quantiles))
    out_dir = Path(cfg.out_dir)
    primary = launch_rank() == 0
    if primary:
        out_dir.mkdir(parents=True, exist_ok=True)
    if not primary and dc.source == "simulate":
        # the seeded simulator gives every rank the same data; only rank 0 writes it to data.dir
        dc = dataclasses.replace(dc, dir=tempfile.mkdtemp(prefix="forecast-data-"))

    inp = load_inputs(dc)
    store = WindowStore(site_series(inp, dc), dc.history_h, dc.horizon_h, device="cpu")
    sp = split(store, dc)
    log.info("windows: train %d, val %d, test %d", len(sp.train), len(sp.val), len(sp.test))

    model = registry.build(cfg.model, dc.history_h, dc.horizon_h)
    data = WindowData(store, sp.train, sp.val, tc.batch_size, seed=tc.seed, max_train_windows=tc.max_train_windows)
    steps = data.train_set.n_batches()
    lit = LitForecaster(model, quant.levels, cfg.model.optimizer, steps_per_epoch=steps, max_epochs=tc.max_epochs)
    if tc.compile:
        lit.model = torch.compile(lit.model)

    cfg_dict = to_dict(cfg)
    # only rank 0 opens an MLflow run; the others train and return
    tracked = (tracking.run(cfg_dict, experiment=cfg.tracking.experiment, tracking_uri=cfg.tracking.uri,
                            tags={"data.dir": str(Path(cfg.data.dir).resolve())}) if primary else contextlib.nullcontext())
    with tracked as run:
        ckdir = tempfile.mkdtemp(prefix="forecast-ckpt-")  # Lightning broadcasts rank 0's path; only rank 0 writes
        best = ModelCheckpoint(dirpath=ckdir, monitor="val_pinball", mode="min", save_top_k=1, filename="best")
        timer = _EpochTimer()
        audit = ShardAudit(data.train_set, len(store.y))
        callbacks = [best, timer, audit] + ([tracking.EpochMetricsCallback(run)] if primary else [])
        trainer = L.Trainer(
            accelerator=rt.accelerator, devices=tc.devices, num_nodes=tc.num_nodes, strategy=tc.strategy,
            precision=rt.precision, max_epochs=tc.max_epochs, gradient_clip_val=tc.gradient_clip_val,
            deterministic=tc.deterministic, logger=False, enable_checkpointing=True,
            callbacks=callbacks, enable_progress_bar=tc.progress and sys.stderr.isatty(),  # no bar in logs
            num_sanity_val_steps=0, enable_model_summary=False, default_root_dir=ckdir,
        )
        trainer.fit(lit, datamodule=data)
        # windows per epoch over all ranks (each rank takes len(train_dataloader) batches)
        seen = data.train_set.first_epoch_seen
        per_epoch = (len(seen) if seen is not None else steps * tc.batch_size) * trainer.world_size
        throughput = {"train_windows_per_s": timer.windows_per_s(per_epoch),
                      "epoch_s_median": timer.median_epoch_s(), "epochs": float(trainer.current_epoch)}
        if not trainer.is_global_zero or run is None:
            return TrainResult("", None, {}, Path(), [], time.perf_counter() - t0, throughput, "", is_global_zero=False)
        run.log_metrics({k: v for k, v in {**throughput, **audit.result}.items() if np.isfinite(v)})
        if best.best_model_path:
            state = torch.load(best.best_model_path, map_location="cpu", weights_only=False)["state_dict"]
            lit.load_state_dict(state)
        model = lit.model._orig_mod if hasattr(lit.model, "_orig_mod") else lit.model
        model = model.cpu().eval()

        store.to("cpu")
        metrics, curves = evaluate(model, store, sp, quant, Runtime("cpu", "32-true", torch.device("cpu")))
        for name, m in metrics.items():
            run.log_metrics({f"test_{name}_{k}": v for k, v in m.items()})
        plots = plot_test(store, sp, curves, quant, out_dir / "plots")
        for p in plots:
            run.log_artifact(p, artifact_path="plots")
        ckpt = registry.save(out_dir / "model" / "forecaster.pt", model, cfg.model, dc.history_h, dc.horizon_h,
                             extra={"run_id": run.run_id, "test_metrics": metrics})
        run.log_artifact(ckpt, artifact_path="checkpoint")
        from forecast.io import atomic_write

        atomic_write(out_dir / "test_metrics.json", lambda tmp: Path(tmp).write_text(json.dumps(metrics, indent=1)))
        run.log_artifact(out_dir / "test_metrics.json")
        example = store.gather(torch.from_numpy(sp.test[:2]))
        version = run.log_torch_model(model, "model", {"x_hist": example["x_hist"], "x_fut": example["x_fut"]},
                                      registered_name=cfg.tracking.model_name if cfg.tracking.register else None,
                                      alias=cfg.tracking.alias if cfg.tracking.register else None)
        return TrainResult(run.run_id, version, metrics, ckpt, plots, time.perf_counter() - t0, throughput, run.uri)


class _EpochTimer:
    """Wall time per training epoch (synchronised on CUDA), for the throughput figures."""

    def __new__(cls):
        import lightning as L

        class _T(L.Callback):
            def __init__(self):
                self.times: list[float] = []
                self._t = 0.0

            def _sync(self):
                if torch.cuda.is_available():
                    torch.cuda.synchronize()

            def on_train_epoch_start(self, trainer, pl_module):
                self._sync()
                self._t = time.perf_counter()

            def on_train_epoch_end(self, trainer, pl_module):
                self._sync()
                self.times.append(time.perf_counter() - self._t)

            def median_epoch_s(self) -> float:
                return float(np.median(self.times)) if self.times else float("nan")

            def windows_per_s(self, per_epoch: int) -> float:
                # the first epoch carries warm-up (allocation, compilation): use the others when there are any
                t = self.times[1:] or self.times
                return float(per_epoch / np.median(t)) if t else float("nan")

        return _T()


def evaluate(model, store: WindowStore, sp: Split, quant: Quantiles, rt: Runtime):
    """Test-period metrics (MW) for the model and every baseline, on the same issue times."""
    y, scale = targets(store, sp.test)
    y_mw = y * scale[:, None]
    out: dict[str, dict[str, float]] = {}
    q_model = predict_windows(model, store, sp.test, rt) * scale[:, None, None]
    out["model"] = score(y_mw, q_model, quant.levels)
    curves = {"model": q_model, "actual": y_mw}
    # baselines: residual quantiles fitted on (a sample of) training windows only
    rng = np.random.default_rng(0)
    tr = sp.train if len(sp.train) <= 20000 else np.sort(rng.choice(sp.train, 20000, replace=False))
    y_tr, _ = targets(store, tr)
    pts_tr = baseline_points(store, tr)
    pts = baseline_points(store, sp.test)
    for name in BASELINES:
        rq = ResidualQuantiles(quant.levels).fit(pts_tr[name], y_tr)
        qb = rq.apply(pts[name]) * scale[:, None, None]
        out[name] = score(y_mw, qb, quant.levels)
        curves[name] = qb
    # error by horizon for the model and the best baselines
    out["model"]["mae_h1_24"] = float(np.abs(q_model[:, :24, quant.median_index] - y_mw[:, :24]).mean())
    out["model"]["mae_h145_168"] = float(np.abs(q_model[:, -24:, quant.median_index] - y_mw[:, -24:]).mean())
    return out, curves


def plot_test(store: WindowStore, sp: Split, curves: dict, quant: Quantiles, folder: Path) -> list[Path]:
    """Fan chart of the last full-week test forecast for each site, with actuals and baselines; MAE by horizon."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from forecast.io import atomic_write

    folder.mkdir(parents=True, exist_ok=True)
    k, i = series_of(store, sp.test)
    paths = []
    lo, mi, hi = 0, quant.median_index, len(quant) - 1
    for s_idx, s in enumerate(store.series):
        rows = np.flatnonzero(k == s_idx)
        if not len(rows):
            continue
        r = rows[-1]
        ts = s.ts[i[r]: i[r] + store.horizon]
        fig, ax = plt.subplots(figsize=(11, 4))
        q = curves["model"][r]
        ax.fill_between(ts, q[:, lo], q[:, hi], alpha=0.25, color="C0", label=f"model {quant.columns[lo]}–{quant.columns[hi]}")
        ax.plot(ts, q[:, mi], color="C0", label="model p50")
        ax.plot(ts, curves["physics"][r][:, mi], color="C2", lw=1, ls="--", label="physics-only")
        ax.plot(ts, curves["seasonal_naive_168h"][r][:, mi], color="C3", lw=1, ls=":", label="seasonal naive 168 h")
        ax.plot(ts, curves["actual"][r], color="k", lw=1.2, label="metered")
        ax.set_title(f"{s.series_id}: forecast issued {s.ts[i[r]]:%Y-%m-%d %H:%M} UTC, 1–{store.horizon} h ahead")
        ax.set_ylabel("facility power (MW)")
        ax.legend(loc="upper left", ncol=3, fontsize=8)
        fig.autofmt_xdate()
        p = folder / f"fan_{s.series_id}.png"
        atomic_write(p, lambda tmp, f=fig: f.savefig(tmp, dpi=110, bbox_inches="tight", format="png"))
        plt.close(fig)
        paths.append(p)
    fig, ax = plt.subplots(figsize=(8, 4))
    h = np.arange(1, store.horizon + 1)
    for name, style in (("model", "-"), ("physics", "--"), ("seasonal_naive_168h", ":"), ("seasonal_naive_24h", "-.")):
        err = np.abs(curves[name][..., mi] - curves["actual"]).mean(axis=0)
        ax.plot(h, err, style, label=name)
    ax.set_xlabel("horizon (h)")
    ax.set_ylabel("MAE (MW)")
    ax.set_title("Test-period MAE by horizon, all sites")
    ax.legend()
    p = folder / "mae_by_horizon.png"
    atomic_write(p, lambda tmp: fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png"))
    plt.close(fig)
    return paths + [p]


def format_table(metrics: dict[str, dict[str, float]]) -> str:
    cols = ["mae", "rmse", "smape", "pinball", "coverage_p10_p90", "top5_mae"]
    lines = [f"{'model':<22}" + "".join(f"{c:>18}" for c in cols)]
    for name, m in metrics.items():
        lines.append(f"{name:<22}" + "".join(f"{m.get(c, float('nan')):>18.4f}" for c in cols))
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ CLI
def _setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    for noisy in ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: list[str]) -> int:
    """forecast train [hydra overrides]"""
    _setup_logging()
    cfg = to_object(compose(argv))
    res = train(cfg)
    if not res.is_global_zero:
        return 0
    print(format_table(res.metrics))
    print(f"\nMLflow run {res.run_id} ({res.tracking_uri}); model version {res.model_version}; checkpoint {res.checkpoint}")
    return 0


def demo_main(argv: list[str]) -> int:
    """forecast demo [hydra overrides]: simulate -> train -> register -> batch forecast."""
    from forecast.predict import predict

    _setup_logging()
    t0 = time.perf_counter()
    cfg = to_object(compose(argv))
    res = train(cfg)
    if not res.is_global_zero:
        return 0
    print("\nHeld-out test weeks (forecasts issued daily, horizons 1–%d h, MW):" % cfg.data.horizon_h)
    print(format_table(res.metrics))
    m = res.metrics
    best_base = min((k for k in m if k != "model"), key=lambda k: m[k]["mae"])
    print(f"\nlearned model vs best baseline ({best_base}): MAE {m['model']['mae']:.3f} vs {m[best_base]['mae']:.3f} MW, "
          f"pinball {m['model']['pinball']:.3f} vs {m[best_base]['pinball']:.3f}; "
          f"P10–P90 coverage {100 * m['model']['coverage_p10_p90']:.1f}%")
    print(f"training: {res.throughput['train_windows_per_s']:.0f} windows/s, {res.throughput['epoch_s_median']:.1f} s/epoch")
    out = predict(cfg, model_ref=None)
    print(f"\nbatch forecast: {out.path} ({out.rows} rows, issued {out.issued_at}, model version {out.model_version})")
    print(f"MLflow: run {res.run_id} in experiment '{cfg.tracking.experiment}' at {res.tracking_uri}")
    print(f"plots: {', '.join(str(p) for p in res.plots)}")
    print(f"total {time.perf_counter() - t0:.0f} s")
    return 0
