"""Speed and scale of training and batch inference, on CPU or CUDA (same code; device from forecast.models.device).

    python scripts/bench_gpu.py [--device auto|cpu|cuda] [--out bench_gpu.json] [--tiny]

Training: windows/s of the project's model (conf/model/tide.yaml, history 336 h, horizon 168 h, its
covariates) fed by (a) the device-resident pipeline (index batches -> ``WindowStore.gather`` on the device,
as ``forecast train`` does) and (b) a standard per-sample ``torch.utils.data.DataLoader`` (one window per
``__getitem__``, collated, ``--workers`` processes, pinned memory on CUDA) at the same batch size; same
model, loss, optimiser and precision, so only the feeding differs. Warm-up, then the median over repeats
of ``--steps`` synchronised optimiser steps. GPU busy = kernel time / wall time under torch.profiler.

Inference: ``forecast.pipeline.predict.predict`` end to end (read and validate the contract files -> windows ->
model -> tidy frame -> parquet) for N series × 168 h × 9 quantiles, against the per-site path with a
per-sample DataLoader (pandas per site, ``WindowStore``, one window per item). Inputs are copies of
simulated sites (``fleet_inputs``); weights are untrained (speed does not depend on them).

Cost curve: end-to-end seconds per series as N grows, and training windows/s and inference seconds as
the history length grows.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import logging
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from forecast.config import compose, to_object
from forecast.data.features import site_metas
from forecast.data.simulate import ScenarioConfig, simulate
from forecast.data.windows import WindowStore
from forecast.models.device import Runtime, autocast, resolve
from forecast.io import atomic_write
from forecast.models import registry
from forecast.models.lit import IndexBatches
from forecast.models.quantile import pinball_loss

HOUR = pd.Timedelta(hours=1)
Q9 = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]


@dataclasses.dataclass
class Sizes:
    history: int = 336
    horizon: int = 168
    days: int = 731  # simulated days (the default scenario's) for the training windows and the inference inputs
    batch_size: int = 0  # 0: 4096 on CUDA, 512 on CPU (conf/trainer/gpu.yaml, default.yaml)
    steps: int = 20  # timed optimiser steps per repeat
    warmup: int = 5
    repeats: int = 3
    workers: int = 8
    series: tuple[int, ...] = (100, 1000, 10000)
    baseline_max_series: int = 1000  # the per-site baseline is O(S·T·H): not run beyond this
    histories: tuple[int, ...] = (168, 336, 672)
    curve_series: int = 1000
    model_overrides: tuple[str, ...] = ()
    threads: int = 0  # CPU intra-op threads; 0 = torch default (on a shared, oversubscribed CPU use 1)


TINY = Sizes(history=48, horizon=24, days=20, batch_size=64, steps=3, warmup=1, repeats=1, workers=1,
             series=(4, 8), baseline_max_series=8, histories=(48, 72), curve_series=4,
             model_overrides=("model.hidden=32", "model.temporal_hidden=16"), threads=1)


# ------------------------------------------------------------------------------------------ helpers
def sync(rt: Runtime) -> None:
    if rt.device.type == "cuda":
        torch.cuda.synchronize()


def peak_mib(rt: Runtime) -> float:
    """CUDA: peak allocated since the last reset; CPU: the process's peak resident set (monotone)."""
    if rt.device.type == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def reset_peak(rt: Runtime) -> None:
    if rt.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def model_config(sz: Sizes, quantiles: list[float] | None = None):
    ov = list(sz.model_overrides) + ([f"model.quantiles={quantiles}"] if quantiles else [])
    return to_object(compose(ov)).model


def training_windows(base, sz: Sizes, history: int) -> tuple[WindowStore, np.ndarray]:
    """Store (CPU) over the simulated sites and every issue time with a full history and target."""
    from forecast.data.inputs import Inputs, site_series

    cfg = to_object(compose([f"data.history_h={history}", f"data.horizon_h={sz.horizon}"]))
    inp = Inputs(base.sites, base.jobs, base.meter, base.grid, {"meter": Path("<simulated>")}, site_metas(base.sites))
    store = WindowStore(site_series(inp, cfg.data), history, sz.horizon, device="cpu")
    index = np.concatenate([store.origins(k) for k in range(len(store.series))])
    return store, index


