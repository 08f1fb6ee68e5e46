"""train(cfg): inputs -> windows -> fit -> evaluate against baselines -> MLflow (params, metrics, plots,
model registered with an alias)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities.exceptions import SIGTERMException

from forecast import tracking
from forecast.config import Config, ConfigError, to_dict
from forecast.data.inputs import Split, load_inputs, site_series, split
from forecast.data.windows import WindowStore
from forecast.evaluation.holdout import evaluate, plot_test
from forecast.io import atomic_write_text
from forecast.models import registry
from forecast.models.device import Runtime, resolve
from forecast.models.lit import CorpusData, EpochTimer, LitForecaster, ShardAudit, WindowData, seed_everything
from forecast.pipeline.corpus import CorpusAudit, corpus_data
from forecast.pipeline.promote import Decision, gate
from forecast.types import Quantiles

log = logging.getLogger("forecast")


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
    promotion: str = ""  # which alias the new version got, and why (pipeline.promote)
    promoted: bool = True  # False: registered as challenger; the serving alias stays where it was


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


@dataclass
class _Fit:
    """What one fit leaves behind: the trained module, the trainer and the figures measured while training."""

    lit: LitForecaster
    trainer: L.Trainer
    best_path: str
    throughput: dict[str, float]
    audit: dict[str, float]


def window_data(cfg: Config, store: WindowStore, sp: Split) -> WindowData:
    """The split's training and validation windows of one store in memory."""
    tc = cfg.trainer
    return WindowData(store, sp.train, sp.val, tc.batch_size, seed=tc.seed, max_train_windows=tc.max_train_windows)


def fit(cfg: Config, data: WindowData | CorpusData, rt: Runtime, run: tracking.Run | None,
        ck: tuple[str, str | None] | None = None) -> _Fit:
    """Train the configured model on ``data``'s training windows (best checkpoint on validation pinball): one
    store in memory (:func:`window_data`) or a streamed corpus (``pipeline.corpus.corpus_data``);
    ``ck`` = (checkpoint folder, checkpoint to resume from), default ``checkpoints(cfg)``."""
    dc, tc = cfg.data, cfg.trainer
    model = registry.build(cfg.model, dc.history_h, dc.horizon_h)
    steps = data.batches_per_epoch()
    lit = LitForecaster(model, tuple(cfg.model.quantiles), cfg.model.optimizer, steps_per_epoch=steps,
                        max_epochs=tc.max_epochs)
    if tc.compile:
        lit.model = torch.compile(lit.model)
    ckdir, resume_from = ck or checkpoints(cfg)
    best = ModelCheckpoint(dirpath=ckdir, monitor="val_pinball", mode="min", save_top_k=1, filename="best",
                           save_last=True)  # last.ckpt after every epoch: what trainer.resume=last continues
    timer = EpochTimer()
    audit = ShardAudit(data.train_set, len(data.store.y)) if isinstance(data, WindowData) else CorpusAudit(data)
    callbacks = [best, timer, audit] + ([tracking.EpochMetricsCallback(run)] if run is not None else [])
    trainer = L.Trainer(
        accelerator=rt.accelerator, devices=tc.devices, num_nodes=tc.num_nodes, strategy=tc.strategy,
        precision=rt.precision, max_epochs=tc.max_epochs, gradient_clip_val=tc.gradient_clip_val,
        deterministic=tc.deterministic, logger=False, enable_checkpointing=True,
        callbacks=callbacks, enable_progress_bar=tc.progress and sys.stderr.isatty(),  # no bar in logs
        num_sanity_val_steps=0, enable_model_summary=False, default_root_dir=ckdir,
    )
    try:
        trainer.fit(lit, datamodule=data, ckpt_path=resume_from)
    except SIGTERMException:  # Lightning's, a SystemExit with status 0: a pre-empted job must not look done
        log.error("training stopped by SIGTERM at epoch %d; the last finished epoch is in %s/last.ckpt: continue "
                  "it with trainer.resume=last", trainer.current_epoch, ckdir)
        raise SystemExit(128 + signal.SIGTERM) from None
    if trainer.is_global_zero:
        atomic_write_text(Path(ckdir) / COMPLETE, f"{trainer.global_step}\n")
    # windows per epoch over all ranks (each rank takes len(train_dataloader) batches)
    seen = getattr(data.train_set, "first_epoch_seen", None)
    per_epoch = (len(seen) if seen is not None else steps * tc.batch_size) * trainer.world_size
    throughput = {"train_windows_per_s": timer.windows_per_s(per_epoch),
                  "epoch_s_median": timer.median_epoch_s(), "epochs": float(trainer.current_epoch)}
    return _Fit(lit, trainer, best.best_model_path, throughput, audit.result)