class PerSampleWindows(torch.utils.data.Dataset):
    """The standard pipeline: one window per item from host arrays, collated by the DataLoader."""

    def __init__(self, store: WindowStore, index: np.ndarray):
        self.hist, self.fut = store.hist.numpy(), store.materialised_fut().numpy()
        self.cal, self.y, self.scale = store.cal.numpy(), store.y.numpy(), store.scale.numpy()
        self.index, self.L, self.H = index, store.history, store.horizon

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        g = int(self.index[i])
        x_fut = np.concatenate([self.fut[g], self.cal[g:g + self.H]], axis=1)  # (H, F_fut)
        return {"x_hist": torch.from_numpy(self.hist[g - self.L:g]), "x_fut": torch.from_numpy(x_fut),
                "y": torch.from_numpy(self.y[g:g + self.H]), "scale": torch.tensor(self.scale[g])}


def per_sample_loader(store: WindowStore, index: np.ndarray, batch_size: int, workers: int, rt: Runtime,
                      shuffle: bool = True):
    return torch.utils.data.DataLoader(PerSampleWindows(store, index), batch_size=batch_size, shuffle=shuffle,
                                       drop_last=shuffle, num_workers=workers, pin_memory=rt.device.type == "cuda",
                                       persistent_workers=workers > 0)


def cycle(make_iter):
    while True:
        yield from make_iter()


# ------------------------------------------------------------------------------------------ training
def train_rate(model, batches, rt: Runtime, sz: Sizes, batch_size: int, lr: float, levels: torch.Tensor,
               profile: bool) -> dict[str, float]:
    """Median windows/s over ``repeats`` × ``steps`` optimiser steps; ``batches`` yields window dicts on any device."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    model.train()

    def step():
        b = next(batches)
        b = {k: v.to(rt.device, non_blocking=True) for k, v in b.items()}
        with autocast(rt):
            pred = model(b["x_hist"], b["x_fut"])  # (B, H, Q)
        loss = pinball_loss(pred.float(), b["y"], levels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    for _ in range(sz.warmup):
        step()
    sync(rt)
    reset_peak(rt)
    times = []
    for _ in range(sz.repeats):
        t0 = time.perf_counter()
        for _ in range(sz.steps):
            step()
        sync(rt)
        times.append(time.perf_counter() - t0)
    out = {"windows_per_s": sz.steps * batch_size / statistics.median(times), "peak_mib": peak_mib(rt),
           "busy": float("nan")}
    if profile and rt.device.type == "cuda":
        out["busy"] = gpu_busy(step, rt, sz.steps)
    return out


def gpu_busy(step, rt: Runtime, steps: int) -> float:
    """Share of wall time with a kernel or copy running on the GPU, over ``steps`` steps under torch.profiler
    (CUDA only). A lower bound: the profiler's own overhead adds to the wall time."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        sync(rt)
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        sync(rt)
        wall_us = (time.perf_counter() - t0) * 1e6
    spans = sorted((e.time_range.start, e.time_range.end) for e in prof.events()
                   if e.device_type == torch.autograd.DeviceType.CUDA)  # kernels and copies, µs
    busy_us, cur_s, cur_e = 0.0, None, None
    for a, b in spans:  # union of intervals: overlapping streams count once
        if cur_e is None or a > cur_e:
            busy_us += 0.0 if cur_e is None else cur_e - cur_s
            cur_s, cur_e = a, b
        else:
            cur_e = max(cur_e, b)
    busy_us += 0.0 if cur_e is None else cur_e - cur_s
    return min(1.0, busy_us / wall_us)


def lightning_rate(store: WindowStore, index: np.ndarray, sz: Sizes, rt: Runtime, batch_size: int, mc,
                   history: int) -> dict[str, float]:
    """The same device-resident pipeline as ``forecast train`` runs it: LitForecaster + WindowData under a
    Lightning Trainer (its loop, logging, scheduler, epoch ends included). Median windows/s over repeats."""
    import lightning as L

    from forecast.models.lit import LitForecaster, WindowData

    class Clock(L.Callback):
        def __init__(self):
            self.t: list[float] = []

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            sync(rt)
            self.t.append(time.perf_counter())

    torch.manual_seed(0)
    data = WindowData(store, index, index[:batch_size], batch_size, seed=0)
    lit = LitForecaster(registry.build(mc, history, sz.horizon), tuple(mc.quantiles), mc.optimizer,
                        steps_per_epoch=data.train_set.n_batches(), max_epochs=1)
    clock = Clock()
    n = sz.warmup + sz.steps * sz.repeats
    reset_peak(rt)
    trainer = L.Trainer(accelerator=rt.accelerator, devices=1, precision=rt.precision, max_steps=n,
                        max_epochs=-1, limit_val_batches=0, gradient_clip_val=1.0, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        callbacks=[clock])
    trainer.fit(lit, datamodule=data)
    t = np.array(clock.t)
    ends = sz.warmup - 1 + sz.steps * np.arange(sz.repeats + 1)  # batch indices closing each repeat
    times = np.diff(t[ends]) if sz.warmup > 0 else np.diff(np.r_[t[0], t[ends[1:]]])
    return {"windows_per_s": sz.steps * batch_size / float(np.median(times)), "peak_mib": peak_mib(rt),
            "busy": float("nan")}


def bench_training(base, sz: Sizes, rt: Runtime, history: int, batch_size: int, compile_model: bool,
                   with_baseline: bool = True) -> list[dict]:
    store, index = training_windows(base, sz, history)
    mc = model_config(sz)
    levels = torch.tensor(mc.quantiles, dtype=torch.float32, device=rt.device)
    rows = []
    per_epoch = len(index) // batch_size * batch_size

    torch.manual_seed(0)
    model = registry.build(mc, history, sz.horizon).to(rt.device)
    fwd = torch.compile(model) if compile_model else model
    dev_store = WindowStore.__new__(WindowStore)
    dev_store.__dict__.update(store.__dict__)
    dev_store.to(rt.device)  # a device copy; the host store stays for the baseline
    ib = IndexBatches(index, batch_size, shuffle=True, seed=0)
    batches = (dev_store.gather(g.to(rt.device, non_blocking=True)) for g in cycle(ib.__iter__))
    r = train_rate(fwd, batches, rt, sz, batch_size, mc.optimizer.lr, levels, profile=True)
    rows.append({"pipeline": "device-resident" + (" + compile" if compile_model else ""), **r})
    if with_baseline and not compile_model:
        r = lightning_rate(dev_store, index, sz, rt, batch_size, mc, history)
        rows.append({"pipeline": "device-resident, Lightning (forecast train)", **r})
    del dev_store, batches

    if with_baseline:
        torch.manual_seed(0)
        model = registry.build(mc, history, sz.horizon).to(rt.device)
        fwd = torch.compile(model) if compile_model else model
        loader = per_sample_loader(store, index, batch_size, sz.workers, rt)
        r = train_rate(fwd, cycle(loader.__iter__), rt, sz, batch_size, mc.optimizer.lr, levels, profile=True)
        rows.append({"pipeline": f"per-sample DataLoader ({sz.workers} workers, pin_memory={rt.device.type == 'cuda'})",
                     **r})
        del loader
    for row in rows:
        row.update(history_h=history, horizon_h=sz.horizon, batch_size=batch_size, windows_per_epoch=per_epoch,
                   epoch_s=per_epoch / row["windows_per_s"], load=load_average())
    return rows


def bench_peer(sz: Sizes) -> dict:
    """A peer library's training rate, where installed (NeuralForecast, ``pip install '.[peers]'``)."""
    if importlib.util.find_spec("neuralforecast") is None:
        return {"pipeline": "peer: NeuralForecast", "status": "not installed (pip install '.[peers]')"}
    return {"pipeline": "peer: NeuralForecast", "status": "installed; not measured by this script"}