COMPLETE = "COMPLETE"  # written beside the checkpoints once a fit has ended


def checkpoints(cfg: Config, clear: bool = True) -> tuple[str, str | None]:
    """(checkpoint folder, checkpoint to resume from or None). The folder is <out_dir>/checkpoints; a fresh run
    refuses to start over the checkpoints of an interrupted one (``trainer.resume=last`` continues it) and,
    with ``clear`` (rank 0), removes a finished run's."""
    folder = Path(cfg.out_dir) / "checkpoints"
    last = folder / "last.ckpt"
    r = cfg.trainer.resume
    if r == "none":
        if last.exists() and not (folder / COMPLETE).exists():
            raise ConfigError("trainer.resume", f"{last} is an interrupted run's; starting over would discard it",
                              "last")
        for f in (last, folder / "best.ckpt", folder / COMPLETE) if clear else ():  # a finished run's
            f.unlink(missing_ok=True)
        return str(folder), None
    path = last if r == "last" else Path(r)
    if not path.is_file():
        raise ConfigError("trainer.resume", f"no checkpoint {path} to resume from", "none")
    if clear:
        (folder / COMPLETE).unlink(missing_ok=True)
    log.info("resuming from %s", path)
    return str(folder), str(path)


def best_model(f: _Fit) -> torch.nn.Module:
    """The checkpoint with the best validation pinball (the last weights when none was saved), on the CPU."""
    if f.best_path:
        f.lit.load_state_dict(torch.load(f.best_path, map_location="cpu", weights_only=False)["state_dict"])
    model = f.lit.model._orig_mod if hasattr(f.lit.model, "_orig_mod") else f.lit.model  # unwrap torch.compile
    return model.cpu().eval()


def open_tracking(cfg: Config) -> str:
    """Check the tracking store before any work (``tracking.timeout_s``; ``tracking.fallback=local`` records in a
    sqlite store under out_dir instead): the URI the runs use."""
    tc = cfg.tracking
    local = tc.local_uri or f"sqlite:///{Path(cfg.out_dir).resolve() / 'mlflow-local.db'}"
    return tracking.prepare(tc.uri, tc.timeout_s, tc.fallback, local)


def train(cfg: Config) -> TrainResult:
    """Fit the power model on the configured data and record everything in MLflow."""
    t0 = time.perf_counter()
    primary = launch_rank() == 0
    if primary:
        open_tracking(cfg)
    ck = checkpoints(cfg, clear=primary)  # before any work: a fresh run never starts over an interrupted one
    dc, tc = cfg.data, cfg.trainer
    if tc.num_threads:
        torch.set_num_threads(tc.num_threads)
    seed_everything(tc.seed)
    rt = resolve(tc.accelerator, tc.precision)
    out_dir = Path(cfg.out_dir)
    if primary:
        out_dir.mkdir(parents=True, exist_ok=True)
    if not primary and dc.source == "simulate":
        # the seeded simulator gives every rank the same data; only rank 0 writes it to data.dir
        dc = dataclasses.replace(dc, dir=tempfile.mkdtemp(prefix="forecast-data-"))
    if cfg.corpus.dir:  # streamed from shards; validated and tested on the held-out shards' series
        data, store, sp = corpus_data(cfg)
        log.info("corpus %s: %d training shards, %d held-out series (val %d, test %d windows)", cfg.corpus.dir,
                 len(data.shards), len(store.series), len(sp.val), len(sp.test))
    else:
        store = WindowStore(site_series(load_inputs(dc), dc), dc.history_h, dc.horizon_h, device="cpu")
        sp = split(store, dc)
        data = window_data(cfg, store, sp)
        log.info("windows: train %d, val %d, test %d", len(sp.train), len(sp.val), len(sp.test))
    # only rank 0 opens an MLflow run; the others train and return
    tracked = (tracking.run(to_dict(cfg), experiment=cfg.tracking.experiment, tracking_uri=cfg.tracking.uri,
                            tags=_data_tags(cfg)) if primary else contextlib.nullcontext())
    with tracked as run:
        f = fit(cfg, data, rt, run, ck)
        if not f.trainer.is_global_zero or run is None:
            return TrainResult("", None, {}, Path(), [], time.perf_counter() - t0, f.throughput, "", is_global_zero=False)
        run.log_metrics({k: v for k, v in {**f.throughput, **f.audit}.items() if np.isfinite(v)})
        model = best_model(f)
        version, metrics, ckpt, plots, dec = record(cfg, model, store, sp, run)
        return TrainResult(run.run_id, version, metrics, ckpt, plots, time.perf_counter() - t0, f.throughput, run.uri,
                           promotion=dec.reason, promoted=dec.promoted)