# ------------------------------------------------------------------------------------------ inference
def fleet_inputs(base, n_sites: int, t: pd.Timestamp, hours: int, out: Path) -> Path:
    """Contract files for ``n_sites`` sites: copies of the simulated sites under new ids, with their jobs,
    ``hours`` of meter and grid history before ``t``. Written once, outside the timed region."""
    out.mkdir(parents=True, exist_ok=True)
    ids = sorted(base.sites["site_id"].unique())
    new = [f"{s}-{c:05d}" for c in range(-(-n_sites // len(ids))) for s in ids][:n_sites]
    mapping = pd.DataFrame({"site_id": [n.rsplit("-", 1)[0] for n in new], "new_id": new})

    def rename(df):
        return df.merge(mapping, on="site_id").drop(columns="site_id").rename(columns={"new_id": "site_id"})

    start = t - hours * HOUR
    sites = rename(base.sites)
    meter = rename(base.meter[(base.meter.ts >= start) & (base.meter.ts < t)]).sort_values(["site_id", "ts"])
    jobs = rename(base.jobs[(base.jobs.planned_end >= start) & (base.jobs.known_at < t)])
    jobs["job_id"] = jobs["job_id"] + "@" + jobs["site_id"]
    grid = base.grid[(base.grid.ts >= start) & (base.grid.ts < t)]
    atomic_write(out / "sites.csv", lambda tmp: sites.to_csv(tmp, index=False))
    for name, df in (("jobs", jobs), ("meter", meter), ("grid", grid)):
        atomic_write(out / f"{name}.parquet", lambda tmp, d=df: d.to_parquet(tmp, index=False))
    return out


def baseline_predict(cfg, ckpt: str, t: pd.Timestamp, rt: Runtime, batch_size: int, workers: int) -> int:
    """The per-site path: pandas filtering and (T, H, C) arrays per site, a per-sample DataLoader, tidy, parquet."""
    from forecast.pipeline.predict import load_model, tidy
    from forecast.data.inputs import load_inputs, site_series
    from forecast.types import Quantiles

    lm = load_model(cfg, ckpt)
    L, H = int(lm.meta["history_h"]), int(lm.meta["horizon_h"])
    dc = dataclasses.replace(cfg.data, source="files", history_h=L, horizon_h=H)
    inp = load_inputs(dc)
    inp.meter, inp.grid = inp.meter[inp.meter.ts < t], inp.grid[inp.grid.ts < t]
    store = WindowStore(site_series(inp, dc, start=t - L * HOUR, end=t + HOUR), L, H)
    loader = per_sample_loader(store, store.offsets + L, batch_size, workers, rt, shuffle=False)
    model = lm.model.to(rt.device).eval()
    out = []
    with torch.no_grad():
        for b in loader:
            with autocast(rt):
                out.append(model(b["x_hist"].to(rt.device), b["x_fut"].to(rt.device)).float().cpu())
    q = torch.cat(out).numpy() * np.array([s.scale for s in store.series])[:, None, None]  # (S, H, Q) MW
    frame = tidy(q, store.ids, t, Quantiles(tuple(lm.meta["model"]["quantiles"])), lm)
    atomic_write(Path(cfg.predict.out) / "baseline.parquet", lambda tmp: frame.to_parquet(tmp, index=False))
    return len(frame)


def timed(fn, repeats: int, warmup: bool = True) -> tuple[float, object]:
    """Median seconds over ``repeats`` calls after one warm-up call; returns (seconds, last result)."""
    res = fn() if warmup else None
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        res = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), res


def bench_inference(base, sz: Sizes, rt: Runtime, series: tuple[int, ...], history: int, work: Path,
                    with_baseline: bool = True) -> list[dict]:
    from forecast.data.reference import reference_windows
    from forecast.pipeline.predict import predict
    from forecast.models.inference import predict_arrays
    from forecast.data.inputs import load_inputs

    mc = model_config(sz, Q9)
    torch.manual_seed(0)
    ckpt = str(registry.save(work / f"model_L{history}.pt", registry.build(mc, history, sz.horizon), mc, history,
                             sz.horizon))
    t = base.meter.ts.max() + HOUR - sz.horizon * HOUR  # leaves room after t in the simulated schedule
    t = t.floor("D")
    rows = []
    for n in series:
        folder = fleet_inputs(base, n, t, history + 168, work / f"in_{n}_L{history}")
        cfg = to_object(compose(["data=files", f"data.dir={folder}", f"predict.out={work / 'fc'}",
                                 f"trainer.accelerator={rt.accelerator}", f"trainer.precision={rt.precision}",
                                 f"predict.batch_size={max(4096, n)}" if rt.device.type == "cuda" else
                                 "predict.batch_size=4096"]))
        runs = iter(range(1_000_000))  # each call writes a fresh file: a forecast file is never rewritten

        def once(cfg=cfg, n=n, runs=runs):
            out = dataclasses.replace(cfg.predict, out=str(work / f"fc_{n}_{next(runs)}"))
            return predict(dataclasses.replace(cfg, predict=out), model_ref=ckpt, reference_time=t)

        secs, res = timed(once, sz.repeats)
        stored = pd.read_parquet(res.path)
        qcols = [c for c in stored.columns if c.startswith("p") and c[1:].isdigit()]
        # the model's share: the same arrays through the model alone (synchronised)
        dc = dataclasses.replace(cfg.data, history_h=history, horizon_h=sz.horizon)
        inp = load_inputs(dc)
        rw = reference_windows(inp.metas, inp.jobs, inp.meter, inp.grid, t, history, sz.horizon)
        model, _ = registry.load(ckpt)

        def model_only():
            q = predict_arrays(model, rw.x_hist, rw.x_fut, rt, cfg.predict.batch_size)
            sync(rt)
            return q

        model_s, _ = timed(model_only, sz.repeats)
        row = {"series": n, "history_h": history, "pipeline": "batched (forecast predict)", "seconds": secs,
               "series_per_s": n / secs, "model_s": model_s, "rows": len(stored), "quantiles": len(qcols),
               "load": load_average()}
        rows.append(row)
        if with_baseline and n <= sz.baseline_max_series:
            # one timed call, no warm-up: it runs for minutes at 1,000 series (O(S·T·H) per-site arrays)
            b_secs, b_rows = timed(lambda: baseline_predict(cfg, ckpt, t, rt, cfg.predict.batch_size, sz.workers),
                                   1, warmup=False)
            rows.append({"series": n, "history_h": history, "pipeline": "per-site + per-sample DataLoader",
                         "seconds": b_secs, "series_per_s": n / b_secs, "model_s": float("nan"), "rows": b_rows,
                         "quantiles": len(qcols), "load": load_average()})
    return rows


# ------------------------------------------------------------------------------------------ report
def fmt(x, spec: str) -> str:
    if isinstance(x, float) and not np.isfinite(x):
        return "n/a"
    return format(x, spec)


def table(title: str, cols: list[tuple[str, str, str]], rows: list[dict]) -> str:
    """cols: (header, key, format spec)."""
    widths = [max(len(h), *(len(fmt(r.get(k, float("nan")), f)) for r in rows)) for h, k, f in cols]
    just = [(lambda c, w: c.ljust(w)) if f == "s" else (lambda c, w: c.rjust(w)) for _, _, f in cols]
    lines = [title, "  ".join(j(h, w) for j, (h, _, _), w in zip(just, cols, widths))]
    for r in rows:
        cells = [fmt(r.get(k, float("nan")), f) for _, k, f in cols]
        lines.append("  ".join(j(c, w) for j, c, w in zip(just, cells, widths)))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto", help="auto | cpu | cuda")
    ap.add_argument("--tiny", action="store_true", help="seconds-long smoke run (CI)")
    ap.add_argument("--out", default=None, help="also write the results as JSON here")
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--days", type=int, default=None, help="simulated days of the 4 default sites (default 731)")
    ap.add_argument("--workers", type=int, default=None, help="DataLoader workers of the baseline (default 8)")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--series", default=None, help="comma-separated series counts (default 100,1000,10000)")
    ap.add_argument("--histories", default=None, help="comma-separated history lengths for the cost curve")
    ap.add_argument("--compile", action="store_true", help="also time the device-resident pipeline under torch.compile")
    ap.add_argument("--threads", type=int, default=None, help="CPU intra-op threads (0: torch default)")
    ap.add_argument("--baseline-max-series", type=int, default=None,
                    help="run the per-site inference baseline up to this many series (default 1000)")
    a = ap.parse_args(argv)
    for noisy in ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    sz = dataclasses.replace(TINY if a.tiny else Sizes())
    for name in ("batch_size", "days", "workers", "steps", "repeats", "threads", "baseline_max_series"):
        if getattr(a, name) is not None:
            setattr(sz, name, getattr(a, name))
    if a.series:
        sz.series = tuple(int(x) for x in a.series.split(","))
    if a.histories:
        sz.histories = tuple(int(x) for x in a.histories.split(","))
    if sz.threads:
        torch.set_num_threads(sz.threads)
    rt = resolve(a.device)
    batch = sz.batch_size or (4096 if rt.device.type == "cuda" else 512)
    if rt.device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    dev_name = torch.cuda.get_device_name(0) if rt.device.type == "cuda" else platform.processor() or platform.machine()
    env = {"device": f"{rt.device.type} ({dev_name})", "precision": rt.precision, "torch": torch.__version__,
           "cpu_count": os.cpu_count(), "threads": torch.get_num_threads(), "command": " ".join(sys.argv),
           "load_start": load_average()}
    mc = model_config(sz)
    print(f"device {env['device']}, precision {rt.precision}, torch {torch.__version__}, {os.cpu_count()} CPUs, "
          f"{torch.get_num_threads()} threads; load average {env['load_start']}")
    print(f"model {mc.name} hidden={mc.hidden} n_encoder={mc.n_encoder} (conf/model/tide.yaml); history "
          f"{sz.history} h, horizon {sz.horizon} h; batch {batch}\n")

    t_all = time.perf_counter()
    base = simulate(ScenarioConfig(seed=5, days=sz.days))
    with tempfile.TemporaryDirectory(prefix="bench-gpu-") as tmp:
        work = Path(tmp)
        train_rows = bench_training(base, sz, rt, sz.history, batch, compile_model=False)
        if a.compile:
            train_rows += bench_training(base, sz, rt, sz.history, batch, compile_model=True, with_baseline=False)
        dev = train_rows[0]["windows_per_s"]
        loader_rate = next(r["windows_per_s"] for r in train_rows if r["pipeline"].startswith("per-sample"))
        for r in train_rows:
            r["vs_dataloader"] = r["windows_per_s"] / loader_rate
        peer = bench_peer(sz)
        infer_rows = bench_inference(base, sz, rt, sz.series, sz.history, work)
        curve = []
        for L in sz.histories:
            tr = bench_training(base, sz, rt, L, batch, compile_model=False, with_baseline=False)[0]
            inf = bench_inference(base, sz, rt, (sz.curve_series,), L, work, with_baseline=False)[0]
            curve.append({"history_h": L, "windows_per_s": tr["windows_per_s"], "series": sz.curve_series,
                          "seconds": inf["seconds"], "model_s": inf["model_s"], "load": load_average()})

    batched = [r for r in infer_rows if r["pipeline"].startswith("batched")]
    for r in infer_rows:
        r["ms_per_series"] = 1000 * r["seconds"] / r["series"]
        r["model_share"] = r["model_s"] / r["seconds"]
    print(table(f"TRAINING (windows = {sz.history} h history + {sz.horizon} h known future and targets; "
                f"batch {batch}; median of {sz.repeats} × {sz.steps} steps)",
                [("pipeline", "pipeline", "s"), ("windows/s", "windows_per_s", ",.0f"), ("s/epoch", "epoch_s", ".2f"),
                 ("x DataLoader", "vs_dataloader", ".2f"), ("GPU busy", "busy", ".0%"), ("peak MiB", "peak_mib", ",.0f"),
                 ("load", "load", "s")], train_rows))
    print(f"{peer['pipeline']}: {peer['status']}")
    print()
    print(table(f"INFERENCE (end to end: read inputs -> parquet; {sz.horizon} h × {len(Q9)} quantiles; "
                f"median of {sz.repeats} after a warm-up)",
                [("series", "series", "d"), ("pipeline", "pipeline", "s"), ("seconds", "seconds", ".3f"),
                 ("series/s", "series_per_s", ",.0f"), ("ms/series", "ms_per_series", ".3f"),
                 ("model s", "model_s", ".3f"), ("model share", "model_share", ".0%"), ("rows", "rows", ",d"),
                 ("load", "load", "s")], infer_rows))
    print()
    if len(batched) > 1:
        lin = batched[-1]["ms_per_series"] / batched[0]["ms_per_series"]
        print(f"COST vs SERIES: ms/series at {batched[-1]['series']:,} / at {batched[0]['series']:,} = {lin:.2f} "
              "(1.0 = linear)")
    print(table(f"COST vs HISTORY (training windows/s; inference of {sz.curve_series:,} series end to end)",
                [("history_h", "history_h", "d"), ("windows/s", "windows_per_s", ",.0f"), ("seconds", "seconds", ".3f"),
                 ("model s", "model_s", ".3f"), ("load", "load", "s")], curve))
    print(f"\ntotal {time.perf_counter() - t_all:.0f} s; load average at the end {load_average()}")
    result = {"env": env, "sizes": dataclasses.asdict(sz), "batch_size": batch, "train": train_rows, "peer": peer,
              "inference": infer_rows, "cost_history": curve, "device_resident_windows_per_s": dev}
    if a.out:
        atomic_write(a.out, lambda tmp: Path(tmp).write_text(json.dumps(result, indent=1, default=str)))
        print(f"results: {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