def recorded_data(cfg: Config) -> dict:
    """The data settings saved with a model, which ``forecast predict`` reuses (predict.data_from=model): the
    folder its tables are in (none for a corpus: predict is then told data.dir)."""
    dc = cfg.data
    folder = "" if cfg.corpus.dir else str(Path(dc.dir).resolve())
    return {"dir": folder, "use_temperature": dc.use_temperature, "known_at": dc.known_at,
            "corpus": str(Path(cfg.corpus.dir).resolve()) if cfg.corpus.dir else ""}


def _data_tags(cfg: Config) -> dict[str, str]:
    if cfg.corpus.dir:
        return {"corpus.dir": str(Path(cfg.corpus.dir).resolve())}
    return {"data.dir": str(Path(cfg.data.dir).resolve())}


def record(cfg: Config, model: torch.nn.Module, store: WindowStore, sp: Split,
           run: tracking.Run) -> tuple[str | None, dict[str, dict[str, float]], Path, list[Path], Decision]:
    """Evaluate on the test period, write plots, checkpoint and metrics, log and register the model under the
    alias the promotion gate gives it.

    Returns (model version, test metrics, checkpoint path, plot paths, the promotion decision)."""
    dc, out_dir = cfg.data, Path(cfg.out_dir)
    quant = Quantiles(tuple(cfg.model.quantiles))
    store.to("cpu")
    metrics, curves = evaluate(model, store, sp, quant, Runtime("cpu", "32-true", torch.device("cpu")))
    for name, m in metrics.items():
        run.log_metrics({f"test_{name}_{k}": v for k, v in m.items()})
    plots = plot_test(store, sp, curves, quant, out_dir / "plots")
    for p in plots:
        run.log_artifact(p, artifact_path="plots")
    ckpt = registry.save(out_dir / "model" / "forecaster.pt", model, cfg.model, dc.history_h, dc.horizon_h,
                         extra={"run_id": run.run_id, "test_metrics": metrics, "data": recorded_data(cfg)})
    run.log_artifact(ckpt, artifact_path="checkpoint")
    atomic_write_text(out_dir / "test_metrics.json", json.dumps(metrics, indent=1))
    run.log_artifact(out_dir / "test_metrics.json")
    example = store.gather(torch.from_numpy(sp.test[:2]))
    reg = cfg.tracking.register
    dec = Decision("", False, "not registered (tracking.register=false)")
    if reg:
        dec = gate(cfg, metrics, store, sp, quant, Runtime("cpu", "32-true", torch.device("cpu")))
        run.set_tags({"promotion.alias": dec.alias, "promotion.reason": dec.reason})
        run.log_metrics({f"promotion_mae_{k}": v for k, v in dec.scores.items()})
        log.info("promotion: %s", dec.reason)
    version = run.log_torch_model(model, "model", {"x_hist": example["x_hist"], "x_fut": example["x_fut"]},
                                  registered_name=cfg.tracking.model_name if reg else None,
                                  alias=dec.alias if reg else None)
    return version, metrics, ckpt, plots, dec
